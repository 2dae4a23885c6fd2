"""The staffing advisor's inputs from the live queue: forecasts, arrival rates, counters' last calls.

`staffing()` is what the ops page shows; when the advice changes it publishes `StaffingChanged`, which
the Socket.IO adapter carries to the ops pages at once (advisor logic: `advisor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from hub import protocol as p
from hub.domain.common.clock import local_day, to_ms
from hub.domain.common.events import Event
from hub.domain.queue import advisor
from hub.domain.queue.calling import QueueCalling
from hub.domain.queue.core import TT, C, T


@dataclass(frozen=True)
class StaffingChanged(Event):
    """The staffing advice changed: `fired` are new pieces of advice, `cleared` the keys that went away."""

    advice: list[dict[str, Any]]
    fired: list[dict[str, Any]]
    cleared: list[str]


class QueueStaffing(QueueCalling):
    """Predicted waits per service for the next two hours, and staffing advice with its reason."""

    _last_advice: list[advisor.Advice] | None = None

    def thresholds(self, service: str) -> advisor.Thresholds:
        settings = self.clinic.advisor
        own = settings.services.get(service)
        return advisor.Thresholds(
            p90_minutes=own.p90_minutes if own and own.p90_minutes is not None else settings.p90_minutes,
            idle_minutes=own.idle_minutes if own and own.idle_minutes is not None else settings.idle_minutes,
            free_minutes=settings.free_minutes)

    def outlooks(self, codes: list[str]) -> list[advisor.ServiceOutlook]:
        """The two-hour outlook of some services (order routing reads how each line will change)."""
        now = self.clock.now()
        day = local_day(now, self.tz)
        since = now - timedelta(minutes=self.clinic.estimates.history_minutes)
        ids = [self._service_ids[code] for code in codes]
        with self.db.read() as connection:
            waiting = dict(connection.execute(select(T.c.service_id, func.count()).where(
                T.c.day == day, T.c.status == p.WAITING, T.c.service_id.in_(ids)).group_by(T.c.service_id)).all())
            recent = dict(connection.execute(select(T.c.service_id, func.count()).where(
                T.c.issued_at >= since, T.c.issued_at <= now, T.c.service_id.in_(ids)).group_by(T.c.service_id)).all())
            first_today = connection.execute(select(func.min(T.c.issued_at)).where(T.c.day == day)).scalar()
            covered = self.clinic.estimates.history_minutes
            if first_today is not None:
                covered = max(min(covered, (to_ms(now) - to_ms(first_today)) / 60_000), 15.0)
            out = []
            for code, sid in zip(codes, ids, strict=True):
                cfg = self.service_config(code)
                forecast = self.forecast(connection, code, now)
                out.append(advisor.predict(code, cfg.name, cfg.kind, waiting.get(sid, 0), recent.get(sid, 0) / covered,
                                           forecast.for_position))
        return out

    def _open_for(self, service: str, now: datetime) -> float | None:
        """Minutes until the last of the service's counters ends its current stretch of hours (None: none in
        hours now, or the last stretch of the day: the last shift serves on until the line is empty)."""
        local = now.astimezone(self.tz)
        minute = local.hour * 60 + local.minute + local.second / 60
        ends, last = [], True
        for counter in self._serving[service]:
            spans = [(s.hour * 60 + s.minute, e.hour * 60 + e.minute) for s, e in self._counter_hours[counter.code]]
            for start, end in spans:
                if start <= minute < end:
                    ends.append(end)
                    last = last and not any(later > end for later, _ in spans)
        if not ends or last:
            return None
        return max(ends) - minute

    def staffing(self, publish: bool = True) -> dict[str, Any]:
        """Outlook of every service and the advice that holds now (publishes StaffingChanged on a change)."""
        self._ensure_ids()
        now = self.clock.now()
        day = local_day(now, self.tz)
        since = now - timedelta(minutes=self.clinic.estimates.history_minutes)
        with self.db.read() as connection:
            waiting = dict(connection.execute(select(T.c.service_id, func.count()).where(
                T.c.day == day, T.c.status == p.WAITING).group_by(T.c.service_id)).all())
            recent = dict(connection.execute(select(T.c.service_id, func.count()).where(
                T.c.issued_at >= since, T.c.issued_at <= now).group_by(T.c.service_id)).all())
            first_today = connection.execute(select(func.min(T.c.issued_at)).where(T.c.day == day)).scalar()
            last_calls = dict(connection.execute(select(TT.c.counter_id, func.max(TT.c.at)).where(
                TT.c.to_status == p.CALLED, TT.c.at >= datetime.combine(day, datetime.min.time(), tzinfo=self.tz))
                .group_by(TT.c.counter_id)).all())
            counters = connection.execute(select(C.c.id, C.c.code, C.c.state, C.c.state_since,
                                                 C.c.current_ticket_id)).all()
            # Early in the day the window is not yet full: divide by the time actually covered.
            covered = self.clinic.estimates.history_minutes
            if first_today is not None:
                covered = max(min(covered, (to_ms(now) - to_ms(first_today)) / 60_000), 15.0)
            state_of = {row.code: row.state for row in counters}
            outlooks = []
            for cfg in self.clinic.services:
                sid = self._service_ids[cfg.code]
                forecast = self.forecast(connection, cfg.code, now)
                working = sum(1 for c in self._serving[cfg.code] if state_of.get(c.code) in ("open", "paused"))
                outlooks.append(advisor.predict(cfg.code, cfg.name, cfg.kind, waiting.get(sid, 0),
                                                recent.get(sid, 0) / covered, forecast.for_position,
                                                open_counters=working, open_for_minutes=self._open_for(cfg.code, now)))
        states = []
        for row in counters:
            cfg = self.clinic.counter(row.code)
            if cfg is None:
                continue
            # Minutes since the last call, or since the counter opened when it has not called yet.
            last = last_calls.get(row.id)
            reference = last if last is not None else (row.state_since if row.state == "open" else None)
            ago = (to_ms(now) - to_ms(reference)) / 60_000 if reference is not None else None
            states.append(advisor.CounterState(row.code, cfg.name, tuple(cfg.services), row.state,
                                               row.current_ticket_id is not None, ago))
        advice = advisor.advise(now, outlooks, states, self.thresholds, self.tz)
        if publish:
            before = self._last_advice or []
            fired, cleared = advisor.changes(before, advice)
            self._last_advice = advice
            if fired or cleared:
                self.bus.publish(StaffingChanged([a.as_dict() for a in advice], [a.as_dict() for a in fired], cleared))
        return {"at": now.isoformat(), "horizon_minutes": advisor.HORIZON_MINUTES,
                "services": [o.as_dict(now) for o in outlooks], "advice": [a.as_dict() for a in advice]}
