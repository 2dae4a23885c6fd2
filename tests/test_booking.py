"""Booking in the domain: schedules and slots, appointments and their forward-only states, check-in, walk-ins."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.appointments import CODE_ALPHABET, AppointmentChanged, IntakeRecorded
from hub.domain.booking.models import AppointmentEvent, Doctor, DoctorSchedule, SlotCount, VisitIntake
from hub.domain.booking.schedules import Block, DayException, day_slots
from hub.domain.booking.service import BookingService
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.patients.registry import PatientDetails
from tests.conftest import SITE_TZ, RecordingBus, make_queue

MONDAY = date(2026, 11, 23)  # the clock fixture's day, 08:00
TUESDAY = MONDAY + timedelta(days=1)


class RecordingNotifier:
    """What the notification outbox would be asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_confirmation(self, appointment: dict[str, Any]) -> None:
        self.sent.append(("confirmation", appointment["code"]))

    def send_cancellation(self, appointment: dict[str, Any]) -> None:
        self.sent.append(("cancellation", appointment["code"]))


def make_booking(db: Database, clinic: ClinicConfig, clock: VirtualClock) -> tuple[BookingService, RecordingBus,
                                                                                     RecordingNotifier]:
    queue, bus = make_queue(db, clinic, clock)
    notifier = RecordingNotifier()
    booking = BookingService(db, clinic, bus, clock, queue, notifier)
    booking.sync_config()
    return booking, bus, notifier


@pytest.fixture
def setup(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock):  # type: ignore[no-untyped-def]
    return make_booking(sqlite_db, clinic, clock)


@pytest.fixture
def both(any_db: Database, clinic: ClinicConfig, clock: VirtualClock):  # type: ignore[no-untyped-def]
    return make_booking(any_db, clinic, clock)


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=SITE_TZ)


def patient(booking: BookingService, name: str = "Nguyễn Văn Bình", phone: str = "0912345678", **extra: Any) -> str:
    details = PatientDetails(full_name=name, date_of_birth=date(1980, 5, 17), sex="Nam", phone=phone, **extra)
    return booking.patients.register(details, actor="user:le.tan", confirm_new=True)["code"]


def book(booking: BookingService, code: str, when: datetime, doctor: str | None = "bs-an", **extra: Any) -> dict:
    return booking.book(patient_code=code, slot_start=when, doctor=doctor, channel="reception", actor="user:le.tan",
                        **extra)


# ------------------------------------------------------------------------------------------ schedules
def test_slots_are_cut_from_weekly_blocks_and_exceptions() -> None:
    blocks = [Block(1, 0, time(7, 30), time(8, 30), 20, 2), Block(2, 0, time(13, 30), time(14, 0), 15, 1)]
    slots = day_slots(blocks, None, MONDAY, SITE_TZ)
    assert [s.start.astimezone(SITE_TZ).strftime("%H:%M") for s in slots] == ["07:30", "07:50", "08:10", "13:30",
                                                                               "13:45"]
    assert [s.capacity for s in slots] == [2, 2, 2, 1, 1]
    assert day_slots(blocks, None, TUESDAY, SITE_TZ) == []
    assert day_slots(blocks, DayException(1, MONDAY, True, None, None, "nghỉ phép"), MONDAY, SITE_TZ) == []
    other = day_slots(blocks, DayException(1, MONDAY, False, time(9, 0), time(9, 40), None), MONDAY, SITE_TZ)
    assert [(s.start.astimezone(SITE_TZ).strftime("%H:%M"), s.minutes) for s in other] == [("09:00", 20),
                                                                                          ("09:20", 20)]


def test_config_seeds_schedules_once_and_admin_edits_survive(setup, sqlite_db: Database, clinic: ClinicConfig,
                                                             clock: VirtualClock) -> None:
    booking, _, _ = setup
    blocks = booking.schedules.schedule("bs-an")["blocks"]
    assert len(blocks) == 11  # mon-fri two blocks, saturday one
    removed = blocks[0]["id"]
    booking.schedules.remove_block("bs-an", removed, actor="user:admin")
    booking.schedules.add_block("bs-an", weekday=6, start=time(8), end=time(10), slot_minutes=30, capacity=3,
                                actor="user:admin")
    again, _, _ = make_booking(sqlite_db, clinic, clock)  # a restart re-syncs config
    after = again.schedules.schedule("bs-an")["blocks"]
    assert len(after) == 11 and removed not in [b["id"] for b in after]
    assert any(b["day"] == "sun" and b["capacity"] == 3 for b in after)
    with pytest.raises(Conflict) as raised:
        again.schedules.add_block("bs-an", weekday=6, start=time(9), end=time(11), slot_minutes=30, capacity=1,
                                  actor="user:admin")
    assert raised.value.code == "overlapping_block"
    fewer = clinic.model_copy(update={"doctors": [d for d in clinic.doctors if d.code != "bs-khang"]})
    make_booking(sqlite_db, fewer, clock)
    with sqlite_db.read() as connection:
        assert connection.execute(select(Doctor.active).where(Doctor.code == "bs-khang")).scalar() is False
        assert connection.execute(select(func.count()).select_from(DoctorSchedule)).scalar() > 0


