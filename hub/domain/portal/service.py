"""The patient portal's side of the domain: what a signed-in patient may read and do, and self-registration.

Every read is of the signed-in patient's own records and returns only what a patient should see:
no staff names or notes, no other patient, and lab or imaging results only once a doctor released
them. Booking and cancelling go through `BookingService` with channel "portal", so slot capacity and
the appointment rules are the same as at reception. Sign-in and sessions are in `portal_auth`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import func, select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.appointments import ARRIVED, OPEN_STATES
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.booking.service import BookingService
from hub.domain.clinical.exams import ClinicalService
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Conflict, DomainError, Invalid, NotFound
from hub.domain.common.models import AuditEntry
from hub.domain.notifications.outbox import NotificationService
from hub.domain.patients.registry import DuplicatePatient, PatientDetails
from hub.domain.portal.auth import PortalAuth, PortalPatient, TooManyAttempts, client_tag
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket, Visit

T, V, A, D, AL = Ticket.__table__, Visit.__table__, Appointment.__table__, Doctor.__table__, AuditEntry.__table__
BOOKING_DAYS = 14  # how far ahead the portal offers days (reception can book further)
MAX_OPEN_BOOKINGS = 3  # upcoming bookings a patient may hold at once through the portal
MAX_REGISTRATIONS_PER_CLIENT = 10  # per hour and address: a family registers together, a script does not
ACTIVE_TICKET = ("waiting", "called", "serving", "on_hold")
AT_COUNTER = ("called", "serving", "on_hold")
MAX_PLACES_LISTED = 3


class RegistrationRefused(DomainError):
    """Self-registration found a record that may be this person's; nothing about it is given away."""

    status = 409

    MESSAGES = {
        "need_national_id": "Có thể bạn đã có hồ sơ tại bệnh viện. Hãy nhập số CCCD để tiếp tục, hoặc đăng nhập bằng "
                            "mã bệnh nhân / you may already be registered: enter your CCCD number to go on, or sign "
                            "in with your patient code",
        "see_reception": "Không thể tạo hồ sơ trực tuyến với thông tin này. Vui lòng liên hệ quầy tiếp đón và mang "
                         "theo CCCD / we cannot register these details online: please see reception with your ID card",
    }

    def __init__(self, code: str) -> None:
        super().__init__(code, self.MESSAGES[code])


@dataclass(frozen=True)
class Place:
    """Where a ticket's holder goes (a room or counter, or the rooms of the service)."""

    name: str
    name_en: str


