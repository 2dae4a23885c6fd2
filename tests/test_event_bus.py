"""The domain's event bus: handlers in subscription order, `first` ahead of the others, failures isolated."""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.common.events import Event, EventBus


@dataclass(frozen=True)
class Ping(Event):
    n: int


def test_handlers_run_in_order_and_first_goes_ahead() -> None:
    bus = EventBus()
    seen: list[str] = []
    bus.subscribe(Ping, lambda e: seen.append("boards"))
    bus.subscribe(Ping, lambda e: seen.append("devices"), first=True)
    bus.subscribe(Ping, lambda e: seen.append("last"))
    bus.publish(Ping(1))
    assert seen == ["devices", "boards", "last"]


def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = EventBus()
    seen: list[int] = []

    def broken(_event: Ping) -> None:
        raise RuntimeError("adapter down")

    bus.subscribe(Ping, broken, first=True)
    bus.subscribe(Ping, lambda e: seen.append(e.n))
    bus.publish(Ping(7))
    assert seen == [7]