def test_free_slots_by_service_and_doctor(setup, clock: VirtualClock) -> None:
    booking, _, _ = setup
    monday = booking.free_slots(MONDAY, doctor="bs-an")
    assert monday[0]["time"] == "08:00"  # 07:30 and 07:45 are over at 08:00
    assert monday[0]["start"] == "2026-11-23T08:00:00+07:00" and monday[0]["free"] == 2
    clock.set(at(MONDAY, "08:10"))
    assert booking.free_slots(MONDAY, doctor="bs-an")[0]["time"] == "08:00"  # in progress: still bookable
    tuesday = booking.free_slots(TUESDAY, service="kham-noi")
    assert {s["doctor"] for s in tuesday} == {"bs-an"}  # bs-binh works mon, wed, fri
    assert booking.free_slots(TUESDAY, service="kham-san")[0]["minutes"] == 20
    booking.schedules.set_exception("bs-an", TUESDAY, closed=True, note="Hội nghị", actor="user:admin")
    assert booking.free_slots(TUESDAY, service="kham-noi") == []
    with pytest.raises(NotFound):
        booking.free_slots(TUESDAY, service="khong-co")
    with pytest.raises(Conflict):
        booking.free_slots(MONDAY - timedelta(days=1), doctor="bs-an")


# ------------------------------------------------------------------------------------------ booking
def test_booking_takes_a_place_and_tells_the_patient(both) -> None:
    booking, bus, notifier = both
    code = patient(booking)
    appointment = book(booking, code, at(TUESDAY, "09:00"), reason="Đau dạ dày")
    assert re.fullmatch(f"[{CODE_ALPHABET}]{{6}}", appointment["code"])
    assert appointment["status"] == "booked" and appointment["doctor"] == "bs-an"
    assert appointment["slot_start"] == "2026-11-24T09:00:00+07:00" and appointment["channel"] == "reception"
    assert notifier.sent == [("confirmation", appointment["code"])]
    changed = bus.of(AppointmentChanged)[-1]
    assert changed.action == "book" and changed.previous_status is None
    assert changed.appointment["patient"] == {"code": code}  # no name in events
    slot = next(s for s in booking.free_slots(TUESDAY, doctor="bs-an", include_full=True) if s["time"] == "09:00")
    assert slot["booked"] == 1 and slot["free"] == 1
    assert booking.get(appointment["code"].lower())["events"][0]["actor"] == "user:le.tan"


def test_full_slot_is_refused_and_cancelling_frees_it(both) -> None:
    booking, _, notifier = both
    first, second = patient(booking, "Trần Văn Một", "0900000001"), patient(booking, "Lê Thị Hai", "0900000002")
    held = book(booking, first, at(TUESDAY, "09:00"), doctor="bs-cuong")  # capacity 1
    with pytest.raises(Conflict) as raised:
        book(booking, second, at(TUESDAY, "09:00"), doctor="bs-cuong")
    assert raised.value.code == "slot_full"
    assert all(s["time"] != "09:00" for s in booking.free_slots(TUESDAY, doctor="bs-cuong"))
    booking.cancel(held["code"], actor="user:le.tan", reason="Bận việc")
    assert ("cancellation", held["code"]) in notifier.sent
    assert book(booking, second, at(TUESDAY, "09:00"), doctor="bs-cuong")["status"] == "booked"


def test_booking_by_service_picks_a_free_doctor(setup) -> None:
    booking, _, _ = setup
    wednesday = MONDAY + timedelta(days=2)
    codes = [patient(booking, f"Bệnh Nhân {i}", f"09000000{i:02d}") for i in range(5)]
    # 07:30 on Wednesday: bs-an and bs-binh both start then, two places each.
    doctors = [book(booking, c, at(wednesday, "07:30"), doctor=None, service="kham-noi")["doctor"] for c in codes[:4]]
    assert sorted(doctors) == ["bs-an", "bs-an", "bs-binh", "bs-binh"]
    with pytest.raises(Conflict) as raised:
        book(booking, codes[4], at(wednesday, "07:30"), doctor=None, service="kham-noi")
    assert raised.value.code == "slot_full"


