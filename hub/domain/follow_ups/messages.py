"""What the patient is told about a follow-up, through the notification outbox: the confirmation, the
reminders before it, a move, a cancellation, a missed appointment. Each message carries a signed link
to the patient's page.

Every message has a dedupe key, so asking twice (a retried request, a second hub process, a restart
in the middle of the planner) queues it once. Reminder keys hold the appointment's time and how often
it moved: after a reschedule the old reminders are cancelled and the planner queues new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.appointments import OPEN_STATES
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, Invalid
from hub.domain.follow_ups.links import FollowUpLinks
from hub.domain.follow_ups.models import FollowUpItem
from hub.domain.notifications.models import Notification
from hub.domain.notifications.outbox import NotificationService
from hub.domain.notifications.templates import when_params
from hub.domain.patients.models import Patient

log = logging.getLogger(__name__)
A = Appointment.__table__
FI = FollowUpItem.__table__
N = Notification.__table__
P = Patient.__table__
D = Doctor.__table__
REMINDER = "reminder"
ACTOR = "system:follow-ups"
# Reminders are queued when they fall due within this long: short-lived outbox rows, written with
# the patient's and doctor's current names, and a planner run or two of slack.
PLAN_AHEAD = timedelta(days=1)

# An appointment with what its messages say, and what the planner needs.
MESSAGE_VIEW = select(
    A.c.id, A.c.code, A.c.status, A.c.kind, A.c.service, A.c.slot_start, A.c.created_at, A.c.patient_id,
    P.c.full_name.label("p_name"), D.c.name.label("d_name"), FI.c.slot_set_at, FI.c.moves,
).select_from(A.join(P, P.c.id == A.c.patient_id).join(D, D.c.id == A.c.doctor_id)
              .outerjoin(FI, FI.c.appointment_id == A.c.id))


def slot_key(appointment_id: int, slot_start: datetime, moves: int | None) -> str:
    """The part of a dedupe key naming one appointment at one time (a move makes a new one)."""
    return f"fu:{appointment_id}:{slot_start.astimezone(UTC):%Y%m%dT%H%MZ}:m{moves or 0}"


def due_reminders(slot_start: datetime, set_at: datetime, offsets: list[tuple[str, timedelta]],
                  now: datetime) -> list[tuple[str, datetime]]:
    """(label, due) of the reminders to queue now for an appointment at `slot_start` (pure).

    Not those due before the appointment got its time (its confirmation just went out), nor those a
    later reminder already replaces (a hub that was down sends the 24-hour one, not both), nor those
    due more than PLAN_AHEAD from now (a later planner run queues them).
    """
    if slot_start <= now:
        return []
    planned = [(label, slot_start - offset) for label, offset in offsets]
    out = []
    for index, (label, due) in enumerate(planned):
        later_due = any(other <= now for _, other in planned[index + 1:])
        if due > set_at and due <= now + PLAN_AHEAD and not later_due:
            out.append((label, due))
    return out


class FollowUpMessages:
    """Queues follow-up messages in the outbox and plans the reminders."""

    def __init__(self, db: Database, clinic: ClinicConfig, outbox: NotificationService, links: FollowUpLinks,
                 clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.settings = clinic.follow_ups
        self.outbox = outbox
        self.links = links
        self.clock = clock
        self.tz = clinic.site.tz
        self.language = clinic.site.language
        self.offsets = self.settings.reminder_offsets()

    # ------------------------------------------------------------------ one message
    def send(self, template: str, appointment_id: int, *, key: str, due_at: datetime | None = None,
             link_until: datetime | None = None, connection: Connection | None = None,
             actor: str = ACTOR) -> list[dict[str, Any]]:
        """Queue `template` about an appointment (in the caller's transaction when given one)."""
        with self._connection(connection) as tx:
            row = tx.execute(MESSAGE_VIEW.where(A.c.id == appointment_id)).one()
            until = link_until or row.slot_start + timedelta(days=self.settings.link_days_after)
            try:
                return self.outbox.enqueue(template, patient_id=row.patient_id, params=self.params(row, until),
                                           language=self.language, due_at=due_at, dedupe_key=key,
                                           appointment_id=appointment_id, actor=actor, connection=tx)
            except Invalid:
                # A template missing from the configuration must not undo the booking it is about.
                log.exception("follow-up message %s for appointment %s not queued", template, appointment_id)
                return []

    def params(self, row: Any, link_until: datetime) -> dict[str, Any]:
        service = self.clinic.service(row.service)
        name = (service.name_en if self.language == "en" else service.name) if service else row.service
        return {"patient_name": row.p_name, "appointment_code": row.code, "doctor": row.d_name, "service": name,
                "link": self.links.url(row.id, link_until), **when_params(row.slot_start, self.tz, self.language)}

    def confirmation(self, appointment_id: int, *, connection: Connection | None = None) -> None:
        self.send("confirmation", appointment_id, key=f"fu:{appointment_id}:confirmation", connection=connection)

    def rescheduled(self, appointment_id: int) -> None:
        with self.db.read() as tx:
            row = tx.execute(MESSAGE_VIEW.where(A.c.id == appointment_id)).one()
        self.send("rescheduled", appointment_id, key=slot_key(row.id, row.slot_start, row.moves) + ":rescheduled")

    def cancelled(self, appointment_id: int) -> None:
        self.send("cancelled", appointment_id, key=f"fu:{appointment_id}:cancelled",
                  link_until=self.clock.now() + timedelta(days=self.settings.rebook_link_days))

    def no_show(self, appointment_id: int, *, key: str, connection: Connection | None = None,
                actor: str = ACTOR) -> list[dict[str, Any]]:
        """The missed-appointment message; its link lets the patient book again for a while."""
        until = self.clock.now() + timedelta(days=self.settings.rebook_link_days)
        return self.send("no_show_callback", appointment_id, key=f"fu:{appointment_id}:no_show:{key}",
                         link_until=until, connection=connection, actor=actor)

    # ------------------------------------------------------------------ reminders
    def cancel_reminders(self, appointment_id: int, *, actor: str = ACTOR) -> int:
        return self.outbox.cancel_pending(appointment_id=appointment_id, templates=[REMINDER], actor=actor)

    def plan(self, now: datetime) -> int:
        """The planner: queue the reminders coming due, drop those of moved or closed appointments."""
        dropped = self._drop_stale()
        horizon = now + PLAN_AHEAD + max((offset for _, offset in self.offsets), default=timedelta(0))
        with self.db.read() as tx:
            rows = tx.execute(MESSAGE_VIEW.where(A.c.kind == "follow_up", A.c.status.in_(OPEN_STATES),
                                                 A.c.slot_start > now, A.c.slot_start <= horizon,
                                                 FI.c.appointment_id.is_not(None))).all()
        queued = sum(self._queue_reminders(row, now) for row in rows)
        if queued or dropped:
            log.info("follow-up reminders: %d queued, %d stale ones cancelled", queued, dropped)
        return queued

    def plan_one(self, appointment_id: int) -> int:
        """Queue an appointment's reminders now (after booking or moving it), as the planner would."""
        with self.db.read() as tx:
            row = tx.execute(MESSAGE_VIEW.where(A.c.id == appointment_id)).one()
        if row.kind != "follow_up" or row.status not in OPEN_STATES or row.slot_set_at is None:
            return 0
        return self._queue_reminders(row, self.clock.now())

    def _queue_reminders(self, row: Any, now: datetime) -> int:
        if self._closed_day(row.slot_start):
            return 0  # the hospital is closed that day: no patient is told to come; staff move the booking
        queued = 0
        for label, due in due_reminders(row.slot_start, row.slot_set_at, self.offsets, now):
            rows = self.send(REMINDER, row.id, key=f"{slot_key(row.id, row.slot_start, row.moves)}:reminder:{label}",
                             due_at=due)
            queued += any(r["created"] for r in rows)
        return queued

    def _drop_stale(self) -> int:
        """Cancel pending reminders whose appointment moved or closed (a missed event is caught here)."""
        with self.db.read() as tx:
            rows = tx.execute(select(N.c.id, N.c.appointment_id, N.c.dedupe_key, A.c.status, A.c.slot_start, FI.c.moves)
                              .select_from(N.join(A, A.c.id == N.c.appointment_id)
                                           .outerjoin(FI, FI.c.appointment_id == A.c.id))
                              .where(N.c.state == "pending", N.c.template == REMINDER,
                                     N.c.dedupe_key.like("fu:%"))).all()
        stale = [r.id for r in rows if r.status not in OPEN_STATES or self._closed_day(r.slot_start)
                 or not (r.dedupe_key or "").startswith(slot_key(r.appointment_id, r.slot_start, r.moves) + ":")]
        dropped = 0
        for notification_id in stale:
            try:
                self.outbox.cancel(notification_id, actor=ACTOR)
                dropped += 1
            except Conflict:
                pass  # it went out (or was cancelled) meanwhile
        return dropped

    def _closed_day(self, slot_start: datetime) -> bool:
        """A holiday declared after the booking was made: its reminders are not sent (and pending ones cancelled)."""
        return self.clinic.closed_on(slot_start.astimezone(self.clinic.site.tz).date()) is not None

    @contextmanager
    def _connection(self, connection: Connection | None) -> Iterator[Connection]:
        if connection is not None:
            yield connection
        else:
            with self.db.write() as tx:
                yield tx
