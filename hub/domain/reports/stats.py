"""Durations as mergeable histograms: count, exact mean, and percentiles read at a fixed resolution.

Reports add up days (a month is thirty stored days), and a median cannot be added up; a histogram can.
Bins are 10 s wide below 10 minutes, 30 s below an hour, 1 minute below 4 hours and 5 minutes beyond,
so a percentile is never off by more than one bin; the mean is exact (from the sum).
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
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


def _bin_of_seconds(seconds: int) -> int:
    for index in range(len(BIN_RANGES) - 1, -1, -1):
        start, width = BIN_RANGES[index]
        if seconds >= start:
            return _FIRST_BIN[index] + (seconds - start) // width
    return 0  # unreachable: the first range starts at zero


# Every second of the finer ranges looked up, not computed: a day's rollup bins a hundred thousand durations.
_LOOKUP = [_bin_of_seconds(second) for second in range(BIN_RANGES[-1][0])]


def bin_of(ms: int) -> int:
    """The histogram bin of a duration in milliseconds (negative durations count as zero)."""
    seconds = ms // 1000
    if seconds < len(_LOOKUP):
        return _LOOKUP[seconds] if seconds >= 0 else 0
    return _bin_of_seconds(min(seconds, MAX_SECONDS))


BIN_COUNT = bin_of(MAX_SECONDS * 1000) + 1


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
    """A mergeable summary of durations: count, total and histogram (a count per bin)."""

    count: int = 0
    total_ms: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * BIN_COUNT)

    def add(self, ms: int, number: int | None = None) -> None:
        """Count one duration; `number` is its bin when the caller has it already."""
        self.count += 1
        self.total_ms += ms
        self.counts[bin_of(ms) if number is None else number] += 1

    def merge_encoded(self, encoded: dict[str, Any] | None) -> None:
        """Add a spread stored by `encode` (a day's rollup)."""
        if not encoded:
            return
        self.count += encoded["n"]
        self.total_ms += encoded["ms"]
        flat = _unpack(encoded["h"])
        counts = self.counts
        # The hot loop of a month's report (thousands of stored days and groups): kept to list indexing.
        for number, count in zip(flat[0::2], flat[1::2], strict=True):
            counts[number] += count

    def encode(self) -> dict[str, Any]:
        """A compact JSON form: {"n", "ms", "h"}, "h" being base64 of little-endian uint32 (bin, count) pairs.

        Packed rather than a JSON list: decoding thousands of rollups is then a C call, not a parse.
        """
        flat = array("I")
        for number, count in enumerate(self.counts):
            if count:
                flat.append(number)
                flat.append(count)
        if sys.byteorder == "big":
            flat.byteswap()
        return {"n": self.count, "ms": self.total_ms, "h": base64.b64encode(flat.tobytes()).decode("ascii")}

    def mean_minutes(self) -> float | None:
        return self.total_ms / self.count / 60_000 if self.count else None

    def percentiles_minutes(self, *percents: int) -> list[float | None]:
        """Nearest-rank percentiles (ascending), at the histogram's resolution (the lower edge of their bin)."""
        if not self.count:
            return [None] * len(percents)
        goals = [rank_of(percent, self.count) for percent in percents]
        found: list[float | None] = []
        seen = 0
        for number, count in enumerate(self.counts):
            if not count:
                continue
            seen += count
            while seen >= goals[len(found)]:
                found.append(bin_floor_seconds(number) / 60)
                if len(found) == len(goals):
                    return found
        return found + [None] * (len(goals) - len(found))  # unreachable when the bins add up to the count

    def summary(self) -> dict[str, float | int | None]:
        """Count, mean, median and P90 in minutes (rounded to 0.01)."""
        median, p90 = self.percentiles_minutes(50, 90)
        return {"count": self.count, "mean": _round(self.mean_minutes()), "median": _round(median),
                "p90": _round(p90)}


def _unpack(packed: str) -> array[int]:
    flat = array("I")
    flat.frombytes(binascii.a2b_base64(packed))
    if sys.byteorder == "big":
        flat.byteswap()
    return flat


def merged(encoded: Iterable[dict[str, Any] | None]) -> Spread:
    """One spread from several stored ones."""
    spread = Spread()
    for item in encoded:
        spread.merge_encoded(item)
    return spread


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
