"""Service times learned online, per service, counter and hour of day.

Durations are kept in log-minutes with an exponentially weighted mean and variance: service times
are skewed (a few long consultations), and the log makes the average robust to them. The first
samples are averaged plainly; later ones move the average by at least 5 %, so the book follows a
doctor who speeds up after the morning rush.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Float, Integer, bindparam, case, func, literal, select, update

from hub.config import ClinicConfig
from hub.db import upsert
from hub.db_fast import execute as fast
from hub.domain.queue.models import ServiceTimeStat

MIN_ALPHA = 0.05
MIN_MINUTES = 0.1
# Below this many samples a narrower scope (counter, hour) defers to the service-wide figure.
SCOPE_MIN_SAMPLES = 10
PRIOR_WEIGHT = 5
CACHE_SECONDS = 60.0

ALL = "all"
NO_SHOW_RATE = "no-show-rate"
NO_SHOW_MINUTES = "no-show-minutes"
WALK = "walk-minutes"
DEFAULT_WALK_MINUTES = 1.0

_stats = ServiceTimeStat.__table__
_WHERE_SCOPE = (_stats.c.service_id == bindparam("b_service"), _stats.c.scope == bindparam("b_scope"))
_READ = select(_stats.c.samples, _stats.c.mean, _stats.c.var).where(*_WHERE_SCOPE)
# Stat.updated() done by the database in one statement: concurrent hub processes never lose a sample
# (all SET expressions see the row as it was before the update, on SQLite and PostgreSQL alike).
_ALPHA = case((_stats.c.samples + 1 < 1 / MIN_ALPHA, 1.0 / (_stats.c.samples + 1.0)), else_=MIN_ALPHA)
# One statement learns a sample in several scopes at once (all, counter, hour); one scope may take
# another value (a call's outcome: the no-show rate learns 0 while the walk time learns minutes).
_VALUE = case((_stats.c.scope == bindparam("b_other_scope"), bindparam("b_other_value", type_=Float())),
              else_=bindparam("b_value", type_=Float()))
_DELTA = _VALUE - _stats.c.mean
_LOCK_SERVICE_STATS = select(func.pg_advisory_xact_lock(0x5354, bindparam("b_service", type_=Integer())))
# Four fixed scope slots (unused ones are ""): one SQL text, prepared once, for every use.
SCOPE_SLOTS = 4
_LEARN = update(_stats).where(
    _stats.c.service_id == bindparam("b_service"),
    _stats.c.scope.in_([bindparam(f"b_scope{slot}") for slot in range(SCOPE_SLOTS)]),
).values(
    samples=_stats.c.samples + 1, mean=_stats.c.mean + _ALPHA * _DELTA,
    var=(1 - _ALPHA) * (_stats.c.var + _ALPHA * _DELTA * _DELTA),
).returning(_stats.c.scope, _stats.c.samples, _stats.c.mean, _stats.c.var)


@dataclass(frozen=True)
class Stat:
    samples: int
    mean: float  # log-minutes, or a plain rate / minutes for the no-show scopes
    var: float

    def updated(self, value: float) -> Stat:
        alpha = max(1.0 / (self.samples + 1), MIN_ALPHA)
        delta = value - self.mean
        mean = self.mean + alpha * delta
        var = (1 - alpha) * (self.var + alpha * delta * delta)
        return Stat(self.samples + 1, mean, var)


@dataclass(frozen=True)
class ServiceTime:
    """A lognormal service time: parameters and its plain mean and standard deviation (minutes)."""

    mu: float
    sigma: float

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma ** 2 / 2)

    @property
    def sd(self) -> float:
        return self.mean * math.sqrt(math.exp(self.sigma ** 2) - 1)

    @classmethod
    def from_mean_sd(cls, mean: float, sd: float) -> ServiceTime:
        sigma2 = math.log(1 + (sd / mean) ** 2)
        return cls(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    def residual(self, elapsed: float) -> float:
        """Expected remaining minutes of a service that has already lasted `elapsed` minutes."""
        if elapsed <= 0:
            return self.mean
        log_e = math.log(elapsed)
        survive = _normal_sf((log_e - self.mu) / self.sigma)
        if survive < 1e-6:
            return max(0.25 * self.mean, 0.5)
        partial = self.mean * _normal_sf((log_e - self.mu - self.sigma ** 2) / self.sigma)
        return max(partial / survive - elapsed, 0.5)


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


class ServiceTimeBook:
    """Reads and updates the learned figures; a small write-through cache keeps reads cheap."""

    def __init__(self, clinic: ClinicConfig) -> None:
        self.clinic = clinic
        self._cache: dict[tuple[int, str], tuple[Stat, float]] = {}
        # Blended times per (service, counter, hour), valid while the service's figures are unchanged.
        self._generation: dict[int, int] = {}
        self._blended: dict[tuple[int, str | None, int | None], tuple[ServiceTime, int, float]] = {}
        self.set_priors(clinic)

    def set_priors(self, clinic: ClinicConfig) -> None:
        """The configured service times, learned figures start from (again when the structure changes)."""
        self._priors = {s.code: ServiceTime.from_mean_sd(s.service_minutes.mean, s.service_minutes.sd)
                        for s in clinic.services}
        self._blended = {}

    def _get(self, connection: Connection, service_id: int, scope: str) -> Stat | None:
        cached = self._cache.get((service_id, scope))
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        row = fast(connection, _READ, {"b_service": service_id, "b_scope": scope}).first()
        stat = Stat(row.samples, row.mean, row.var) if row else Stat(0, 0.0, 0.0)
        self._cache[(service_id, scope)] = (stat, time.monotonic())
        self._changed(service_id)
        return stat if stat.samples else None

    def _changed(self, service_id: int) -> None:
        self._generation[service_id] = self._generation.get(service_id, 0) + 1

    def _put(self, connection: Connection, service_id: int, scopes: list[str], value: float, now: datetime,
             other: tuple[str, float] = ("", 0.0)) -> None:
        """Learn `value` in each of `scopes` of a service (and other[1] in the scope other[0])."""
        if connection.dialect.name == "postgresql":
            # Several rows are updated and inserted here, in an order that differs between processes:
            # one lock per service (held to commit) keeps two counters finishing at once from deadlocking
            # (test_queue_concurrency). SQLite's write transactions are serialised already.
            fast(connection, _LOCK_SERVICE_STATS, {"b_service": service_id})
        slots = [*scopes, other[0]] + [""] * (SCOPE_SLOTS - len(scopes) - 1)
        parameters = {f"b_scope{slot}": scope for slot, scope in enumerate(slots)}
        rows = fast(connection, _LEARN, {"b_service": service_id, "b_value": value, "b_other_scope": other[0],
                                           "b_other_value": other[1], "updated_at": now, **parameters}).all()
        stamp = time.monotonic()
        self._changed(service_id)
        for row in rows:
            self._cache[(service_id, row.scope)] = (Stat(row.samples, row.mean, row.var), stamp)
        learned = {row.scope for row in rows}
        for scope in set(scopes) - learned:
            self._first_sample(connection, service_id, scope, value, now)
        if other[0] and other[0] not in learned:
            self._first_sample(connection, service_id, other[0], other[1], now)

    def _first_sample(self, connection: Connection, service_id: int, scope: str, value: float, now: datetime) -> None:
        stat = Stat(0, 0.0, 0.0).updated(value)
        values = {"samples": stat.samples, "mean": stat.mean, "var": stat.var, "updated_at": now}
        # Another process may have inserted the row meanwhile: then ours is learned like any later sample.
        delta = literal(value, Float()) - _stats.c.mean
        learned = {"samples": _stats.c.samples + 1, "mean": _stats.c.mean + _ALPHA * delta,
                   "var": (1 - _ALPHA) * (_stats.c.var + _ALPHA * delta * delta), "updated_at": now}
        row = connection.execute(upsert(connection, _stats, {"service_id": service_id, "scope": scope, **values},
                                        ["service_id", "scope"], learned)
                                 .returning(_stats.c.samples, _stats.c.mean, _stats.c.var)).one()
        self._cache[(service_id, scope)] = (Stat(row.samples, row.mean, row.var), time.monotonic())
        self._changed(service_id)

    def record_service(self, connection: Connection, service_id: int, counter: str, hour: int,
                       minutes: float, now: datetime) -> None:
        value = math.log(max(minutes, MIN_MINUTES))
        self._put(connection, service_id, [ALL, f"counter:{counter}", f"hour:{hour}"], value, now)

    def record_call_outcome(self, connection: Connection, service_id: int, no_show: bool,
                            minutes_lost: float, now: datetime) -> None:
        """A call ended: in a no-show after `minutes_lost`, or in service after the patient walked that long."""
        self._put(connection, service_id, [NO_SHOW_MINUTES if no_show else WALK], minutes_lost, now,
                  other=(NO_SHOW_RATE, 1.0 if no_show else 0.0))

    def service_time(self, connection: Connection, service_id: int, service_code: str,
                     counter: str | None = None, hour: int | None = None) -> ServiceTime:
        """The service's time, narrowed to a counter and an hour of day where they have enough samples."""
        key = (service_id, counter, hour)
        cached = self._blended.get(key)
        if cached and cached[1] == self._generation.get(service_id) and time.monotonic() - cached[2] < CACHE_SECONDS:
            return cached[0]
        blended = self._blend_scopes(connection, service_id, service_code, counter, hour)
        self._blended[key] = (blended, self._generation.get(service_id, 0), time.monotonic())
        return blended

    def _blend_scopes(self, connection: Connection, service_id: int, service_code: str,
                      counter: str | None, hour: int | None) -> ServiceTime:
        prior = self._priors[service_code]
        overall = self._get(connection, service_id, ALL)
        base = _blend(prior, overall, PRIOR_WEIGHT)
        for scope in ([f"counter:{counter}"] if counter else []) + ([f"hour:{hour}"] if hour is not None else []):
            narrow = self._get(connection, service_id, scope)
            if narrow and narrow.samples >= SCOPE_MIN_SAMPLES:
                base = _blend(base, narrow, SCOPE_MIN_SAMPLES)
        return base

    def no_show(self, connection: Connection, service_id: int) -> tuple[float, float]:
        """(share of calls that end as no-show, minutes a no-show costs a counter)."""
        rate = self._get(connection, service_id, NO_SHOW_RATE)
        lost = self._get(connection, service_id, NO_SHOW_MINUTES)
        default_lost = 1.0 + self.clinic.queue.recalls_before_no_show * 1.0
        return (rate.mean if rate else 0.0), (lost.mean if lost else default_lost)

    def walk_minutes(self, connection: Connection, service_id: int) -> float:
        """How long a called patient takes to reach the counter."""
        walk = self._get(connection, service_id, WALK)
        return walk.mean if walk else DEFAULT_WALK_MINUTES


def _blend(prior: ServiceTime, learned: Stat | None, prior_weight: int) -> ServiceTime:
    if learned is None:
        return prior
    weight = learned.samples / (learned.samples + prior_weight)
    mu = (1 - weight) * prior.mu + weight * learned.mean
    var = (1 - weight) * prior.sigma ** 2 + weight * max(learned.var, 0.01)
    return ServiceTime(mu, math.sqrt(var))
