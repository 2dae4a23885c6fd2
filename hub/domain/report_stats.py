"""Durations as mergeable histograms: count, exact mean, and percentiles read at a fixed resolution.

Reports add up days (a month is thirty stored days), and a median cannot be added up; a histogram can.
Bins are 10 s wide below 10 minutes, 30 s below an hour, 1 minute below 4 hours and 5 minutes beyond,
so a percentile is never off by more than one bin; the mean is exact (from the sum).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# (start of the range in seconds, bin width in seconds), ascending.
BIN_RANGES = ((0, 10), (600, 30), (3600, 60), (14_400, 300))
MAX_SECONDS = 48 * 3600  # anything longer is kept in the last bin: a ticket left open over a weekend


def _range_starts() -> list[int]:
    """The first bin number of each range."""
    starts, first = [], 0
    for index, (start, width) in enumerate(BIN_RANGES):
        starts.append(first)
        if index + 1 < len(BIN_RANGES):
            first += (BIN_RANGES[index + 1][0] - start) // width
    return starts


_FIRST_BIN = _range_starts()


def bin_of(ms: int) -> int:
    """The histogram bin of a duration in milliseconds (negative durations count as zero)."""
    seconds = min(max(ms, 0) // 1000, MAX_SECONDS)
    for index in range(len(BIN_RANGES) - 1, -1, -1):
        start, width = BIN_RANGES[index]
        if seconds >= start:
            return _FIRST_BIN[index] + (seconds - start) // width
    return 0  # unreachable: the first range starts at zero


def bin_floor_seconds(number: int) -> int:
    """The lower edge of a bin, in seconds: what a percentile falling in it reports."""
    for index in range(len(BIN_RANGES) - 1, -1, -1):
        if number >= _FIRST_BIN[index]:
            start, width = BIN_RANGES[index]
            return start + (number - _FIRST_BIN[index]) * width
    return 0


def rank_of(percent: int, count: int) -> int:
    """Nearest-rank position (1-based) of a percentile; integer arithmetic, so P90 of 10 is the 9th."""
    return max((percent * count + 99) // 100, 1)


@dataclass
class Spread:
    """A mergeable summary of durations: count, total and histogram."""

    count: int = 0
    total_ms: int = 0
    bins: dict[int, int] = field(default_factory=dict)

    def add(self, ms: int) -> None:
        self.count += 1
        self.total_ms += ms
        number = bin_of(ms)
        self.bins[number] = self.bins.get(number, 0) + 1

    def merge_encoded(self, encoded: dict[str, Any] | None) -> None:
        """Add a spread stored by `encode` (a day's rollup)."""
        if not encoded:
            return
        self.count += encoded["n"]
        self.total_ms += encoded["ms"]
        flat = encoded["h"]
        bins = self.bins
        for index in range(0, len(flat), 2):
            number = flat[index]
            bins[number] = bins.get(number, 0) + flat[index + 1]

    def encode(self) -> dict[str, Any]:
        """A compact JSON form: {"n", "ms", "h": [bin, count, bin, count, ...]}."""
        flat: list[int] = []
        for number in sorted(self.bins):
            flat += (number, self.bins[number])
        return {"n": self.count, "ms": self.total_ms, "h": flat}

    def mean_minutes(self) -> float | None:
        return self.total_ms / self.count / 60_000 if self.count else None

    def percentile_minutes(self, percent: int) -> float | None:
        """Nearest-rank percentile, at the histogram's resolution (the lower edge of its bin)."""
        if not self.count:
            return None
        wanted, seen = rank_of(percent, self.count), 0
        for number in sorted(self.bins):
            seen += self.bins[number]
            if seen >= wanted:
                return bin_floor_seconds(number) / 60
        return None  # unreachable when the bins add up to the count

    def summary(self) -> dict[str, float | int | None]:
        """Count, mean, median and P90 in minutes (rounded to 0.01)."""
        return {"count": self.count, "mean": _round(self.mean_minutes()), "median": _round(self.percentile_minutes(50)),
                "p90": _round(self.percentile_minutes(90))}


def merged(encoded: Iterable[dict[str, Any] | None]) -> Spread:
    """One spread from several stored ones."""
    spread = Spread()
    for item in encoded:
        spread.merge_encoded(item)
    return spread


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
