"""The clinic structure edited live: validated as config/ is, audited, applied without a restart, kept
across restarts, followed by a second hub process on the same database; holidays everywhere."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from hub.config import ClinicConfig
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict
from hub.domain.portal.service import PortalService
from hub.domain.structure.service import StructureChanged, StructureInvalid, structure_of
from tests.follow_up_support import MONDAY, at, hub_on, messages, patient_with_visit, walk

ROOM = {"code": "p107", "name": "Phòng 107", "name_en": "Room 107", "zone": "tang-1",
        "services": ["kham-noi", "kham-ngoai"], "hours": None, "printer": None, "floor": None, "floor_en": None,
        "speaker_zone": "sanh-a"}


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(at(MONDAY, "08:00"))


def with_room(hub) -> None:  # type: ignore[no-untyped-def]
    counters = [*structure_of(hub.config.current)["counters"], ROOM]
    hub.structure.change({"counters": counters}, actor="user:quan.tri", expected_version=hub.config.version)


def test_a_new_room_serves_at_once_is_audited_and_survives_a_restart(tmp_path: Path, clinic: ClinicConfig,
                                                                    clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    assert hub.config.version == 1 and hub.config.counter("p107") is None
    with_room(hub)
    assert hub.config.version == 2
    [changed] = hub.bus.of(StructureChanged)
    assert changed.local and changed.sections == ("counters",)
    hub.queue.open_counter("p107", actor="user:quan.tri")
    ticket = hub.queue.issue("kham-ngoai", actor="kiosk")
    called = hub.queue.call_next("p107", actor="user:lan")
    assert called is not None and called["id"] == ticket["id"] and called["counter"] == "p107"
    entry = hub.structure.history()[0]
    assert entry["actor"] == "user:quan.tri" and entry["action"] == "structure.change"
    assert entry["detail"]["sections"]["counters"]["added"] == [ROOM]
    assert entry["detail"]["sections"]["counters"]["removed"] == []
    hub.close()
    again = hub_on(tmp_path, clinic, clock)  # same files, same database: the page edit is kept
    assert again.config.version == 2 and again.config.counter("p107").speaker_zone == "sanh-a"
    assert [c["code"] for c in again.queue.counters() if c["code"] == "p107"] == ["p107"]
    again.close()


def test_edits_are_validated_exactly_as_the_files(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    document = structure_of(hub.config.current)
    bad_room = {**ROOM, "services": ["khong-co"]}
    with pytest.raises(StructureInvalid) as refused:
        hub.structure.change({"counters": [*document["counters"], bad_room]}, actor="user:quan.tri")
    assert refused.value.problems[0].startswith("counters[16].services: unknown service 'khong-co'")
    with pytest.raises(StructureInvalid) as refused:
        hub.structure.change({"services": [{**document["services"][0], "prefix": "a1"}, *document["services"][1:]]},
                             actor="user:quan.tri")
    assert "services[0].prefix" in refused.value.problems[0]
    with pytest.raises(StructureInvalid) as refused:
        hub.structure.change({"priority_classes": [c for c in document["priority_classes"] if c["code"] != "normal"]},
                             actor="user:quan.tri")
    assert "normal" in refused.value.problems[0]
    with pytest.raises(StructureInvalid):
        hub.structure.change({"hub": {"port": 1}}, actor="user:quan.tri")  # not an editable section
    with pytest.raises(StructureInvalid):
        hub.structure.change({"opening_hours": ["17:00-07:00"]}, actor="user:quan.tri")
    # A device of config/devices.toml names p101: the room cannot disappear under it.
    with pytest.raises(StructureInvalid) as refused:
        hub.structure.change({"counters": [c for c in document["counters"] if c["code"] != "p101"]},
                             actor="user:quan.tri")
    assert "devices[" in refused.value.problems[0]
    assert hub.config.version == 1 and hub.structure.history()[0]["action"] != "structure.change"
    hub.close()


def test_a_service_with_people_waiting_cannot_be_removed(tmp_path: Path, clinic: ClinicConfig,
                                                        clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    with_room(hub)
    hub.queue.issue("kham-noi", actor="kiosk")
    document = structure_of(hub.config.current)
    hub.queue.open_counter("p107", actor="user:quan.tri")
    with pytest.raises(Conflict) as refused:
        hub.structure.change({"counters": [c for c in document["counters"] if c["code"] != "p107"]},
                             actor="user:quan.tri")
    assert refused.value.code == "counter_in_use"
    hub.queue.close_counter("p107", actor="user:quan.tri")
    hub.structure.change({"counters": [c for c in document["counters"] if c["code"] != "p107"]},
                         actor="user:quan.tri")
    assert hub.config.counter("p107") is None
    hub.close()


def test_a_second_hub_process_follows_the_version(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> None:
    first = hub_on(tmp_path, clinic, clock)
    second = hub_on(tmp_path, clinic, clock)
    stale = second.config.version
    with_room(first)
    assert second.structure.refresh() is True and second.config.version == first.config.version
    assert second.structure.refresh() is False  # one cheap read, nothing to apply
    [followed] = second.bus.of(StructureChanged)
    assert not followed.local  # only the process that made the change republishes to screens and devices
    second.queue.open_counter("p107", actor="user:lan")
    second.queue.issue("kham-noi", actor="kiosk")
    assert second.queue.call_next("p107", actor="user:lan") is not None
    # An editor who saw an older version is refused rather than undoing the other's change.
    with pytest.raises(Conflict):
        second.structure.change({"closed_weekdays": ["sun"]}, actor="user:b", expected_version=stale)
    first.close()
    second.close()


def test_a_holiday_removes_slots_and_reminders_and_shows_closed(tmp_path: Path, clinic: ClinicConfig,
                                                               clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    _, visit = patient_with_visit(hub)
    ordered = hub.follow_ups.order(visit, actor="user:bs.an", after_days=14, reason="Kiểm tra lại huyết áp")
    [appointment] = ordered["appointments"]
    holiday = date(2026, 12, 7)
    assert appointment["slot_start"].startswith(holiday.isoformat())
    assert hub.booking.free_slots(holiday, service="kham-noi")
    week_on = MONDAY + timedelta(days=7)  # within the portal's booking days
    hub.structure.change({"holidays": [{"day": week_on.isoformat(), "name": "Nghỉ bù", "name_en": "Day off"},
                                       {"day": holiday.isoformat(), "name": "Nghỉ lễ", "name_en": "Holiday"}]},
                         actor="user:quan.tri")
    assert hub.booking.free_slots(holiday, service="kham-noi") == []
    assert hub.booking.free_slots(holiday + timedelta(days=1), service="kham-noi")
    portal = PortalService(hub.db, hub.config, hub.clock, booking=hub.booking, clinical=hub.clinical,
                           notifications=hub.notifications, queue=hub.queue, secret_key=hub.secret_key)
    days = {d["day"]: d for d in portal.days("kham-noi", None)}
    assert days[week_on]["closed"] == {"name": "Nghỉ bù", "name_en": "Day off"} and days[week_on]["free"] == 0
    assert days[week_on + timedelta(days=1)]["closed"] is None and days[week_on + timedelta(days=1)]["free"] > 0
    # No reminder of that day goes out: the planner skips it and cancels what was queued.
    walk(hub, clock, at(date(2026, 12, 6), "12:00"))
    reminders = messages(hub, appointment["id"], "reminder")
    assert all(r["state"] != "sent" for r in reminders), reminders
    hub.close()


def test_a_weekly_closed_day_and_no_estimate_on_a_closed_day(tmp_path: Path, clinic: ClinicConfig,
                                                            clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    hub.queue.issue("kham-noi", actor="kiosk")
    assert hub.queue.services_overview(["kham-noi"])[0]["estimate"] is not None
    today = MONDAY
    hub.structure.change({"holidays": [{"day": today.isoformat(), "name": "Nghỉ lễ", "name_en": ""}],
                          "closed_weekdays": ["sun"]}, actor="user:quan.tri")
    assert hub.queue.services_overview(["kham-noi"])[0]["estimate"] is None
    sunday = MONDAY + timedelta(days=6)
    assert hub.config.closed_on(sunday).name_en == "Weekly closed day"
    assert hub.booking.free_slots(sunday - timedelta(days=1), service="kham-noi") is not None
    assert hub.booking.free_slots(sunday, service="kham-noi") == []
    assert not hub.devices.in_opening_hours(clock.now())  # no "device offline" alarms on a holiday
    hub.close()


def test_the_ops_page_says_the_hospital_is_closed(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> None:
    from hub.domain.reports.live import OperationsBoard

    hub = hub_on(tmp_path, clinic, clock)
    board = OperationsBoard(hub.queue, hub.devices, hub.config, hub.clock)
    assert board.overview()["closed"] is None
    hub.structure.change({"holidays": [{"day": MONDAY.isoformat(), "name": "Giỗ Tổ Hùng Vương",
                                        "name_en": "Hung Kings' Day"}]}, actor="user:quan.tri")
    overview = board.overview()
    assert overview["closed"] == {"name": "Giỗ Tổ Hùng Vương", "name_en": "Hung Kings' Day"}
    assert overview["alerts"][0]["kind"] == "closed_day" and "Giỗ Tổ" in overview["alerts"][0]["message"]
    hub.close()


def test_export_and_import_on_the_command_line(tmp_path: Path, clinic: ClinicConfig) -> None:
    import json

    from click.testing import CliRunner

    from hub.cli import cli
    from hub.config import PROJECT_CONFIG_DIR

    common = ["--config", str(PROJECT_CONFIG_DIR), "--var", str(tmp_path), "--db", f"sqlite:///{tmp_path / 's.db'}"]
    runner = CliRunner()
    exported = runner.invoke(cli, ["structure", "export", *common])
    assert exported.exit_code == 0, exported.output
    document = json.loads(exported.output)
    assert document["version"] == 1 and len(document["structure"]["counters"]) == len(clinic.counters)
    document["structure"]["holidays"] = [{"day": "2027-02-06", "name": "Tết Nguyên Đán", "name_en": "Tết"}]
    source = tmp_path / "structure.json"
    source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    imported = runner.invoke(cli, ["structure", "import", str(source), "--actor", "it.admin", *common])
    assert imported.exit_code == 0, imported.output
    assert "version 2" in imported.output
    again = json.loads(runner.invoke(cli, ["structure", "export", *common]).output)
    assert again["structure"]["holidays"][0]["name"] == "Tết Nguyên Đán"
    document["structure"]["counters"][0]["zone"] = "Sảnh A"  # not a zone code: refused, named
    source.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    refused = runner.invoke(cli, ["structure", "import", str(source), *common])
    assert refused.exit_code == 1 and "counters[0].zone" in refused.output


def test_two_hubs_on_postgresql_share_the_structure(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock,
                                                    pg_url: str) -> None:
    from sqlalchemy import text

    from hub.db import Database

    fresh = Database(pg_url)
    with fresh.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    fresh.dispose()
    first = hub_on(tmp_path / "a", clinic, clock, db_url=pg_url)
    second = hub_on(tmp_path / "b", clinic, clock, db_url=pg_url)
    try:
        with_room(first)
        assert second.structure.refresh() and second.config.counter("p107") is not None
        second.queue.open_counter("p107", actor="user:lan")
        ticket = second.queue.issue("kham-noi", actor="kiosk")
        assert second.queue.call_next("p107", actor="user:lan")["id"] == ticket["id"]
        second.structure.change({"closed_weekdays": ["sun"]}, actor="user:b", expected_version=2)
        assert first.structure.refresh() and first.config.site.closed_weekdays == ["sun"]
        assert [e["action"] for e in first.structure.history()] == ["structure.change", "structure.change",
                                                                    "structure.seed"]
    finally:
        first.close()
        second.close()
