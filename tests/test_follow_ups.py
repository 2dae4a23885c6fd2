"""Follow-ups in the domain, walking a virtual clock through the days with the real scheduler jobs:
booked -> confirmation -> reminders (not twice across a restart) -> moved by the patient's link ->
reminders re-planned -> no-show -> call-back list -> rebooked -> attended -> fulfilled. Then series."""

from __future__ import annotations

import json
from datetime import date, time, timedelta
from pathlib import Path

import pytest

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.appointments import AppointmentChanged
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict, Invalid
from hub.domain.follow_ups.messages import due_reminders
from hub.domain.notifications.settings import EmailSettings
from tests.follow_up_support import MONDAY, at, attend, hub_on, messages, patient_with_visit, register, walk
from tests.notifications_support import clinic_with
from tests.support import free_port
from tests.test_notifications_channels import MailSink, start_smtp


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(at(MONDAY, "08:00"))


def sent_templates(hub, appointment_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted((r["template"], r["channel"]) for r in messages(hub, appointment_id, states=("sent",)))


def test_a_follow_up_from_booking_to_fulfilment(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    _, visit = patient_with_visit(hub)
    # The doctor books "in 2 weeks": Monday 7 December, bs-an's first free slot.
    ordered = hub.follow_ups.order(visit, actor="user:bs.an", after_days=14, reason="Kiểm tra lại huyết áp")
    [first] = ordered["appointments"]
    assert first["slot_start"] == "2026-12-07T07:30:00+07:00" and first["kind"] == "follow_up"
    assert first["status"] == "booked" and first["seq"] == 1 and first["channel"] == "doctor"
    assert hub.booking.get(first["code"])["visit_id"] is None
    appointment = first["id"]

    # The confirmation commits with the booking and goes out on the next tick (in-app and the file log).
    assert [r["state"] for r in messages(hub, appointment, "confirmation")] == ["pending", "pending"]
    hub.scheduler.run_pending()
    assert sent_templates(hub, appointment) == [("confirmation", "file_log"), ("confirmation", "in_app")]
    [logged] = [json.loads(line) for line in (tmp_path / "notifications.jsonl").read_text().splitlines()]
    assert logged["subject"] == "Xác nhận lịch tái khám 07/12/2026 lúc 07:30"
    assert "/f/" in logged["body"] and first["code"] in logged["body"]

    # Three days before: one reminder per channel, never earlier.
    walk(hub, clock, at(date(2026, 12, 4), "07:00"))
    assert not messages(hub, appointment, "reminder", states=("sent",))
    walk(hub, clock, at(date(2026, 12, 4), "09:00"))
    reminders = messages(hub, appointment, "reminder")
    assert sorted((r["channel"], r["state"]) for r in reminders) == [("file_log", "sent"), ("in_app", "sent")]
    assert reminders[0]["dedupe_key"].endswith(":reminder:3d")

    # The hub restarts (a crash: the old lease expires by itself): nothing is sent twice.
    hub.close()
    hub = hub_on(tmp_path, clinic, clock)
    assert hub.follow_ups.messages.plan(clock.now()) == 0
    walk(hub, clock, at(date(2026, 12, 5), "08:00"))
    assert len(messages(hub, appointment, "reminder")) == 4  # the two sent, and the 24-hour ones queued
    day_before = messages(hub, appointment, "reminder", states=("pending",))
    assert [r["dedupe_key"].rsplit(":", 1)[1] for r in day_before] == ["24h", "24h"]
    assert sent_templates(hub, appointment).count(("reminder", "in_app")) == 1

    # Saturday 10:00 the patient moves it through the link of the reminder to Tuesday 09:00.
    token = reminders[1]["params"]["link"].rsplit("/f/", 1)[1]
    clock.set(at(date(2026, 12, 5), "10:00"))
    options = hub.follow_ups.replies.slots(token)
    assert {d["day"] for d in options} >= {"2026-12-07", "2026-12-08"}
    moved = hub.follow_ups.replies.reschedule(token, at(date(2026, 12, 8), "09:00"))
    assert moved["slot_start"] == "2026-12-08T09:00:00+07:00" and moved["status"] == "booked"
    change = [e for e in hub.bus.of(AppointmentChanged) if e.action == "reschedule"]
    assert change and change[0].actor.startswith("patient-link:") and "phone" not in change[0].appointment["patient"]
    states = {r["id"]: r["state"] for r in messages(hub, appointment, "reminder")}
    assert [states[r["id"]] for r in day_before] == ["cancelled", "cancelled"]  # the old time's 24-hour ones
    hub.scheduler.run_pending()
    assert ("rescheduled", "in_app") in sent_templates(hub, appointment)
    # Its 3-day reminder fell before the move (the "rescheduled" message says it all); the 24-hour one is new.
    walk(hub, clock, at(date(2026, 12, 7), "10:00"))
    new_keys = [r["dedupe_key"] for r in messages(hub, appointment, "reminder", states=("sent",))
                if ":20261208T0200Z:m1:" in r["dedupe_key"]]
    assert sorted(k.rsplit(":", 1)[1] for k in new_keys) == ["24h", "24h"]
    assert len(messages(hub, appointment, "reminder", states=("sent",))) == 4  # 3 days (old time), 24 h (new)

    # Tuesday: the patient does not come; at 18:00 the no-show job closes it and puts it on the list.
    walk(hub, clock, at(date(2026, 12, 8), "21:00"))
    assert hub.booking.get(first["code"])["status"] == "noshow"
    [item] = hub.follow_ups.callbacks.items("due")
    assert item["appointment"]["code"] == first["code"] and item["appointment"]["patient"]["phone"] == "0912345678"
    assert item["attempts"] == 0 and item["series"] == {"id": ordered["series"]["id"], "seq": 1, "planned": 1}
    assert ("no_show_callback", "in_app") in sent_templates(hub, appointment)

    # Wednesday the desk calls: nobody answers, then the patient is rebooked for Monday 14 at 08:00.
    clock.set(at(date(2026, 12, 9), "09:00"))
    after_call = hub.follow_ups.callbacks.log_call(item["id"], outcome="unreachable", actor="user:thu.ha",
                                                   note="Máy bận")
    assert after_call["attempts"] == 1 and after_call["state"] == "open"
    assert [i["id"] for i in hub.follow_ups.callbacks.items("due")] == [item["id"]]
    done = hub.follow_ups.callbacks.log_call(item["id"], outcome="rebooked", actor="user:thu.ha",
                                             slot_start=at(date(2026, 12, 14), "08:00"))
    assert done["state"] == "resolved" and done["resolution"] == "rebooked" and done["attempts"] == 2
    assert hub.follow_ups.callbacks.items("due") == []
    again = hub.follow_ups.appointment(done["rebooked"]["id"])
    assert again["kind"] == "follow_up" and again["seq"] == 1 and again["replaces_id"] == appointment
    assert again["channel"] == "callcenter"
    hub.scheduler.run_pending()
    assert ("confirmation", "in_app") in sent_templates(hub, again["id"])

    # Monday 14: check-in, the exam, and the follow-up is fulfilled (and its series done).
    walk(hub, clock, at(date(2026, 12, 14), "07:45"))
    attend(hub, again["code"], "p101")
    assert hub.booking.get(again["code"])["status"] == "fulfilled"
    assert hub.follow_ups.series(ordered["series"]["id"])["status"] == "done"
    hub.close()


def test_reminders_are_planned_by_the_rules() -> None:
    slot = at(date(2026, 12, 7), "07:30")
    offsets = [("3d", timedelta(days=3)), ("24h", timedelta(days=1))]
    booked_long_ago = at(date(2026, 11, 1), "08:00")
    assert due_reminders(slot, booked_long_ago, offsets, at(date(2026, 11, 30), "08:00")) == []
    assert due_reminders(slot, booked_long_ago, offsets, at(date(2026, 12, 3), "08:00")) == [
        ("3d", at(date(2026, 12, 4), "07:30"))]
    # A hub that was down until after the 24-hour mark sends that one only.
    assert due_reminders(slot, booked_long_ago, offsets, at(date(2026, 12, 6), "09:00")) == [
        ("24h", at(date(2026, 12, 6), "07:30"))]
    # Booked two days ahead: the confirmation replaces the 3-day reminder.
    assert due_reminders(slot, at(date(2026, 12, 5), "07:00"), offsets, at(date(2026, 12, 5), "08:00")) == [
        ("24h", at(date(2026, 12, 6), "07:30"))]
    assert due_reminders(slot, booked_long_ago, offsets, slot) == []


def test_nearest_free_slot_and_a_slot_picked_by_staff(tmp_path: Path, clinic: ClinicConfig,
                                                      clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    _, visit = patient_with_visit(hub)
    wanted = date(2026, 12, 7)
    # Fill bs-an's Monday 7 December (capacity 2 per slot) with other patients.
    places = [slot["time"] for slot in hub.booking.free_slots(wanted, doctor="bs-an") for _ in range(slot["free"])]
    for index, hhmm in enumerate(places):
        code = register(hub, name=f"Bệnh nhân số {index}", phone=f"09{index:08d}")
        hub.booking.book(patient_code=code, slot_start=at(wanted, hhmm), doctor="bs-an", channel="reception",
                         actor="t")
    options = hub.follow_ups.options("bs-an", wanted, days=2)
    assert options["suggested"]["start"] == "2026-12-08T07:30:00+07:00"  # the next day, later first on a tie
    # Saturday morning works, Sunday not, Monday is full.
    assert [d["day"] for d in options["days"]] == ["2026-12-05", "2026-12-08", "2026-12-09"]
    near_time = hub.follow_ups.order(visit, actor="user:bs.an", on=wanted, at=time(14, 0))["appointments"][0]
    assert near_time["slot_start"] == "2026-12-08T14:00:00+07:00"
    picked = hub.follow_ups.order(visit, actor="user:bs.an", slot_start=at(date(2026, 12, 9), "10:10"),
                                  doctor="bs-binh")["appointments"][0]  # another doctor the staff chose
    assert picked["slot_start"] == "2026-12-09T10:10:00+07:00" and picked["doctor"] == "bs-binh"
    with pytest.raises(Invalid) as refused:
        hub.follow_ups.order(visit, actor="x", after_days=14, on=wanted)
    assert refused.value.code == "when_required"
    with pytest.raises(Invalid):
        hub.follow_ups.order(visit, actor="x", on=MONDAY)
    with pytest.raises(Conflict) as full:
        hub.follow_ups.order(visit, actor="x", slot_start=at(wanted, "08:00"))  # bs-an from the intake: full
    assert full.value.code == "slot_full"
    assert len(hub.follow_ups.of_visit(visit)["series"]) == 2  # the refused orders left nothing behind
    hub.close()


def test_series_booked_all_at_once_and_one_after_another(tmp_path: Path, clinic: ClinicConfig,
                                                         clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    _, visit = patient_with_visit(hub)
    every_two_weeks = hub.follow_ups.order(visit, actor="user:bs.an", after_days=7, at=time(9, 0), count=3,
                                           every_days=14, mode="all", reason="Theo dõi đái tháo đường")
    assert [(a["seq"], a["slot_start"]) for a in every_two_weeks["appointments"]] == [
        (1, "2026-11-30T09:00:00+07:00"), (2, "2026-12-14T09:00:00+07:00"), (3, "2026-12-28T09:00:00+07:00")]
    assert every_two_weeks["missing"] == [] and every_two_weeks["series"]["planned"] == 3
    with pytest.raises(Invalid) as too_long:
        hub.follow_ups.order(visit, actor="x", after_days=28, count=6, every_days=28, mode="all")
    assert too_long.value.code == "series_too_long"

    _, other_visit = patient_with_visit(hub, name="Trần Thị Cúc", doctor="bs-cuong", phone="0987654321")
    monthly = hub.follow_ups.order(other_visit, actor="user:bs.cuong", on=date(2026, 11, 25), count=2,
                                   every_days=28, mode="next")
    [first] = monthly["appointments"]
    assert first["slot_start"] == "2026-11-25T07:30:00+07:00"
    clock.set(at(date(2026, 11, 25), "07:20"))
    attend(hub, first["code"], "p103")
    series = hub.follow_ups.series(monthly["series"]["id"])
    assert [(a["seq"], a["slot_start"], a["status"]) for a in series["appointments"]] == [
        (1, "2026-11-25T07:30:00+07:00", "fulfilled"), (2, "2026-12-23T07:30:00+07:00", "booked")]
    assert series["status"] == "active"
    clock.set(at(date(2026, 12, 23), "07:20"))
    attend(hub, series["appointments"][1]["code"], "p103")
    done = hub.follow_ups.series(monthly["series"]["id"])
    assert done["status"] == "done" and len(done["appointments"]) == 2
    hub.close()


def test_a_stalled_series_is_continued_by_the_end_of_day_job(tmp_path: Path, clinic: ClinicConfig,
                                                             clock: VirtualClock) -> None:
    hub = hub_on(tmp_path, clinic, clock)
    _, visit = patient_with_visit(hub, doctor="bs-cuong")
    monthly = hub.follow_ups.order(visit, actor="user:bs.cuong", on=date(2026, 11, 25), count=3, every_days=7)
    code = monthly["appointments"][0]["code"]
    clock.set(at(date(2026, 11, 25), "07:20"))
    # The event that books the next one is lost (as when the process dies right after the exam).
    hub.bus._handlers[AppointmentChanged].remove(hub.follow_ups._on_appointment_changed)
    attend(hub, code, "p103")
    assert len(hub.follow_ups.series(monthly["series"]["id"])["appointments"]) == 1
    result = hub.follow_ups.close_day(at(date(2026, 11, 25), "18:00"))
    assert result["series_continued"] == 1
    after = hub.follow_ups.series(monthly["series"]["id"])["appointments"]
    assert [(a["seq"], a["day"]) for a in after] == [(1, "2026-11-25"), (2, "2026-12-02")]
    hub.close()


def test_declined_and_moved_away_stop_the_series(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock,
                                                 any_db: Database) -> None:
    hub = hub_on(tmp_path, clinic, clock, db_url=any_db.url)  # SQLite and PostgreSQL
    _, visit = patient_with_visit(hub)
    ordered = hub.follow_ups.order(visit, actor="user:bs.an", on=date(2026, 11, 24), count=3, every_days=7,
                                   mode="all")
    _, second, third = ordered["appointments"]
    clock.set(at(date(2026, 11, 24), "18:00"))
    assert hub.follow_ups.close_day(clock.now())["no_shows"] == 1
    [item] = hub.follow_ups.callbacks.items()
    with pytest.raises(Invalid):
        hub.follow_ups.callbacks.log_call(item["id"], outcome="call_back", actor="u", call_back_on=date(2026, 11, 24))
    waiting = hub.follow_ups.callbacks.log_call(item["id"], outcome="call_back", actor="u",
                                                call_back_on=date(2026, 11, 26))
    assert waiting["state"] == "waiting" and hub.follow_ups.callbacks.items() == []
    assert [i["id"] for i in hub.follow_ups.callbacks.items("waiting")] == [item["id"]]
    clock.set(at(date(2026, 11, 26), "08:00"))
    assert [i["id"] for i in hub.follow_ups.callbacks.items()] == [item["id"]]  # back on its day
    moved = hub.follow_ups.callbacks.log_call(item["id"], outcome="moved_away", actor="u", note="Chuyển vào Huế")
    assert moved["resolution"] == "moved_away"
    assert hub.follow_ups.series(ordered["series"]["id"])["status"] == "stopped"
    assert [hub.booking.get(a["code"])["status"] for a in (second, third)] == ["cancelled", "cancelled"]
    with pytest.raises(Conflict):
        hub.follow_ups.callbacks.log_call(item["id"], outcome="unreachable", actor="u")
    hub.close()


def test_reminders_wait_for_a_mail_server_that_is_down(tmp_path: Path, clinic: ClinicConfig,
                                                       clock: VirtualClock) -> None:
    port = free_port()
    email = EmailSettings(enabled=True, host="127.0.0.1", port=port, from_address="lichhen@bvhoabinh.vn", timeout_s=2)
    hub = hub_on(tmp_path, clinic_with(clinic, channels=["email"], quiet_hours="", email=email), clock)
    code, visit = patient_with_visit(hub)
    with hub.db.read() as tx:
        hub.notifications.set_consent(hub.booking.patients.patient_row(tx, code).id, "email", True, actor="user:le.tan")
    [appointment] = hub.follow_ups.order(visit, actor="user:bs.an", on=date(2026, 12, 7))["appointments"]
    hub.scheduler.run_pending()  # nobody listens on the port yet
    [confirmation] = messages(hub, appointment["id"], "confirmation")
    assert confirmation["state"] == "pending" and confirmation["attempts"] == 1 and confirmation["last_error"]
    sink = MailSink()
    server = start_smtp(sink, port)
    try:
        walk(hub, clock, clock.now() + timedelta(minutes=2), step=timedelta(seconds=30))
        assert [m["Subject"] for m in sink.messages] == ["Xác nhận lịch tái khám 07/12/2026 lúc 07:30"]
    finally:
        server.stop()
    walk(hub, clock, at(date(2026, 12, 4), "08:00"))  # the 3-day reminder is due at 07:30: the server is down again
    [reminder] = messages(hub, appointment["id"], "reminder")
    assert reminder["state"] == "pending" and reminder["attempts"] >= 1
    server = start_smtp(sink, port)
    try:
        walk(hub, clock, at(date(2026, 12, 4), "09:00"), step=timedelta(minutes=5))
    finally:
        server.stop()
    assert [m["Subject"] for m in sink.messages][1:] == ["Nhắc lịch tái khám Thứ Hai 07/12/2026 lúc 07:30"]
    assert messages(hub, appointment["id"], "reminder")[0]["state"] == "sent"
    hub.close()
