"""Booking: appointments on doctors' slots, their forward-only states, and check-in into the exam queues.

A booking takes a place in a slot with a conditional UPDATE on slot_counts (never past capacity, even
under concurrent bookers); cancelling gives it back. Every state change is a compare-and-set on the
appointment's status plus a row in appointment_events (who, when, from, to). Check-in turns the
appointment into a ticket of priority "booked" queued by its slot time. Events are published after
the commit; the patient hears of their booking through the `Notifier`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.appointments import (
    APPOINTMENT_VIEW,
    ARRIVED,
    BOOKED,
    CANCELLED,
    CHANNELS,
    FULFILLED,
    HOLDS_SLOT,
    NOSHOW,
    OPEN_STATES,
    STATUS_NAMES,
    AppointmentChanged,
    IntakeRecorded,
    LogNotifier,
    Notifier,
    can_move,
    new_booking_code,
    normalize_booking_code,
    shape_appointment,
)
from hub.domain.booking.intake import intake_view, record_intake, todays_visit
from hub.domain.booking.models import Appointment, AppointmentEvent, Doctor
from hub.domain.booking.schedules import ScheduleBook
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import EventBus, TicketChanged
from hub.domain.patients.registry import PatientRegistry
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket

__all__ = ["AppointmentChanged", "BookingService", "IntakeRecorded", "Notifier"]

log = logging.getLogger(__name__)
A = Appointment.__table__
AE = AppointmentEvent.__table__
D = Doctor.__table__
T = Ticket.__table__
EARLY_CHECK_IN_MINUTES = 60  # a booked patient may check in this long before the slot
MAX_CODE_ATTEMPTS = 6
BOOKED_PRIORITY = "booked"
# A patient sent from the exam to these services comes back to the doctor with the results.
ROUND_TRIP_KINDS = ("lab", "imaging")


class BookingService:
    """Appointments, check-in and walk-in registration; patients and schedules hang off it."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock, queue: QueueService,
                 notifier: Notifier | None = None) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self.queue = queue
        self.tz = clinic.site.tz
        self.patients = PatientRegistry(db, bus, clock, self.tz)
        self.schedules = ScheduleBook(db, clinic, clock)
        # The notification outbox replaces this (hub.booking.notifier = ...) when it exists.
        self.notifier: Notifier = notifier or LogNotifier()
        bus.subscribe(TicketChanged, self._on_ticket_changed)

    def sync_config(self) -> None:
        self.schedules.sync_config()

    def today(self) -> date:
        return local_day(self.clock.now(), self.tz)

    # ================================================================== slots
    def free_slots(self, day: date, *, service: str | None = None, doctor: str | None = None,
                   include_full: bool = False) -> list[dict[str, Any]]:
        """Bookable slots of a day, by service (all its doctors) or by doctor, with free places."""
        if service is not None:
            self.queue.service_config(service)
        return self.schedules.open_slots(day, service=service, doctor=doctor, include_full=include_full)

    # ================================================================== booking
    def book(self, *, patient_code: str, slot_start: datetime, actor: str, channel: str,
             doctor: str | None = None, service: str | None = None, reason: str | None = None,
             status: str = BOOKED, kind: str = "visit", origin_visit_id: int | None = None,
             series_id: int | None = None,
             in_transaction: Callable[[Connection, int], None] | None = None) -> dict[str, Any]:
        """Take a place in a slot for a patient: with a given doctor, or any doctor of `service` free then.

        `in_transaction(connection, appointment_id)` writes what must commit with the booking (a
        follow-up's place in its series and its confirmation message).
        """
        if channel not in CHANNELS:
            raise Invalid("bad_channel", f"channel is one of {', '.join(CHANNELS)}")
        if status not in OPEN_STATES:
            raise Invalid("bad_status", "a new appointment is proposed, pending or booked")
        if kind not in ("visit", "follow_up"):
            raise Invalid("bad_kind", "kind is visit or follow_up")
        if service is not None:
            self.queue.service_config(service)
        now = self.clock.now()
        with self.db.write() as connection:
            patient = self.patients.patient_row(connection, patient_code)
            doctor_row, slot = self._claim_slot(connection, slot_start, doctor, service, patient.id, now)
            appointment_id = self._insert(connection, {
                "patient_id": patient.id, "doctor_id": doctor_row.id, "service": doctor_row.service,
                "slot_start": slot.start, "slot_minutes": slot.minutes, "status": status,
                "reason": (reason or None) and reason[:300], "channel": channel, "kind": kind,
                "booked_by": actor[:64], "created_at": now, "origin_visit_id": origin_visit_id,
                "series_id": series_id, "confirmed_at": now if status == BOOKED else None})
            self._log(connection, appointment_id, now, actor, None, status, {"channel": channel})
            if in_transaction is not None:
                in_transaction(connection, appointment_id)
            view = self._view(connection, appointment_id)
        self._publish(view, None, "book", actor)
        if status == BOOKED:
            self._notify("send_confirmation", view)
        return view

    def _claim_slot(self, connection: Connection, slot_start: datetime, doctor: str | None, service: str | None,
                    patient_id: int, now: datetime, moving: int | None = None) -> tuple[Any, Any]:
        """Find the slot and take a place in it (the doctor's, or the first doctor of the service with room)."""
        if slot_start.tzinfo is None:
            raise Invalid("naive_time", "slot_start needs its UTC offset, e.g. 2026-11-24T07:30:00+07:00")
        if doctor is None and service is None:
            raise Invalid("service_or_doctor", "give a doctor, or a service to book any of its doctors")
        self.schedules.check_bookable_day(local_day(slot_start, self.tz))
        if doctor is not None:
            candidates = [self.schedules.doctor_row(connection, doctor)]
            if service is not None and candidates[0].service != service:
                raise Invalid("wrong_service", f"{doctor} does not work in {service}")
        else:
            candidates = connection.execute(select(D).where(D.c.service == service, D.c.active.is_(True))
                                            .order_by(D.c.name)).all()
        seen_slot = False
        for row in candidates:
            slot = self.schedules.slot_at(connection, row.id, slot_start)
            if slot is None or not row.active:
                continue
            seen_slot = True
            if slot.start + timedelta(minutes=slot.minutes) <= now:
                raise Conflict("slot_in_past", "Khung giờ này đã qua / that slot is over")
            if self._has_open_booking(connection, patient_id, row.id, slot_start, moving):
                raise Conflict("already_booked", "Bệnh nhân đã có lịch hẹn với bác sĩ này trong ngày / the patient "
                                                 "already has a booking with this doctor that day")
            if self.schedules.take_place(connection, row.id, slot):
                return row, slot
        if not seen_slot:
            raise Conflict("no_such_slot", "Bác sĩ không làm việc vào giờ này / no slot starts at that time")
        raise Conflict("slot_full", "Khung giờ này đã đủ người, vui lòng chọn giờ khác / that slot is full: "
                                    "choose another time")

    def _has_open_booking(self, connection: Connection, patient_id: int, doctor_id: int, start: datetime,
                          moving: int | None) -> bool:
        day_start, day_end = self._day_bounds(local_day(start, self.tz))
        query = select(A.c.id).where(A.c.patient_id == patient_id, A.c.doctor_id == doctor_id,
                                     A.c.slot_start >= day_start, A.c.slot_start < day_end,
                                     A.c.status.in_(OPEN_STATES))
        if moving is not None:
            query = query.where(A.c.id != moving)
        return connection.execute(query.limit(1)).first() is not None

    def _insert(self, connection: Connection, values: dict[str, Any]) -> int:
        """Insert with a fresh booking code; a code already taken is drawn again."""
        for _ in range(MAX_CODE_ATTEMPTS):
            try:
                # A savepoint, so a taken code costs a retry and not the whole booking.
                with connection.begin_nested():
                    return connection.execute(insert(A).values(code=new_booking_code(), **values)
                                              .returning(A.c.id)).scalar_one()
            except IntegrityError:
                continue
        raise Conflict("busy", "could not draw a free booking code; try again")

    # ================================================================== state changes
    def confirm(self, code: str, *, actor: str) -> dict[str, Any]:
        """A proposed or pending appointment is confirmed (the patient is told)."""
        view = self._move(code, BOOKED, actor=actor, action="confirm", set_confirmed=True)
        self._notify("send_confirmation", view)
        return view

    def cancel(self, code: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Cancel and give the place back to the slot."""
        view = self._move(code, CANCELLED, actor=actor, action="cancel", detail={"reason": reason} if reason else None)
        self._notify("send_cancellation", view)
        return view

    def mark_no_show(self, code: str, *, actor: str) -> dict[str, Any]:
        return self._move(code, NOSHOW, actor=actor, action="no_show")

    def fulfil(self, code: str, *, actor: str) -> dict[str, Any]:
        return self._move(code, FULFILLED, actor=actor, action="fulfil")

    def _move(self, code: str, to_status: str, *, actor: str, action: str, detail: dict[str, Any] | None = None,
              set_confirmed: bool = False) -> dict[str, Any]:
        now = self.clock.now()
        with self.db.write() as connection:
            row = self._row(connection, code)
            if not can_move(row.status, to_status):
                raise self._illegal(row, to_status)
            values: dict[str, Any] = {"status": to_status}
            if set_confirmed:
                values["confirmed_at"] = now
            moved = connection.execute(update(A).where(A.c.id == row.id, A.c.status == row.status).values(**values))
            if moved.rowcount != 1:  # someone else changed it between our read and our write
                raise self._illegal(self._row(connection, code), to_status)
            if row.status in HOLDS_SLOT and to_status not in HOLDS_SLOT:
                self.schedules.release_place(connection, row.doctor_id, row.slot_start)
            self._log(connection, row.id, now, actor, row.status, to_status, detail)
            view = self._view(connection, row.id)
        self._publish(view, row.status, action, actor)
        return view

    def _illegal(self, row: Any, to_status: str) -> Conflict:
        vi, en = STATUS_NAMES.get(row.status, (row.status, row.status))
        return Conflict("illegal_transition", f"Lịch hẹn {row.code} đang ở trạng thái '{vi}' / appointment "
                                              f"{row.code} is {en.lower()}: it cannot become {to_status}")

    def reschedule(self, code: str, slot_start: datetime, *, actor: str, doctor: str | None = None) -> dict[str, Any]:
        """Move an open appointment to another slot (of the same or another doctor of its service)."""
        now = self.clock.now()
        with self.db.write() as connection:
            row = self._row(connection, code)
            if row.status not in OPEN_STATES:
                raise self._illegal(row, "rescheduled")
            if doctor is None:
                doctor = connection.execute(select(D.c.code).where(D.c.id == row.doctor_id)).scalar_one()
            doctor_row, slot = self._claim_slot(connection, slot_start, doctor, row.service, row.patient_id, now,
                                                moving=row.id)
            moved = connection.execute(update(A).where(A.c.id == row.id, A.c.status == row.status).values(
                doctor_id=doctor_row.id, slot_start=slot.start, slot_minutes=slot.minutes))
            if moved.rowcount != 1:
                raise self._illegal(self._row(connection, code), "rescheduled")
            self.schedules.release_place(connection, row.doctor_id, row.slot_start)
            self._log(connection, row.id, now, actor, row.status, row.status,
                      {"from": row.slot_start.isoformat(), "to": slot.start.isoformat(), "doctor": doctor_row.code})
            view = self._view(connection, row.id)
        self._publish(view, row.status, "reschedule", actor)
        if view["status"] == BOOKED:
            self._notify("send_reschedule", view)
        return view

    # ================================================================== check-in and walk-in
    def check_in(self, code: str, *, actor: str, source: str = "kiosk", reason: str | None = None,
                 symptoms: str | None = None, patient_code: str | None = None, source_device: str | None = None,
                 request_key: str | None = None) -> dict[str, Any]:
        """The patient arrived: their appointment becomes a "booked" ticket in the doctor's exam queue.

        Allowed on the slot's day from EARLY_CHECK_IN_MINUTES before the slot (late is fine: they are
        then queued by arrival). Returns {"ticket", "appointment"}. A retry with the same `request_key`
        (the kiosk's idempotency key) returns the same ticket instead of a 409.
        """
        now = self.clock.now()
        with self.db.read() as connection:
            row = self._row(connection, code)
            earlier = self._earlier_check_in(connection, row, request_key)
            if earlier is not None:
                return earlier
            if patient_code is not None:
                patient = self.patients.patient_row(connection, patient_code)
                if patient.id != row.patient_id:
                    raise Conflict("wrong_patient", "Lịch hẹn không phải của bệnh nhân này / the booking is "
                                                    "another patient's")
        self._check_arrival(row, now)
        visit_id = self._todays_visit(row.patient_id, now)
        ticket = self._issue_once(row, visit_id, actor=actor, source=source, source_device=source_device)
        with self.db.write() as connection:
            claimed = connection.execute(update(A).where(A.c.id == row.id, A.c.status.in_(OPEN_STATES)).values(
                status=ARRIVED, ticket_id=ticket["id"], visit_id=visit_id))
            if claimed.rowcount != 1:
                current = self._row(connection, code)
                if current.status == ARRIVED and current.ticket_id == ticket["id"]:
                    return {"ticket": ticket, "appointment": self._view(connection, row.id)}
                stale = current
            else:
                stale = None
                self._log(connection, row.id, now, actor, row.status, ARRIVED,
                          {"ticket": ticket["number"], "source": source, "request": request_key})
                record_intake(connection, visit_id, now, actor, service=row.service, doctor_id=row.doctor_id,
                              appointment_id=row.id, reason=reason or row.reason, symptoms=symptoms)
                view = self._view(connection, row.id)
        if stale is not None:
            # Cancelled while the ticket was being issued: take the ticket back out of the line.
            self.queue.cancel(ticket["id"], actor=actor, reason=f"appointment {row.code} is {stale.status}")
            raise self._illegal(stale, ARRIVED)
        self._publish(view, row.status, "check_in", actor)
        self.bus.publish(IntakeRecorded(visit_id, row.service, ticket["id"], row.code))
        return {"ticket": ticket, "appointment": view}

    def _earlier_check_in(self, connection: Connection, row: Any, request_key: str | None) -> dict[str, Any] | None:
        """The result of an earlier check-in made with the same request key (a retried request)."""
        if row.status != ARRIVED or row.ticket_id is None or not request_key:
            return None
        details = connection.execute(select(AE.c.detail).where(AE.c.appointment_id == row.id,
                                                               AE.c.to_status == ARRIVED)).scalars().all()
        if not any((d or {}).get("request") == request_key for d in details):
            return None
        return {"ticket": self.queue.get_ticket(row.ticket_id), "appointment": self._view(connection, row.id)}

    def _check_arrival(self, row: Any, now: datetime) -> None:
        """Refuse a check-in that is not allowed now, with a message a patient at a kiosk understands."""
        slot = row.slot_start.astimezone(self.tz)
        when_vi, when_en = f"{slot:%H:%M} ngày {slot:%d/%m/%Y}", f"{slot:%H:%M} on {slot:%d/%m/%Y}"
        if row.status == ARRIVED:
            number = self.queue.get_ticket(row.ticket_id)["number"] if row.ticket_id else "?"
            raise Conflict("already_checked_in", f"Lịch hẹn {row.code} đã check-in, số của bạn là {number} / "
                                                 f"already checked in: your number is {number}")
        if row.status == CANCELLED:
            raise Conflict("appointment_cancelled", f"Lịch hẹn {row.code} đã bị huỷ, mời đến quầy tiếp đón / "
                                                    f"appointment {row.code} was cancelled: please see reception")
        if row.status not in OPEN_STATES:
            vi, en = STATUS_NAMES[row.status]
            raise Conflict(f"appointment_{row.status}", f"Lịch hẹn {row.code} ({when_vi}) đã kết thúc: {vi} / "
                                                        f"appointment {row.code} ({when_en}) is closed: {en.lower()}")
        if slot.date() != local_day(now, self.tz):
            raise Conflict("wrong_day", f"Lịch hẹn {row.code} vào {when_vi}, không phải hôm nay / appointment "
                                        f"{row.code} is at {when_en}, not today")
        opens = row.slot_start - timedelta(minutes=EARLY_CHECK_IN_MINUTES)
        if now < opens:
            at = opens.astimezone(self.tz)
            raise Conflict("too_early", f"Lịch hẹn lúc {slot:%H:%M}: mời check-in từ {at:%H:%M} / your slot is "
                                        f"at {slot:%H:%M}: check in from {at:%H:%M}")

    def _issue_once(self, row: Any, visit_id: int, *, actor: str, source: str,
                    source_device: str | None) -> dict[str, Any]:
        """The appointment's ticket: its own idempotency key makes a doubled check-in give one ticket."""
        priority = BOOKED_PRIORITY if self.clinic.priority(BOOKED_PRIORITY) else "normal"
        details = dict(priority=priority, slot_at=row.slot_start, appointment_id=row.id, visit_id=visit_id,
                       patient_id=row.patient_id, source=source, source_device=source_device,
                       idempotency_key=f"appointment:{row.id}", actor=actor)
        try:
            return self.queue.issue(row.service, **details)
        except IntegrityError:
            # PostgreSQL: a simultaneous check-in inserted the same key first; now we find its ticket.
            return self.queue.issue(row.service, **details)

    def register_visit(self, patient_code: str, service: str, *, actor: str, priority: str = "normal",
                       doctor: str | None = None, reason: str | None = None, symptoms: str | None = None,
                       source: str = "reception") -> dict[str, Any]:
        """A walk-in at reception: record why they came and put them in the service's line."""
        cfg = self.queue.service_config(service)
        if self.clinic.priority(priority) is None:
            raise Invalid("unknown_priority", f"unknown priority class {priority!r}")
        now = self.clock.now()
        with self.db.read() as connection:
            patient = self.patients.patient_row(connection, patient_code)
            doctor_id = None
            if doctor is not None:
                doctor_row = self.schedules.doctor_row(connection, doctor)
                if doctor_row.service != cfg.code:
                    raise Invalid("wrong_service", f"{doctor} does not work in {cfg.code}")
                doctor_id = doctor_row.id
        visit_id = self._todays_visit(patient.id, now)
        ticket = self.queue.issue(cfg.code, priority=priority, visit_id=visit_id, patient_id=patient.id,
                                  source=source, actor=actor)
        with self.db.write() as connection:
            record_intake(connection, visit_id, now, actor, service=cfg.code, doctor_id=doctor_id,
                          appointment_id=None, reason=reason, symptoms=symptoms)
            intake = intake_view(connection, visit_id)
        self.bus.publish(IntakeRecorded(visit_id, cfg.code, ticket["id"], None))
        return {"ticket": ticket, "visit_id": visit_id, "intake": intake}

    def _todays_visit(self, patient_id: int, now: datetime) -> int:
        with self.db.write() as connection:
            return todays_visit(connection, patient_id, local_day(now, self.tz), now)

    def intake(self, visit_id: int) -> dict[str, Any]:
        """What reception recorded for a visit (the doctor's page shows it)."""
        with self.db.read() as connection:
            view = intake_view(connection, visit_id)
        if view is None:
            raise NotFound("unknown_intake", f"no intake recorded for visit {visit_id}")
        return view

    def _on_ticket_changed(self, event: TicketChanged) -> None:
        """An arrived appointment is fulfilled when the patient's exam in its service is over: a ticket of
        its visit finishes there, or is transferred from there to a service other than lab or imaging (the
        doctor sends the patient on to the cashier, the pharmacy, another speciality)."""
        if event.action not in ("finish", "transfer") or not event.ticket.get("visit_id"):
            return
        if event.action == "transfer" and not self._moved_on(event.ticket["visit_id"], event.ticket["id"]):
            return
        with self.db.read() as connection:
            codes = connection.execute(select(A.c.code).where(
                A.c.visit_id == event.ticket["visit_id"], A.c.service == event.ticket["service"],
                A.c.status == ARRIVED)).scalars().all()
        for code in codes:
            try:
                self.fulfil(code, actor="system")
            except Conflict:
                pass  # fulfilled meanwhile by another path

    def _moved_on(self, visit_id: int, ticket_id: int) -> bool:
        """Whether a transferred ticket sent the patient on for good (not on a lab or imaging round trip)."""
        with self.db.read() as connection:  # by visit first: tickets.visit_id is indexed
            service_id = connection.execute(select(T.c.service_id).where(
                T.c.visit_id == visit_id, T.c.transferred_from_id == ticket_id).order_by(T.c.id).limit(1)).scalar()
        if service_id is None:
            return False
        target = self.clinic.service(self.queue.service_code(service_id))
        return target is not None and target.kind not in ROUND_TRIP_KINDS

    # ================================================================== reading
    def get(self, code: str) -> dict[str, Any]:
        with self.db.read() as connection:
            row = self._row(connection, code)
            view = self._view(connection, row.id)
            view["events"] = [
                {"at": e.at.isoformat(), "actor": e.actor, "from": e.from_status, "to": e.to_status,
                 "detail": e.detail}
                for e in connection.execute(select(AE).where(AE.c.appointment_id == row.id).order_by(AE.c.id))]
            return view

    def appointments_on(self, day: date, *, service: str | None = None, doctor: str | None = None,
                        status: str | None = None) -> list[dict[str, Any]]:
        """A day's appointments in slot order (reception's list of today's bookings)."""
        start, end = self._day_bounds(day)
        query = APPOINTMENT_VIEW.where(A.c.slot_start >= start, A.c.slot_start < end)
        if service is not None:
            query = query.where(A.c.service == service)
        if doctor is not None:
            query = query.where(D.c.code == doctor)
        if status is not None:
            query = query.where(A.c.status == status)
        with self.db.read() as connection:
            rows = connection.execute(query.order_by(A.c.slot_start, D.c.name)).all()
            return [shape_appointment(row, self.clinic, self.tz) for row in rows]

    def appointments_of(self, patient_code: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.read() as connection:
            patient = self.patients.patient_row(connection, patient_code)
            rows = connection.execute(APPOINTMENT_VIEW.where(A.c.patient_id == patient.id)
                                      .order_by(A.c.slot_start.desc()).limit(limit)).all()
            return [shape_appointment(row, self.clinic, self.tz) for row in rows]

    def _row(self, connection: Connection, code: str) -> Any:
        wanted = normalize_booking_code(code) if isinstance(code, str) else ""
        row = connection.execute(select(A).where(A.c.code == wanted)).first() if wanted else None
        if row is None:
            raise NotFound("unknown_appointment", f"Không tìm thấy lịch hẹn {code!r} / no appointment {code!r}")
        return row

    def _view(self, connection: Connection, appointment_id: int) -> dict[str, Any]:
        return shape_appointment(connection.execute(APPOINTMENT_VIEW.where(A.c.id == appointment_id)).one(),
                                 self.clinic, self.tz)

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, datetime.min.time(), tzinfo=self.tz)
        return start, start + timedelta(days=1)

    # ================================================================== recording and telling
    def _log(self, connection: Connection, appointment_id: int, now: datetime, actor: str, from_status: str | None,
             to_status: str, detail: dict[str, Any] | None) -> None:
        connection.execute(insert(AE).values(appointment_id=appointment_id, at=now, actor=actor[:64],
                                             from_status=from_status, to_status=to_status, detail=detail))

    def _publish(self, view: dict[str, Any], previous: str | None, action: str, actor: str) -> None:
        # Events reach adapters that may broadcast: the patient is named by code only.
        public = {**view, "patient": {"code": view["patient"]["code"]}}
        self.bus.publish(AppointmentChanged(public, previous, action, actor))

    def _notify(self, kind: str, view: dict[str, Any]) -> None:
        try:
            # A notifier without send_reschedule (written before it existed) confirms the new time instead.
            send = getattr(self.notifier, kind, None) or self.notifier.send_confirmation
            send(view)
        except Exception:  # the booking is committed; a message that failed must not undo it
            log.exception("notifier failed to send %s for %s", kind, view["code"])
