"""Reprinting a ticket: staff ask, the kiosk that issued it prints it again.

The request travels as a device command (an event the MQTT bridge turns into `dev/kiosk/<id>/cmd/reprint`);
it carries a ttl so a kiosk that was off for a while does not print a stack of stale tickets when it
comes back.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select

from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, NotFound
from hub.domain.common.events import DeviceCommand, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.devices.registry import DeviceRegistry
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket

T = Ticket.__table__
REPRINT_TTL_S = 60
COMMAND = "reprint"


def request_reprint(queue: QueueService, registry: DeviceRegistry, bus: EventBus, clock: Clock, ticket_id: int,
                    *, actor: str) -> dict[str, Any]:
    """Send a reprint command to the kiosk that issued the ticket; returns what was sent, and to whom."""
    with queue.db.read() as connection:
        row = connection.execute(select(T.c.id, T.c.number, T.c.source_device).where(T.c.id == ticket_id)).first()
    if row is None:
        raise NotFound("unknown_ticket", f"no ticket {ticket_id}")
    device = registry.get(row.source_device) if row.source_device else None
    if device is None or device["type"] != "kiosk":
        raise Conflict("not_from_kiosk", f"{row.number} was not issued by a kiosk that can print it again")
    now = clock.now()
    command = {"req_id": uuid.uuid4().hex[:16], "ts": now.timestamp(), "ttl_s": REPRINT_TTL_S,
               "ticket_id": row.id, "number": row.number}
    with queue.db.write() as connection:
        connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action="ticket_reprint",
                                                     subject=row.number, detail={"ticket_id": row.id,
                                                                                 "device": device["id"]}))
    bus.publish(DeviceCommand("kiosk", device["id"], COMMAND, command))
    return {"device": device["id"], "command": COMMAND, **command}
