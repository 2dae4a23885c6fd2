"""Forecast inputs: the state one service's wait estimates need (counters, learned times,
recent priority arrivals, how shared counters split their time). The model is `estimates`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, select

from hub import protocol as p
from hub.config import CounterConfig
from hub.db_fast import execute as fast
from hub.domain.common.clock import local_day, to_ms
from hub.domain.queue import policy
from hub.domain.queue.core import TT, C, QueueCore, T
from hub.domain.queue.estimates import CounterLoad, ServiceForecast, day_intervals_ms
from hub.domain.queue.models import CounterService

_COUNTER_SERVICES = CounterService.__table__
# Hot-path statements, built once with bound parameters (why: see `core`).
_FORECAST_COUNTERS = select(C.c.id, C.c.code, C.c.state, C.c.state_since, T.c.status, T.c.last_called_at,
                            T.c.served_at).select_from(
    C.join(_COUNTER_SERVICES, _COUNTER_SERVICES.c.counter_id == C.c.id)
    .outerjoin(T, T.c.id == C.c.current_ticket_id)).where(_COUNTER_SERVICES.c.service_id == bindparam("b_service"))
_RECENT_PRIORITY_ARRIVALS = select(T.c.priority, func.count(), func.min(T.c.issued_at)).where(
    T.c.service_id == bindparam("b_service"), T.c.issued_at >= bindparam("b_since"),
    T.c.issued_at <= bindparam("b_now"), T.c.priority != policy.NORMAL).group_by(T.c.priority)
# First calls (not recalls) a counter made recently, by service: how it shares its time.
_RECENT_CALLS_BY_SERVICE = select(T.c.service_id, func.count()).select_from(TT.join(T, T.c.id == TT.c.ticket_id)).where(
    TT.c.counter_id == bindparam("b_counter"), TT.c.at >= bindparam("b_since"), TT.c.to_status == p.CALLED,
    TT.c.from_status == p.WAITING).group_by(T.c.service_id)

_WAITING_WITH_P90 = select(T.c.id, T.c.issued_at, T.c.estimate_p90_min).where(
    T.c.service_id == bindparam("b_service"), T.c.day == bindparam("b_day"), T.c.status == p.WAITING,
    T.c.estimate_p90_min.is_not(None))


class QueueForecasts(QueueCore):
    """Gathering what one service's wait estimates need: counters, learned times, arrivals."""

    def forecast(self, connection: Connection, service: str, now: datetime) -> ServiceForecast:
        """Gather the state one service's estimates need (counters, learned times, arrivals)."""
        service_id = self._service_ids[service]
        hour = now.astimezone(self.tz).hour
        day_start = datetime.combine(local_day(now, self.tz), datetime.min.time(), tzinfo=self.tz)
        # On a holiday or a weekly closed day no counter keeps hours: the estimate must not promise a wait.
        closed = self.clinic.closed_on(day_start.date()) is not None
        serving = self._serving[service]
        rows = {}
        if serving:
            for row in fast(connection, _FORECAST_COUNTERS, {"b_service": service_id}):
                rows[row.code] = row
        earlier_work = self._earlier_work(connection, serving, service, now)
        earlier_share = self._earlier_share(connection, serving, service, now)
        loads = []
        for cfg in serving:
            row = rows.get(cfg.code)
            if row is None:
                continue
            since = row.served_at if row.status in (p.SERVING, p.ON_HOLD) else row.last_called_at
            loads.append(CounterLoad(
                code=cfg.code, state=row.state,
                state_since_ms=to_ms(row.state_since) if row.state_since else None,
                current_status=row.status, current_since_ms=to_ms(since) if since else None,
                hours_ms=() if closed else day_intervals_ms(self._counter_hours[cfg.code], day_start),
                service_time=self.times.service_time(connection, service_id, service, cfg.code, hour),
                earlier_work_minutes=earlier_work.get(cfg.code, 0.0),
                earlier_share=earlier_share.get(cfg.code, 0.0)))
        if closed and all(load.state == p.COUNTER_CLOSED for load in loads):
            loads = []  # nobody is coming in today: no estimate rather than "a few minutes"
        rates = self._priority_rates(connection, service_id, now)
        no_show_rate, no_show_minutes = self.times.no_show(connection, service_id)
        forecast = ServiceForecast(
            now_ms=to_ms(now),
            service_time=self.times.service_time(connection, service_id, service, None, hour),
            counters=loads, arrivals_per_minute=rates, head_starts=self.rules.head_start_minutes,
            no_show_rate=no_show_rate, no_show_minutes=no_show_minutes,
            expected_break_minutes=self.clinic.estimates.expected_break_minutes,
            p90_scale=self._calibrated_scale(connection, service_id, now),
            walk_minutes=self.times.walk_minutes(connection, service_id))
        # Reuse the calls the last forecast of this service already played forward (O(1) instead of
        # O(line) per estimate while the counters stand still); otherwise this one becomes the base.
        if not forecast.share_schedule(self._schedules.get(service)):
            self._schedules[service] = forecast
        return forecast

    def _calibrated_scale(self, connection: Connection, service_id: int, now: datetime) -> float:
        """The learned P90 scale of a service, after counting the waiting tickets already past their P90.

        Counted at most once a minute per service: a surge shows in the scale within a minute.
        """
        calibration = self.calibration
        minute = to_ms(now) // 60_000
        if calibration.enabled and self._overdue_checked.get(service_id) != minute:
            self._overdue_checked[service_id] = minute
            rows = fast(connection, _WAITING_WITH_P90, {"b_service": service_id, "b_day": local_day(now, self.tz)})
            now_ms = to_ms(now)
            overdue = [row.id for row in rows
                       if (now_ms - to_ms(row.issued_at)) / 60_000 > row.estimate_p90_min]
            calibration.observe_overdue(service_id, overdue)
        return calibration.scale(service_id)
    def _earlier_work(self, connection: Connection, serving: list[CounterConfig], service: str,
                      now: datetime) -> dict[str, float]:
        """Minutes of work a multi-service counter has in the services it takes before ours."""
        earlier = {c.code: c.services[: c.services.index(service)] for c in serving if c.services[0] != service}
        needed = {s for services in earlier.values() for s in services}
        if not needed:
            return {}
        day = local_day(now, self.tz)
        # From the line index: a COUNT per service here read every waiting ticket of those services.
        waiting = {self._service_ids[s]: self.waiting_count(connection, self._service_ids[s], day) for s in needed}
        out = {}
        for code, services in earlier.items():
            work = 0.0
            for s in services:
                sid = self._service_ids[s]
                sharing = len(self._serving[s])
                mean = self.times.service_time(connection, sid, s).mean
                work += waiting.get(sid, 0) * mean / max(sharing, 1)
            out[code] = work
        return out
    def _earlier_share(self, connection: Connection, serving: list[CounterConfig], service: str,
                       now: datetime) -> dict[str, float]:
        """Share of a multi-service counter's recent work that went to the services it takes before ours.

        Such a counter takes our line only when those are empty: measured, not assumed, because it
        depends on how busy their dedicated counters are. Counted at most once a minute per counter.
        """
        since = now - timedelta(minutes=self.clinic.estimates.history_minutes)
        minute = to_ms(now) // 60_000
        out = {}
        for cfg in serving:
            earlier = cfg.services[: cfg.services.index(service)]
            if not earlier:
                continue
            cached = self._shares.get(cfg.code)
            if cached is None or cached[0] != minute:
                calls = fast(connection, _RECENT_CALLS_BY_SERVICE, {
                    "b_counter": self._counter_ids[cfg.code], "b_since": since}).all()
                busy = {self._service_codes[sid]: count * self.times.service_time(
                    connection, sid, self._service_codes[sid]).mean for sid, count in calls}
                total = sum(busy.values())
                shares = {s: sum(busy.get(e, 0.0) for e in cfg.services[: cfg.services.index(s)]) / total
                          for s in cfg.services} if total > 0 else {}
                cached = self._shares[cfg.code] = (minute, shares)
            if service in cached[1]:
                out[cfg.code] = cached[1][service]
        return out
    def _count_arrival(self, service_id: int, priority: str, arrival_ms: int, now_ms: int) -> None:
        cached = self._arrivals.get(service_id)
        if cached is None or cached[0] != now_ms // 60_000:
            return  # counted afresh at the next estimate anyway
        if now_ms - arrival_ms > self.clinic.estimates.history_minutes * 60_000:
            return  # an offline ticket issued long ago is no recent arrival
        count, first_ms = cached[1].get(priority, (0, arrival_ms))
        cached[1][priority] = (count + 1, min(first_ms, arrival_ms))
    def _priority_rates(self, connection: Connection, service_id: int, now: datetime) -> dict[str, float]:
        """Arrivals per minute of each priority class in the recent window (the tickets that jump ahead).

        Counted at most once a minute per service (a busy reception issues several tickets a minute);
        a priority ticket this process issues is added to the count at once.
        """
        now_ms = to_ms(now)
        window = self.clinic.estimates.history_minutes
        cached = self._arrivals.get(service_id)
        if cached is None or cached[0] != now_ms // 60_000:
            since = now - timedelta(minutes=window)
            rows = connection.execute(
                _RECENT_PRIORITY_ARRIVALS, {"b_service": service_id, "b_since": since, "b_now": now}).all()
            cached = (now_ms // 60_000, {klass: (count, to_ms(first)) for klass, count, first in rows})
            self._arrivals[service_id] = cached
        rates = {}
        for klass, (count, first_ms) in cached[1].items():
            # Early in the morning the window is mostly empty: divide by the time actually covered.
            covered = max(min(window, (now_ms - first_ms) / 60_000), 15.0)
            rates[klass] = count / covered
        return rates
