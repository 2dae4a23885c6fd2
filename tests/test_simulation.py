"""The clinic-day simulator: a small scenario through the real engine, its report and its checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import cli
from hub.simulation.report import render_table, summarize
from hub.simulation.runner import DayRecord, Simulation
from hub.simulation.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
FINAL_STATES = {"done", "no_show", "transferred", "cancelled"}

# A morning clinic with a break from 09:30 to 10:30: reception (one counter, and one that takes payments
# first), two exam rooms, a lab, a cashier. About 60 visits: the whole day runs in about a second.
TINY = """
name = "tiny"
[clinic]
opening_hours = ["07:00-09:30", "10:30-12:00"]

[[clinic.services]]
code = "tiep-don"
kind = "reception"
prefix = "A"
minutes = { mean = 2.0, sd = 1.0 }
counters = 1

[[clinic.services]]
code = "kham"
prefix = "B"
minutes = { mean = 6.0, sd = 3.0 }
counters = 2

[[clinic.services]]
code = "xet-nghiem"
kind = "lab"
prefix = "X"
minutes = { mean = 3.0, sd = 1.0 }

[[clinic.services]]
code = "thu-ngan"
kind = "cashier"
prefix = "T"
minutes = { mean = 2.0, sd = 1.0 }

[[clinic.shared_counters]]
code = "quay-chung"
services = ["thu-ngan", "tiep-don"]

[arrivals]
start = "06:45"
curve = [10, 14, 9, 4, 2]
services = { kham = 50, xet-nghiem = 8 }

[service_times]
kham = { mean = 7.0, sd = 3.5 }

[patients]
priority_mix = { elderly = 0.2, emergency = 0.02 }
no_show_share = 0.08

[staff]
pauses_per_hour = 0.3

