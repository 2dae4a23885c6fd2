"""Order routing: in which order a patient should visit the stations of several orders.

A doctor orders blood tests, an X-ray and an ultrasound; the patient can do them in any order the
catalogue allows. The order that brings the patient back to the doctor earliest is not simply "shortest
line first": a lab result takes a while after the sample (do the sample first and the analyser works
while the patient queues for imaging), a station whose tickets can be held at the same time as another
(the patient waits in two lines at once) overlaps its wait, and a line that is long now may be short by
the time the patient gets there. This module is pure: it takes the live estimates as numbers (from the
queue's forward model) and returns the plan; the caller issues the tickets.

Constraints from the catalogue:
- fasting samples first: a `fasting` station comes before every station that is not fasting;
- contrast imaging after bloods: a `contrast` station comes after every lab station (creatinine first);
- payment first: a `payment_first` station needs the cashier before it (the cashier is a stop of the
  route, with its own line, placed before the first such station).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# More stations than this are not enumerated (8! = 40,320 orders): the rest keep the written order.
MAX_ENUMERATED = 7
CASHIER = "__cashier__"


@dataclass(frozen=True)
class Station:
    """One station an order sends the patient to, as the planner sees it now."""

    service: str
    wait_minutes: float  # expected wait (P50) for a ticket taken now
    work_minutes: float  # expected time at the counter
    kind: str = "lab"  # lab, imaging, cashier...
    result_minutes: float = 0.0  # after the service, until the result is ready for the doctor
    fasting: bool = False
    contrast: bool = False
    payment_first: bool = False
    parallel: bool = False  # its ticket can be held while the patient is in another line
    # How the wait changes from now: (minutes from now, expected wait then); empty = the same all along.
    wait_profile: tuple[tuple[float, float], ...] = ()

    def wait_at(self, minutes_from_now: float) -> float:
        """The expected wait for a ticket taken `minutes_from_now` from now (linear between points)."""
        points = ((0.0, self.wait_minutes), *sorted(self.wait_profile))
        if minutes_from_now <= points[0][0]:
            return points[0][1]
        for (t0, w0), (t1, w1) in itertools.pairwise(points):
            if minutes_from_now <= t1:
                share = (minutes_from_now - t0) / (t1 - t0) if t1 > t0 else 1.0
                return w0 + share * (w1 - w0)
        return points[-1][1]


@dataclass(frozen=True)
class Step:
    service: str
    issue_at_minutes: float  # when its ticket is taken (0: at once, with the others)
    start_minutes: float  # expected start of the service
    end_minutes: float
    parallel: bool


@dataclass(frozen=True)
class Route:
    steps: tuple[Step, ...]
    expected_return_minutes: float  # the patient and every result back at the doctor
    walk_minutes: float = field(default=2.0, compare=False)

    @property
    def order(self) -> list[str]:
        return [step.service for step in self.steps]

    def as_dict(self) -> dict[str, object]:
        return {"order": self.order, "expected_return_minutes": round(self.expected_return_minutes, 1),
                "steps": [{"service": s.service, "issue_at_minutes": round(s.issue_at_minutes, 1),
                           "start_minutes": round(s.start_minutes, 1), "end_minutes": round(s.end_minutes, 1),
                           "parallel": s.parallel} for s in self.steps]}


class RoutingError(ValueError):
    """The stations cannot be ordered (contradictory constraints)."""


def allowed(order: Sequence[Station]) -> bool:
    """Whether an order respects the catalogue's constraints."""
    seen_non_fasting = False
    labs_left = sum(1 for s in order if s.kind == "lab")
    paid = False
    for station in order:
        if station.service == CASHIER:
            paid = True
            continue
        if station.fasting and seen_non_fasting:
            return False
        if not station.fasting:
            seen_non_fasting = True
        if station.contrast and labs_left > 0:
            return False
        if station.payment_first and not paid:
            return False
        if station.kind == "lab":
            labs_left -= 1
    return True


