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

from sqlalchemy import Connection, select

from hub.config import ClinicConfig
from hub.db import upsert
from hub.domain.models import ServiceTimeStat

MIN_ALPHA = 0.05
MIN_MINUTES = 0.1
# Below this many samples a narrower scope (counter, hour) defers to the service-wide figure.
SCOPE_MIN_SAMPLES = 10
PRIOR_WEIGHT = 5
CACHE_SECONDS = 60.0

ALL = "all"
NO_SHOW_RATE = "no-show-rate"
NO_SHOW_MINUTES = "no-show-minutes"

_stats = ServiceTimeStat.__table__


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
        self._priors = {s.code: ServiceTime.from_mean_sd(s.service_minutes.mean, s.service_minutes.sd)
                        for s in clinic.services}

    def _get(self, connection: Connection, service_id: int, scope: str) -> Stat | None:
        cached = self._cache.get((service_id, scope))
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        row = connection.execute(
            select(_stats.c.samples, _stats.c.mean, _stats.c.var)
            .where(_stats.c.service_id == service_id, _stats.c.scope == scope)
        ).first()
        stat = Stat(row.samples, row.mean, row.var) if row else Stat(0, 0.0, 0.0)
        self._cache[(service_id, scope)] = (stat, time.monotonic())
        return stat if stat.samples else None

    def _put(self, connection: Connection, service_id: int, scope: str, value: float, now: datetime) -> None:
        previous = self._get(connection, service_id, scope) or Stat(0, 0.0, 0.0)
        stat = previous.updated(value)
        row = {"samples": stat.samples, "mean": stat.mean, "var": stat.var, "updated_at": now}
        connection.execute(upsert(connection, _stats, {"service_id": service_id, "scope": scope, **row},
                                  ["service_id", "scope"], row))
        self._cache[(service_id, scope)] = (stat, time.monotonic())

    def record_service(self, connection: Connection, service_id: int, counter: str, hour: int,
                       minutes: float, now: datetime) -> None:
        value = math.log(max(minutes, MIN_MINUTES))
        for scope in (ALL, f"counter:{counter}", f"hour:{hour}"):
            self._put(connection, service_id, scope, value, now)

    def record_call_outcome(self, connection: Connection, service_id: int, no_show: bool,
                            minutes_lost: float, now: datetime) -> None:
        self._put(connection, service_id, NO_SHOW_RATE, 1.0 if no_show else 0.0, now)
        if no_show:
            self._put(connection, service_id, NO_SHOW_MINUTES, minutes_lost, now)

    def service_time(self, connection: Connection, service_id: int, service_code: str,
                     counter: str | None = None, hour: int | None = None) -> ServiceTime:
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


def _blend(prior: ServiceTime, learned: Stat | None, prior_weight: int) -> ServiceTime:
    if learned is None:
        return prior
    weight = learned.samples / (learned.samples + prior_weight)
    mu = (1 - weight) * prior.mu + weight * learned.mean
    var = (1 - weight) * prior.sigma ** 2 + weight * max(learned.var, 0.01)
    return ServiceTime(mu, math.sqrt(var))
