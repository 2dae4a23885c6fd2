"""Stored rollups: a closed day is computed once and kept; today is computed live and cached briefly.

A day counts as closed once the site's local date has moved past it. A rollup made by an older version
of the rules is recomputed when it is next read. Figures that change after the day (a payment voided, a
follow-up attended) are never rolled up: the report reads those live.
"""

from __future__ import annotations

import logging
import threading
import time as wallclock
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import Clock, local_day
from hub.domain.reports.models import ReportRollup
from hub.domain.reports.rollup import ROLLUP_VERSION, DayRollup

if TYPE_CHECKING:
    from hub.domain.common.jobs import JobScheduler

log = logging.getLogger(__name__)
R = ReportRollup.__table__
LIVE_SECONDS = 60.0  # today's figures are recomputed at most once a minute: reports are not the live page
BACKFILL_DAYS = 40  # the nightly job fills in any day of this window that has no rollup yet
ROLLUP_JOB = "report-rollups"
ROLLUP_AT = "00:30"  # site time: after midnight, when yesterday is closed and the hospital is quiet

Figures = dict[tuple[str, str], dict[str, Any]]


class RollupStore:
    """Reads the figures of days, computing and storing those that are missing."""

    def __init__(self, db: Database, clinic: ClinicConfig, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.tz = clinic.site.tz
        self.rollup = DayRollup(clinic.reports, self.tz)
        self._live: dict[date, tuple[float, Figures]] = {}
        self._lock = threading.Lock()

    def today(self) -> date:
        return local_day(self.clock.now(), self.tz)

    def ensure(self, days: Iterable[date]) -> list[date]:
        """Compute and store the closed days among `days` that have no current rollup; returns them."""
        closed = sorted({d for d in days if d < self.today()})
        if not closed:
            return []
        with self.db.read() as connection:
            rows = connection.execute(select(R.c.day, R.c.figures).where(
                R.c.dim == "visits", R.c.day >= closed[0], R.c.day <= closed[-1])).all()
        current = {row.day for row in rows if row.figures.get("v") == ROLLUP_VERSION}
        missing = [d for d in closed if d not in current]
        for day in missing:
            self.store(day)
        return missing

    def store(self, day: date) -> Figures:
        """(Re)compute one day and replace its stored rollup."""
        with self.db.read() as connection:
            figures = self.rollup.compute(connection, day)
        now = self.clock.now()
        rows = [{"day": day, "dim": dim, "key": key, "figures": value, "computed_at": now}
                for (dim, key), value in figures.items()]
        try:
            with self.db.write() as connection:
                connection.execute(delete(R).where(R.c.day == day))
                connection.execute(insert(R), rows)
        except IntegrityError:
            # Another hub process stored the same day meanwhile: its figures are the same as ours.
            log.info("the rollup of %s was stored by another process", day)
        return figures

    def forget(self, first: date, last: date) -> int:
        """Drop stored rollups (they are recomputed when next read): after late corrections."""
        with self.db.write() as connection:
            removed = connection.execute(delete(R).where(R.c.day >= first, R.c.day <= last)).rowcount
        with self._lock:
            self._live.clear()
        return removed

    def live(self, day: date) -> Figures:
        """Today's figures, computed at most once a minute."""
        with self._lock:
            cached = self._live.get(day)
        if cached and wallclock.monotonic() - cached[0] < LIVE_SECONDS:
            return cached[1]
        with self.db.read() as connection:
            figures = self.rollup.compute(connection, day)
        with self._lock:
            self._live = {day: (wallclock.monotonic(), figures)}
        return figures

    def load(self, first: date, last: date, dims: Iterable[str]) -> dict[date, Figures]:
        """The figures of each day from `first` to `last` for the dimensions asked (and "all", "visits")."""
        today = self.today()
        self.ensure(_days(first, min(last, today - timedelta(days=1))))
        wanted = {"all", "visits", *dims}
        out: dict[date, Figures] = {}
        if first < today:
            with self.db.read() as connection:
                rows = connection.execute(select(R.c.day, R.c.dim, R.c.key, R.c.figures).where(
                    R.c.day >= first, R.c.day <= min(last, today - timedelta(days=1)), R.c.dim.in_(wanted)))
                for row in rows:
                    out.setdefault(row.day, {})[(row.dim, row.key)] = row.figures
        if first <= today <= last:
            out[today] = {key: value for key, value in self.live(today).items() if key[0] in wanted}
        return out

    def backfill(self, now: Any = None) -> int:
        """The nightly job: store yesterday and any recent day still missing. Returns how many were made."""
        today = self.today()
        return len(self.ensure(_days(today - timedelta(days=BACKFILL_DAYS), today - timedelta(days=1))))


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def install_rollup_job(scheduler: JobScheduler, store: RollupStore) -> None:
    """Store yesterday's figures every night, so the first report of the morning reads them ready-made."""
    scheduler.add_job(ROLLUP_JOB, store.backfill, at=ROLLUP_AT)
