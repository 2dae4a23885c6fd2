"""Reads: a ticket and a counter as the API, the events and the boards show them (no patient data),
a service's line and the overview of every service with its estimate.
"""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, or_, select

from hub import protocol as p
from hub.db_fast import execute as fast
from hub.domain.common.clock import local_day
from hub.domain.common.errors import NotFound
from hub.domain.queue.core import TICKET_COLUMNS, C, T
from hub.domain.queue.estimates import Estimate
from hub.domain.queue.forecast import QueueForecasts

# A counter and its current ticket in one query (what its LED and the boards show).
# Hot-path statements, built once with bound parameters (why: see `core`).
_COUNTER_WITH_TICKET = select(
    C, T.c.number.label("t_number"), T.c.status.label("t_status"), T.c.last_called_at.label("t_last_called_at"),
    T.c.served_at.label("t_served_at"), T.c.service_id.label("t_service_id"), T.c.priority.label("t_priority"),
    T.c.call_count.label("t_call_count"),
).select_from(C.outerjoin(T, T.c.id == C.c.current_ticket_id)).where(C.c.id == bindparam("b_counter"))


_ACTIVE_BY_STATUS = select(T.c.status, func.count()).where(
    T.c.service_id == bindparam("b_service"), T.c.day == bindparam("b_day"),
    or_(T.c.status == p.CALLED, T.c.status == p.SERVING, T.c.status == p.ON_HOLD)).group_by(T.c.status)
_LAST_SEQ = select(func.max(T.c.seq)).where(T.c.service_id == bindparam("b_service"), T.c.day == bindparam("b_day"))


