"""The kiosk's own SQLite file: its tickets (the outbox), its number leases, and the hub's last known state.

WAL with synchronous=FULL, like the hub: a number shown to a patient must survive a power cut, and a
lease number must never be handed out twice after a reboot.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    key TEXT PRIMARY KEY,            -- the idempotency key sent to the hub
    created_at TEXT NOT NULL,        -- when the patient took it (UTC, ISO 8601): an offline ticket's issue time
    service TEXT NOT NULL,
    priority TEXT NOT NULL,
    patient_code TEXT,
    state TEXT NOT NULL,             -- see kiosk.outbox
    offline INTEGER NOT NULL DEFAULT 0,
    day TEXT,                        -- offline: the lease's local day
    seq INTEGER,                     -- offline: the number from the lease
    number TEXT,
    hub_id INTEGER,
    reply TEXT,                      -- the hub's ticket (JSON) once it has it
    print_state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS ix_tickets_state ON tickets (state, created_at);
CREATE INDEX IF NOT EXISTS ix_tickets_hub_id ON tickets (hub_id);
CREATE TABLE IF NOT EXISTS leases (
    day TEXT NOT NULL,
    service TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    next INTEGER NOT NULL,           -- the next number to give; past `last` when used up
    PRIMARY KEY (day, service, first)
);
CREATE TABLE IF NOT EXISTS snapshots (
    name TEXT PRIMARY KEY,           -- setup, services, counters: what the page shows while offline
    body TEXT NOT NULL,
    saved_at TEXT NOT NULL
);
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


class LocalStore:
    """One SQLite connection shared by the agent's threads under a lock (a kiosk serves one patient at a time)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a read-then-write cannot interleave.
        self.connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.lock = threading.RLock()
        with self.lock:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.connection.execute(sql, args).fetchall()

    def save_snapshot(self, name: str, body: Any) -> None:
        """Keep the hub's latest answer, so a kiosk restarted while the hub is down still knows its services."""
        with self.transaction() as connection:
            connection.execute("INSERT INTO snapshots (name, body, saved_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                               "DO UPDATE SET body = excluded.body, saved_at = excluded.saved_at",
                               (name, json.dumps(body, ensure_ascii=False), utc_now().isoformat()))

    def snapshot(self, name: str) -> Any | None:
        rows = self.query("SELECT body FROM snapshots WHERE name = ?", (name,))
        return json.loads(rows[0]["body"]) if rows else None

    def close(self) -> None:
        with self.lock:
            self.connection.close()