[flow]
reception = "tiep-don"
lab_share = 0.4
lab_services = { xet-nghiem = 1.0 }
cashier = "thu-ngan"
cashier_share = 0.5
"""


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_day(tiny_file: Path) -> DayRecord:
    scenario, clinic = load_scenario(tiny_file)
    return Simulation(scenario, clinic, seed=7).run()


@pytest.fixture(scope="module")
def tiny_summary(tiny_day: DayRecord) -> dict[str, Any]:
    return summarize(tiny_day)


def _without_timing(summary: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "elapsed_seconds"}


# ---------------------------------------------------------------- the day
def test_the_day_runs_and_serves_patients(tiny_summary: dict[str, Any]) -> None:
    assert 35 <= tiny_summary["visits"] <= 90
    assert tiny_summary["tickets"] > tiny_summary["visits"]  # reception, lab and cashier tickets too
    assert tiny_summary["throughput"]["served"] > 0.9 * tiny_summary["tickets"]
    assert set(tiny_summary["services"]) == {"tiep-don", "kham", "xet-nghiem", "thu-ngan"}


def test_every_ticket_ends_in_a_final_state(tiny_day: DayRecord) -> None:
    assert {ticket["status"] for ticket in tiny_day.tickets} <= FINAL_STATES
    assert all(ticket["finished_at"] is not None for ticket in tiny_day.tickets)


def test_absent_patients_are_recalled_then_marked_no_show(tiny_day: DayRecord) -> None:
    no_shows = [t for t in tiny_day.tickets if t["status"] == "no_show"]
    assert no_shows, "the scenario has 8 % absent patients"
    assert all(t["call_count"] == 3 for t in no_shows)  # the call and two recalls (recalls_before_no_show)


def test_returning_patients_come_back_from_the_lab_with_priority(tiny_day: DayRecord) -> None:
    returning = [t for t in tiny_day.tickets if t["priority"] == "returning"]
    assert returning and all(t["service"] == "kham" for t in returning)


def test_the_same_seed_gives_the_same_day(tiny_file: Path, tiny_summary: dict[str, Any]) -> None:
    scenario, clinic = load_scenario(tiny_file)
    again = summarize(Simulation(scenario, clinic, seed=7).run())
    assert _without_timing(again) == _without_timing(tiny_summary)
    other = summarize(Simulation(scenario, clinic, seed=8).run())
    assert _without_timing(other) != _without_timing(tiny_summary)


def test_the_estimate_beats_the_baseline(tiny_summary: dict[str, Any]) -> None:
    estimate = tiny_summary["estimate"]
    assert estimate["tickets"] > 0 and estimate["without_estimate"] == 0
    assert estimate["engine"]["mae"] < 0.8 * estimate["baseline"]["mae"]
    assert 0.75 <= estimate["engine"]["p90_coverage"] <= 1.0


# ---------------------------------------------------------------- the report
DOCUMENTED_KEYS = {
    "report_version", "scenario", "seed", "day", "database", "elapsed_seconds", "events", "visits",
    "visits_completed", "tickets", "final_states", "throughput", "waits", "services", "estimate", "warnings",
    "policy", "visit_time", "staff", "manager", "late_returns",
}


def test_json_output_has_the_documented_keys(tiny_file: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--scenario", str(tiny_file), "--seed", "7", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == DOCUMENTED_KEYS
    assert set(report["throughput"]) == {"first_issue", "last_finish", "served", "served_per_hour"}
    assert set(report["waits"]) == {"count", "mean", "median", "p90", "max"}
    assert set(report["services"]["kham"]) == {"tickets", "served", "no_show", "wait", "service_time"}
    estimate = report["estimate"]
    assert set(estimate) == {"tickets", "without_estimate", "engine", "baseline", "mae_reduction", "by_service"}
    assert set(estimate["engine"]) == {"mae", "bias", "under_10_share", "p90_coverage"}
    assert set(estimate["baseline"]) == {"mae", "bias", "under_10_share"}
    assert set(estimate["by_service"]["kham"]) == {"tickets", "mae", "baseline_mae", "p90_coverage", "mae_reduction"}


def test_a_calm_day_has_no_warnings(tiny_summary: dict[str, Any]) -> None:
    assert tiny_summary["warnings"] == []


def test_patients_left_at_closing_without_overtime_are_cancelled_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "crowded.toml"
    crowded = TINY.replace("services = { kham = 50, xet-nghiem = 8 }", "services = { kham = 90 }")
    path.write_text(crowded.replace("[staff]", "[staff]\novertime = false"), encoding="utf-8")
    scenario, clinic = load_scenario(path)
    day = Simulation(scenario, clinic, seed=7).run()
    summary = summarize(day)
    assert day.unserved > 0
    assert summary["final_states"]["cancelled"] == day.unserved
    assert any("were cancelled" in warning for warning in summary["warnings"])
    assert "warning:" in render_table(summary)


def test_the_table_names_each_service_and_the_comparison(tiny_summary: dict[str, Any]) -> None:
    table = render_table(tiny_summary)
    for text in ("tiep-don", "kham", "xet-nghiem", "thu-ngan", "engine", "baseline", "below the baseline"):
        assert text in table


def test_a_file_database_gives_the_same_day(tiny_file: Path, tiny_summary: dict[str, Any]) -> None:
    scenario, clinic = load_scenario(tiny_file)
    on_file = summarize(Simulation(scenario, clinic, seed=7, database="file").run())
    assert on_file["database"] == "sqlite-file"
    assert {k: v for k, v in _without_timing(on_file).items() if k != "database"} == {
        k: v for k, v in _without_timing(tiny_summary).items() if k != "database"}


# ---------------------------------------------------------------- scenario files
@pytest.mark.parametrize("name", ["small-clinic", "district-hospital", "central-hospital"])
def test_the_shipped_scenarios_are_valid(name: str) -> None:
    scenario, clinic = load_scenario(ROOT / "bench" / "scenarios" / f"{name}.toml")
    assert scenario.name == name
    assert all(code in {s.code for s in clinic.services} for code in scenario.arrivals.services)


@pytest.mark.parametrize(("change", "expected"), [
    (("[patients]", "[patients]\nmood = 3"), "patients.mood: unknown key"),
    (("services = { kham = 50, xet-nghiem = 8 }", "services = { kham = 50, xet-nghiem = 8, tim = 3 }"),
     "arrivals.services.tim: unknown service 'tim'"),
    (("priority_mix = { elderly = 0.2, emergency = 0.02 }", "priority_mix = { elderly = 0.9, emergency = 0.2 }"),
     "patients.priority_mix: the shares add up to 1.10"),
    (("priority_mix = { elderly = 0.2, emergency = 0.02 }", "priority_mix = { vip = 0.1 }"),
     "patients.priority_mix.vip: unknown priority class"),
    (('opening_hours = ["07:00-09:30", "10:30-12:00"]', 'opening_hours = ["09:30-07:00"]'),
     "clinic.opening_hours: the range '09:30-07:00' ends before it starts"),
    (("start = \"06:45\"", "start = \"6h45\""), "arrivals.start: expected a time of day like '07:30'"),
    (("start = \"06:45\"", "start = \"24:30\""), "arrivals.start: expected a time of day like '07:30'"),
    (("counters = 2", "counters = 0"), "service 'kham': no counter serves it"),
    (("lab_services = { xet-nghiem = 1.0 }", ""), "lab_share > 0 needs lab_services"),
    (("curve = [10, 14, 9, 4, 2]", ""), "a curve (weights per hour) is needed"),
    (("no_show_share = 0.08", "no_show_share = 1.5"), "patients.no_show_share: Input should be less than or equal"),
    (("cashier = \"thu-ngan\"", "cashier = \"quay\""), "flow.cashier: unknown service 'quay'"),
])
def test_a_wrong_scenario_is_refused_with_a_clear_message(tmp_path: Path, change: tuple[str, str],
                                                           expected: str) -> None:
    old, new = change
    assert old in TINY
    path = tmp_path / "wrong.toml"
    path.write_text(TINY.replace(old, new), encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert expected in str(refused.value)
    assert str(path) in str(refused.value)


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(broken)


def test_the_command_reports_a_wrong_scenario_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(TINY.replace("[patients]", "[patients]\nmood = 3"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "--scenario", str(path)])
    assert result.exit_code != 0
    assert "patients.mood: unknown key" in result.output
    assert "Traceback" not in result.output
