"""The messages a patient gets about ordinary bookings and results, through the notification outbox.

Until issue 17 the booking service's notifier was a `LogNotifier`: bookings made at the desk or on the
portal logged "booking confirmation ..." and nothing reached the outbox, so the message appeared
nowhere. `PatientMessages` is the real notifier: it queues booking_confirmation, booking_rescheduled
and booking_cancelled for visit bookings (follow-ups have their own messages in hub.domain.follow_ups)
and result_ready when a doctor releases a result. Every message carries a signed link that opens only
the page it was sent for; each has a dedupe key, so a retried request queues it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub.config import ClinicConfig
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.clinical.orders import OrderChanged, OrderEvent, OrderResulted
from hub.domain.common.errors import DomainError
from hub.domain.common.events import EventBus
from hub.domain.follow_ups.messages import PLAN_AHEAD, due_reminders
from hub.domain.notifications.outbox import NotificationService
from hub.domain.notifications.templates import when_params
from hub.domain.queue.models import Visit

log = logging.getLogger(__name__)
V = Visit.__table__
A, D = Appointment.__table__, Doctor.__table__
ACTOR = "system:messages"
REMINDER = "booking_reminder"
PLAN_JOB = "bookings.remind"
# (patient code, portal page) -> a signed link to that page only; the hub supplies it (it holds the key).
LinkMaker = Callable[[str, str], str]


class PatientMessages:
    """The booking notifier and the result-ready message."""

    def __init__(self, outbox: NotificationService, clinic: ClinicConfig, links: LinkMaker) -> None:
        self.outbox = outbox
        self.clinic = clinic
        self.links = links
        self.language = clinic.site.language

    def install(self, bus: EventBus) -> None:
        bus.subscribe(OrderResulted, self._on_order)
        bus.subscribe(OrderChanged, self._on_order)

    # ------------------------------------------------------------------ the booking service's Notifier
    def send_confirmation(self, appointment: dict[str, Any]) -> None:
        self._booking("booking_confirmation", appointment, f"appt:{appointment['id']}:confirmation")

    # ------------------------------------------------------------------ reminders of visit bookings
    def plan(self, now: datetime) -> int:
        """Queue the reminders of visit bookings coming due ([follow_ups] reminders: "3d", "24h"), as the
        follow-up planner does for follow-ups; a moved booking gets new keys, its old reminders are cancelled."""
        offsets = self.clinic.follow_ups.reminder_offsets()
        horizon = now + PLAN_AHEAD + max((offset for _, offset in offsets), default=PLAN_AHEAD)
        with self.outbox.db.read() as tx:
            rows = tx.execute(select(A.c.id, A.c.slot_start, A.c.created_at).where(
                A.c.kind == "visit", A.c.status == "booked", A.c.slot_start > now,
                A.c.slot_start <= horizon)).all()
        queued = 0
        for row in rows:
            if self.clinic.closed_on(row.slot_start.astimezone(self.clinic.site.tz).date()) is not None:
                continue  # a holiday declared after the booking: staff move it, nobody is told to come
            for label, due in due_reminders(row.slot_start, row.created_at, offsets, now):
                appointment = self._appointment(row.id)
                key = f"appt:{row.id}:{row.slot_start.isoformat()}:reminder:{label}"
                queued += self._booking(REMINDER, appointment, key, due_at=due)
        return queued

    def _appointment(self, appointment_id: int) -> dict[str, Any]:
        from hub.domain.booking.appointments import APPOINTMENT_VIEW, shape_appointment

        with self.outbox.db.read() as tx:
            row = tx.execute(APPOINTMENT_VIEW.where(A.c.id == appointment_id)).one()
        return shape_appointment(row, self.clinic, self.clinic.site.tz)

    def send_reschedule(self, appointment: dict[str, Any]) -> None:
        # The new time is part of the key: a second move sends a second message, a retried one does not.
        self._drop_reminders(appointment)
        self._booking("booking_rescheduled", appointment,
                      f"appt:{appointment['id']}:rescheduled:{appointment['slot_start']}")

    def send_cancellation(self, appointment: dict[str, Any]) -> None:
        self._drop_reminders(appointment)
        self._booking("booking_cancelled", appointment, f"appt:{appointment['id']}:cancelled")

    def _drop_reminders(self, appointment: dict[str, Any]) -> None:
        if appointment.get("kind") != "follow_up":
            self.outbox.cancel_pending(appointment_id=appointment["id"], templates=[REMINDER], actor=ACTOR)

    def _booking(self, template: str, appointment: dict[str, Any], key: str, *,
                 due_at: datetime | None = None) -> int:
        if appointment.get("kind") == "follow_up":
            return 0  # FollowUpMessages tells the patient about follow-ups (with their own link page)
        patient = appointment["patient"]
        start = datetime.fromisoformat(appointment["slot_start"])
        params = {"patient_name": patient["full_name"], "appointment_code": appointment["code"],
                  "doctor": appointment.get("doctor_name") or "",
                  "service": (appointment["service_name_en"] if self.language == "en"
                              else appointment["service_name"]),
                  "link": self.links(patient["code"], "/portal/bookings"),
                  **when_params(start, self.clinic.site.tz, self.language)}
        return self._enqueue(template, patient["id"], params, key, appointment_id=appointment["id"], due_at=due_at)

    # ------------------------------------------------------------------ results
    def _on_order(self, event: OrderEvent) -> None:
        order = event.order
        if not order.get("released") or event.action not in ("result", "release"):
            return
        with self.outbox.db.read() as tx:
            row = tx.execute(select(V.c.patient_id).where(V.c.id == order["visit_id"])).first()
        if row is None or row.patient_id is None:
            return  # an anonymous visit keeps no results for a portal
        code = self._patient_code(row.patient_id)
        name = order["name_en"] if self.language == "en" else order["name"]
        self._enqueue("result_ready", row.patient_id,
                      {"patient_name": self._patient_name(row.patient_id), "test": name,
                       "link": self.links(code, "/portal/history")},
                      f"order:{order['id']}:result_ready")

    def _patient_code(self, patient_id: int) -> str:
        from hub.domain.patients.models import Patient

        with self.outbox.db.read() as tx:
            return tx.execute(select(Patient.code).where(Patient.id == patient_id)).scalar_one()

    def _patient_name(self, patient_id: int) -> str:
        from hub.domain.patients.models import Patient

        with self.outbox.db.read() as tx:
            return tx.execute(select(Patient.full_name).where(Patient.id == patient_id)).scalar_one()

    def _enqueue(self, template: str, patient_id: int, params: dict[str, Any], key: str, *,
                 appointment_id: int | None = None, due_at: datetime | None = None) -> int:
        """Queue it; 1 when new rows were made (0: already queued under the key, or not queued)."""
        try:
            rows = self.outbox.enqueue(template, patient_id=patient_id, params=params, language=self.language,
                                       dedupe_key=key, appointment_id=appointment_id, actor=ACTOR, due_at=due_at)
        except DomainError:
            # A template missing from the configuration must not undo the booking or the result it is about.
            log.exception("message %s (%s) not queued", template, key)
            return 0
        return int(any(r["created"] for r in rows))
