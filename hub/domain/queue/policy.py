"""Who is called next: pure functions, no database.

Each waiting ticket gets a fixed queue key: its arrival time minus its class's head start (for a
booked patient, the later of arrival and slot time, minus the head start). Within a service the
lowest key goes first. A fixed head start means a priority ticket passes only the ordinary tickets
that arrived less than that long before it: an ordinary ticket can never be passed forever. On top
of that, a counter that has made `max_consecutive_priority` priority calls in a row serves the
oldest ordinary ticket that has waited `starvation_minutes`, so a burst of priority arrivals cannot
freeze the ordinary line either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NORMAL = "normal"


@dataclass(frozen=True)
class Candidate:
    """A waiting ticket as the policy sees it."""

    ticket_id: int
    service: str
    priority: str
    queue_key_ms: int
    issued_ms: int


@dataclass(frozen=True)
class ServiceLine:
    """What a counter sees of one of its services: the head of the line and the oldest ordinary."""

    service: str
    head: Candidate | None
    oldest_normal: Candidate | None = None


@dataclass(frozen=True)
class PolicyRules:
    head_start_minutes: dict[str, float]
    overrides_service_order: frozenset[str]
    max_consecutive_priority: int
    starvation_minutes: float

    def is_priority(self, priority: str) -> bool:
        return self.head_start_minutes.get(priority, 0) > 0


def queue_key_ms(arrival_ms: int, head_start_minutes: float, slot_ms: int | None = None) -> int:
    """The fixed calling-order key of a ticket (lower is called first)."""
    base = arrival_ms if slot_ms is None else max(arrival_ms, slot_ms)
    return base - round(head_start_minutes * 60_000)


def choose_next(lines: Sequence[ServiceLine], priority_streak: int, now_ms: int,
                rules: PolicyRules) -> Candidate | None:
    """Pick the ticket a counter calls, given its services in their configured order."""
    heads = [line.head for line in lines if line.head is not None]
    if not heads:
        return None
    # 1. A class that overrides the service order (emergency) goes first, whichever service it is in.
    urgent = [c for c in heads if c.priority in rules.overrides_service_order]
    if urgent:
        return min(urgent, key=lambda c: (c.queue_key_ms, c.ticket_id))
    # 2. Anti-starvation: after a streak of priority calls, an ordinary ticket that waited long enough.
    if priority_streak >= rules.max_consecutive_priority:
        threshold = now_ms - int(rules.starvation_minutes * 60_000)
        for line in lines:
            old = line.oldest_normal
            if old is not None and old.issued_ms <= threshold:
                return old
    # 3. Otherwise the first service in the counter's order that has someone waiting, by queue key.
    return heads[0]


def next_streak(previous: int, called: Candidate, rules: PolicyRules) -> int:
    return previous + 1 if rules.is_priority(called.priority) else 0


def late_return_key(waiting_keys: Sequence[int], behind: int, now_ms: int) -> int:
    """Key that puts a returning no-show behind `behind` waiting tickets (keys sorted ascending)."""
    if not waiting_keys:
        return now_ms
    if behind <= 0:
        return waiting_keys[0] - 1
    if len(waiting_keys) <= behind:
        return waiting_keys[-1] + 1
    before, after = waiting_keys[behind - 1], waiting_keys[behind]
    # Strictly between the K-th and the (K+1)-th when there is room; otherwise tie with the (K+1)-th,
    # which the older id of the returning ticket usually wins.
    return (before + after) // 2 if after - before >= 2 else after
