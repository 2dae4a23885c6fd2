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
from hub.domain.clinical.orders import OrderChanged, OrderEvent, OrderResulted
from hub.domain.common.errors import DomainError
from hub.domain.common.events import EventBus
from hub.domain.notifications.outbox import NotificationService
from hub.domain.notifications.templates import when_params
from hub.domain.queue.models import Visit

log = logging.getLogger(__name__)
V = Visit.__table__
ACTOR = "system:messages"
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

    def send_reschedule(self, appointment: dict[str, Any]) -> None:
        # The new time is part of the key: a second move sends a second message, a retried one does not.
        self._booking("booking_rescheduled", appointment,
                      f"appt:{appointment['id']}:rescheduled:{appointment['slot_start']}")

    def send_cancellation(self, appointment: dict[str, Any]) -> None:
        self._booking("booking_cancelled", appointment, f"appt:{appointment['id']}:cancelled")

    def _booking(self, template: str, appointment: dict[str, Any], key: str) -> None:
        if appointment.get("kind") == "follow_up":
            return  # FollowUpMessages tells the patient about follow-ups (with their own link page)
        patient = appointment["patient"]
        start = datetime.fromisoformat(appointment["slot_start"])
        params = {"patient_name": patient["full_name"], "appointment_code": appointment["code"],
                  "doctor": appointment.get("doctor_name") or "",
                  "service": (appointment["service_name_en"] if self.language == "en"
                              else appointment["service_name"]),
                  "link": self.links(patient["code"], "/portal/bookings"),
                  **when_params(start, self.clinic.site.tz, self.language)}
        self._enqueue(template, patient["id"], params, key, appointment_id=appointment["id"])

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
                 appointment_id: int | None = None) -> None:
        try:
            self.outbox.enqueue(template, patient_id=patient_id, params=params, language=self.language,
                                dedupe_key=key, appointment_id=appointment_id, actor=ACTOR)
        except DomainError:
            # A template missing from the configuration must not undo the booking or the result it is about.
            log.exception("message %s (%s) not queued", template, key)
