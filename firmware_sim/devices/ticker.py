"""One timer thread for many devices: resends, heartbeats and playback are checked on each tick.

A fleet of 300 devices already runs 300 network threads (one per paho client); one shared ticker
keeps their timers from adding 300 more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TickCallback = Callable[[float], None]


class Ticker:
    """Calls every registered callback with time.monotonic() about every `interval_s` seconds."""

    def __init__(self, interval_s: float, name: str = "firmware-ticker") -> None:
        self.interval_s = interval_s
        self.name = name
        self._callbacks: list[TickCallback] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, callback: TickCallback) -> None:
        """Start calling `callback` on each tick."""
        with self._lock:
            self._callbacks.append(callback)

    def remove(self, callback: TickCallback) -> None:
        """Stop calling `callback`; unknown callbacks are ignored."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def start(self) -> Ticker:
        """Run the timer thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the timer thread and wait for it."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            now = time.monotonic()
            with self._lock:
                callbacks = list(self._callbacks)
            for callback in callbacks:
                try:
                    callback(now)
                except Exception:  # one faulty device must not stop the timers of the others
                    log.exception("tick of %r failed", callback)