class QueueViews(QueueForecasts):
    """The ticket and the counter as the API, events and boards see them; lines and overviews."""

    def _view(self, connection: Connection, row: Any, now: datetime, *, ahead: int | None = None,
              estimate: Estimate | None = None, live: bool = False) -> dict[str, Any]:
        """The ticket as the API and the events show it (no patient data: boards get this too)."""
        service = self._service_codes[row.service_id]
        cfg = self._service_cfgs.get(service)
        counter_code = self._counter_codes.get(row.counter_id) if row.counter_id else None
        counter_cfg = self._counter_cfgs.get(counter_code) if counter_code else None
        if row.status == p.WAITING and (live or ahead is None):
            ahead = self._count_ahead(connection, row.service_id, row.day, row.queue_key_ms, row.id)
            if live:
                estimate = self.forecast(connection, service, now).for_position(ahead, row.priority)
        elif row.status != p.WAITING:
            ahead, estimate = 0, None
        return {
            "id": row.id,
            "number": row.number,
            "service": service,
            "service_name": cfg.name if cfg else service,
            "service_name_en": cfg.name_en if cfg else service,
            "priority": row.priority,
            "status": row.status,
            "source": row.source,
            "offline": bool(row.offline),
            "counter": counter_code,
            "counter_name": counter_cfg.name if counter_cfg else None,
            "counter_name_en": counter_cfg.name_en if counter_cfg else None,
            "ahead": ahead,
            "estimate": estimate.as_dict() if estimate else None,
            "call_count": row.call_count,
            "visit_id": row.visit_id,
            "day": row.day.isoformat(),
            "issued_at": row.issued_at.isoformat(),
            "called_at": row.last_called_at.isoformat() if row.last_called_at else None,
            "served_at": row.served_at.isoformat() if row.served_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "transferred_from": row.transferred_from_id,
        }
    def _counter_view(self, connection: Connection, counter_id: int) -> dict[str, Any]:
        row = fast(connection, _COUNTER_WITH_TICKET, {"b_counter": counter_id}).one()
        ticket = None
        if row.current_ticket_id is not None:
            ticket = SimpleNamespace(id=row.current_ticket_id, number=row.t_number, status=row.t_status,
                                     served_at=row.t_served_at, last_called_at=row.t_last_called_at,
                                     service_id=row.t_service_id, priority=row.t_priority,
                                     call_count=row.t_call_count)
        return self._counter_view_of(row, ticket)
    def _counter_view_of(self, counter: Any, ticket: Any | None) -> dict[str, Any]:
        """What a counter shows (its LED, the boards): `ticket` is its current ticket row, or None."""
        cfg = self._counter_cfgs.get(counter.code)
        shown = None
        if ticket is not None:
            since = ticket.served_at if ticket.status in (p.SERVING, p.ON_HOLD) else ticket.last_called_at
            shown = {"id": ticket.id, "number": ticket.number, "status": ticket.status,
                     "service": self._service_codes[ticket.service_id], "priority": ticket.priority,
                     "call_count": ticket.call_count, "since": since.isoformat() if since else None}
        return {
            "code": counter.code,
            "name": counter.name,
            "name_en": counter.name_en,
            "zone": counter.zone,
            "floor": cfg.floor if cfg else None,
            "floor_en": cfg.floor_en if cfg else None,
            "state": counter.state,
            "pause_reason": counter.pause_reason,
            "state_since": counter.state_since.isoformat() if counter.state_since else None,
            "services": list(cfg.services) if cfg else [],
            "ticket": shown,
        }
    def get_ticket(self, ticket_id: int) -> dict[str, Any]:
        self._ensure_ids()
        with self.db.read() as connection:
            now = self.clock.now()
            return self._view(connection, self._load(connection, ticket_id), now, live=True)
    def find_ticket(self, number: str, day: date | None = None) -> dict[str, Any]:
        """Today's ticket by its display number (A023), as staff type it."""
        self._ensure_ids()
        day = day or self.today()
        with self.db.read() as connection:
            ticket_id = connection.execute(select(T.c.id).where(T.c.number == number.upper(), T.c.day == day)
                                           .order_by(T.c.id.desc()).limit(1)).scalar()
            if ticket_id is None:
                raise NotFound("unknown_ticket", f"no ticket {number} today")
            return self._view(connection, self._load(connection, ticket_id), self.clock.now(), live=True)
    def counters(self) -> list[dict[str, Any]]:
        self._ensure_ids()
        with self.db.read() as connection:
            return [self._counter_view(connection, self._counter_ids[c.code]) for c in self.clinic.counters]
    def counter(self, code: str) -> dict[str, Any]:
        self.counter_config(code)
        self._ensure_ids()
        with self.db.read() as connection:
            return self._counter_view(connection, self._counter_ids[code])
    def services_overview(self, codes: list[str] | None = None) -> list[dict[str, Any]]:
        """Each service (or those of `codes`) with how many wait and are served, and the estimate for
        a ticket taken now."""
        wanted = [self.service_config(code) for code in codes] if codes is not None else self.clinic.services
        self._ensure_ids()
        now = self.clock.now()
        day = local_day(now, self.tz)
        with self.db.read() as connection:
            # Per service, through indexes only: the waiting count from the line index, the few called
            # or served tickets by an index range, the last number by the (service, day, seq) key. A
            # GROUP BY over the day's tickets read every waiting ticket on each refresh.
            by_service: dict[int, dict[str, int]] = {}
            last: dict[int, int | None] = {}
            for cfg in wanted:
                service_id = self._service_ids[cfg.code]
                where = {"b_service": service_id, "b_day": day}
                figures = dict(fast(connection, _ACTIVE_BY_STATUS, where).all())
                figures[p.WAITING] = self.waiting_count(connection, service_id, day)
                by_service[service_id] = figures
                last[service_id] = fast(connection, _LAST_SEQ, where).scalar()
            out = []
            for cfg in wanted:
                service_id = self._service_ids[cfg.code]
                figures = by_service.get(service_id, {})
                waiting = figures.get(p.WAITING, 0)
                estimate = self.forecast(connection, cfg.code, now).for_position(waiting)
                serving_counters = [c.code for c in self.clinic.counters if cfg.code in c.services]
                out.append({
                    "code": cfg.code, "name": cfg.name, "name_en": cfg.name_en, "kind": cfg.kind,
                    "prefix": cfg.prefix, "fee": cfg.fee, "waiting": waiting,
                    "called": figures.get(p.CALLED, 0),
                    "serving": figures.get(p.SERVING, 0) + figures.get(p.ON_HOLD, 0),
                    "last_issued": p.ticket_number(cfg.prefix, last[service_id]) if last.get(service_id) else None,
                    "estimate": estimate.as_dict() if estimate else None,
                    "counters": serving_counters,
                })
            return out
    def waiting_tickets(self, service: str, limit: int = 50) -> list[dict[str, Any]]:
        """The line of a service in calling order, with each ticket's estimate."""
        cfg = self.service_config(service)
        self._ensure_ids()
        now = self.clock.now()
        with self.db.read() as connection:
            rows = connection.execute(select(*TICKET_COLUMNS).where(
                T.c.service_id == self._service_ids[cfg.code], T.c.day == local_day(now, self.tz),
                T.c.status == p.WAITING).order_by(T.c.queue_key_ms, T.c.id).limit(limit)).all()
            forecast = self.forecast(connection, cfg.code, now)
            return [self._view(connection, row, now, ahead=index, estimate=forecast.for_position(index, row.priority))
                    for index, row in enumerate(rows)]
