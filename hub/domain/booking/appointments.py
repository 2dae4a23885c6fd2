"""Appointment states (FHIR R4 Appointment.status), booking codes, the view, events and the notifier interface."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hub.config import ClinicConfig
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.common.events import Event
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Ticket

log = logging.getLogger(__name__)

PROPOSED, PENDING, BOOKED, ARRIVED = "proposed", "pending", "booked", "arrived"
FULFILLED, CANCELLED, NOSHOW = "fulfilled", "cancelled", "noshow"
STATES = (PROPOSED, PENDING, BOOKED, ARRIVED, FULFILLED, CANCELLED, NOSHOW)
# Forward only: nothing ever goes back to an earlier state, and the last three are final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PROPOSED: (PENDING, BOOKED, ARRIVED, CANCELLED, NOSHOW),
    PENDING: (BOOKED, ARRIVED, CANCELLED, NOSHOW),
    BOOKED: (ARRIVED, CANCELLED, NOSHOW),
    ARRIVED: (FULFILLED,),
    FULFILLED: (),
    CANCELLED: (),
    NOSHOW: (),
}
# States in which an appointment counts against its slot's capacity (cancelling gives the place back).
HOLDS_SLOT = (PROPOSED, PENDING, BOOKED, ARRIVED, FULFILLED, NOSHOW)
# Still ahead of the patient: may be confirmed, moved, cancelled or checked in.
OPEN_STATES = (PROPOSED, PENDING, BOOKED)
CHANNELS = ("portal", "reception", "callcenter", "doctor", "kiosk")

STATUS_NAMES = {
    PROPOSED: ("Đề xuất", "Proposed"), PENDING: ("Chờ xác nhận", "Pending"), BOOKED: ("Đã đặt", "Booked"),
    ARRIVED: ("Đã đến", "Arrived"), FULFILLED: ("Đã khám", "Fulfilled"), CANCELLED: ("Đã huỷ", "Cancelled"),
    NOSHOW: ("Không đến", "No-show"),
}

# Booking codes are read aloud on the phone and typed on a kiosk: no 0/O/Q/D, 1/I/L, 2/Z, 5/S, 8/B.
CODE_ALPHABET = "ACEFGHJKMNPRTUVWXY34679"
CODE_LENGTH = 6


def new_booking_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_booking_code(code: str) -> str:
    """What a patient types or a scanner sends, as stored: upper case, no spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def can_move(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, ())


_A, _P, _D, _T = Appointment.__table__, Patient.__table__, Doctor.__table__, Ticket.__table__
# An appointment with what staff see next to it: the patient, the doctor and the ticket of the check-in.
APPOINTMENT_VIEW = select(
    _A, _P.c.code.label("p_code"), _P.c.full_name.label("p_name"), _P.c.phone.label("p_phone"),
    _P.c.email.label("p_email"), _D.c.code.label("d_code"), _D.c.name.label("d_name"), _D.c.room.label("d_room"),
    _T.c.number.label("t_number"), _T.c.status.label("t_status"),
).select_from(_A.join(_P, _P.c.id == _A.c.patient_id).join(_D, _D.c.id == _A.c.doctor_id)
              .outerjoin(_T, _T.c.id == _A.c.ticket_id))


def shape_appointment(row: Any, clinic: ClinicConfig, tz: ZoneInfo) -> dict[str, Any]:
    """An APPOINTMENT_VIEW row as the API returns it (times in the site's zone, with their offset)."""
    start = row.slot_start.astimezone(tz)
    cfg = clinic.service(row.service)
    vi, en = STATUS_NAMES.get(row.status, (row.status, row.status))
    return {
        "id": row.id, "code": row.code, "status": row.status, "status_name": vi, "status_name_en": en,
        "service": row.service, "service_name": cfg.name if cfg else row.service,
        "service_name_en": cfg.name_en if cfg else row.service,
        "doctor": row.d_code, "doctor_name": row.d_name, "room": row.d_room,
        "day": start.date().isoformat(), "time": start.strftime("%H:%M"), "slot_start": start.isoformat(),
        "slot_end": (start + timedelta(minutes=row.slot_minutes)).isoformat(), "slot_minutes": row.slot_minutes,
        "reason": row.reason, "channel": row.channel, "kind": row.kind, "booked_by": row.booked_by,
        "created_at": row.created_at.isoformat(),
        "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
        "patient": {"id": row.patient_id, "code": row.p_code, "full_name": row.p_name, "phone": row.p_phone,
                    "email": row.p_email},
        "ticket": {"id": row.ticket_id, "number": row.t_number, "status": row.t_status} if row.ticket_id else None,
        "visit_id": row.visit_id,
    }


@dataclass(frozen=True)
class AppointmentChanged(Event):
    """An appointment was booked, or changed state or time (published after the commit).

    `appointment` carries codes and times, never the patient's name or contacts.
    """

    appointment: dict[str, Any]
    previous_status: str | None  # None for a new booking
    action: str  # book, confirm, cancel, check_in, no_show, fulfil, reschedule
    actor: str


@dataclass(frozen=True)
class IntakeRecorded(Event):
    """Reception recorded why a patient came (walk-in or check-in) and put them in a queue."""

    visit_id: int
    service: str
    ticket_id: int
    appointment_code: str | None


class Notifier(Protocol):
    """Tells the patient about their booking; the notification outbox (a later issue) implements it.

    Called after the booking committed, with the staff view of the appointment (which includes the
    patient's code, name, phone and email). It must not raise for a channel that is down: the outbox
    keeps the message and retries. A failure here never undoes a booking.
    """

    def send_confirmation(self, appointment: dict[str, Any]) -> None:
        """The booking is confirmed: code, doctor, date and time, where to check in."""
        ...

    def send_cancellation(self, appointment: dict[str, Any]) -> None:
        """The booking was cancelled (by the patient, the staff or the hospital)."""
        ...

    def send_reschedule(self, appointment: dict[str, Any]) -> None:
        """The booking moved to another time or doctor."""
        ...


class LogNotifier:
    """The default until the outbox exists: one log line per message, with no personal data in it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # (kind, booking code): what a test or the demo can inspect

    def send_confirmation(self, appointment: dict[str, Any]) -> None:
        self.sent.append(("confirmation", appointment["code"]))
        log.info("booking confirmation for %s: %s at %s (channel %s)", appointment["code"], appointment["doctor"],
                 appointment["slot_start"], appointment["channel"])

    def send_reschedule(self, appointment: dict[str, Any]) -> None:
        self.sent.append(("reschedule", appointment["code"]))
        log.info("booking moved for %s: now %s", appointment["code"], appointment["slot_start"])

    def send_cancellation(self, appointment: dict[str, Any]) -> None:
        self.sent.append(("cancellation", appointment["code"]))
        log.info("booking cancellation for %s", appointment["code"])
