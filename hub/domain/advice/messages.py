"""The staffing advice as a message to admins who want it: the staff in-app inbox and, with a phone, Zalo.

The ops page shows the advice live (Socket.IO carries `StaffingChanged`). An admin who opts in also gets
each new piece of advice in their inbox on the staff pages, and on Zalo through the notification outbox
when they give a phone. A piece of advice is sent once while it stands: its inbox row stays open until
the advisor clears it (`cleared_at`), and a second `fired` for an open key sends nothing. A scheduler
job runs the advisor every `advisor.message_every_seconds`, so the advice fires with nobody on the ops page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Invalid, NotFound
from hub.domain.common.events import Event, EventBus
from hub.domain.notifications.outbox import NotificationService
from hub.domain.queue.staffing import StaffingChanged
from hub.domain.staff.models import StaffMessage, StaffMessagePreference, StaffUser

log = logging.getLogger(__name__)
P = StaffMessagePreference.__table__
M = StaffMessage.__table__
U = StaffUser.__table__
TEMPLATE = "staffing_advice"
JOB = "staffing.advice"
PHONE = re.compile(r"^(\+?84|0)\d{9,10}$")


@dataclass(frozen=True)
class StaffMessageCreated(Event):
    """A message was stored in a member of staff's inbox (their open staff pages can show it)."""

    staff_id: int
    message: dict[str, Any]


class StaffAdviceMessages:
    """Preferences, the inbox, and the subscriber that turns fired advice into messages."""

    def __init__(self, db: Database, config: ClinicConfig, bus: EventBus, clock: Clock,
                 notifications: NotificationService, staffing: Callable[[], Any]) -> None:
        self.db = db
        self.config = config
        self.bus = bus
        self.clock = clock
        self.notifications = notifications
        self._staffing = staffing  # QueueService.staffing: computes the advice, publishing what fired/cleared

    def install(self, bus: EventBus) -> None:
        bus.subscribe(StaffingChanged, self.on_staffing)

    # ------------------------------------------------------------------ preferences
    def preference(self, staff_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            row = connection.execute(select(P.c.advice, P.c.zalo_phone).where(P.c.staff_id == staff_id)).first()
        return {"advice": bool(row.advice) if row else False, "zalo_phone": row.zalo_phone if row else None}

    def set_preference(self, staff_id: int, *, advice: bool, zalo_phone: str | None, actor: str) -> dict[str, Any]:
        """Opt in or out of the advice messages; a phone (Vietnamese mobile) adds Zalo. Admins only."""
        phone = (zalo_phone or "").replace(" ", "").replace(".", "") or None
        if phone is not None and not PHONE.match(phone):
            raise Invalid("bad_phone", "số điện thoại không hợp lệ / not a valid phone number")
        now = self.clock.now()
        with self.db.write() as connection:
            role = connection.execute(select(U.c.role).where(U.c.id == staff_id)).scalar()
            if role is None:
                raise NotFound("unknown_staff", f"no staff {staff_id}")
            if advice and role != "admin":
                raise Invalid("not_admin", "chỉ quản trị viên nhận tư vấn nhân sự / only admins get staffing advice")
            values = {"advice": advice, "zalo_phone": phone, "updated_at": now, "updated_by": actor[:64]}
            done = connection.execute(update(P).where(P.c.staff_id == staff_id).values(**values))
            if done.rowcount == 0:
                connection.execute(insert(P).values(staff_id=staff_id, **values))
        return {"advice": advice, "zalo_phone": phone}

    # ------------------------------------------------------------------ the inbox
    def inbox(self, staff_id: int, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.read() as connection:
            rows = connection.execute(select(M).where(M.c.staff_id == staff_id)
                                      .order_by(M.c.id.desc()).limit(limit)).all()
        return [_message(row) for row in rows]

    def unread(self, staff_id: int) -> int:
        with self.db.read() as connection:
            return connection.execute(select(func.count()).select_from(M).where(
                M.c.staff_id == staff_id, M.c.read_at.is_(None))).scalar_one()

    def mark_read(self, staff_id: int, message_id: int) -> None:
        with self.db.write() as connection:
            connection.execute(update(M).where(M.c.id == message_id, M.c.staff_id == staff_id,
                                               M.c.read_at.is_(None)).values(read_at=self.clock.now()))

    # ------------------------------------------------------------------ the advice
    def run_advisor(self, now: datetime | None = None) -> None:
        """The scheduler's job: compute the advice (publishing what fired and cleared)."""
        del now  # the queue reads its own clock
        self._staffing()

    def on_staffing(self, event: StaffingChanged) -> None:
        now = self.clock.now()
        with self.db.write() as connection:
            if event.cleared:
                connection.execute(update(M).where(M.c.kind == "advice", M.c.key.in_(event.cleared),
                                                   M.c.cleared_at.is_(None)).values(cleared_at=now))
            if not event.fired:
                return
            people = connection.execute(
                select(U.c.id, U.c.full_name, P.c.zalo_phone).select_from(P.join(U, U.c.id == P.c.staff_id))
                .where(P.c.advice.is_(True), U.c.role == "admin", U.c.active.is_(True),
                       U.c.disabled_at.is_(None))).all()
            created = []
            for person in people:
                for advice in event.fired:
                    standing = connection.execute(select(M.c.id).where(
                        M.c.staff_id == person.id, M.c.kind == "advice", M.c.key == advice["key"],
                        M.c.cleared_at.is_(None))).first()
                    if standing is not None:
                        continue  # the same advice still stands: it was sent when it fired
                    title = advice["message"]
                    body = f"{advice['message']}\n{advice['message_en']}"
                    message_id = connection.execute(insert(M).values(
                        staff_id=person.id, kind="advice", key=advice["key"], title=title[:300], body=body,
                        created_at=now).returning(M.c.id)).scalar_one()
                    created.append((person, message_id, advice))
        for person, message_id, advice in created:
            self.bus.publish(StaffMessageCreated(person.id, {"id": message_id, "title": advice["message"],
                                                            "created_at": now.isoformat()}))
            if person.zalo_phone:
                # Through the outbox: retries, quiet hours and the record on the admin notifications page.
                try:
                    self.notifications.enqueue(
                        TEMPLATE, to={"zalo": person.zalo_phone}, channels=["zalo"], fallback=False,
                        params={"staff_name": person.full_name, "advice": advice["message"],
                                "advice_en": advice["message_en"]},
                        dedupe_key=f"staff-advice:{message_id}", actor="system:advisor")
                except Invalid as exc:  # no staffing_advice template configured: the inbox still has it
                    log.warning("staffing advice not sent on Zalo: %s", exc.message)


def _message(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "key": row.key, "title": row.title, "body": row.body,
            "created_at": row.created_at.isoformat(), "at": row.created_at, "read": row.read_at is not None,
            "standing": row.cleared_at is None}
