"""The clinic configuration: the sample loads, and every mistake is reported with file, key and expectation."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from hub.config import PROJECT_CONFIG_DIR, ConfigError, default_config_dir, load_config

SAMPLE = PROJECT_CONFIG_DIR


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of the sample config/ that a test may edit."""
    target = tmp_path / "config"
    shutil.copytree(SAMPLE, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the sample {path.name} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def load_error(directory: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(directory, env=env or {})
    return str(caught.value)


# ---------------------------------------------------------------- the sample
def test_the_sample_configuration_loads_and_matches_its_files() -> None:
    config = load_config(SAMPLE, env={})
    with (SAMPLE / "clinic.toml").open("rb") as handle:
        clinic = tomllib.load(handle)
    with (SAMPLE / "site.toml").open("rb") as handle:
        site = tomllib.load(handle)
    assert [s.code for s in config.services] == [s["code"] for s in clinic["services"]]
    assert [c.code for c in config.counters] == [c["code"] for c in clinic["counters"]]
    assert [c.services for c in config.counters] == [c["services"] for c in clinic["counters"]]
    assert [p.code for p in config.priority_classes] == [p["code"] for p in clinic["priority_classes"]]
    assert config.site.id == site["site"]["id"]
    assert config.site.timezone == "Asia/Ho_Chi_Minh"
    assert config.queue.recalls_before_no_show == site["queue"]["recalls_before_no_show"]
    assert config.hub.port == site["hub"]["port"]
    assert config.priority("normal") is not None and config.priority("normal").head_start_minutes == 0
    assert config.priority("emergency").overrides_service_order


def test_lookups_find_configured_items_and_nothing_else() -> None:
    config = load_config(SAMPLE, env={})
    assert config.service("tiep-don").prefix == "A"
    assert config.counter("q4").services == ["thu-ngan", "tiep-don"]
    assert config.service("nope") is None and config.counter("nope") is None and config.priority("vip") is None


def test_counter_hours_default_to_the_site_opening_hours() -> None:
    config = load_config(SAMPLE, env={})
    hours = config.counter_hours(config.counter("q1"))
    assert [(start.strftime("%H:%M"), end.strftime("%H:%M")) for start, end in hours] == [
        tuple(item.split("-")) for item in config.site.opening_hours]


def test_a_counter_can_have_its_own_hours(config_dir: Path) -> None:
    edit(config_dir / "clinic.toml", 'services = ["kham-tmh"]', 'services = ["kham-tmh"]\nhours = ["08:15-10:45"]')
    config = load_config(config_dir, env={})
    [(start, end)] = config.counter_hours(config.counter("p106"))
    assert (start.hour, start.minute, end.hour, end.minute) == (8, 15, 10, 45)


# ---------------------------------------------------------------- mistakes, each named precisely
ERROR_CASES = [
    # id, file edited, old text, new text, file named, key named, expectation in the message
    ("unknown-key-site", "site.toml", "port = 8000", "port = 8000\nprot = 8001",
     "site.toml", "hub.prot", "unknown key"),
    ("unknown-key-clinic", "clinic.toml", "fee = 150000", "fee = 150000\ncolour = 'red'",
     "clinic.toml", "services[1].colour", "unknown key"),
    ("wrong-type-port", "site.toml", "port = 8000", 'port = "eighty"',
     "site.toml", "hub.port", "valid integer"),
    ("wrong-type-fee", "clinic.toml", "fee = 150000", 'fee = "free"',
     "clinic.toml", "services[1].fee", "valid integer"),
    ("wrong-type-list", "clinic.toml", 'services = ["kham-noi"]', 'services = "kham-noi"',
     "clinic.toml", "counters[5].services", "valid list"),
    ("bad-prefix-lowercase", "clinic.toml", 'prefix = "B"', 'prefix = "b"',
     "clinic.toml", "services[1].prefix", "[A-Z]"),
    ("bad-prefix-digits", "clinic.toml", 'prefix = "C"', 'prefix = "C1"',
     "clinic.toml", "services[2].prefix", "[A-Z]"),
    ("bad-code", "clinic.toml", 'code = "q3"', 'code = "Quầy 3"',
     "clinic.toml", "counters[2].code", "pattern"),
    ("bad-kind", "clinic.toml", 'kind = "imaging"', 'kind = "xray"',
     "clinic.toml", "services[7].kind", "'imaging'"),
    ("unknown-service-in-counter", "clinic.toml", 'services = ["kham-ngoai"]', 'services = ["kham-ngoia"]',
     "clinic.toml", "counters[7].services", "unknown service 'kham-ngoia'"),
    ("duplicate-service-code", "clinic.toml", 'code = "kham-ngoai"', 'code = "kham-noi"',
     "clinic.toml", "services", "'kham-noi' appears twice"),
    ("duplicate-prefix", "clinic.toml", 'prefix = "C"', 'prefix = "B"',
     "clinic.toml", "services (prefix)", "'B' appears twice"),
    ("duplicate-counter-code", "clinic.toml", 'code = "q2"', 'code = "q1"',
     "clinic.toml", "counters", "'q1' appears twice"),
    ("normal-class-with-head-start", "clinic.toml", "head_start_minutes = 0", "head_start_minutes = 5",
     "clinic.toml", "priority_classes", "'normal' with head_start_minutes = 0"),
    ("bad-time-zone", "site.toml", 'timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hanoi"',
     "site.toml", "site.timezone", "IANA time zone"),
    ("time-zone-path", "site.toml", 'timezone = "Asia/Ho_Chi_Minh"', 'timezone = "../../etc/passwd"',
     "site.toml", "site.timezone", "IANA time zone"),
    ("hours-reversed", "site.toml", '"13:30-16:30"]', '"16:30-13:30"]',
     "site.toml", "site.opening_hours", "ends before it starts"),
    ("hours-not-a-time", "site.toml", '"13:30-16:30"]', '"13:30-25:00"]',
     "site.toml", "site.opening_hours", "not a time of day"),
    ("hours-bad-format", "site.toml", '"13:30-16:30"]', '"1:30pm-4:30pm"]',
     "site.toml", "site.opening_hours", "like '07:00-11:30'"),
    ("counter-hours", "clinic.toml", 'services = ["kham-tmh"]', 'services = ["kham-tmh"]\nhours = ["10:00-09:00"]',
     "clinic.toml", "counters[10].hours", "ends before it starts"),
    ("out-of-range", "site.toml", "recalls_before_no_show = 2", "recalls_before_no_show = -1",
     "site.toml", "queue.recalls_before_no_show", "greater than or equal to 0"),
    ("bad-mqtt-url", "site.toml", 'mqtt_url = "mqtt://127.0.0.1:1883"', 'mqtt_url = "tcp://broker"',
     "site.toml", "hub.mqtt_url", "mqtt://HOST:PORT"),
    ("missing-key", "site.toml", 'name_en = "Hoa Binh General Hospital"', "",
     "site.toml", "site.name_en", "required key is missing"),
    ("unknown-table", "site.toml", "[estimates]", "[estimate]",
     "site.toml", "estimate", "unknown key"),
    ("display-unknown-counter", "displays.toml", 'zones = ["sanh-a"]', 'zones = ["sanh-a"]\ncounters = ["q99"]',
     "displays.toml", "displays[0].counters", "unknown counter 'q99'"),
]


@pytest.mark.parametrize(("edited", "old", "new", "named_file", "key", "expectation"),
                         [case[1:] for case in ERROR_CASES], ids=[case[0] for case in ERROR_CASES])
def test_a_mistake_names_the_file_the_key_and_the_expectation(
        config_dir: Path, edited: str, old: str, new: str, named_file: str, key: str, expectation: str) -> None:
    edit(config_dir / edited, old, new)
    message = load_error(config_dir)
    # One line names the file, then the key, then says what was expected.
    [line] = [line for line in message.splitlines() if f": {key}: " in line]
    assert line.strip().startswith(f"{config_dir / named_file}: {key}: "), message
    assert expectation in line, message


def test_every_mistake_is_listed_not_only_the_first(config_dir: Path) -> None:
    edit(config_dir / "site.toml", "port = 8000", 'port = "eighty"')
    edit(config_dir / "clinic.toml", 'prefix = "B"', 'prefix = "b"')
    message = load_error(config_dir)
    assert "hub.port" in message and "services[1].prefix" in message


def test_a_missing_file_is_named(config_dir: Path) -> None:
    (config_dir / "clinic.toml").unlink()
    message = load_error(config_dir)
    assert str(config_dir / "clinic.toml") in message and "missing" in message


def test_a_missing_directory_names_the_file_expected_in_it(tmp_path: Path) -> None:
    message = load_error(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / "site.toml") in message and "missing" in message


def test_optional_files_may_be_absent(config_dir: Path) -> None:
    for name in ("devices.toml", "displays.toml"):
        (config_dir / name).unlink(missing_ok=True)
    assert load_config(config_dir, env={}).services


def test_invalid_toml_names_the_file_and_the_line(config_dir: Path) -> None:
    edit(config_dir / "site.toml", "\n[hub]\n", "\n[hub\n")
    message = load_error(config_dir)
    assert str(config_dir / "site.toml") in message
    assert "not valid TOML" in message and "line" in message


def test_a_table_set_in_two_files_is_refused(config_dir: Path) -> None:
    with (config_dir / "clinic.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n[queue]\nlate_return_behind = 1\n")
    message = load_error(config_dir)
    assert str(config_dir / "clinic.toml") in message and "[queue]" in message and "already set" in message


# ---------------------------------------------------------------- environment overrides
def test_environment_overrides_the_hub_settings(config_dir: Path) -> None:
    config = load_config(config_dir, env={
        "CLINICQ_DATABASE_URL": "postgresql+psycopg://clinicq@db/clinicq",
        "CLINICQ_MQTT_URL": "mqtt://broker.lan:1884",
        "CLINICQ_SECRET_KEY": "s3cret-from-env",
        "CLINICQ_PORT": "9001",
    })
    assert config.hub.database_url == "postgresql+psycopg://clinicq@db/clinicq"
    assert config.hub.mqtt_url == "mqtt://broker.lan:1884"
    assert config.hub.secret_key == "s3cret-from-env"
    assert config.hub.port == 9001


def test_empty_environment_variables_leave_the_file_values(config_dir: Path) -> None:
    edit(config_dir / "site.toml", "port = 8000", "port = 8123")
    config = load_config(config_dir, env={"CLINICQ_PORT": "", "CLINICQ_MQTT_URL": ""})
    assert config.hub.port == 8123 and config.hub.mqtt_url == "mqtt://127.0.0.1:1883"


def test_explicit_overrides_beat_the_environment(config_dir: Path) -> None:
    config = load_config(config_dir, env={"CLINICQ_PORT": "9001"}, overrides={"port": 9555, "database_url": None})
    assert config.hub.port == 9555
    assert config.hub.database_url == ""


def test_process_environment_is_used_when_none_is_given(config_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINICQ_PORT", "9444")
    assert load_config(config_dir).hub.port == 9444


@pytest.mark.parametrize(("variable", "value", "key", "expectation"), [
    ("CLINICQ_PORT", "eighty", "hub.port", "valid integer"),
    ("CLINICQ_PORT", "70000", "hub.port", "less than or equal to 65535"),
    ("CLINICQ_PORT", "0", "hub.port", "greater than or equal to 1"),
    ("CLINICQ_MQTT_URL", "http://broker", "hub.mqtt_url", "mqtt://HOST:PORT"),
])
def test_a_bad_environment_value_is_named_as_coming_from_the_environment(
        config_dir: Path, variable: str, value: str, key: str, expectation: str) -> None:
    message = load_error(config_dir, env={variable: value})
    [line] = [line for line in message.splitlines() if f": {key}: " in line]
    assert line.strip().startswith(f"environment {variable}: {key}: "), message
    assert expectation in line and repr(value) in line
    assert "site.toml" not in line


def test_a_bad_file_value_is_not_blamed_on_an_unrelated_environment_variable(config_dir: Path) -> None:
    edit(config_dir / "site.toml", "port = 8000", 'port = "eighty"')
    message = load_error(config_dir, env={"CLINICQ_MQTT_URL": "mqtt://broker:1883"})
    assert f"{config_dir / 'site.toml'}: hub.port: " in message
    assert "environment" not in message.split("\n", 1)[1]


# ---------------------------------------------------------------- where config/ is found
def test_the_config_dir_of_the_working_directory_wins(tmp_path: Path, config_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(config_dir.parent)
    assert default_config_dir() == config_dir


def test_the_project_defaults_are_used_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert default_config_dir() == PROJECT_CONFIG_DIR
    assert load_config(env={}).site.id == load_config(PROJECT_CONFIG_DIR, env={}).site.id
