"""Domain events and the in-process bus that carries them to adapters.

Services publish events only after their transaction commits, so an adapter never announces a call
that was rolled back. Adapters (Socket.IO rooms, the MQTT bridge, audit, notifications) subscribe;
a failing adapter is logged and never breaks the service or the other adapters.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """Base of all domain events."""


@dataclass(frozen=True)
class TicketIssued(Event):
    ticket: dict[str, Any]


@dataclass(frozen=True)
class TicketCalled(Event):
    """A call or a recall: what boards flash and speakers announce."""

    ticket: dict[str, Any]
    counter: dict[str, Any]
    recall: bool
    call_id: str
    at: float  # epoch seconds


@dataclass(frozen=True)
class TicketChanged(Event):
    """Any other state change of a ticket (start, finish, no-show, transfer, cancel, return)."""

    ticket: dict[str, Any]
    previous_status: str
    action: str


@dataclass(frozen=True)
class CounterChanged(Event):
    """A counter's state or current ticket changed (what its LED shows)."""

    counter: dict[str, Any]


@dataclass(frozen=True)
class QueueChanged(Event):
    """The waiting line of a service changed: counts and estimates are to be refreshed."""

    service: str


@dataclass(frozen=True)
class DeviceCommand(Event):
    """A command for one device (`dev/<type>/<id>/cmd/<name>`); `payload` carries req_id, ts and ttl_s."""

    device_type: str
    device_id: str
    name: str
    payload: dict[str, Any]


Handler = Callable[[Any], None]


def coalesce(events: list[Event]) -> list[Event]:
    """One operation's events with repeats folded: a counter's last state, each line changed once.

    A single "next" can finish a ticket, open the counter and call the next ticket; screens need the
    counter's final state once, not every step of it (each event reaches hundreds of boards).
    """
    last_counter: dict[str, int] = {}
    for index, event in enumerate(events):
        if isinstance(event, CounterChanged):
            last_counter[event.counter["code"]] = index
    seen_services: set[str] = set()
    out: list[Event] = []
    for index, event in enumerate(events):
        if isinstance(event, CounterChanged) and last_counter[event.counter["code"]] != index:
            continue
        if isinstance(event, QueueChanged):
            if event.service in seen_services:
                continue
            seen_services.add(event.service)
        out.append(event)
    return out


@dataclass
class EventBus:
    """Synchronous publish/subscribe by event type (and its base classes)."""

    _handlers: dict[type, list[Handler]] = field(default_factory=lambda: defaultdict(list))

    def subscribe(self, event_type: type[Event], handler: Handler, *, first: bool = False) -> None:
        """Handlers run in the order they subscribed; `first` puts this one ahead of those already there
        (a cheap handler whose latency matters, ahead of a slow fan-out)."""
        if first:
            self._handlers[event_type].insert(0, handler)
        else:
            self._handlers[event_type].append(handler)

    def publish(self, event: Event) -> None:
        for event_type in type(event).__mro__:
            for handler in self._handlers.get(event_type, ()):
                try:
                    handler(event)
                except Exception:  # an adapter's failure must not undo a committed change
                    log.exception("event handler %r failed on %s", handler, type(event).__name__)

    def publish_all(self, events: list[Event]) -> None:
        for event in events:
            self.publish(event)
