"""Online calibration of the P90: keep 90 % of real waits under the P90 shown, on any kind of day.

The forward model's P90 is a pessimistic position in the line; how pessimistic it must be depends on
the day (doctors slower than configured, a coach of patients, many pauses widen it; a quiet day with
fast doctors narrows it). Rather than tuning per scenario, each service keeps scales on the P90's
width, learned from what the hub observes. When a ticket is called for the first time, its wait is a
miss or a hit, and the scale follows (a Robbins-Monro quantile tracker, settling where misses are 10 %):

    scale <- scale x exp(rate x (miss - (1 - target)))

A miss is judged two ways, blended (`STALE_WEIGHT`): against the P90 the ticket was shown (which is
what coverage measures; on a day the model lags, this keeps coverage itself at the target), and
against the scale as it is *now*, through the scale that would just have covered the wait,

    needed = (wait - P50) / (width of the P90 at scale 1)     (the width grows about linearly with it)

On a long line hundreds of tickets shown the same too-narrow P90 are answered one after another long
after the scale has widened; judging each only against what it was shown (the earlier method) counted
one piece of news hundreds of times, drove the scale to its ceiling and then gave hours of far too
wide P90s (the district day's reception: 70 % covered, then 100 %).

A service's scale is the product of its own (learned from every wait) and a factor per *band* of the
estimate (`estimates.BANDS`, learned from the waits of that band): a wait that runs across a closed
period (before the day opens, over lunch) misses for other reasons than a wait in a working line (when
staff come back, not how fast they serve), and a ticket with nobody ahead and a free counter hardly
misses at all. With one scale the many easy hits narrowed the P90 of the waits across lunch, and the
misses there then widened the afternoon's: right on average, wrong on each. The service's own scale
still carries what every band shares, and it learns fast (the line's answers come within minutes),
while an answer about a wait across lunch comes hours later.

Tickets still waiting are censored observations: once a ticket has waited longer than its P90 or
than the current scale would cover, that part of its miss is already known and counted when the
forecast sees it (each part once), so a surge widens the P90 within minutes instead of an hour later
when those patients are called; a ticket that has not is not yet a hit, and waits for its call.
What each waiting ticket was shown lives in the process: a restarted hub starts again from
`estimates.p90_scale` and judges the tickets it did not issue against the P90 stored with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_SCALE = 0.2
MAX_SCALE = 6.0
STEADY_AFTER = 100  # observations after which the step has halved
MIN_RATE = 0.02
# A miss counts this much against the P90 the ticket was shown (what coverage measures: it keeps the
# coverage itself at the target when the model lags the day) and the rest against the scale as it is
# now (which stops the hundreds of answers about one too-narrow P90 from being counted as fresh news).
# 1.0 was the earlier method; 0.5 and 0.75 were compared on the bundled days and 0.75 kept all inside.
STALE_WEIGHT = 0.75
DEFAULT_BAND = "line"
MAX_REMEMBERED = 200_000  # waiting tickets whose estimate is kept (a central hospital issues ~30,000 a day)
BANDS = ("free", "break", "line")  # as estimates.BANDS (the kinds of estimate)


@dataclass(frozen=True, slots=True)
class _Shown:
    band: str
    p50: float
    unit_width: float  # P90 - P50 at scale 1, minutes


@dataclass
class P90Calibrator:
    """Per service and band: the learned scale, and what each waiting ticket was shown."""

    start: float = 1.0
    target: float = 0.9
    rate: float = 0.25
    enabled: bool = True
    scales: dict[tuple[int, str], float] = field(default_factory=dict)  # (service, "") own, (service, band) factor
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    _counted: dict[int, float] = field(default_factory=dict)  # waiting ticket -> miss already counted
    _shown: dict[int, _Shown] = field(default_factory=dict)
    # (service, band) -> [waits at or under the P90 shown, waits judged]: the coverage the hub has seen.
    tally: dict[tuple[int, str], list[int]] = field(default_factory=dict)

    def scale(self, service_id: int, band: str = DEFAULT_BAND) -> float:
        if not self.enabled:
            return self.start
        own = self.scales.get((service_id, ""), self.start) * self.scales.get((service_id, band), 1.0)
        return min(max(own, MIN_SCALE), MAX_SCALE)

    def band_scales(self, service_id: int) -> dict[str, float]:
        """The scales of one service by band (what the estimate multiplies its spread with)."""
        if not self.enabled:
            return {}
        return {band: self.scale(service_id, band) for band in BANDS}

    def issued(self, service_id: int, ticket_id: int, band: str, p50: float, p90: float) -> None:
        """A new ticket's estimate: its wait will be judged against what it was shown (and tallied, even
        with the calibration off, so that the coverage by band can be compared)."""
        width = (p90 - p50) / self.scale(service_id, band)
        if len(self._shown) >= MAX_REMEMBERED:
            # Tickets cancelled while waiting are never called: forget the oldest half (days old by then).
            for old in list(self._shown)[: MAX_REMEMBERED // 2]:
                del self._shown[old]
                self._counted.pop(old, None)
        self._shown[ticket_id] = _Shown(band, p50, max(width, 1e-6))

    def _needed(self, shown: _Shown, waited: float) -> float:
        return (waited - shown.p50) / shown.unit_width

    def _miss(self, service_id: int, shown: _Shown | None, waited: float, p90: float | None) -> float:
        """How much of a miss a wait is: against the P90 it was shown, and against the scale as it is now."""
        stale = 1.0 if p90 is not None and waited > p90 else 0.0
        if shown is None:  # issued before a restart: only the P90 it was shown is known
            return stale
        late = 1.0 if self._needed(shown, waited) > self.scale(service_id, shown.band) else 0.0
        return STALE_WEIGHT * stale + (1 - STALE_WEIGHT) * late

    def _step(self, service_id: int, band: str, miss: float, hit_share: float, new: bool) -> None:
        for key, start in (((service_id, ""), self.start), ((service_id, band), 1.0)):
            current = self.scales.get(key, start)
            # Large steps while there are few observations (a quiet day must narrow within the day), small
            # ones once there are many.
            seen = self.counts.get(key, 0) + new
            self.counts[key] = seen
            rate = max(self.rate * STEADY_AFTER / (STEADY_AFTER + max(seen, 1)), MIN_RATE)
            moved = current * math.exp(rate * (miss - hit_share))
            self.scales[key] = min(max(moved, MIN_SCALE), MAX_SCALE)

    def observe_call(self, service_id: int, ticket_id: int, waited_minutes: float, p90_minutes: float | None) -> None:
        """A ticket called for the first time: the rest of its miss (if any was not yet counted), and its hit."""
        shown = self._shown.pop(ticket_id, None)
        if p90_minutes is not None:
            seen = self.tally.setdefault((service_id, shown.band if shown else DEFAULT_BAND), [0, 0])
            seen[0] += waited_minutes <= p90_minutes
            seen[1] += 1
        if not self.enabled or (shown is None and p90_minutes is None):
            return
        counted = self._counted.pop(ticket_id, None)
        miss = self._miss(service_id, shown, waited_minutes, p90_minutes)
        band = shown.band if shown is not None else DEFAULT_BAND
        self._step(service_id, band, max(miss - (counted or 0.0), 0.0), 1 - self.target, counted is None)

    def observe_waiting(self, service_id: int, waiting: list[tuple[int, float, float | None]]) -> None:
        """Waiting tickets (id, minutes waited so far, P90 shown): count the misses already known."""
        if not self.enabled:
            return
        for ticket_id, waited, p90 in waiting:
            counted = self._counted.get(ticket_id)
            if counted is not None and counted >= 1.0:
                continue
            shown = self._shown.get(ticket_id)
            miss = self._miss(service_id, shown, waited, p90)
            if miss > (counted or 0.0):
                self._counted[ticket_id] = miss
                self._step(service_id, shown.band if shown is not None else DEFAULT_BAND,
                           miss - (counted or 0.0), 0.0, counted is None)
