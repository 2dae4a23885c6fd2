"""Wait estimates: P50 and P90 minutes until a waiting ticket is called.

The usual estimator, (people ahead + 1) x mean service time / open counters, misses what makes
outpatient waits long or short: the lunch break that starts in twenty minutes, the counter that is
paused, the patient already half-way through a consultation, the elderly and returning patients who
will arrive later and still pass you, and the share of called numbers that never show up. This model
plays the counters forward: each counter frees up after what its current patient still needs (a
lognormal residual), works only inside its opening hours, and takes the tickets ahead one by one;
the tickets that will jump ahead are added from the arrival rate of each class with a longer head
start. The P90 adds the spread of the service times and of those arrivals.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.domain.service_times import ServiceTime

Z90 = 1.2816
MINUTE_MS = 60_000
# A called patient needs a little while to walk to the room before service starts.
WALK_MINUTES = 1.0


@dataclass(frozen=True)
class Estimate:
    p50_minutes: float
    p90_minutes: float

    def as_dict(self) -> dict[str, int]:
        p50 = int(round(self.p50_minutes))
        return {"p50_minutes": p50, "p90_minutes": max(p50, int(math.ceil(self.p90_minutes)))}


@dataclass(frozen=True)
class CounterLoad:
    """One counter serving the service, as the forecast needs it."""

    code: str
    state: str  # open, paused, closed
    state_since_ms: int | None
    current_status: str | None  # called, serving, on_hold or None
    current_since_ms: int | None
    hours_ms: tuple[tuple[int, int], ...]  # today's opening intervals, absolute ms
    service_time: ServiceTime
    # Minutes of work queued in services this counter takes before ours.
    earlier_work_minutes: float = 0.0


@dataclass
class ServiceForecast:
    """Everything needed to estimate any position in one service's line at one instant."""

    now_ms: int
    service_time: ServiceTime
    counters: list[CounterLoad]
    arrivals_per_minute: dict[str, float]  # by priority class
    head_starts: dict[str, float]
    no_show_rate: float
    no_show_minutes: float
    expected_break_minutes: float
    p90_scale: float
    _starts: list[int] = field(default_factory=list)
    _heap: list[tuple[int, int]] | None = None

    # ------------------------------------------------------------------ the counters, played forward
    def _job_minutes(self, counter: CounterLoad) -> float:
        st = counter.service_time
        return (1 - self.no_show_rate) * (st.mean + WALK_MINUTES) + self.no_show_rate * self.no_show_minutes

    def _first_free_ms(self, counter: CounterLoad) -> int | None:
        now = self.now_ms
        if counter.state == "closed":
            # While colleagues work, a closed counter stays closed until its next shift; when all are
            # closed in opening hours (the morning before staff press "next"), one opens shortly.
            if not self._anyone_working() and _inside(counter.hours_ms, now):
                return now + int(self.expected_break_minutes * MINUTE_MS)
            upcoming = [start for start, _ in counter.hours_ms if start > now]
            return min(upcoming) if upcoming else None
        start = now
        if counter.state == "paused":
            paused_for = (now - (counter.state_since_ms or now)) / MINUTE_MS
            start += int(max(self.expected_break_minutes - paused_for, 1.0) * MINUTE_MS)
        st = counter.service_time
        residual = 0.0
        if counter.current_status == "serving":
            elapsed = (now - (counter.current_since_ms or now)) / MINUTE_MS
            residual = st.residual(elapsed)
        elif counter.current_status == "called":
            residual = WALK_MINUTES + st.mean
        elif counter.current_status == "on_hold":
            residual = st.mean / 2
        return start + int((residual + counter.earlier_work_minutes) * MINUTE_MS)

    def _anyone_working(self) -> bool:
        return any(c.state != "closed" for c in self.counters)

    def _within_hours(self, counter: CounterLoad, free_ms: int) -> int | None:
        """Move a free time into the counter's opening hours; None when it has none left today."""
        if not counter.hours_ms or (counter.state != "closed" and not _inside(counter.hours_ms, self.now_ms)):
            # Open outside its timetable: staff decided to work, so we do not stop them at a boundary.
            return free_ms
        for start, end in counter.hours_ms:
            if free_ms < end:
                return max(free_ms, start)
        return None

    def _start_time_ms(self, index: int) -> int | None:
        """When the index-th ticket from now (0 = the next one) will be called, or None if never."""
        if self._heap is None:
            self._heap = []
            for i, counter in enumerate(self.counters):
                first = self._first_free_ms(counter)
                if first is not None:
                    self._heap.append((first, i))
            heapq.heapify(self._heap)
        while len(self._starts) <= index:
            placed = False
            while self._heap and not placed:
                free_ms, i = heapq.heappop(self._heap)
                counter = self.counters[i]
                start = self._within_hours(counter, free_ms)
                if start is None:
                    continue
                self._starts.append(start)
                heapq.heappush(self._heap, (start + int(self._job_minutes(counter) * MINUTE_MS), i))
                placed = True
            if not placed:
                return None
        return self._starts[index]

    def _wait_at(self, position: float) -> float | None:
        low = int(math.floor(position))
        first = self._start_time_ms(low)
        if first is None:
            return None
        fraction = position - low
        if fraction > 0:
            second = self._start_time_ms(low + 1)
            if second is None:
                return None
            first = first + fraction * (second - first)
        return max(first - self.now_ms, 0) / MINUTE_MS

    # ------------------------------------------------------------------ one position
    def _jumpers(self, wait_minutes: float, priority: str) -> float:
        mine = self.head_starts.get(priority, 0.0)
        expected = 0.0
        for klass, rate in self.arrivals_per_minute.items():
            lead = self.head_starts.get(klass, 0.0) - mine
            if lead > 0 and rate > 0:
                expected += rate * min(wait_minutes, lead)
        return expected

    def for_position(self, ahead: int, priority: str = "normal") -> Estimate | None:
        """Estimate for a ticket with `ahead` tickets before it now; None if no counter will serve it."""
        wait = self._wait_at(ahead)
        if wait is None:
            return None
        jumpers = 0.0
        for _ in range(3):  # the wait decides how many will jump ahead, which lengthens the wait
            jumpers = self._jumpers(wait, priority)
            longer = self._wait_at(ahead + jumpers)
            if longer is None:
                return None
            if abs(longer - wait) < 0.25:
                wait = longer
                break
            wait = longer
        return Estimate(wait, wait + self._spread(ahead, jumpers, wait))

    def _spread(self, ahead: int, jumpers: float, wait: float) -> float:
        working = [c for c in self.counters if c.state != "closed"] or self.counters
        servers = max(len(working), 1)
        st = self.service_time
        job_var = st.sd ** 2 + self.no_show_rate * (st.mean ** 2)
        variance = (ahead + 1) * job_var / servers ** 2 + jumpers * (st.mean / servers) ** 2
        # A floor for what no model sees: a doctor called away, a patient who takes longer to come.
        variance += (0.15 * wait) ** 2 + (st.mean / servers) ** 2
        return Z90 * math.sqrt(variance) * self.p90_scale


def _inside(intervals: tuple[tuple[int, int], ...], instant: int) -> bool:
    return any(start <= instant < end for start, end in intervals)


def day_intervals_ms(hours: list[tuple], day_start_local: datetime) -> tuple[tuple[int, int], ...]:
    """Turn (time, time) pairs of a local day into absolute epoch-ms intervals."""
    out = []
    for start, end in hours:
        begin = day_start_local + timedelta(hours=start.hour, minutes=start.minute)
        finish = day_start_local + timedelta(hours=end.hour, minutes=end.minute)
        out.append((int(begin.timestamp() * 1000), int(finish.timestamp() * 1000)))
    return tuple(out)
