"""Wait estimates: P50 and P90 minutes until a waiting ticket is called.

The usual estimator, (people ahead + 1) x mean service time / open counters, misses what makes
outpatient waits long or short: the lunch break that starts in twenty minutes, the counter that is
paused, the patient already half-way through a consultation, the elderly and returning patients who
will arrive later and still pass you, and the share of called numbers that never show up. This model
plays the counters forward: each counter frees up after what its current patient still needs (a
lognormal residual), works only inside its opening hours, and takes the tickets ahead one by one;
the tickets that will jump ahead are added from the arrival rate of each class with a longer head
start. The P90 is the wait at a pessimistic position in the line (the spread of service times,
no-shows and those arrivals), played through the same counters and hours, so it knows about lunch.

Numbers issued today are served today: the last shift of a counter runs over until its line is
empty, as outpatient departments do, so a ticket taken late still gets an estimate.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import pairwise

from hub.domain.queue.service_times import ServiceTime

Z90 = 1.2816
MINUTE_MS = 60_000
# A called patient needs a little while to walk to the room before service starts (until learned).
WALK_MINUTES = 1.0
OPEN_ENDED = 2**62
# A counter still closed this many minutes into its shift is expected to open (staff come a little late).
LATE_OPENING_MINUTES = 10
# A counter serving other services first still gives ours at least this share of its time.
MAX_EARLIER_SHARE = 0.9
# How long a forecast's played-forward calls may be reused by the next one (see `share_schedule`).
SCHEDULE_REUSE_MS = 2_000
# What no model sees (a doctor called away, a patient slower to come), as a share of the tickets ahead.
MODEL_ERROR = 0.18
# A free counter calls a new ticket with nobody ahead within about this long.
IDLE_CALL_MINUTES = 1.5
# The kinds of estimate the P90 is calibrated apart (calibration.py): nobody ahead and a counter free;
# a wait that runs across a closed period (before opening, over lunch: when staff come back decides it);
# and a wait in a working line.
FREE, BREAK, LINE = "free", "break", "line"
# Spread of when the staff of a closed counter actually start calling (minutes).
OPENING_SD_MINUTES = LATE_OPENING_MINUTES / 2
BANDS = (FREE, BREAK, LINE)


@dataclass(frozen=True)
class Estimate:
    p50_minutes: float
    p90_minutes: float
    band: str = LINE  # which calibration scale made the P90 (BANDS)

    def as_dict(self) -> dict[str, int]:
        p50 = round(self.p50_minutes)
        return {"p50_minutes": p50, "p90_minutes": max(p50, math.ceil(self.p90_minutes))}


@dataclass(slots=True)
class CounterLoad:
    """One counter serving the service, as the forecast needs it."""

    code: str
    state: str  # open, paused, closed
    state_since_ms: int | None
    current_status: str | None  # called, serving, on_hold or None
    current_since_ms: int | None
    hours_ms: tuple[tuple[int, int], ...]  # today's opening intervals, absolute ms, in order
    service_time: ServiceTime
    # Minutes of work queued in services this counter takes before ours.
    earlier_work_minutes: float = 0.0
    # Share of its time that recently went to those services (it takes ours only when they are empty).
    earlier_share: float = 0.0


@dataclass
class _Lane:
    """A counter's working time from now on: the intervals it works in (the last has no end)."""

    job_ms: int
    starts: list[int]
    ends: list[int]
    segment: int = 0
    # Until this instant a free counter calls at once: inside the current interval, past its start.
    boundary: int = -1

    def place(self, free_ms: int) -> int:
        """When a counter that is free at `free_ms` can call: inside its working time."""
        last = len(self.starts) - 1
        while self.segment < last and free_ms >= self.ends[self.segment]:
            self.segment += 1
        start = max(free_ms, self.starts[self.segment])
        self.boundary = self.ends[self.segment] if self.segment < last else OPEN_ENDED
        if start > free_ms:
            self.boundary = -1  # still before the interval starts: place the next call exactly too
        return start


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
    walk_minutes: float = WALK_MINUTES
    # Learned scales by band (calibration.py); a band missing here uses `p90_scale`.
    band_scales: dict[str, float] = field(default_factory=dict)
    _starts: list[int] = field(default_factory=list)
    _heap: list[tuple[int, int]] | None = None
    _lanes: list[_Lane] = field(default_factory=list)

    # ------------------------------------------------------------------ the counters, played forward
    def _schedule_inputs(self) -> tuple:
        return (self.counters, self.no_show_rate, self.no_show_minutes, self.expected_break_minutes,
                self.walk_minutes)

    def share_schedule(self, earlier: ServiceForecast | None, within_ms: int = SCHEDULE_REUSE_MS) -> bool:
        """Take over `earlier`'s played-forward calls when nothing they depend on has changed.

        Playing the counters forward to the end of a long line costs O(ahead) per estimate: at 20,000
        waiting it was most of an issue's time. The calls ahead do not depend on the line itself, only
        on the counters and learned times: while those are unchanged (and `earlier` is at most
        `within_ms` old) the same predicted call instants hold, so each issue extends the shared list
        by its own few positions instead of replaying the whole line. Waits are still measured from
        this forecast's `now_ms`.
        """
        if earlier is None or not 0 <= self.now_ms - earlier.now_ms < within_ms \
                or earlier._schedule_inputs() != self._schedule_inputs():
            return False
        if earlier._heap is None:
            earlier._start_time_ms(0)
        self._starts, self._heap, self._lanes = earlier._starts, earlier._heap, earlier._lanes
        return True

    def _job_minutes(self, counter: CounterLoad) -> float:
        """Counter time one ticket takes: walk and service, or the recalls of a no-show."""
        cycle = counter.service_time.mean + self.walk_minutes
        return (1 - self.no_show_rate) * cycle + self.no_show_rate * self.no_show_minutes

    def _residual_minutes(self, counter: CounterLoad) -> float:
        """What the ticket in hand still needs before the counter can call again."""
        st = counter.service_time
        elapsed = (self.now_ms - (counter.current_since_ms or self.now_ms)) / MINUTE_MS
        if counter.current_status == "serving":
            return st.residual(elapsed)
        if counter.current_status == "called":
            return max(self.walk_minutes - elapsed, 0.25) + st.mean
        if counter.current_status == "on_hold":
            return st.mean / 2
        return 0.0

    def _lane(self, counter: CounterLoad, anyone_working: bool) -> tuple[int, _Lane] | None:
        """The counter's first free instant and working time, or None if it will not serve today."""
        now = self.now_ms
        ours = 1.0 - min(max(counter.earlier_share, 0.0), MAX_EARLIER_SHARE)
        job_ms = max(int(self._job_minutes(counter) / ours * MINUTE_MS), 1)
        hours = [(start, end) for start, end in counter.hours_ms if end > now]
        inside = bool(hours) and hours[0][0] <= now
        if counter.state == "closed":
            if inside and not anyone_working:
                # Opening hours and nobody at work yet (the morning before staff press "next"): soon.
                hours[0] = (now, hours[0][1])
                first = now + int(self.expected_break_minutes * MINUTE_MS)
            elif inside and now - hours[0][0] < LATE_OPENING_MINUTES * MINUTE_MS:
                # The shift has just begun: staff are a few minutes late, not absent.
                first = max(now, hours[0][0] + LATE_OPENING_MINUTES * MINUTE_MS // 2)
            else:
                # While colleagues work, a closed counter stays closed until its next shift.
                hours = [(start, end) for start, end in hours if start > now]
                if not hours:
                    return None
                first = hours[0][0]
        else:
            first = now
            if counter.state == "paused":
                paused_for = (now - (counter.state_since_ms or now)) / MINUTE_MS
                first += int(max(self.expected_break_minutes - paused_for, 1.0) * MINUTE_MS)
            first += int((self._residual_minutes(counter) + counter.earlier_work_minutes) * MINUTE_MS)
            if not hours:
                hours = [(now, OPEN_ENDED)]  # after its last shift: overtime until the line is empty
            elif hours[0][0] > now and len(hours) == len(counter.hours_ms) and counter.state == "open":
                hours[0] = (now, hours[0][1])  # open before the day's first shift: staff came early
        return first, _Lane(job_ms, [start for start, _ in hours], [end for _, end in hours])

    def _start_time_ms(self, index: int) -> int | None:
        """When the index-th ticket from now (0 = the next one) will be called, or None if never."""
        if self._heap is None:
            self._heap = []
            anyone_working = any(c.state != "closed" for c in self.counters)
            for counter in self.counters:
                lane = self._lane(counter, anyone_working)
                if lane is not None:
                    self._heap.append((lane[0], len(self._lanes)))
                    self._lanes.append(lane[1])
            if not self._heap and self.counters:
                # Everyone has gone home, yet a patient holds a number (sent over from another service
                # after hours): one of the staff comes back for them.
                self._heap.append((self.now_ms + int(self.expected_break_minutes * MINUTE_MS), 0))
                self._lanes.append(_Lane(max(int(self._job_minutes(self.counters[0]) * MINUTE_MS), 1),
                                         [self.now_ms], [OPEN_ENDED]))
            heapq.heapify(self._heap)
        if not self._heap:
            return None
        starts, heap, lanes, replace = self._starts, self._heap, self._lanes, heapq.heapreplace
        for _ in range(index + 1 - len(starts)):  # the hot loop of a long morning line: kept lean
            free_ms, i = heap[0]
            lane = lanes[i]
            start = lane.place(free_ms) if free_ms >= lane.boundary else free_ms
            starts.append(start)
            replace(heap, (start + lane.job_ms, i))
        return starts[index]

    def _wait_at(self, position: float) -> float | None:
        low = math.floor(position)
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
        spread = Z90 * self._position_sd(ahead, jumpers)
        if ahead == 0 and any(c.state == "open" and c.current_status is None for c in self.counters):
            # Nobody ahead and a counter free now: it calls within a minute or so (a keypad beep), so a
            # whole service time of margin would promise a wait that never comes (a quiet day's P90).
            return Estimate(wait, wait + IDLE_CALL_MINUTES * self.band_scales.get(FREE, self.p90_scale), FREE)
        unscaled = self._wait_at(ahead + jumpers + spread)
        band = BREAK if unscaled is not None and self._crosses_closed(self.now_ms + unscaled * MINUTE_MS) else LINE
        scale = self.band_scales.get(band, self.p90_scale)
        # A whole ticket: between the last call before lunch and the first after it nobody is called.
        position = ahead + jumpers + spread * scale
        slow = self._wait_at(math.ceil(position))
        between = self._wait_at(position)
        cycle = self.service_time.mean + self.walk_minutes
        if slow is not None and between is not None and slow - between < 2 * cycle:
            # No break in between: the fractional position is the honest P90 (a whole ticket more is too
            # wide when few wait, which is what an online calibration cannot narrow).
            slow = between
        # At least one job's worth across the working counters: even an idle counter takes a moment to call.
        working = sum(1 for c in self.counters if c.state != "closed") or 1
        # (Half a job: the residual of the service in hand is already in `wait`.)
        floor = wait + Z90 * (self.service_time.mean + self.walk_minutes) / working * scale / 2
        p90 = max(slow if slow is not None else wait, floor)
        if band == BREAK:
            # When staff come back is uncertain too (a few minutes late, as `LATE_OPENING_MINUTES`), and it
            # delays everyone in the line alike: a spread in time, not in positions.
            p90 += Z90 * OPENING_SD_MINUTES * scale
        return Estimate(wait, p90, band)

    def _crosses_closed(self, until_ms: float) -> bool:
        """Whether a counter's closed period (before its first shift, between shifts) lies before `until_ms`."""
        now = self.now_ms
        for counter in self.counters:
            hours = counter.hours_ms
            if not hours:
                continue
            if now < hours[0][0]:
                return True
            for (_, end), (start, _) in pairwise(hours):
                if now < start and until_ms > end:
                    return True
        return False

    def _position_sd(self, ahead: int, jumpers: float) -> float:
        """Spread, in tickets, of how many calls come before ours.

        The P90 is the wait at a pessimistic position played through the same counters and hours, so
        a P90 that reaches the lunch break lands after it rather than a few minutes later.
        """
        st = self.service_time
        cycle = st.mean + self.walk_minutes
        job_var = st.sd ** 2 + self.no_show_rate * cycle ** 2  # lognormal times, and the no-shows
        jobs = ahead + 1
        return math.sqrt(jobs * job_var / cycle ** 2 + jumpers + (MODEL_ERROR * jobs) ** 2 + 1)


@lru_cache(maxsize=4096)
def _day_intervals_ms(hours: tuple[tuple, ...], day_start_local: datetime) -> tuple[tuple[int, int], ...]:
    out = []
    for start, end in hours:
        begin = day_start_local + timedelta(hours=start.hour, minutes=start.minute)
        finish = day_start_local + timedelta(hours=end.hour, minutes=end.minute)
        out.append((int(begin.timestamp() * 1000), int(finish.timestamp() * 1000)))
    return tuple(out)


def day_intervals_ms(hours: list[tuple], day_start_local: datetime) -> tuple[tuple[int, int], ...]:
    """Turn (time, time) pairs of a local day into absolute epoch-ms intervals (memoised: few distinct)."""
    return _day_intervals_ms(tuple(hours), day_start_local)
