"""Every ticket this kiosk gave out, and what the hub still has to be told.

States of a ticket:

- `sending`: asked the hub, no answer yet (after a crash it becomes `unconfirmed`).
- `issued`: the hub has it (`hub_id`, `reply`).
- `pending`: issued offline from a lease; the sender files it on the hub (POST /tickets with `offline`).
- `unconfirmed`: the hub did not answer and the patient got an offline number instead; the sender asks
  again with the same key and cancels what the hub may have made, so one patient never holds two tickets.
- `voided`: such a ticket, settled with the hub.
- `rejected`: the hub refused an offline ticket (logged, kept for staff).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from kiosk.store import LocalStore, utc_now

SENDING, ISSUED, PENDING, UNCONFIRMED, VOIDED, REJECTED = (
    "sending", "issued", "pending", "unconfirmed", "voided", "rejected")
# Print states: what the page and staff see, and what a reprint changes.
PRINT_PENDING, PRINTED, PAPER_OUT, PRINT_FAILED = "pending", "printed", "paper_out", "failed"


@dataclass(frozen=True)
class KioskTicket:
    """One ticket as the kiosk keeps it."""

    key: str
    created_at: datetime
    service: str
    priority: str
    patient_code: str | None
    state: str
    offline: bool
    day: str | None
    seq: int | None
    number: str | None
    hub_id: int | None
    reply: dict[str, Any] | None
    print_state: str
    attempts: int
    last_error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> KioskTicket:
        return cls(key=row["key"], created_at=datetime.fromisoformat(row["created_at"]), service=row["service"],
                   priority=row["priority"], patient_code=row["patient_code"], state=row["state"],
                   offline=bool(row["offline"]), day=row["day"], seq=row["seq"], number=row["number"],
                   hub_id=row["hub_id"], reply=json.loads(row["reply"]) if row["reply"] else None,
                   print_state=row["print_state"], attempts=row["attempts"], last_error=row["last_error"])


def new_key() -> str:
    """An idempotency key: random, so it also serves as the capability in an offline ticket's QR link."""
    return uuid.uuid4().hex


class Outbox:
    """The kiosk's tickets in its SQLite file."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def recover(self) -> int:
        """After a restart, requests that never got an answer are unconfirmed: the hub may or may not have them."""
        with self.store.transaction() as connection:
            return connection.execute("UPDATE tickets SET state = ? WHERE state = ?", (UNCONFIRMED, SENDING)).rowcount

    def begin_online(self, service: str, priority: str, patient_code: str | None) -> str:
        """Record a ticket about to be asked of the hub, before asking: its key survives a crash."""
        key = new_key()
        with self.store.transaction() as connection:
            connection.execute("INSERT INTO tickets (key, created_at, service, priority, patient_code, state) "
                               "VALUES (?, ?, ?, ?, ?, ?)",
                               (key, utc_now().isoformat(), service, priority, patient_code, SENDING))
        return key

    def add_offline(self, connection: sqlite3.Connection, *, service: str, priority: str, patient_code: str | None,
                    day: date, seq: int, number: str) -> str:
        """Record a ticket issued from a lease (inside the transaction that took its number)."""
        key = new_key()
        connection.execute("INSERT INTO tickets (key, created_at, service, priority, patient_code, state, offline, "
                           "day, seq, number) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                           (key, utc_now().isoformat(), service, priority, patient_code, PENDING, day.isoformat(),
                            seq, number))
        return key

    def record_issued(self, key: str, reply: dict[str, Any]) -> KioskTicket:
        """Keep a ticket the hub made from a booking (a booking is checked on the hub, never offline)."""
        with self.store.transaction() as connection:
            connection.execute("INSERT INTO tickets (key, created_at, service, priority, state, number, hub_id, "
                               "reply) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (key, utc_now().isoformat(), reply["service"], reply.get("priority", "normal"),
                                ISSUED, reply.get("number"), reply.get("id"), json.dumps(reply, ensure_ascii=False)))
        ticket = self.get(key)
        assert ticket is not None
        return ticket

    def mark_issued(self, key: str, reply: dict[str, Any]) -> None:
        """The hub has the ticket: keep its id, number and reply (for the page, the print and reprints)."""
        self._update(key, state=ISSUED, hub_id=reply.get("id"), number=reply.get("number"),
                     reply=json.dumps(reply, ensure_ascii=False), last_error=None)

    def set_state(self, key: str, state: str, error: str | None = None) -> None:
        self._update(key, state=state, last_error=error)

    def forget(self, key: str) -> None:
        """The hub refused an online request: there is no ticket to keep."""
        with self.store.transaction() as connection:
            connection.execute("DELETE FROM tickets WHERE key = ? AND state = ?", (key, SENDING))

    def failed_attempt(self, key: str, error: str) -> None:
        with self.store.transaction() as connection:
            connection.execute("UPDATE tickets SET attempts = attempts + 1, last_error = ? WHERE key = ?",
                               (error[:200], key))

    def set_print_state(self, key: str, print_state: str) -> None:
        self._update(key, print_state=print_state)

    def get(self, key: str) -> KioskTicket | None:
        rows = self.store.query("SELECT * FROM tickets WHERE key = ?", (key,))
        return KioskTicket.from_row(rows[0]) if rows else None

    def by_hub_id(self, hub_id: int) -> KioskTicket | None:
        rows = self.store.query("SELECT * FROM tickets WHERE hub_id = ? ORDER BY created_at DESC LIMIT 1", (hub_id,))
        return KioskTicket.from_row(rows[0]) if rows else None

    def to_send(self) -> list[KioskTicket]:
        """Tickets the hub still has to hear about, oldest first."""
        rows = self.store.query("SELECT * FROM tickets WHERE state IN (?, ?) ORDER BY created_at, rowid",
                                (PENDING, UNCONFIRMED))
        return [KioskTicket.from_row(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Tickets per state (for the page, the heartbeat and the docs' troubleshooting)."""
        return {row["state"]: row["n"] for row in self.store.query(
            "SELECT state, COUNT(*) AS n FROM tickets GROUP BY state")}

    def forget_before(self, instant: datetime) -> None:
        """Drop settled tickets older than `instant` (a kiosk keeps days, not years, of tickets)."""
        with self.store.transaction() as connection:
            connection.execute("DELETE FROM tickets WHERE created_at < ? AND state IN (?, ?, ?)",
                               (instant.isoformat(), ISSUED, VOIDED, REJECTED))

    def _update(self, key: str, **values: Any) -> None:
        columns = ", ".join(f"{name} = ?" for name in values)
        with self.store.transaction() as connection:
            connection.execute(f"UPDATE tickets SET {columns} WHERE key = ?", (*values.values(), key))
