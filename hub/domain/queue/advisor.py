"""Staffing advisor: predicted waits for the next two hours and advice with its reason.

From the estimator's forward model: a ticket taken at `now + t` finds the line of now, plus the
patients who arrive meanwhile (at the recent arrival rate), minus those the counters will have called.
Its wait is when the counters reach that position, less t. From those predictions:

- "open one more counter now": the P90 of a new ticket reaches the service's threshold within two hours;
- "counter C is open but has called no one for N minutes": an open counter that is idle (or stuck)
  while its line has people, or for a long time;
- "room R can take service S from T": when S needs a counter, an open room of the same kind whose own
  line will be empty at T (configured to take S, or of the same kind, so staff can switch it).

Pure: the service layer gathers the forecasts; the ops page shows the result and Socket.IO carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.domain.queue.estimates import Estimate

HORIZON_MINUTES = 120
STEP_MINUTES = 15


@dataclass(frozen=True)
class Thresholds:
    p90_minutes: float = 45.0  # a new ticket's P90 at or above this calls for another counter
    idle_minutes: float = 10.0  # an open counter that has called no one for this long is flagged
    free_minutes: float = 5.0  # a room whose line's P90 is under this can take another service


@dataclass(frozen=True)
class CounterState:
    code: str
    name: str
    services: tuple[str, ...]
    state: str  # open, paused, closed
    busy: bool  # a ticket in hand (called or serving)
    last_call_minutes_ago: float | None  # None: no call today


@dataclass(frozen=True)
class ServiceOutlook:
    """One service: who waits, and the P50/P90 of a ticket taken at each step of the next two hours."""

    code: str
    name: str
    kind: str
    waiting: int
    arrivals_per_minute: float
    # (minutes from now, estimate for a ticket taken then); None where no counter will serve it
    predictions: tuple[tuple[int, Estimate | None], ...]
    open_counters: int = 1  # open or paused now; with none, the wait is the closed hours, not staffing
    # Minutes until the service's counters all reach the end of their current hours (lunch, evening);
    # None: not known. Tickets taken after that wait for the reopening, which no counter opened now helps.
    open_for_minutes: float | None = None

    def as_dict(self, now: datetime) -> dict[str, object]:
        return {"service": self.code, "name": self.name, "waiting": self.waiting,
                "arrivals_per_hour": round(self.arrivals_per_minute * 60, 1),
                "predictions": [{"at": (now + timedelta(minutes=m)).isoformat(), "in_minutes": m,
                                 **(e.as_dict() if e else {"p50_minutes": None, "p90_minutes": None})}
                                for m, e in self.predictions]}


@dataclass(frozen=True)
class Advice:
    kind: str  # open_counter, idle_counter, room_can_take
    service: str | None
    counter: str | None
    at: datetime  # when the reason holds (the P90 reached, the idle time counted, the room free)
    message: str  # Vietnamese first
    message_en: str
    key: str = field(default="")  # stable identity: the same advice is not announced twice

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "service": self.service, "counter": self.counter, "at": self.at.isoformat(),
                "message": self.message, "message_en": self.message_en, "key": self.key}


def predict(code: str, name: str, kind: str, waiting: int, arrivals_per_minute: float,
            for_position: Callable[[float], Estimate | None], horizon: int = HORIZON_MINUTES,
            step: int = STEP_MINUTES, open_counters: int = 1,
            open_for_minutes: float | None = None) -> ServiceOutlook:
    """P50/P90 of a ticket taken at now, now + step, ... now + horizon, from the forward model.

    `for_position(k)` is the estimate (minutes from now) for the ticket with k tickets ahead now; a
    ticket taken in t minutes has `waiting + rate x t` ahead of it in the same forward play, and waits
    that, less t (never below zero).
    """
    out = []
    for minutes in range(0, horizon + 1, step):
        estimate = for_position(waiting + arrivals_per_minute * minutes)
        if estimate is not None:
            estimate = Estimate(max(estimate.p50_minutes - minutes, 0.0), max(estimate.p90_minutes - minutes, 0.0))
        out.append((minutes, estimate))
    return ServiceOutlook(code, name, kind, waiting, arrivals_per_minute, tuple(out), open_counters,
                          open_for_minutes)


def advise(now: datetime, outlooks: Sequence[ServiceOutlook], counters: Sequence[CounterState],
           thresholds: Callable[[str], Thresholds], tz: object | None = None) -> list[Advice]:
    """The advice that holds now, most urgent first (an empty list when all is well)."""
    advice: list[Advice] = []
    by_code = {o.code: o for o in outlooks}

    def clock(at: datetime) -> str:
        return (at.astimezone(tz) if tz else at).strftime("%H:%M")  # type: ignore[arg-type]

    for outlook in outlooks:
        if not outlook.open_counters or not (outlook.waiting or outlook.arrivals_per_minute):
            # Nobody at work (night, lunch: the "no counter open" alert's business) or nobody coming.
            continue
        limit = thresholds(outlook.code).p90_minutes
        # Only tickets taken while the counters are in their hours: one taken during the lunch break waits
        # for the afternoon whatever is opened now (the simulated quiet day showed such false alarms).
        open_for = outlook.open_for_minutes
        reached = next(((m, e) for m, e in outlook.predictions if e is not None and e.p90_minutes >= limit
                        and (open_for is None or m < open_for)), None)
        if reached is None:
            continue
        minutes, estimate = reached
        at = now + timedelta(minutes=minutes)
        p90 = round(estimate.p90_minutes)
        advice.append(Advice(
            "open_counter", outlook.code, None, at,
            f"Mở thêm một quầy {outlook.name} ngay: P90 lên {p90} phút lúc {clock(at)}",
            f"Open one more {outlook.name} counter now: P90 reaches {p90} min at {clock(at)}",
            key=f"open:{outlook.code}"))
        # Which room could take it: an open counter of the same kind whose own line is (or will be) empty.
        for counter in counters:
            if outlook.code in counter.services[:1] or counter.state != "open":
                continue
            own = [by_code[s] for s in counter.services[:1] if s in by_code]
            if not own or own[0].kind != outlook.kind:
                continue
            free_at = next((m for m, e in own[0].predictions
                            if e is not None and e.p90_minutes < thresholds(own[0].code).free_minutes), None)
            if free_at is None:
                continue
            when = now + timedelta(minutes=free_at)
            advice.append(Advice(
                "room_can_take", outlook.code, counter.code, when,
                f"{counter.name} có thể nhận {outlook.name} từ {clock(when)}",
                f"{counter.name} can take {outlook.name} from {clock(when)}",
                key=f"room:{counter.code}:{outlook.code}"))
            break
    for counter in counters:
        if counter.state != "open" or counter.busy:
            continue
        limit = thresholds(counter.services[0]).idle_minutes
        idle = counter.last_call_minutes_ago
        if idle is None or idle < limit:
            continue
        someone_waits = any(by_code[s].waiting for s in counter.services if s in by_code)
        minutes = int(idle)
        advice.append(Advice(
            "idle_counter", counter.services[0], counter.code, now - timedelta(minutes=minutes),
            f"{counter.name} đang mở nhưng không gọi ai trong {minutes} phút"
            + (" (vẫn có người chờ)" if someone_waits else ""),
            f"{counter.name} is open but has called no one for {minutes} minutes"
            + (" (people are waiting)" if someone_waits else ""),
            key=f"idle:{counter.code}"))
    order = {"open_counter": 0, "idle_counter": 1, "room_can_take": 2}
    return sorted(advice, key=lambda a: (order[a.kind], a.at))


def changes(before: Sequence[Advice], after: Sequence[Advice]) -> tuple[list[Advice], list[str]]:
    """What fired (new keys) and what cleared (keys gone) between two rounds of advice."""
    old = {a.key for a in before}
    new = {a.key for a in after}
    return [a for a in after if a.key not in old], sorted(old - new)
