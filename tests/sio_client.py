"""A Socket.IO test client that subscribes on every (re)connect and keeps what it receives."""

from __future__ import annotations

import queue
import time
from typing import Any

import socketio


class Listener:
    """A Socket.IO client that subscribes on every (re)connect and queues what it receives."""

    def __init__(self, url: str, subscription: dict[str, Any], transports: list[str] | None = None) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
        self.connects = 0
        self.pending: list[tuple[str, Any]] = []

        @self.client.event
        def connect() -> None:
            self.connects += 1
            self.client.emit("subscribe", subscription)

        for name in ("snapshot", "call", "queue", "ticket", "counter", "error"):
            self.client.on(name, self._recorder(name))
        self.client.connect(url, transports=transports or ["websocket"], wait_timeout=10)

    def _recorder(self, name: str):  # type: ignore[no-untyped-def]
        return lambda data: self.events.put((name, data))

    def next(self, name: str, timeout: float = 10.0, where: Any = None) -> Any:
        """The oldest not yet taken event of this name (and matching `where`), waiting if needed."""
        deadline = time.monotonic() + timeout
        while True:
            for index, (kind, data) in enumerate(self.pending):
                if kind == name and (where is None or where(data)):
                    del self.pending[index]
                    return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name!r} event within {timeout}s; got {[k for k, _ in self.pending]}")
            try:
                self.pending.append(self.events.get(timeout=remaining))
            except queue.Empty:
                continue

    def close(self) -> None:
        self.client.disconnect()