class PortalService:
    """Reads and actions of the signed-in patient; `auth` signs them in."""

    def __init__(self, db: Database, clinic: ClinicConfig, clock: Clock, *, booking: BookingService,
                 clinical: ClinicalService, notifications: NotificationService, queue: QueueService,
                 secret_key: str) -> None:
        self.db = db
        self.clinic = clinic
        self.clock = clock
        self.tz = clinic.site.tz
        self.booking = booking
        self.clinical = clinical
        self.notifications = notifications
        self.queue = queue
        self.secret_key = secret_key
        self.auth = PortalAuth(db, clock, secret_key)

    def today(self) -> date:
        return local_day(self.clock.now(), self.tz)

    # ================================================================== self-registration
    def register(self, details: PatientDetails, *, address: str) -> PortalPatient:
        """A new record for someone registering themselves; RegistrationRefused on a possible duplicate.

        A record with the same CCCD, or with the same name, birth date and phone that cannot be told
        apart by a CCCD, means "see reception": the portal never shows or links another record.
        """
        if not self.auth.client_allowed(address) or self._registrations_from(address) >= MAX_REGISTRATIONS_PER_CLIENT:
            raise TooManyAttempts()
        if details.date_of_birth is None or not details.phone:
            raise Invalid("details_required", "Cần họ tên, ngày sinh và số điện thoại / name, date of birth and phone "
                                              "are required")
        candidates = self.booking.patients.duplicates(details)
        confirm_new = False
        if candidates:
            if any(c["match"] == "national_id" for c in candidates):
                self._refuse(address, "see_reception")
            if not details.national_id:
                self._refuse(address, "need_national_id")
            # Twins share a name, birth date and a parent's phone: different CCCDs on file tell them apart.
            if not all(c["national_id"] for c in candidates):
                self._refuse(address, "see_reception")
            confirm_new = True
        try:
            view = self.booking.patients.register(details, actor=self._registrar(address), source="portal",
                                                  confirm_new=confirm_new)
        except DuplicatePatient:  # registered by someone else between our check and our insert
            self._refuse(address, "see_reception")
        return PortalPatient(view["id"], view["code"], view["full_name"])

    def _refuse(self, address: str, code: str) -> NoReturn:
        self.auth.record_refusal(address, code)
        raise RegistrationRefused(code)

    def _registrar(self, address: str) -> str:
        return f"portal:{client_tag(self.secret_key, address)}"

    def _registrations_from(self, address: str) -> int:
        since = self.clock.now() - timedelta(hours=1)
        with self.db.read() as connection:
            return connection.execute(select(func.count()).where(
                AL.c.at >= since, AL.c.action == "patient_registered", AL.c.actor == self._registrar(address))).scalar()

    # ================================================================== bookings
    def bookings(self, patient: PortalPatient) -> dict[str, list[dict[str, Any]]]:
        """The patient's appointments: upcoming (soonest first) and past (latest first)."""
        now = self.clock.now()
        upcoming, past = [], []
        for appointment in self.booking.appointments_of(patient.code, limit=100):
            view = self._appointment_view(appointment, now)
            (upcoming if view["upcoming"] else past).append(view)
        upcoming.sort(key=lambda a: a["slot_start"])
        return {"upcoming": upcoming, "past": past}

    def _appointment_view(self, appointment: dict[str, Any], now: datetime) -> dict[str, Any]:
        start = datetime.fromisoformat(appointment["slot_start"])
        end = datetime.fromisoformat(appointment["slot_end"])
        status = appointment["status"]
        room = self._room(appointment["room"])
        return {
            "code": appointment["code"], "status": status, "status_name": appointment["status_name"],
            "status_name_en": appointment["status_name_en"], "service_name": appointment["service_name"],
            "service_name_en": appointment["service_name_en"], "doctor_name": appointment["doctor_name"],
            "room": room.name if room else None, "room_en": room.name_en if room else None,
            "day": appointment["day"], "time": appointment["time"], "slot_start": appointment["slot_start"],
            "kind": appointment["kind"], "ticket": (appointment["ticket"] or {}).get("number"),
            "upcoming": (status in OPEN_STATES and end > now) or (status == ARRIVED and start.date() == now.astimezone(
                self.tz).date()),
            "cancellable": status in OPEN_STATES and start > now,
        }

    def bookable_services(self) -> list[dict[str, str]]:
        """Examination services with at least one active doctor, in the clinic's order."""
        staffed = {d["service"] for d in self.booking.schedules.doctors()}
        return [{"code": s.code, "name": s.name, "name_en": s.name_en} for s in self.clinic.services
                if s.kind == "exam" and s.code in staffed]

    def doctors(self, service: str) -> list[dict[str, Any]]:
        self._bookable(service)
        return [{"code": d["code"], "name": d["name"]} for d in self.booking.schedules.doctors(service)]

    def days(self, service: str, doctor: str | None) -> list[dict[str, Any]]:
        """The next BOOKING_DAYS days with how many places are still free (0: nothing to book that day)."""
        self._bookable(service)
        today = self.today()
        days = []
        for day in (today + timedelta(days=n) for n in range(BOOKING_DAYS)):
            closed = self.clinic.closed_on(day)
            # A closed day says why ("Nghỉ lễ: Tết"), not "full": the patient should not wait for a cancellation.
            days.append({"day": day, "free": 0 if closed else sum(s["free"] for s in self.slots(day, service, doctor)),
                         "closed": {"name": closed.name, "name_en": closed.name_en or closed.name} if closed else None})
        return days

    def slots(self, day: date, service: str, doctor: str | None) -> list[dict[str, Any]]:
        """Free slots that have not started; with any doctor, one entry per time with the places of all."""
        self._bookable(service)
        self._within_window(day)
        now = self.clock.now()
        found = [s for s in self.booking.free_slots(day, service=service, doctor=doctor)
                 if datetime.fromisoformat(s["start"]) > now]
        if doctor is not None:
            return [{"start": s["start"], "time": s["time"], "free": s["free"], "doctor_name": s["doctor_name"]}
                    for s in found]
        by_time: dict[str, dict[str, Any]] = {}
        for s in found:
            entry = by_time.setdefault(s["start"], {"start": s["start"], "time": s["time"], "free": 0,
                                                    "doctor_name": None})
            entry["free"] += s["free"]
        return sorted(by_time.values(), key=lambda s: s["start"])

    def book(self, patient: PortalPatient, *, service: str, doctor: str | None, slot_start: datetime,
             reason: str | None = None) -> dict[str, Any]:
        """Book a slot for the signed-in patient (channel "portal"); the slot rules are BookingService's."""
        self._bookable(service)
        now = self.clock.now()
        if slot_start.tzinfo is None or slot_start <= now:
            raise Conflict("slot_in_past", "Khung giờ này đã bắt đầu / that slot has already begun")
        self._within_window(local_day(slot_start, self.tz))
        if sum(1 for a in self.bookings(patient)["upcoming"] if a["status"] in OPEN_STATES) >= MAX_OPEN_BOOKINGS:
            raise Conflict("too_many_bookings", f"Bạn đã có {MAX_OPEN_BOOKINGS} lịch hẹn sắp tới: hãy huỷ bớt hoặc "
                                                f"liên hệ bệnh viện / you already hold {MAX_OPEN_BOOKINGS} upcoming "
                                                "bookings: cancel one or call the hospital")
        appointment = self.booking.book(patient_code=patient.code, slot_start=slot_start, doctor=doctor,
                                        service=service, reason=reason, channel="portal",
                                        actor=f"patient:{patient.code}")
        return self._appointment_view(appointment, now)

    def cancel(self, patient: PortalPatient, code: str) -> dict[str, Any]:
        """Cancel one of the patient's own upcoming bookings; the place goes back to the slot."""
        unknown = NotFound("unknown_appointment", "Không tìm thấy lịch hẹn / no such booking")
        try:
            appointment = self.booking.get(code)
        except NotFound:
            raise unknown from None
        if appointment["patient"]["id"] != patient.id:
            raise unknown  # another patient's booking reads exactly like a booking that does not exist
        if not self._appointment_view(appointment, self.clock.now())["cancellable"]:
            raise Conflict("not_cancellable", "Lịch hẹn này không thể huỷ trên cổng, vui lòng liên hệ bệnh viện / "
                                              "this booking cannot be cancelled online: please call the hospital")
        cancelled = self.booking.cancel(appointment["code"], actor=f"patient:{patient.code}", reason="portal")
        return self._appointment_view(cancelled, self.clock.now())

    def _within_window(self, day: date) -> None:
        today = self.today()
        if not today <= day < today + timedelta(days=BOOKING_DAYS):
            raise Invalid("bad_day", f"Chọn một ngày trong {BOOKING_DAYS} ngày tới / choose a day within the next "
                                     f"{BOOKING_DAYS} days")

    def _bookable(self, service: str) -> None:
        if all(s["code"] != service for s in self.bookable_services()):
            raise Invalid("unknown_service", "Chọn một chuyên khoa / choose a clinic")

    def _room(self, code: str | None) -> Place | None:
        counter = self.clinic.counter(code) if code else None
        if counter is None:
            return Place(code, code) if code else None
        return Place(counter.name, counter.name_en)

    # ================================================================== today's tickets
    def todays_tickets(self, patient: PortalPatient) -> list[dict[str, Any]]:
        """Today's tickets of the patient with their place in line, the estimate and where to go."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(T.c.id, D.c.room).select_from(
                    T.join(V, V.c.id == T.c.visit_id).outerjoin(A, A.c.id == T.c.appointment_id)
                    .outerjoin(D, D.c.id == A.c.doctor_id))
                .where(V.c.patient_id == patient.id, T.c.day == self.today()).order_by(T.c.id)).all()
        out = []
        for row in rows:
            ticket = self.queue.get_ticket(row.id)
            place = self._place(ticket, row.room)
            out.append({key: ticket[key] for key in (
                "id", "number", "service", "service_name", "service_name_en", "status", "ahead", "estimate",
                "counter_name", "counter_name_en")} | {
                "active": ticket["status"] in ACTIVE_TICKET,
                "place": place.name if place else None, "place_en": place.name_en if place else None})
        return out

    def _place(self, ticket: dict[str, Any], room: str | None) -> Place | None:
        if ticket["status"] in AT_COUNTER and ticket["counter_name"]:
            return Place(ticket["counter_name"], ticket["counter_name_en"] or ticket["counter_name"])
        if ticket["status"] != "waiting":
            return None
        if room:  # a booked patient waits for their doctor's room
            return self._room(room)
        counters = [c for c in self.clinic.counters if ticket["service"] in c.services]
        if not counters or len(counters) > MAX_PLACES_LISTED:
            return None
        return Place(", ".join(c.name for c in counters), ", ".join(c.name_en for c in counters))

    # ================================================================== history and results
    def history(self, patient: PortalPatient) -> list[dict[str, Any]]:
        """Earlier visits, newest first: date, clinic, doctor, diagnosis, and the orders with released results."""
        found = self.clinical.history(patient.code)
        visits = []
        for visit in found["visits"]:
            exam = visit["exam"] or {}
            services = [self.clinic.service(code) for code in visit["services"]]
            visits.append({
                "id": visit["id"], "day": visit["day"],
                "services": [{"name": s.name, "name_en": s.name_en} for s in services if s is not None],
                "doctor": (exam.get("doctor") or {}).get("name"),
                "diagnosis": exam.get("diagnosis_text"), "diagnosis_code": exam.get("diagnosis_code"),
                "orders": [portal_order(o) for o in visit["orders"] if o["status"] != "cancelled"],
            })
        return visits

    # ================================================================== messages
    def messages(self, patient: PortalPatient) -> list[dict[str, Any]]:
        return self.notifications.inbox(patient.id)

    def unread(self, patient: PortalPatient) -> int:
        return sum(1 for m in self.notifications.inbox(patient.id) if not m["read"])

    def mark_read(self, patient: PortalPatient, message_id: int) -> bool:
        return self.notifications.mark_read(patient.id, message_id)


def portal_order(order: dict[str, Any]) -> dict[str, Any]:
    """An order as its patient sees it: the result only once released, else only where it stands."""
    if order["status"] == "resulted":
        state = "released" if order["released"] else "awaiting_release"
    else:
        state = "in_progress"
    view: dict[str, Any] = {"name": order["name"], "name_en": order["name_en"], "kind": order["kind"], "state": state}
    if state == "released":
        view["resulted_at"] = order["resulted_at"]
        view["values"] = [{k: value.get(k) for k in ("name", "value", "unit", "low", "high", "flag", "note")}
                          for value in order["values"] or []]
        view["report"] = order["report"]
    return view
