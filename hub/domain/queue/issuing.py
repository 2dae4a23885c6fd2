"""Issuing and numbering. Ticket numbers come from a per-(service, local day) sequence row that
is incremented in place (the row lock serialises takers on PostgreSQL; BEGIN IMMEDIATE does
it on SQLite), and a unique constraint backs it up. Kiosks lease blocks of the same sequence.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import protocol as p
from hub.config import ServiceConfig
from hub.db import upsert
from hub.db_fast import execute as fast
from hub.domain.common.clock import local_day, to_ms
from hub.domain.common.errors import Invalid
from hub.domain.common.events import (
    QueueChanged,
    TicketIssued,
)
from hub.domain.queue import policy
from hub.domain.queue.core import INSERT_TRANSITION, TICKET_COLUMNS, T, Txn
from hub.domain.queue.models import TicketSequence, Visit
from hub.domain.queue.views import QueueViews

# Hot-path statements, built once with bound parameters (why: see `core`).
_INSERT_TICKET = insert(T).returning(*TICKET_COLUMNS)
_INSERT_VISIT = insert(Visit).returning(Visit.id)
_TICKET_BY_KEY = select(T.c.id).where(T.c.idempotency_key == bindparam("b_key"))
_SEQUENCES = TicketSequence.__table__
_ADVANCE_SEQUENCE = update(_SEQUENCES).where(
    _SEQUENCES.c.service_id == bindparam("b_service"), _SEQUENCES.c.day == bindparam("b_day")).values(
    last_seq=_SEQUENCES.c.last_seq + bindparam("b_block")).returning(_SEQUENCES.c.last_seq)


class QueueIssuing(QueueViews):
    """Taking numbers and putting tickets in line; number blocks for kiosks."""

    def issue(self, service: str, *, priority: str = "normal", actor: str = "system", **details: Any) -> dict[str, Any]:
        """Take the next number of a service and put the ticket in line (see `_issue` for details)."""
        return self.issue_new(service, priority=priority, actor=actor, **details)[0]

    def issue_new(self, service: str, *, priority: str = "normal", actor: str = "system",
                  **details: Any) -> tuple[dict[str, Any], bool]:
        """`issue`, and whether the ticket was issued now: False when a repeated idempotency key
        returned the ticket issued before (callers may then skip work only a new ticket needs)."""
        cfg = self.service_config(service)
        self._check_priority(priority)
        try:
            with self._transaction() as txn:
                view = self._issue(txn, cfg, priority=priority, actor=actor, **details)
        except IntegrityError:
            if not details.get("idempotency_key"):
                raise
            # The same request, sent twice at once, was issued by another process meanwhile (the
            # unique key refused ours): this finds and returns that ticket.
            with self._transaction() as txn:
                view = self._issue(txn, cfg, priority=priority, actor=actor, **details)
        # A new ticket's transaction carries its TicketIssued event; a replayed one's carries none.
        return view, any(isinstance(event, TicketIssued) for event in txn.events)
    def _issue(self, txn: Txn, cfg: ServiceConfig, *, priority: str, actor: str, source: str = "kiosk",
               source_device: str | None = None, visit_id: int | None = None, patient_id: int | None = None,
               slot_at: datetime | None = None, idempotency_key: str | None = None,
               issued_at: datetime | None = None, seq: int | None = None, note: str | None = None,
               transferred_from_id: int | None = None, appointment_id: int | None = None) -> dict[str, Any]:
        """`issued_at` and `seq` are given only for tickets a kiosk issued offline from a leased block;
        a repeated `idempotency_key` returns the ticket already issued for it."""
        connection = txn.connection
        if idempotency_key:
            existing = fast(connection, _TICKET_BY_KEY, {"b_key": idempotency_key}).scalar()
            if existing is not None:
                return self._view(connection, self._load(connection, existing), txn.now)
        service_id = self._service_ids[cfg.code]
        arrival = issued_at or txn.now
        day = local_day(arrival, self.tz)
        offline = seq is not None
        if seq is None:
            seq = self._take_number(connection, service_id, day)
        if visit_id is None:
            visit_id = fast(connection, _INSERT_VISIT, {"patient_id": patient_id, "day": day,
                                                          "started_at": arrival}).scalar_one()
        head_start = self.rules.head_start_minutes[priority]
        key = policy.queue_key_ms(to_ms(arrival), head_start, to_ms(slot_at) if slot_at else None)
        ahead = self._count_ahead(connection, service_id, day, key, None)
        estimate = self.forecast(connection, cfg.code, txn.now).for_position(ahead, priority)
        inserted = fast(connection, _INSERT_TICKET, dict(
            service_id=service_id, day=day, seq=seq, number=p.ticket_number(cfg.prefix, seq),
            priority=priority, source=source, source_device=source_device, status=p.WAITING,
            visit_id=visit_id, queue_key_ms=key, issued_at=arrival, status_since=arrival, call_count=0,
            slot_at=slot_at,
            offline=offline, idempotency_key=idempotency_key, note=note,
            transferred_from_id=transferred_from_id, appointment_id=appointment_id,
            estimate_p50_min=estimate.p50_minutes if estimate else None,
            estimate_p90_min=estimate.p90_minutes if estimate else None,
        )).one()
        if estimate is not None:
            # Its wait is judged against what it was shown (calibration.py).
            self.calibration.issued(service_id, inserted.id, estimate.band, estimate.p50_minutes, estimate.p90_minutes)
        fast(connection, INSERT_TRANSITION, dict(
            ticket_id=inserted.id, from_status=None, to_status=p.WAITING, started_at=arrival, at=arrival,
            duration_ms=0, actor=actor[:64], reason=source))
        view = self._view(connection, inserted, txn.now, ahead=ahead, estimate=estimate)
        if priority != policy.NORMAL:
            self._count_arrival(service_id, priority, to_ms(arrival), to_ms(txn.now))
        txn.events += [TicketIssued(view), QueueChanged(cfg.code)]
        return view
    def _take_number(self, connection: Connection, service_id: int, day: date, block: int = 1) -> int:
        """Advance the (service, day) sequence by `block` and return the first number taken."""
        # After the day's first ticket the row exists and a plain UPDATE (row-locking, and cacheable, which
        # SQLAlchemy's ON CONFLICT is not) does the job; the upsert covers the first ticket of the day.
        last = fast(connection, _ADVANCE_SEQUENCE, {"b_service": service_id, "b_day": day, "b_block": block}).scalar()
        if last is None:
            statement = upsert(connection, TicketSequence.__table__,
                               {"service_id": service_id, "day": day, "last_seq": block},
                               ["service_id", "day"],
                               {"last_seq": TicketSequence.__table__.c.last_seq + block})
            last = connection.execute(statement.returning(TicketSequence.__table__.c.last_seq)).scalar_one()
        return last - block + 1
    def lease_block(self, service: str, size: int, *, actor: str) -> tuple[date, int, int]:
        """Reserve `size` consecutive numbers of today for a kiosk to issue while offline."""
        cfg = self.service_config(service)
        if not 1 <= size <= 500:
            raise Invalid("bad_lease_size", "a lease holds between 1 and 500 numbers")
        with self._transaction() as txn:
            day = local_day(txn.now, self.tz)
            first = self._take_number(txn.connection, self._service_ids[cfg.code], day, size)
            self._audit(txn, actor, "lease_block", cfg.code, {"day": day.isoformat(), "first": first, "size": size})
        return day, first, first + size - 1
