"""Number leases: blocks of a service's daily numbers that a kiosk holds to keep issuing while offline.

A lease is taken from the same (service, day) sequence as every other number, so no other ticket can
ever get one of its numbers; the kiosk later files the tickets it issued from it (POST /tickets with
`offline`), and the hub accepts an offline number only inside a lease of that kiosk, for that service
and day, and only once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert, select

from hub import protocol as p
from hub.domain.common.clock import local_day
from hub.domain.common.errors import Conflict, Forbidden, Invalid
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket, TicketLease

L = TicketLease.__table__
T = Ticket.__table__
# A kiosk's clock may run a little ahead of the hub's; a ticket "issued" further in the future is refused.
MAX_CLOCK_AHEAD = timedelta(minutes=5)


@dataclass(frozen=True)
class Lease:
    """Numbers first..last of a service on a local day, held by one kiosk."""

    day: date
    service: str
    first: int
    last: int
    prefix: str

    def as_dict(self) -> dict[str, object]:
        """The REST reply: the day, the service and the block, with its display numbers."""
        return {"day": self.day.isoformat(), "service": self.service, "first": self.first, "last": self.last,
                "first_number": p.ticket_number(self.prefix, self.first),
                "last_number": p.ticket_number(self.prefix, self.last)}


class LeaseBook:
    """Take leases and check offline tickets against them."""

    def __init__(self, queue: QueueService) -> None:
        self.queue = queue
        self.db = queue.db

    def take(self, service: str, size: int, *, holder: str) -> Lease:
        """Reserve `size` numbers of today for `holder` and record who holds them."""
        day, first, last = self.queue.lease_block(service, size, actor=holder)
        # A separate transaction: a crash between the two leaves unused numbers (a gap), never a duplicate.
        with self.db.write() as connection:
            connection.execute(insert(L).values(
                service_id=self.queue.service_id(service), day=day, first_seq=first, last_seq=last,
                holder=holder[:64], created_at=self.queue.clock.now()))
        return Lease(day, service, first, last, self.queue.service_config(service).prefix)

    def check_offline(self, service: str, seq: int, issued_at: datetime, *, holder: str, key: str) -> None:
        """Refuse an offline ticket whose number is not the holder's to give, or was given to another ticket."""
        self.queue.service_config(service)
        if issued_at.tzinfo is None:
            raise Invalid("bad_issued_at", "offline.issued_at needs a time zone offset")
        if issued_at - self.queue.clock.now() > MAX_CLOCK_AHEAD:
            raise Invalid("bad_issued_at", "offline.issued_at is in the future: check the kiosk's clock")
        day = local_day(issued_at, self.queue.tz)
        service_id = self.queue.service_id(service)
        with self.db.read() as connection:
            leased = connection.execute(select(L.c.id).where(
                L.c.service_id == service_id, L.c.day == day, L.c.holder == holder[:64],
                L.c.first_seq <= seq, L.c.last_seq >= seq).limit(1)).scalar()
            taken_by = connection.execute(select(T.c.idempotency_key).where(
                T.c.service_id == service_id, T.c.day == day, T.c.seq == seq)).first()
        if leased is None:
            raise Forbidden("not_leased", f"number {seq} of {service} on {day.isoformat()} is not in a lease "
                                          "this kiosk holds")
        if taken_by is not None and taken_by.idempotency_key != key:
            raise Conflict("number_taken", f"number {seq} of {service} on {day.isoformat()} was already issued")
