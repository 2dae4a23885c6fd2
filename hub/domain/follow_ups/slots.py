"""Finding a follow-up's slot: the doctor's free slot nearest to the date the doctor wants, and the
choice staff see around it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, time, timedelta
from typing import Any

from hub.domain.booking.schedules import BOOKING_HORIZON_DAYS

FreeSlots = Callable[..., list[dict[str, Any]]]  # BookingService.free_slots(day, doctor=...)


def spiral(reach: int) -> Iterator[int]:
    """0, 1, -1, 2, -2, ... reach, -reach: days from the wanted one, later first on a tie."""
    yield 0
    for step in range(1, reach + 1):
        yield step
        yield -step


def minutes_from(slot: dict[str, Any], at: time) -> int:
    hours, minutes = slot["time"].split(":")
    return abs(int(hours) * 60 + int(minutes) - (at.hour * 60 + at.minute))


class SlotFinder:
    """Free slots of one doctor by closeness to a wanted day (never today or before, never past the horizon)."""

    def __init__(self, free_slots: FreeSlots, today: Callable[[], date], reach: int) -> None:
        self.free_slots = free_slots
        self.today = today
        self.reach = reach

    def _bookable(self, day: date) -> bool:
        today = self.today()
        return today < day <= today + timedelta(days=BOOKING_HORIZON_DAYS)

    def nearest(self, doctor: str, wanted: date, at: time | None = None) -> Iterator[dict[str, Any]]:
        """The wanted day first, then a day later, a day earlier...; within a day nearest to `at`, else earliest."""
        for offset in spiral(self.reach):
            day = wanted + timedelta(days=offset)
            if not self._bookable(day):
                continue
            slots = self.free_slots(day, doctor=doctor)
            if at is not None:
                slots.sort(key=lambda s: (minutes_from(s, at), s["start"]))
            yield from slots

    def options(self, doctor: str, wanted: date, *, days: int = 3, at: time | None = None) -> dict[str, Any]:
        """What staff choose from: the suggested slot and the free slots of the days around the date."""
        around = []
        for offset in range(-days, days + 1):
            day = wanted + timedelta(days=offset)
            slots = self.free_slots(day, doctor=doctor) if self._bookable(day) else []
            if slots:
                around.append({"day": day.isoformat(), "slots": slots})
        suggested = next(self.nearest(doctor, wanted, at), None)
        return {"doctor": doctor, "wanted": wanted.isoformat(), "suggested": suggested, "days": around}
