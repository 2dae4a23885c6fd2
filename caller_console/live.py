"""Live updates for a terminal console: the counter's Socket.IO room applied to a CounterState."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import socketio

from caller_console.state import CounterState
from hub import protocol as p

log = logging.getLogger(__name__)
# Until the hub first answers, try again this often (afterwards the client's own reconnection runs).
FIRST_CONNECT_RETRY_S = 1.0
STOP_WAIT_S = 0.3


class CounterFeed:
    """Subscribes to {"counter": code} on every connect and keeps `state` current."""

    def __init__(self, hub_url: str, state: CounterState, on_change: Callable[[], None] = lambda: None,
                 token: str | None = None) -> None:
        self.token = token  # a counter's room shows the waiting line: the hub asks for a staff or device token
        self.hub_url = hub_url.rstrip("/")
        self.state = state
        self.on_change = on_change
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=5)
        self.client.on("connect", self._on_connect)
        self.client.on("disconnect", self._on_disconnect)
        self.client.on(p.SIO_SNAPSHOT, self._changed(self._on_snapshot))
        self.client.on(p.SIO_COUNTER, self._changed(lambda m: state.apply_counter(m["counter"])))
        self.client.on(p.SIO_CALL, self._changed(state.apply_call))
        self.client.on(p.SIO_TICKET, self._changed(lambda m: state.apply_ticket(m.get("ticket"))))
        self.client.on(p.SIO_QUEUE, self._changed(state.apply_queue))
        self.client.on(p.SIO_ERROR, lambda m: log.warning("hub refused the subscription: %s", m))

    def _changed(self, apply: Callable[[Any], None]) -> Callable[[Any], None]:
        def handler(message: Any) -> None:
            if isinstance(message, dict):
                apply(message)
                self.on_change()

        return handler

    def _on_snapshot(self, message: dict[str, Any]) -> None:
        if message.get("kind") == "counter":
            self.state.apply_snapshot(message)

    def _on_connect(self) -> None:
        self.state.connected = True
        subscription: dict[str, Any] = {"counter": self.state.code}
        if self.token:
            subscription["token"] = self.token
        self.client.emit(p.SIO_SUBSCRIBE, subscription)  # a fresh snapshot after every reconnect
        self.on_change()

    def _on_disconnect(self, *_: Any) -> None:
        self.state.connected = False
        self.on_change()

    def start(self) -> None:
        """Connect in the background: the console is usable (and says so) while the hub is away."""
        self._thread = threading.Thread(target=self._first_connect, name="counter-feed", daemon=True)
        self._thread.start()

    def _first_connect(self) -> None:
        while not self._stopped.is_set():
            try:
                self.client.connect(self.hub_url, transports=["websocket"], wait_timeout=5)
            except socketio.exceptions.ConnectionError as exc:
                log.debug("hub not reachable yet: %s", exc)
                self._stopped.wait(FIRST_CONNECT_RETRY_S)
                continue
            if self._stopped.is_set():  # stopped while connecting
                self._shutdown()
            return

    def _shutdown(self) -> None:
        # Closing a WebSocket waits for the server's close frame (up to ~3 s with this hub):
        # the console must not hang on its way out for that, so the close runs on its own.
        closer = threading.Thread(target=self.client.shutdown, name="counter-feed-close", daemon=True)
        closer.start()
        closer.join(timeout=STOP_WAIT_S)

    def stop(self) -> None:
        self._stopped.set()
        self._shutdown()