@pytest.mark.parametrize(("when", "doctor", "code"), [
    (at(TUESDAY, "09:05"), "bs-an", "no_such_slot"),
    (at(MONDAY, "07:30"), "bs-an", "slot_in_past"),
    (at(TUESDAY, "09:00"), "bs-hoa", "no_such_slot"),  # she works 07:30-11:30 in 20-minute slots
    (at(MONDAY + timedelta(days=200), "09:00"), "bs-an", "too_far_ahead"),
])
def test_bad_slots_are_refused(setup, when: datetime, doctor: str, code: str) -> None:
    booking, _, _ = setup
    with pytest.raises(Conflict) as raised:
        book(booking, patient(booking), when, doctor=doctor)
    assert raised.value.code == code


def test_same_patient_cannot_hold_two_bookings_with_a_doctor_on_a_day(setup) -> None:
    booking, _, _ = setup
    code = patient(booking)
    book(booking, code, at(TUESDAY, "09:00"))
    with pytest.raises(Conflict) as raised:
        book(booking, code, at(TUESDAY, "10:00"))
    assert raised.value.code == "already_booked"
    with pytest.raises(Invalid):
        booking.book(patient_code=code, slot_start=datetime(2026, 11, 24, 9), doctor="bs-an", channel="reception",
                      actor="x")


def test_states_only_move_forward(both, any_db: Database) -> None:
    booking, bus, _ = both
    code = patient(booking)
    pending = book(booking, code, at(TUESDAY, "09:00"), status="pending")
    assert booking.confirm(pending["code"], actor="user:call.centre")["status"] == "booked"
    cancelled = booking.cancel(pending["code"], actor="user:call.centre")
    assert cancelled["status"] == "cancelled"
    for move in (lambda c: booking.confirm(c, actor="x"), lambda c: booking.cancel(c, actor="x"),
                 lambda c: booking.mark_no_show(c, actor="x"), lambda c: booking.fulfil(c, actor="x"),
                 lambda c: booking.reschedule(c, at(TUESDAY, "10:00"), actor="x")):
        with pytest.raises(Conflict) as raised:
            move(pending["code"])
        assert raised.value.code == "illegal_transition"
    no_show = book(booking, code, at(TUESDAY, "10:00"))
    booking.mark_no_show(no_show["code"], actor="system")
    with pytest.raises(Conflict):
        booking.cancel(no_show["code"], actor="x")
    with any_db.read() as connection:
        trail = connection.execute(select(AppointmentEvent.from_status, AppointmentEvent.to_status,
                                          AppointmentEvent.actor).order_by(AppointmentEvent.id)).all()
    assert [tuple(r) for r in trail] == [
        (None, "pending", "user:le.tan"), ("pending", "booked", "user:call.centre"),
        ("booked", "cancelled", "user:call.centre"), (None, "booked", "user:le.tan"), ("booked", "noshow", "system")]
    assert [e.action for e in bus.of(AppointmentChanged)] == ["book", "confirm", "cancel", "book", "no_show"]


def test_reschedule_moves_the_place(setup, sqlite_db: Database) -> None:
    booking, _, notifier = setup
    appointment = book(booking, patient(booking), at(TUESDAY, "09:00"), doctor="bs-cuong")
    moved = booking.reschedule(appointment["code"], at(TUESDAY, "10:00"), actor="user:le.tan")
    assert moved["time"] == "10:00" and moved["status"] == "booked"
    with sqlite_db.read() as connection:
        counts = dict(connection.execute(select(SlotCount.slot_start, SlotCount.booked)).tuples().all())
    assert counts == {at(TUESDAY, "09:00"): 0, at(TUESDAY, "10:00"): 1}
    assert notifier.sent.count(("confirmation", appointment["code"])) == 2


# ------------------------------------------------------------------------------------------ check-in
def test_check_in_issues_a_booked_ticket_by_slot_time(both) -> None:
    booking, bus, _ = both
    code = patient(booking)
    appointment = book(booking, code, at(MONDAY, "08:30"))
    result = booking.check_in(appointment["code"], actor="token:kiosk-1", source="kiosk")
    ticket = result["ticket"]
    assert ticket["priority"] == "booked" and ticket["service"] == "kham-noi" and ticket["number"] == "B001"
    assert result["appointment"]["status"] == "arrived"
    assert result["appointment"]["ticket"]["number"] == "B001"
    assert bus.of(AppointmentChanged)[-1].action == "check_in"
    assert bus.of(IntakeRecorded)[-1].appointment_code == appointment["code"]
    assert booking.intake(ticket["visit_id"])["reason"] is None
    with pytest.raises(Conflict) as raised:
        booking.check_in(appointment["code"], actor="token:kiosk-1")
    assert raised.value.code == "already_checked_in" and "B001" in raised.value.message


def test_a_retried_check_in_returns_the_same_ticket(setup) -> None:
    booking, _, _ = setup
    appointment = book(booking, patient(booking), at(MONDAY, "08:30"))
    first = booking.check_in(appointment["code"], actor="token:kiosk-1", request_key="kiosk-1:0001")
    again = booking.check_in(appointment["code"], actor="token:kiosk-1", request_key="kiosk-1:0001")
    assert again["ticket"]["id"] == first["ticket"]["id"]


