"""Online calibration of the P90: keep 90 % of real waits under the P90 shown, on any kind of day.

The forward model's P90 is a pessimistic position in the line; how pessimistic it must be depends on
the day (doctors slower than configured, a coach of patients, many pauses widen it; a quiet day with
fast doctors narrows it). Rather than tuning per scenario, each service keeps a scale on the P90's
spread, learned from what the hub observes: every time a ticket is called for the first time, its
wait is compared with the P90 it was shown at issue. A miss raises the scale a little, a hit lowers it
a little less, so it settles where misses are 10 % (a Robbins-Monro quantile tracker):

    scale <- scale x exp(rate x (miss - (1 - target)))

Tickets still waiting past their P90 are misses already known: they are counted when the forecast
sees them, so a surge widens the P90 at once instead of an hour later when those patients are called.
The scale lives in the process (a restarted hub starts again from `estimates.p90_scale`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MIN_SCALE = 0.2
MAX_SCALE = 6.0
STEADY_AFTER = 100  # observations after which the step has halved
MIN_RATE = 0.02


@dataclass
class P90Calibrator:
    """Per service: the learned scale, and the waiting tickets already counted as misses."""

    start: float = 1.0
    target: float = 0.9
    rate: float = 0.25
    enabled: bool = True
    scales: dict[int, float] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    _counted: set[int] = field(default_factory=set)  # tickets already counted as a miss while waiting

    def scale(self, service_id: int) -> float:
        return self.scales.get(service_id, self.start) if self.enabled else self.start

    def _step(self, service_id: int, miss: bool) -> None:
        current = self.scales.get(service_id, self.start)
        # Large steps while a service has few observations (a quiet day must narrow within the day), small
        # ones once it has many: the answer to a step comes only when later tickets are called, and big
        # steps on a busy line overshoot before that feedback arrives.
        seen = self.counts.get(service_id, 0) + 1
        self.counts[service_id] = seen
        rate = max(self.rate * STEADY_AFTER / (STEADY_AFTER + seen), MIN_RATE)
        moved = current * math.exp(rate * ((1.0 if miss else 0.0) - (1 - self.target)))
        self.scales[service_id] = min(max(moved, MIN_SCALE), MAX_SCALE)

    def observe_call(self, service_id: int, ticket_id: int, waited_minutes: float, p90_minutes: float | None) -> None:
        """A ticket called for the first time: its wait against the P90 it was shown."""
        if not self.enabled or p90_minutes is None:
            return
        if ticket_id in self._counted:
            self._counted.discard(ticket_id)  # already counted while it waited
            return
        self._step(service_id, waited_minutes > p90_minutes)

    def observe_overdue(self, service_id: int, ticket_ids: list[int]) -> None:
        """Waiting tickets whose wait has passed the P90 they were shown: misses known before the call."""
        if not self.enabled:
            return
        for ticket_id in ticket_ids:
            if ticket_id not in self._counted:
                self._counted.add(ticket_id)
                self._step(service_id, True)
