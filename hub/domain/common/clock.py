"""Time for the domain: a real clock for the hub, a virtual one for simulations and tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock:
    """A clock that moves only when told to: simulated days run without sleeping."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        instant = instant.astimezone(UTC)
        if instant < self._now:
            raise ValueError("a virtual clock never goes back")
        self._now = instant

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    """The site's calendar day of an instant: ticket numbers restart at local midnight."""
    return instant.astimezone(tz).date()


def to_ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)
