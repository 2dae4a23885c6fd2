"""What a terminal console knows of its counter, updated from REST replies and Socket.IO events."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ACTIVE = ("called", "serving", "on_hold")


@dataclass
class CounterState:
    """One counter as last heard: its state, current ticket and how many wait in each of its services.

    The Socket.IO thread and the keyboard thread both write it: every change holds `lock`.
    """

    code: str
    name: str = ""
    state: str = ""
    pause_reason: str | None = None
    ticket: dict[str, Any] | None = None
    services: list[str] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)
    connected: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def waiting_total(self) -> int:
        with self.lock:
            return sum(self.waiting.get(s, 0) for s in self.services)

    def apply_counter(self, counter: dict[str, Any]) -> None:
        """A counter view (snapshot, `counter` event, pause/resume reply)."""
        if counter.get("code") != self.code:
            return
        with self.lock:
            self.name = counter.get("name") or self.name
            self.state = counter.get("state") or self.state
            self.services = list(counter.get("services") or self.services)
            if self.state != "paused":
                self.pause_reason = None
            elif "pause_reason" in counter:  # public events leave the reason out: keep the known one
                self.pause_reason = counter["pause_reason"]
            self._set_ticket(counter.get("ticket"))

    def apply_snapshot(self, snapshot: dict[str, Any]) -> None:
        """The `snapshot` of a counter subscription: the whole state afresh."""
        with self.lock:
            self.ticket = None
            self.apply_counter(snapshot["counter"])
            counts = Counter(t["service"] for t in snapshot.get("queue", []))
            self.waiting = {s: counts.get(s, 0) for s in self.services}

    def apply_queue(self, message: dict[str, Any]) -> None:
        """A `queue` event: the exact waiting count of one of the counter's services."""
        service = message.get("service") or {}
        with self.lock:
            if service.get("code") in self.services and service.get("waiting") is not None:
                self.waiting[service["code"]] = service["waiting"]

    def apply_call(self, message: dict[str, Any]) -> None:
        if (message.get("counter") or {}).get("code") == self.code:
            with self.lock:
                self.apply_counter(message["counter"])
                self._set_ticket(message["ticket"])

    def set_current(self, ticket: dict[str, Any] | None) -> None:
        """The counter's current ticket as an action's reply gives it (None: the counter is free)."""
        with self.lock:
            self._set_ticket(ticket)

    def apply_ticket(self, ticket: dict[str, Any] | None) -> None:
        """A ticket this counter handled changed (a reply or a `ticket` event)."""
        with self.lock:
            if ticket is None or self.ticket is None or ticket["id"] != self.ticket["id"]:
                return
            self._set_ticket(ticket if ticket["status"] in ACTIVE else None)

    def _set_ticket(self, ticket: dict[str, Any] | None) -> None:
        if ticket is None:
            self.ticket = None
        elif self.ticket is not None and self.ticket.get("id") == ticket.get("id"):
            self.ticket = {**self.ticket, **ticket}
        else:
            self.ticket = dict(ticket)
