"""What the call-back list and the patient replies use of the follow-up service that owns them.

A Protocol, so those modules depend on this description and not on `service` (which builds them):
the package's imports stay one-way.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from hub.config import ClinicConfig, FollowUpSettings
from hub.db import Database
from hub.domain.booking.service import BookingService
from hub.domain.common.clock import Clock
from hub.domain.common.events import EventBus
from hub.domain.follow_ups.links import FollowUpLinks
from hub.domain.follow_ups.messages import FollowUpMessages


class FollowUpsCore(Protocol):
    """The follow-up service as its parts see it."""

    db: Database
    clock: Clock
    tz: ZoneInfo
    clinic: ClinicConfig
    bus: EventBus
    settings: FollowUpSettings
    booking: BookingService
    links: FollowUpLinks
    messages: FollowUpMessages

    def today(self) -> date: ...

    def appointment(self, appointment_id: int) -> dict[str, Any]: ...

    def book_again(self, missed_id: int, slot_start: datetime, *, actor: str, channel: str,
                   doctor: str | None = None) -> dict[str, Any]: ...

    def stop_series(self, series_id: int, *, actor: str, cancel_open: bool = False, reason: str = "") -> int: ...
