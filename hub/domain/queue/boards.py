"""Read models over the queue for boards and consoles: last calls, next numbers, counter figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from hub import protocol as p
from hub.domain.common.clock import local_day
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Counter, Ticket, TicketTransition

T = Ticket.__table__
TT = TicketTransition.__table__
C = Counter.__table__


class QueueReads:
    """Queries that only read; they share the engine's id maps and views."""

    def __init__(self, queue: QueueService) -> None:
        self.queue = queue

    def last_calls(self, counters: list[str], limit: int) -> list[dict[str, Any]]:
        """Today's most recent calls and recalls at these counters, newest first."""
        queue = self.queue
        ids = [queue.counter_id(c) for c in counters if queue.clinic.counter(c)]
        if not ids:
            return []
        now = queue.clock.now()
        day_start = datetime.combine(local_day(now, queue.tz), datetime.min.time(), tzinfo=queue.tz)
        with queue.db.read() as connection:
            rows = connection.execute(
                select(TT.c.at, TT.c.from_status, TT.c.counter_id, T.c.id, T.c.number, T.c.service_id,
                       T.c.status)
                .select_from(TT.join(T, T.c.id == TT.c.ticket_id))
                .where(TT.c.to_status == p.CALLED, TT.c.counter_id.in_(ids), TT.c.at >= day_start)
                .order_by(TT.c.id.desc()).limit(limit)).all()
        out = []
        for row in rows:
            counter = queue.clinic.counter(queue.counter_code(row.counter_id))
            out.append({
                "ticket": row.number, "ticket_id": row.id, "service": queue.service_code(row.service_id),
                "counter": counter.code if counter else None, "counter_name": counter.name if counter else None,
                "counter_name_en": counter.name_en if counter else None,
                "recall": row.from_status == p.CALLED, "status": row.status, "at": row.at.isoformat(),
            })
        return out

    def next_numbers(self, services: list[str], count: int = 5) -> dict[str, list[str]]:
        """The next numbers in calling order for each service."""
        queue = self.queue
        day = queue.today()
        out: dict[str, list[str]] = {}
        with queue.db.read() as connection:
            for code in services:
                out[code] = list(connection.execute(
                    select(T.c.number).where(T.c.service_id == queue.service_id(code), T.c.day == day,
                                             T.c.status == p.WAITING)
                    .order_by(T.c.queue_key_ms, T.c.id).limit(count)).scalars())
        return out

    def counter_figures(self, code: str) -> dict[str, Any]:
        """Served and no-show counts today and the mean service time at one counter."""
        queue = self.queue
        queue.counter_config(code)
        counter_id = queue.counter_id(code)
        now = queue.clock.now()
        day_start = datetime.combine(local_day(now, queue.tz), datetime.min.time(), tzinfo=queue.tz)
        with queue.db.read() as connection:
            rows = dict(connection.execute(
                select(TT.c.to_status, func.count()).where(
                    TT.c.counter_id == counter_id, TT.c.at >= day_start,
                    TT.c.to_status.in_((p.DONE, p.NO_SHOW, p.TRANSFERRED)))
                .group_by(TT.c.to_status)).all())
            mean_ms = connection.execute(
                select(func.avg(TT.c.duration_ms)).where(
                    TT.c.counter_id == counter_id, TT.c.at >= day_start, TT.c.from_status == p.SERVING)
            ).scalar()
        return {
            "served": rows.get(p.DONE, 0) + rows.get(p.TRANSFERRED, 0),
            "no_show": rows.get(p.NO_SHOW, 0),
            "mean_service_minutes": round(float(mean_ms) / 60_000, 1) if mean_ms else None,
        }

    def no_shows(self, code: str, limit: int = 50) -> list[dict[str, Any]]:
        """Today's no-shows in the services of one counter, latest first: who may come back late."""
        queue = self.queue
        services = queue.counter_config(code).services
        with queue.db.read() as connection:
            rows = connection.execute(
                select(T.c.id, T.c.number, T.c.service_id, T.c.priority, T.c.issued_at, T.c.finished_at,
                       T.c.call_count, T.c.counter_id)
                .where(T.c.service_id.in_([queue.service_id(s) for s in services]), T.c.day == queue.today(),
                       T.c.status == p.NO_SHOW)
                .order_by(T.c.finished_at.desc(), T.c.id.desc()).limit(limit)).all()
        out = []
        for row in rows:
            service = queue.clinic.service(queue.service_code(row.service_id))
            out.append({
                "id": row.id, "number": row.number, "service": service.code if service else None,
                "service_name": service.name if service else None,
                "service_name_en": service.name_en if service else None, "priority": row.priority,
                "call_count": row.call_count, "counter": queue.counter_code(row.counter_id) if row.counter_id else None,
                "issued_at": row.issued_at.isoformat(),
                "no_show_at": row.finished_at.isoformat() if row.finished_at else None,
            })
        return out
