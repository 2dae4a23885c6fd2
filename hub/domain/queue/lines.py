"""Each waiting line in memory, so "how many are ahead" and "how many wait" cost O(log n).

Counting the tickets ahead of a new one was a COUNT over the line's index range: its cost grew with
the line (≈ 20,000 entries read per issue at 20,000 waiting). Here each (service, day) line is a sorted
list of (queue key, ticket id) kept in step with the database through its change log: triggers
(migration 0019) append one row per ticket entering, leaving or moving in a line and bump the line's
version in the same transaction, whoever writes (this process, another hub process, another module).
Before using a line a process reads the changes after the version it holds: one indexed query that
returns the few rows written since (usually just its own last change), so nothing here scans a line
except the first load of a line by a process.

Replaying a change is idempotent (the last change of a ticket decides where it is), so loading a line
(version first, then its tickets, then the changes since that version) is right even when writers
commit between those reads. A write transaction may see its own uncommitted changes: the engine drops
the lines it touched when such a transaction rolls back (`forget`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

from sortedcontainers import SortedList
from sqlalchemy import BigInteger, Boolean, Column, Connection, Date, Integer, Table, bindparam, delete, select

from hub import protocol as p
from hub.db_fast import execute as fast
from hub.domain.common.models import Base
from hub.domain.queue.models import Ticket

_Id = BigInteger().with_variant(Integer(), "sqlite")
LINE_VERSIONS = Table(
    "queue_line_versions", Base.metadata,
    Column("service_id", _Id, primary_key=True), Column("day", Date, primary_key=True),
    Column("version", BigInteger, nullable=False),
)
LINE_CHANGES = Table(
    "queue_line_changes", Base.metadata,
    Column("service_id", _Id, primary_key=True), Column("day", Date, primary_key=True),
    Column("version", BigInteger, primary_key=True), Column("ticket_id", _Id, nullable=False),
    Column("queue_key_ms", BigInteger), Column("added", Boolean, nullable=False),
)
T = Ticket.__table__
_WHERE_LINE = (LINE_CHANGES.c.service_id == bindparam("b_service"), LINE_CHANGES.c.day == bindparam("b_day"))
_CHANGES_SINCE = select(LINE_CHANGES.c.version, LINE_CHANGES.c.ticket_id, LINE_CHANGES.c.queue_key_ms,
                        LINE_CHANGES.c.added).where(
    *_WHERE_LINE, LINE_CHANGES.c.version > bindparam("b_version")).order_by(LINE_CHANGES.c.version)
_VERSION = select(LINE_VERSIONS.c.version).where(
    LINE_VERSIONS.c.service_id == bindparam("b_service"), LINE_VERSIONS.c.day == bindparam("b_day"))
_WAITING = select(T.c.id, T.c.queue_key_ms).where(
    T.c.service_id == bindparam("b_service"), T.c.day == bindparam("b_day"), T.c.status == p.WAITING)
_MAX_KEY_ID = 1 << 62  # above every ticket id: "(key, everything)" sorts after all tickets with that key


@dataclass
class Line:
    """One service's waiting tickets of one day, in calling-key order, as of `version`."""

    version: int = 0
    order: SortedList = field(default_factory=SortedList)  # (queue_key_ms, ticket_id)
    keys: dict[int, int] = field(default_factory=dict)  # ticket_id -> queue_key_ms

    def apply(self, version: int, ticket_id: int, key: int | None, added: bool) -> None:
        """Replay one change; changes at or below the version held are already in (why: module doc)."""
        if version <= self.version:
            return
        old = self.keys.pop(ticket_id, None)
        if old is not None:
            self.order.remove((old, ticket_id))
        if added:
            key = key if key is not None else 0
            self.keys[ticket_id] = key
            self.order.add((key, ticket_id))
        self.version = version

    def __len__(self) -> int:
        return len(self.order)

    def ahead_of_key(self, key: int) -> int:
        """Tickets a new ticket with `key` would wait behind (equal keys were there first)."""
        return self.order.bisect_right((key, _MAX_KEY_ID))

    def ahead_of(self, key: int, ticket_id: int) -> int:
        """Tickets ahead of a waiting ticket: smaller key, or the same key and an older id."""
        return self.order.bisect_left((key, ticket_id))


class LineIndex:
    """Every line this process has looked at, caught up from the change log on each use."""

    def __init__(self) -> None:
        self._lines: dict[tuple[int, date], Line] = {}
        self._lock = threading.Lock()
        self.loads = 0  # full loads of a line (for tests and benchmarks: should stay at one per line)

    def line(self, connection: Connection, service_id: int, day: date) -> Line:
        """The line as this transaction sees it (catching up on the changes since last time)."""
        where = {"b_service": service_id, "b_day": day}
        line = self._lines.get((service_id, day))
        if line is None:
            return self._load(connection, service_id, day)
        changes = fast(connection, _CHANGES_SINCE, {**where, "b_version": line.version}).all()
        # Greenlets may interleave between the query and here: `apply` skips what another already applied.
        with self._lock:
            for version, ticket_id, key, added in changes:
                line.apply(version, ticket_id, key, bool(added))
        return line

    def _load(self, connection: Connection, service_id: int, day: date) -> Line:
        where = {"b_service": service_id, "b_day": day}
        version = fast(connection, _VERSION, where).scalar() or 0
        rows = fast(connection, _WAITING, where).all()
        line = Line(version=version)
        for ticket_id, key in rows:
            line.keys[ticket_id] = key
        line.order = SortedList((key, ticket_id) for ticket_id, key in line.keys.items())
        # Writers may have committed between the reads above: replaying their changes corrects the list.
        for change_version, ticket_id, key, added in fast(connection, _CHANGES_SINCE, {**where, "b_version": version}):
            line.apply(change_version, ticket_id, key, bool(added))
        with self._lock:
            current = self._lines.get((service_id, day))
            if current is None or current.version <= line.version:
                self._lines[(service_id, day)] = line
            else:
                line = current
        self.loads += 1
        return line

    def prune(self, connection: Connection, today: date) -> None:
        """Delete the log of days before yesterday (in the caller's write transaction), and their lines.

        Nobody follows those lines any more: a ticket left waiting on an old day is counted by loading
        its line afresh from the tickets table, which needs no log.
        """
        cutoff = today - timedelta(days=1)
        connection.execute(delete(LINE_CHANGES).where(LINE_CHANGES.c.day < cutoff))
        with self._lock:
            for key in [key for key in self._lines if key[1] < cutoff]:
                del self._lines[key]

    def forget(self, keys: set[tuple[int, date]] | None = None) -> None:
        """Drop lines (all when `keys` is None): a rolled-back transaction may have shown them its changes."""
        with self._lock:
            if keys is None:
                self._lines.clear()
            else:
                for key in keys:
                    self._lines.pop(key, None)
