"""The scheduler: periodic jobs (send the outbox, plan reminders, close the day) run by ONE process.

Every hub process (and `clinicq worker`) may run a scheduler; a lease row in the database elects the
one that runs jobs. The leader renews the lease as it ticks; when it stops renewing (stopped, crashed,
cut off from the database) another takes the lease once it expires. The last run of each job is kept in
the database too, so a new leader neither repeats today's 18:00 job nor forgets it.

A simple loop rather than APScheduler: its triggers read the wall clock, so tests could not drive it
with the hub's VirtualClock, and its job stores do not elect a leader; two kinds of trigger (every N
seconds, daily at HH:MM site time) are a few lines here. Jobs must be idempotent: a leader that dies
in the middle of a job leaves it to be run again by the next one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update

from hub.db import Database, upsert
from hub.domain.common.clock import Clock
from hub.domain.common.models import SchedulerJob, SchedulerLease
from hub.domain.notifications.settings import parse_clock

log = logging.getLogger(__name__)
L = SchedulerLease.__table__
J = SchedulerJob.__table__
JobFunction = Callable[[datetime], Any]


def process_owner_id() -> str:
    """Who holds the lease: host, process and a random part (a restarted process is a new owner)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Job:
    name: str
    function: JobFunction
    every: timedelta | None = None
    at: time | None = None  # site time, daily

    def due(self, last_run: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
        if self.every is not None:
            return last_run is None or now >= last_run + self.every
        assert self.at is not None
        local = now.astimezone(tz)
        occurrence = datetime.combine(local.date(), self.at, tzinfo=tz)
        if local < occurrence:
            if last_run is None:
                return False  # a new job waits for its first time of day instead of running at once
            occurrence -= timedelta(days=1)
        return last_run is None or last_run < occurrence


class LeaderLease:
    """A named lease row: `hold(now)` takes or renews it and says whether this owner is the leader."""

    def __init__(self, db: Database, *, owner: str, seconds: float, name: str = "scheduler") -> None:
        self.db = db
        self.owner = owner
        self.seconds = seconds
        self.name = name
        self._expires: datetime | None = None  # our own lease's expiry, while we hold it

    def hold(self, now: datetime) -> bool:
        # A leader renews once half the lease is used: one small write per lease/2, not per tick.
        if self._expires is not None and now < self._expires - timedelta(seconds=self.seconds / 2):
            return True
        expires = now + timedelta(seconds=self.seconds)
        with self.db.read() as tx:
            current = tx.execute(select(L.c.owner, L.c.expires_at).where(L.c.name == self.name)).first()
        if current is not None and current.owner != self.owner and current.expires_at > now:
            self._expires = None  # someone else leads: no write at all on a follower's tick
            return False
        with self.db.write() as tx:
            if current is None:
                taken = tx.execute(upsert(tx, L, {"name": self.name, "owner": self.owner, "acquired_at": now,
                                                  "expires_at": expires}, ["name"], {"name": L.c.name})
                                   .returning(L.c.owner)).scalar()
                # Two newcomers raced to insert: the one whose row stands is the leader.
                won = taken == self.owner
            else:
                # Conditional: of two processes that both saw the lease expire, only one update matches.
                values: dict[str, Any] = {"owner": self.owner, "expires_at": expires}
                if current.owner != self.owner:
                    values["acquired_at"] = now
                won = tx.execute(update(L).where(L.c.name == self.name, or_(
                    L.c.owner == self.owner, L.c.expires_at <= now)).values(**values)).rowcount == 1
        if won and self._expires is None:
            log.info("scheduler: %s leads now", self.owner)
        self._expires = expires if won else None
        return won

    def release(self) -> None:
        """Give the lease up at once (clean shutdown), so another process need not wait for it to expire."""
        if self._expires is None:
            return
        with self.db.write() as tx:
            tx.execute(update(L).where(L.c.name == self.name, L.c.owner == self.owner)
                       .values(expires_at=datetime(2000, 1, 1).astimezone()))
        self._expires = None

    @property
    def held(self) -> bool:
        return self._expires is not None

    @property
    def expires_at(self) -> datetime | None:
        """When our lease runs out unless renewed (None: we do not hold it)."""
        return self._expires


class Scheduler:
    """A registry of jobs and the loop that runs the due ones while this process is the leader."""

    def __init__(self, db: Database, clock: Clock, tz: ZoneInfo, *, owner: str | None = None,
                 lease_seconds: float = 30, tick_seconds: float = 1, name: str = "scheduler") -> None:
        self.db = db
        self.clock = clock
        self.tz = tz
        self.owner = owner or process_owner_id()
        self.tick_seconds = tick_seconds
        self.lease = LeaderLease(db, owner=self.owner, seconds=lease_seconds, name=name)
        self.jobs: dict[str, Job] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_job(self, name: str, function: JobFunction, *, every_seconds: float | None = None,
                at: str | None = None) -> None:
        """Run `function(now)` every `every_seconds`, or daily at `at` ("HH:MM", site time)."""
        if (every_seconds is None) == (at is None):
            raise ValueError(f"job {name!r}: give every_seconds or at, not both")
        if not 1 <= len(name) <= 64:
            raise ValueError(f"job name {name!r}: 1 to 64 characters")
        if name in self.jobs:
            raise ValueError(f"job {name!r} is already registered")
        if every_seconds is not None and every_seconds <= 0:
            raise ValueError(f"job {name!r}: every_seconds must be positive")
        self.jobs[name] = Job(name, function, every=timedelta(seconds=every_seconds) if every_seconds else None,
                              at=parse_clock(at) if at is not None else None)

    @property
    def is_leader(self) -> bool:
        return self.lease.held

    def run_pending(self, now: datetime | None = None) -> list[str]:
        """One tick: take or renew the lease, then run the due jobs (if leading); returns their names."""
        now = now or self.clock.now()
        if not self.lease.hold(now):
            return []
        with self.db.read() as tx:
            last = dict(tx.execute(select(J.c.name, J.c.last_started_at)).all())
        ran = []
        for job in list(self.jobs.values()):
            if job.due(last.get(job.name), now, self.tz):
                self._run(job, now)
                ran.append(job.name)
        return ran

    def _run(self, job: Job, now: datetime) -> None:
        error = None
        try:
            job.function(now)
        except Exception as exc:  # one failing job must not stop the others, nor the loop
            log.exception("scheduled job %s failed", job.name)
            error = f"{type(exc).__name__}: {exc}"[:500]
        values = {"last_started_at": now, "last_finished_at": self.clock.now(), "last_ok": error is None,
                  "last_error": error, "owner": self.owner}
        with self.db.write() as tx:
            tx.execute(upsert(tx, J, {"name": job.name, "runs": 1, **values}, ["name"],
                              {**values, "runs": J.c.runs + 1}))

    def job_runs(self) -> dict[str, dict[str, Any]]:
        """The last run of each job, for staff pages and `clinicq worker --status`."""
        with self.db.read() as tx:
            return {row.name: dict(row._mapping) for row in tx.execute(select(J))}

    # ------------------------------------------------------------------ running in the background
    def start(self) -> None:
        """Tick in a background thread (a greenlet in the gevent-patched hub)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="clinicq-scheduler", daemon=True)
        self._thread.start()

    def run_forever(self) -> None:
        """Tick until `stop()`; a database outage is logged and retried on the next tick."""
        log.info("scheduler %s started with jobs %s", self.owner, sorted(self.jobs))
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_seconds)

    def request_stop(self) -> None:
        """Ask the loop to end after its current tick (safe from a signal handler: no I/O)."""
        self._stop.set()

    def stop(self) -> None:
        """End the loop and give the lease up."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        try:
            self.lease.release()
        except Exception:
            log.exception("could not release the scheduler lease (it will expire by itself)")
