"""The blocks of numbers the hub leased to this kiosk, and the next number of each.

A number is taken in the same transaction that records the offline ticket (see kiosk.outbox), so after
a crash a number is either still free or belongs to a saved ticket: never both, never lost.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

from kiosk.store import LocalStore


class LeaseStore:
    """Leases per (local day, service); only today's are ever used."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def add(self, lease: dict[str, Any]) -> None:
        """Keep a lease as the hub gave it: {"day", "service", "first", "last"}."""
        with self.store.transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO leases (day, service, first, last, next) VALUES (?, ?, ?, ?, ?)",
                               (lease["day"], lease["service"], lease["first"], lease["last"], lease["first"]))

    def remaining(self, day: date) -> dict[str, int]:
        """Numbers left per service on `day`."""
        rows = self.store.query("SELECT service, SUM(last - next + 1) AS left FROM leases WHERE day = ? "
                                "AND next <= last GROUP BY service", (day.isoformat(),))
        return {row["service"]: row["left"] for row in rows}

    def take(self, connection: sqlite3.Connection, day: date, service: str) -> int | None:
        """The next leased number of `service` on `day`, oldest block first; None when none is left."""
        row = connection.execute("SELECT first, next FROM leases WHERE day = ? AND service = ? AND next <= last "
                                 "ORDER BY first LIMIT 1", (day.isoformat(), service)).fetchone()
        if row is None:
            return None
        connection.execute("UPDATE leases SET next = next + 1 WHERE day = ? AND service = ? AND first = ?",
                           (day.isoformat(), service, row["first"]))
        return int(row["next"])

    def forget_before(self, day: date) -> None:
        """Drop the leases of earlier days: their numbers belong to a day that is over."""
        with self.store.transaction() as connection:
            connection.execute("DELETE FROM leases WHERE day < ?", (day.isoformat(),))