@pytest.mark.parametrize(("slot", "clock_at", "code"), [
    (at(TUESDAY, "09:00"), "08:00", "wrong_day"),
    (at(MONDAY, "10:00"), "08:00", "too_early"),
    (at(MONDAY, "10:00"), "08:59", "too_early"),
])
def test_check_in_rules(setup, clock: VirtualClock, slot: datetime, clock_at: str, code: str) -> None:
    booking, _, _ = setup
    appointment = book(booking, patient(booking), slot)
    clock.set(at(MONDAY, clock_at))
    with pytest.raises(Conflict) as raised:
        booking.check_in(appointment["code"], actor="token:kiosk-1")
    assert raised.value.code == code
    assert slot.strftime("%H:%M") in raised.value.message


def test_early_late_and_cancelled_check_ins(setup, clock: VirtualClock) -> None:
    booking, _, _ = setup
    code = patient(booking)
    early = book(booking, code, at(MONDAY, "09:00"))
    clock.set(at(MONDAY, "08:00"))
    assert booking.check_in(early["code"], actor="k")["ticket"]["priority"] == "booked"  # exactly 60 min before
    cancelled = book(booking, code, at(MONDAY, "10:10"), doctor="bs-binh")
    booking.cancel(cancelled["code"], actor="k")
    with pytest.raises(Conflict) as raised:
        booking.check_in(cancelled["code"], actor="k")
    assert raised.value.code == "appointment_cancelled"
    late = book(booking, patient(booking, "Người Đến Muộn", "0911111111"), at(MONDAY, "09:00"), doctor="bs-cuong")
    clock.set(at(MONDAY, "11:00"))
    assert booking.check_in(late["code"], actor="k")["appointment"]["status"] == "arrived"
    with pytest.raises(NotFound) as missing:
        booking.check_in("KHONGCO", actor="k")
    assert missing.value.code == "unknown_appointment"


def test_finishing_the_exam_fulfils_the_appointment(setup) -> None:
    booking, _, _ = setup
    appointment = book(booking, patient(booking), at(MONDAY, "08:30"))
    booking.check_in(appointment["code"], actor="k")
    queue = booking.queue
    assert queue.call_next("p101", actor="nurse")["number"] == "B001"
    queue.start("p101", actor="nurse")
    queue.finish("p101", actor="nurse")
    assert booking.get(appointment["code"])["status"] == "fulfilled"


def test_walk_in_records_the_intake_and_queues_the_patient(setup, sqlite_db: Database) -> None:
    booking, bus, _ = setup
    code = patient(booking)
    first = booking.register_visit(code, "kham-noi", actor="user:le.tan", reason="Sốt", symptoms="Sốt 38,5 độ 2 ngày",
                                   doctor="bs-binh")
    assert first["ticket"]["priority"] == "normal" and first["ticket"]["source"] == "reception"
    assert first["intake"]["symptoms"] == "Sốt 38,5 độ 2 ngày" and first["intake"]["doctor"] == "bs-binh"
    assert first["intake"]["patient_code"] == code
    second = booking.register_visit(code, "xet-nghiem", actor="user:le.tan", priority="elderly")
    assert second["visit_id"] == first["visit_id"]  # one visit per patient and day
    assert booking.intake(first["visit_id"])["reason"] == "Sốt"  # kept when not restated
    assert len(bus.of(IntakeRecorded)) == 2
    with sqlite_db.read() as connection:
        assert connection.execute(select(func.count()).select_from(VisitIntake)).scalar() == 1
    with pytest.raises(Invalid):
        booking.register_visit(code, "kham-noi", actor="x", doctor="bs-cuong")
    with pytest.raises(NotFound):
        booking.register_visit("BN00000000", "kham-noi", actor="x")


def test_todays_list_shows_patients_and_tickets(setup) -> None:
    booking, _, _ = setup
    code = patient(booking)
    first = book(booking, code, at(MONDAY, "09:00"))
    book(booking, patient(booking, "Phạm Thị Lan", "0987654321"), at(MONDAY, "08:10"), doctor="bs-binh")
    booking.check_in(first["code"], actor="k")
    today = booking.appointments_on(MONDAY)
    assert [a["time"] for a in today] == ["08:10", "09:00"]
    assert today[1]["patient"]["full_name"] == "Nguyễn Văn Bình" and today[1]["ticket"]["number"] == "B001"
    assert [a["code"] for a in booking.appointments_of(code)] == [first["code"]]
    assert booking.appointments_on(MONDAY, status="booked")[0]["doctor"] == "bs-binh"
