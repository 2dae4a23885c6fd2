"""Online calibration of the P90: keep 90 % of real waits under the P90 shown, on any kind of day.

The forward model's P90 is a pessimistic position in the line; how pessimistic it must be depends on
the day (doctors slower than configured, a coach of patients, many pauses widen it; a quiet day with
fast doctors narrows it). Rather than tuning per scenario, each service keeps scales on the P90's
spread, learned from what the hub observes: every time a ticket is called for the first time, its
wait is compared with the P90 it was shown at issue. A miss raises the scale a little, a hit lowers it
a little less, so it settles where misses are 10 % (a Robbins-Monro quantile tracker):

    scale <- scale x exp(rate x (miss - (1 - target)))

A service's scale is the product of its own (learned from every wait) and a factor per *band* of the
estimate (`estimates.BANDS`, learned from the waits of that band): a wait that runs across a closed
period (before the day opens, over lunch) misses for other reasons than a wait in a working line (when
staff come back, not how fast they serve), and a ticket with nobody ahead and a free counter hardly
misses at all. With one scale the many easy hits narrowed the P90 of the waits across lunch, and the
misses there then widened the afternoon's: right on average, wrong on each. The service's own scale
still carries what every band shares, and it learns fast (the line's answers come within minutes),
while an answer about a wait across lunch comes hours later.

Tickets still waiting past their P90 are misses already known: they are counted when the forecast
sees them, so a surge widens the P90 at once instead of an hour later when those patients are called.
The scales, and the band each waiting ticket was estimated in, live in the process (a restarted hub
starts again from `estimates.p90_scale`, and counts a ticket it did not issue in the line band).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_SCALE = 0.2
MAX_SCALE = 6.0
STEADY_AFTER = 100  # observations after which the step has halved
MIN_RATE = 0.02
DEFAULT_BAND = "line"
BANDS = ("free", "break", "line")  # as estimates.BANDS (the domain's estimate kinds)


@dataclass
class P90Calibrator:
    """Per service and band: the learned scale, and the waiting tickets already counted as misses."""

    start: float = 1.0
    target: float = 0.9
    rate: float = 0.25
    enabled: bool = True
    scales: dict[tuple[int, str], float] = field(default_factory=dict)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    _counted: set[int] = field(default_factory=set)  # tickets already counted as a miss while waiting
    _bands: dict[int, str] = field(default_factory=dict)  # waiting ticket -> band of its issue estimate

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

    def issued(self, ticket_id: int, band: str) -> None:
        """Remember the band of a new ticket's estimate: its call is judged against that band's scale."""
        if self.enabled and band != DEFAULT_BAND:
            self._bands[ticket_id] = band

    def _step(self, service_id: int, band: str, miss: bool) -> None:
        for key, start in (((service_id, ""), self.start), ((service_id, band), 1.0)):
            current = self.scales.get(key, start)
            # Large steps while there are few observations (a quiet day must narrow within the day), small
            # ones once there are many: the answer to a step comes only when later tickets are called, and
            # big steps on a busy line overshoot before that feedback arrives.
            seen = self.counts.get(key, 0) + 1
            self.counts[key] = seen
            rate = max(self.rate * STEADY_AFTER / (STEADY_AFTER + seen), MIN_RATE)
            moved = current * math.exp(rate * ((1.0 if miss else 0.0) - (1 - self.target)))
            self.scales[key] = min(max(moved, MIN_SCALE), MAX_SCALE)

    def observe_call(self, service_id: int, ticket_id: int, waited_minutes: float, p90_minutes: float | None) -> None:
        """A ticket called for the first time: its wait against the P90 it was shown."""
        if not self.enabled:
            return
        band = self._bands.pop(ticket_id, DEFAULT_BAND)
        if p90_minutes is None:
            return
        if ticket_id in self._counted:
            self._counted.discard(ticket_id)  # already counted while it waited
            return
        self._step(service_id, band, waited_minutes > p90_minutes)

    def observe_overdue(self, service_id: int, ticket_ids: list[int]) -> None:
        """Waiting tickets whose wait has passed the P90 they were shown: misses known before the call."""
        if not self.enabled:
            return
        for ticket_id in ticket_ids:
            if ticket_id not in self._counted:
                self._counted.add(ticket_id)
                self._step(service_id, self._bands.get(ticket_id, DEFAULT_BAND), True)