def expected_return(order: Sequence[Station], walk_minutes: float = 2.0) -> tuple[float, tuple[Step, ...]]:
    """Play an order forward: when the patient (and the last result) is back at the doctor.

    Parallel stations next to each other in the order form a group: their tickets are taken together
    when the group begins, and the patient goes to whichever line calls first.
    """
    now = 0.0
    ready = 0.0
    steps: list[Step] = []
    index = 0
    while index < len(order):
        group = [order[index]]
        if order[index].parallel:
            while index + len(group) < len(order) and order[index + len(group)].parallel:
                group.append(order[index + len(group)])
        issued = now + walk_minutes
        calls = sorted(((issued + s.wait_at(issued), s) for s in group), key=lambda pair: pair[0])
        free = issued
        for call, station in calls:
            start = max(call, free + (walk_minutes if free > issued else 0.0))
            end = start + station.work_minutes
            steps.append(Step(station.service, issued, start, end, len(group) > 1))
            ready = max(ready, end + station.result_minutes)
            free = end
        now = free
        index += len(group)
    return max(now + walk_minutes, ready), tuple(steps)


def plan(stations: Sequence[Station], *, cashier: Station | None = None, walk_minutes: float = 2.0,
         enabled: bool = True) -> Route:
    """The allowed order with the earliest expected return; the written order when routing is off.

    `cashier` is the cashier's line, needed when a station is `payment_first`.
    """
    stops = list(stations)
    if any(s.payment_first for s in stops):
        if cashier is None:
            raise RoutingError("a payment-first station needs the cashier's line")
        stops = [_cashier_stop(cashier), *stops]
    if not enabled:
        order = _written_allowed(stops)
        total, steps = expected_return(order, walk_minutes)
        return Route(_named(steps), total, walk_minutes)
    best: tuple[float, int, tuple[Step, ...]] | None = None
    if len(stops) > MAX_ENUMERATED:
        candidates: Any = [_written_allowed(stops)]
    else:
        candidates = itertools.permutations(stops)
    for rank, order in enumerate(candidates):
        if not allowed(order):
            continue
        total, steps = expected_return(order, walk_minutes)
        # Ties keep the earlier (written) order: a route should not change for nothing.
        if best is None or total < best[0] - 1e-9:
            best = (total, rank, steps)
    if best is None:
        raise RoutingError("no order of these stations meets the catalogue's constraints")
    return Route(_named(best[2]), best[0], walk_minutes)


def replan(current: Route, remaining: Sequence[Station], *, cashier: Station | None = None,
           threshold_minutes: float = 10.0) -> Route | None:
    """A better route for the stations still ahead, if the lines changed enough; None to keep the plan.

    `remaining` are the stations not yet done, with fresh estimates (payment-first ones still unpaid
    need `cashier`). Re-planning only pays when the gain is large: a patient sent back and forth for
    two minutes loses trust in the slip.
    """
    if not remaining:
        return None
    by_code = {s.service: s for s in remaining}
    position = {code: index for index, code in enumerate(current.order)}
    kept = sorted(remaining, key=lambda s: position.get(s.service, len(position)))
    if any(s.payment_first for s in kept):
        if cashier is None:
            raise RoutingError("a payment-first station needs the cashier's line")
        kept = [_cashier_stop(cashier), *kept]
    keep_total = expected_return(kept, current.walk_minutes)[0] if allowed(kept) else float("inf")
    fresh = plan(list(by_code.values()), cashier=cashier, walk_minutes=current.walk_minutes)
    if keep_total - fresh.expected_return_minutes > threshold_minutes:
        return fresh
    return None


def _written_allowed(stops: list[Station]) -> list[Station]:
    """The written order, moved only as far as the constraints demand (a stable sort by constraint rank)."""
    def rank(station: Station) -> int:
        if station.service == CASHIER:
            return 0  # pay first: then every payment-first station is open to the patient
        if station.fasting:
            return 1
        return 3 if station.contrast else 2
    order = sorted(stops, key=rank)
    if not allowed(order):
        raise RoutingError("no order of these stations meets the catalogue's constraints")
    return order


def _named(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    return tuple(Step("cashier" if s.service == CASHIER else s.service, s.issue_at_minutes, s.start_minutes,
                      s.end_minutes, s.parallel) for s in steps)


def _cashier_stop(cashier: Station) -> Station:
    return Station(CASHIER, cashier.wait_minutes, cashier.work_minutes, kind="cashier",
                   wait_profile=cashier.wait_profile, parallel=cashier.parallel)
