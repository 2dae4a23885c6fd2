"""A simulated clinic day: patients and staff as events on a virtual clock, driving the real engine.

Every action goes through `QueueService` over a real SQLite database, exactly as keypads and kiosks
would: issue, call next, recall, start, finish, transfer, pause, close. The simulator decides only
what people do (when they arrive, whether they answer a call, how long they take, when staff take a
break); the engine decides everything else, including who is called next and what estimate a ticket
shows. What a patient does is drawn when the visit is created, so the day depends on the seed alone.
"""

from __future__ import annotations

import heapq
import math
import random
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub import migrate
from hub import protocol as p
from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.common.events import EventBus
from hub.domain.queue import routing
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Service, Ticket
from hub.simulation.policies import DEFAULT_POLICY, POLICIES, Practice
from hub.simulation.scenario import Minutes, Scenario, clock_minutes, span_minutes

CLOSED, IDLE, CALLING, SERVING, PAUSED = "closed", "idle", "calling", "serving", "paused"
BASELINE_HISTORY = 30
ACTOR = "simulation"


@dataclass
class Stage:
    """One ticket of a visit, as the patient will behave in it."""

    service: str
    priority: str
    absent: bool  # gone when called: recalled, then marked no-show
    walk: float  # minutes from the call to the counter
    work: float  # minutes of service at an average counter


@dataclass
class Visit:
    stages: list[Stage]
    step: int = 0
    number: int = 0
    first_issue: float | None = None  # minutes after midnight: the visit's first ticket
    last_end: float | None = None  # the end of its last service; None while (or if never) complete
    left: bool = False  # the patient was gone when called: the visit ended there
    replans: int = 0
    results_ready: float = 0.0  # when the last result of its tests is ready for the doctor
    busy: bool = False  # walking to or at a counter: a call elsewhere finds the patient away
    # Parallel tickets: the group of tests held at once (ticket ids not yet served), the index of its
    # last stage, and the tickets marked no-show while the patient was busy in another line.
    wave: set[int] = field(default_factory=set)
    wave_end: int = -1
    missed: set[int] = field(default_factory=set)

    @property
    def stage(self) -> Stage:
        return self.stages[self.step]


@dataclass
class Desk:
    """A counter as its staff work it."""

    code: str
    services: tuple[str, ...]
    pace: float
    shifts: list[tuple[float, float]]
    clock: Callable[[], float] = lambda: 0.0
    _state: str = CLOSED
    since: float = 0.0
    # Minutes spent in each state while open (idle, calling, serving, paused): the idle share.
    minutes: dict[str, float] = field(default_factory=dict)
    on_shift: bool = False
    in_overtime: bool = False
    pause_due: bool = False
    woken: bool = False
    ticket: int | None = None
    calls: int = 0
    reserve: tuple[tuple[float, float], ...] = ()  # a reserve room: when its staff are free to open it
    pending: bool = False  # a manager is on the way to open (or nudge) it

    @property
    def working(self) -> bool:
        return self.on_shift or self.in_overtime

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        now = self.clock()
        if self._state != CLOSED:
            self.minutes[self._state] = self.minutes.get(self._state, 0.0) + now - self.since
        self._state, self.since = value, now


@dataclass
class DayRecord:
    """What the report needs from a finished day."""

    scenario: Scenario
    clinic: ClinicConfig
    seed: int
    database: str
    elapsed_seconds: float
    visits: int
    events: int
    tickets: list[dict[str, Any]]
    baseline: dict[int, float] = field(default_factory=dict)
    ahead: dict[int, int] = field(default_factory=dict)  # people ahead when the ticket was issued
    unserved: int = 0  # tickets still waiting when the day ended, cancelled by the simulator
    policy: str = DEFAULT_POLICY
    visit_rows: list[dict[str, Any]] = field(default_factory=list)  # one per visit: route, times, 1313 class
    desk_minutes: dict[str, dict[str, float]] = field(default_factory=dict)  # counter -> state -> minutes
    desk_services: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # What the simulated manager did (advisor practices): {"at" (minutes), "action", "counter", ...}.
    advice_acted: list[dict[str, Any]] = field(default_factory=list)
    late_returns: int = 0  # parallel tickets: calls missed while in another room, taken back late


def lognormal(rng: random.Random, minutes: Minutes) -> float:
    """A draw with the given mean and sd (minutes); a zero sd gives the mean."""
    if minutes.sd <= 0:
        return minutes.mean
    sigma2 = math.log(1 + (minutes.sd / minutes.mean) ** 2)
    return rng.lognormvariate(math.log(minutes.mean) - sigma2 / 2, math.sqrt(sigma2))


class Simulation:
    """One clinic day; `run()` plays it and returns the record."""

    def __init__(self, scenario: Scenario, clinic: ClinicConfig, seed: int, database: str = "memory",
                 policy: str = DEFAULT_POLICY) -> None:
        if database not in ("memory", "file") and "://" not in database:
            raise ValueError("database is 'memory', 'file' or the URL of a database to keep (history)")
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r} (expected one of {sorted(POLICIES)})")
        self.practice: Practice = POLICIES[policy]
        self.scenario = scenario
        self.clinic = clinic
        self.seed = seed
        self.database = database
        self.day_start = datetime.combine(scenario.date, time_of_day(0), tzinfo=clinic.site.tz)
        self.clock = VirtualClock(self.day_start)
        # Separate streams: how many patients come does not change who they are or how staff pause.
        self.arrival_rng = random.Random(f"{seed}:arrivals")
        self.patient_rng = random.Random(f"{seed}:patients")
        self.staff_rng = random.Random(f"{seed}:staff")
        # Extra tests per visit come from their own stream, so scenarios without them keep their day.
        self.order_rng = random.Random(f"{seed}:orders")
        # Pause lengths are drawn when a pause starts, which depends on the practice: one stream per
        # counter keeps the n-th pause of a counter the same length under every practice.
        self.pause_rngs: dict[str, random.Random] = {}
        self.recalls = clinic.queue.recalls_before_no_show
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._sequence = 0
        self.now = 0.0
        self.events = 0
        self.visits: list[Visit] = []
        self.by_ticket: dict[int, Visit] = {}
        self.baseline: dict[int, float] = {}
        self.ahead: dict[int, int] = {}
        self.recent_times: dict[str, deque[float]] = {s.code: deque(maxlen=BASELINE_HISTORY) for s in clinic.services}
        reserve = {room.code: room for room in scenario.staff.reserve}
        self.desks = [self._desk(c.code, tuple(c.services)) for c in clinic.counters if c.code not in reserve]
        # Reserve rooms after the others, from their own streams: the regular counters keep their draws,
        # and a reserve's pace is the same under every practice whether it is opened or not.
        self.desks += [self._reserve_desk(room) for room in reserve.values()]
        self.stage_of: dict[int, Stage] = {}
        self.advice_acted: list[dict[str, Any]] = []  # what the simulated manager did, and when
        self.late_returns = 0  # parallel tickets: calls missed while in another room, taken back late
        self.desks_of: dict[str, list[Desk]] = {s.code: [] for s in clinic.services}
        for desk in self.desks:
            for service in desk.services:
                self.desks_of[service].append(desk)
        self.queue: QueueService | None = None
        self.unserved = 0

    # ================================================================== set-up
    def _desk(self, code: str, services: tuple[str, ...]) -> Desk:
        staff = self.scenario.staff
        plan = staff.counters.get(code)
        hours = (plan.shifts if plan and plan.shifts else None) or staff.shifts
        if hours:
            shifts = [span_minutes(h) for h in hours]
        else:
            shifts = [(s.hour * 60.0 + s.minute, e.hour * 60.0 + e.minute)
                      for s, e in self.clinic.counter_hours(self.clinic.counter(code))]  # type: ignore[arg-type]
        if plan and plan.pace:
            pace = plan.pace
        else:
            pace = lognormal(self.staff_rng, Minutes(mean=1.0, sd=staff.pace_sd)) if staff.pace_sd else 1.0
        self.pause_rngs[code] = random.Random(f"{self.seed}:pauses:{code}")
        return Desk(code, services, pace, shifts, clock=lambda: self.now)

    def _reserve_desk(self, room: Any) -> Desk:
        rng = random.Random(f"{self.seed}:reserve:{room.code}")
        pace_sd = self.scenario.staff.pace_sd
        pace = room.pace or (lognormal(rng, Minutes(mean=1.0, sd=pace_sd)) if pace_sd else 1.0)
        self.pause_rngs[room.code] = random.Random(f"{self.seed}:pauses:{room.code}")
        return Desk(room.code, tuple(room.services), pace, [], clock=lambda: self.now,
                    reserve=tuple(span_minutes(h) for h in room.hours))

    def _plan_arrivals(self) -> None:
        start = clock_minutes(self.scenario.arrivals.start)
        for service in self.scenario.arrivals.services:
            for hour, expected in enumerate(self.scenario.arrivals.per_hour(service)):
                # A Poisson process with a constant rate inside each hour slot.
                if expected <= 0:
                    continue
                slot_start, slot_end = start + 60 * hour, start + 60 * (hour + 1)
                moment = slot_start + self.arrival_rng.expovariate(expected / 60)
                while moment < slot_end:
                    self._at(moment, self._arrive, self._new_visit(service))
                    moment += self.arrival_rng.expovariate(expected / 60)
        for coach in self.scenario.arrivals.coaches:  # drawn after the hourly arrivals: those stay the same
            at = clock_minutes(coach.at)
            for _ in range(coach.patients):
                moment = at + self.arrival_rng.uniform(0, coach.within_minutes)
                self._at(moment, self._arrive, self._new_visit(coach.service))

    def _new_visit(self, exam: str) -> Visit:
        rng, flow, patients = self.patient_rng, self.scenario.flow, self.scenario.patients
        mix = patients.priority_mix_by_service.get(exam, patients.priority_mix)
        priority, draw = "normal", rng.random()
        for klass, share in mix.items():
            if draw < share:
                priority = klass
                break
            draw -= share
        kind = self.clinic.service(exam).kind  # type: ignore[union-attr]
        route = []
        if flow.reception and kind in ("exam", "lab", "imaging") and rng.random() < flow.reception_share:
            route.append((flow.reception, priority))
        route.append((exam, priority))
        # Only an exam leads on: to lab or imaging and back with the results, then to pay and to the pharmacy.
        if kind == "exam" and rng.random() < flow.lab_share:
            labs = list(flow.lab_services)
            first = rng.choices(labs, weights=[flow.lab_services[c] for c in labs])[0]
            tests = [first]
            # More tests, in the order the doctor wrote them (their own stream: see __init__).
            others = [c for c in labs if c != first]
            while others and flow.extra_test_share > 0 and self.order_rng.random() < flow.extra_test_share:
                tests.append(others.pop(self.order_rng.randrange(len(others))))
            tests.sort(key=self._constraint_rank)  # stable: fasting samples first, contrast after bloods
            route += [(code, priority) for code in tests] + [(exam, "returning")]
        if kind == "exam" and flow.cashier and rng.random() < flow.cashier_share:
            route.append((flow.cashier, priority))
        if kind == "exam" and flow.pharmacy and rng.random() < flow.pharmacy_share:
            route.append((flow.pharmacy, priority))
        stages = []
        for index, (service, klass) in enumerate(route):
            share = patients.no_show_share if index == 0 else patients.later_no_show_share
            work = lognormal(rng, self._minutes(service)) * (flow.return_work_factor if klass == "returning" else 1.0)
            stages.append(Stage(service, klass, absent=rng.random() < share,
                                walk=lognormal(rng, patients.walk_minutes), work=work))
        visit = Visit(stages, number=len(self.visits))
        self.visits.append(visit)
        return visit

    def _constraint_rank(self, service: str) -> int:
        return {"fasting": 0, "contrast": 2}.get(self.scenario.flow.constraints.get(service, ""), 1)

    def _minutes(self, service: str) -> Minutes:
        truth = self.scenario.service_times.get(service)
        if truth is not None:
            return truth
        configured = self.clinic.service(service).service_minutes  # type: ignore[union-attr]
        return Minutes(mean=configured.mean, sd=configured.sd)

    def _plan_staff(self) -> None:
        staff = self.scenario.staff
        for desk in self.desks:
            for index, (start, end) in enumerate(desk.shifts):
                last = index == len(desk.shifts) - 1
                opened = min(start + lognormal(self.staff_rng, staff.start_delay_minutes), end - 1)
                self._at(opened, self._shift_start, desk)
                self._at(end, self._shift_end, desk, last)
                if staff.pauses_per_hour > 0:
                    moment = opened + self.staff_rng.expovariate(staff.pauses_per_hour / 60)
                    while moment < end - 10:
                        self._at(moment, self._pause_due, desk)
                        moment += self.staff_rng.expovariate(staff.pauses_per_hour / 60)

    def _plan_advisor(self) -> None:
        """The manager looks at the advisor's advice every few minutes while any counter works."""
        spans = [span for desk in self.desks for span in desk.shifts]
        if not spans:
            return
        every = self.scenario.staff.advisor_every_minutes
        moment, end = min(s for s, _ in spans) + every, max(e for _, e in spans)
        while moment < end:
            self._at(moment, self._advise)
            moment += every

    # ================================================================== the event loop
    def _at(self, minute: float, action: Callable[..., None], *args: Any) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, (minute, self._sequence, action, args))

    def run(self) -> DayRecord:
        """Play the day from the first event to the last; returns what happened."""
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="clinicq-sim-") as folder:
            url = "sqlite://" if self.database == "memory" else f"sqlite:///{Path(folder) / 'day.db'}"
            if "://" in self.database:
                url = self.database  # kept: `clinicq simulate --days N` writes weeks of history into it
            db = Database(url)
            try:
                migrate.upgrade(db)
                self.queue = QueueService(db, self.clinic, EventBus(), self.clock)
                self.queue.sync_config()
                self._plan_arrivals()
                self._plan_staff()
                if self.practice.advisor:
                    self._plan_advisor()
                while self._heap:
                    minute, _, action, args = heapq.heappop(self._heap)
                    if minute > self.now:
                        self.now = minute
                        self.clock.set(self.day_start + timedelta(minutes=minute))
                    self.events += 1
                    action(*args)
                self._end_of_day()
                for desk in self.desks:
                    if desk.state != CLOSED:
                        desk.state = CLOSED  # count the last stretch of open time
                tickets = self._ticket_rows(db)
            finally:
                db.dispose()
        kind = self.database.split(":")[0] if "://" in self.database else f"sqlite-{self.database}"
        return DayRecord(self.scenario, self.clinic, self.seed, kind,
                         time.perf_counter() - started, len(self.visits), self.events, tickets, self.baseline,
                         self.ahead, self.unserved, self.practice.name, self._visit_rows(),
                         {d.code: dict(d.minutes) for d in self.desks}, {d.code: d.services for d in self.desks},
                         list(self.advice_acted), self.late_returns)

    def _end_of_day(self) -> None:
        """Tickets nobody served by the end (no overtime) are cancelled: the day is over."""
        assert self.queue is not None
        with self.queue.db.read() as connection:
            left = connection.execute(select(Ticket.id).where(Ticket.status == p.WAITING)).scalars().all()
        for ticket_id in left:
            self.queue.cancel(ticket_id, actor=ACTOR, reason="day over")
        self.unserved = len(left)

    def _ticket_rows(self, db: Database) -> list[dict[str, Any]]:
        with db.read() as connection:
            codes = dict(connection.execute(select(Service.id, Service.code)).tuples().all())
            rows = connection.execute(select(
                Ticket.id, Ticket.service_id, Ticket.priority, Ticket.status, Ticket.source, Ticket.issued_at,
                Ticket.first_called_at, Ticket.served_at, Ticket.finished_at, Ticket.call_count,
                Ticket.estimate_p50_min, Ticket.estimate_p90_min)
                .where(Ticket.day == self.scenario.date).order_by(Ticket.id)).all()  # a kept database has more days
        out = []
        for row in rows:
            record = row._asdict()
            record["service"] = codes[record.pop("service_id")]
            out.append(record)
        return out

    # ================================================================== the clinic's choices
    def _route(self, visit: Visit) -> None:
        """Order routing: the tests still ahead (before the return to the doctor), best order first.

        Planned again at every step from the live estimates, which is the re-plan when a line changes
        on the way. Each test keeps the patient's own draws (absence, walk, duration): only the order moves.
        """
        assert self.queue is not None
        ahead = visit.stages[visit.step:]
        count = 0
        for stage in ahead:
            if self.clinic.service(stage.service).kind not in ("lab", "imaging"):  # type: ignore[union-attr]
                break
            count += 1
        if count < 2:
            return
        tests = ahead[:count]
        # The same planner and forward-model outlook as the hub's order routing (hub/domain/clinical/orders.py).
        outlooks = {o.code: o for o in self.queue.outlooks([s.service for s in tests])}
        stations = []
        for stage in tests:
            recent = self.recent_times[stage.service]
            work = sum(recent) / len(recent) if recent else self._configured_mean(stage.service)
            points = [(m, e.p50_minutes) for m, e in outlooks[stage.service].predictions if e is not None]
            wait = points[0][1] if points and points[0][0] == 0 else 0.0
            constraint = self.scenario.flow.constraints.get(stage.service)
            stations.append(routing.Station(
                stage.service, wait, work, kind=self.clinic.service(stage.service).kind,  # type: ignore[union-attr]
                result_minutes=self.scenario.flow.result_minutes.get(stage.service, 0.0),
                wait_profile=tuple(p for p in points if p[0] > 0), fasting=constraint == "fasting",
                contrast=constraint == "contrast", parallel=self.practice.parallel and constraint is None))
        best = routing.plan(stations, walk_minutes=self.scenario.patients.walk_minutes.mean)
        by_service = {stage.service: stage for stage in tests}
        reordered = [by_service[code] for code in best.order]
        if reordered != tests:
            visit.replans += 1
            visit.stages[visit.step:visit.step + count] = reordered

    def _tests_ahead(self, visit: Visit) -> int:
        """How many stages from the current one are tests (lab, imaging) in a row."""
        count = 0
        for stage in visit.stages[visit.step:]:
            if self.clinic.service(stage.service).kind not in ("lab", "imaging"):  # type: ignore[union-attr]
                break
            count += 1
        return count

    def _parallel_group(self, visit: Visit) -> int:
        """How many tests from the current stage can be held at once: a run of the same constraint rank
        (fasting samples together before the rest; contrast imaging only after the bloods)."""
        tests = visit.stages[visit.step:visit.step + self._tests_ahead(visit)]
        if len(tests) < 2:
            return 0
        rank = self._constraint_rank(tests[0].service)
        group = 1
        while group < len(tests) and self._constraint_rank(tests[group].service) == rank:
            group += 1
        return group if group >= 2 else 0

    def _configured_mean(self, service: str) -> float:
        return self.clinic.service(service).service_minutes.mean  # type: ignore[union-attr]

    def _visit_rows(self) -> list[dict[str, Any]]:
        """Each visit's route and total time (first ticket to the end of its last service), in minutes."""
        techniques = self.clinic.reports.techniques
        rows = []
        for visit in self.visits:
            kinds = set()
            for stage in visit.stages:
                kind = techniques.get(stage.service) or self.clinic.service(stage.service).kind  # type: ignore[union-attr]
                if kind not in ("reception", "exam", "cashier", "pharmacy"):
                    kinds.add(kind)
            has_exam = any(self.clinic.service(s.service).kind == "exam" for s in visit.stages)  # type: ignore[union-attr]
            total = None
            if visit.first_issue is not None and visit.last_end is not None and not visit.left:
                total = visit.last_end - visit.first_issue
            rows.append({"visit": visit.number, "route": [s.service for s in visit.stages], "exam": has_exam,
                         "techniques": len(kinds), "minutes": total, "replans": visit.replans})
        return rows

    # ================================================================== patients
    def _arrive(self, visit: Visit) -> None:
        assert self.queue is not None
        stage = visit.stage
        view = self.queue.issue(stage.service, priority=self.practice.priority(stage.priority), actor="kiosk",
                                source="kiosk")
        visit.first_issue = self.now
        self._issued(view, visit, stage)

    def _issued(self, view: dict[str, Any], visit: Visit, stage: Stage) -> None:
        service = view["service"]
        self.by_ticket[view["id"]] = visit
        self.stage_of[view["id"]] = stage
        self.baseline[view["id"]] = self._baseline(service, view["ahead"])
        self.ahead[view["id"]] = view["ahead"]
        self._wake(service)

    def _baseline(self, service: str, ahead: int) -> float:
        """What is used in practice: (people ahead + 1) x mean of the last 30 services / open counters."""
        recent = self.recent_times[service]
        mean = sum(recent) / len(recent) if recent else self.clinic.service(service).service_minutes.mean  # type: ignore[union-attr]
        desks = self.desks_of[service]
        open_desks = sum(1 for d in desks if d.state in (IDLE, CALLING, SERVING)) or len(desks)
        return (ahead + 1) * mean / open_desks

    def _wake(self, service: str) -> None:
        """A keypad beeps when its line gets someone: one idle counter of the service reacts."""
        desks = self.desks_of[service]
        for desk in desks:
            if desk.state == IDLE and not desk.woken:
                desk.woken = True
                self._at(self.now + self.scenario.staff.reaction_minutes, self._press, desk)
                return
        if any(d.state != CLOSED or d.on_shift or d.woken for d in desks):
            return
        # After the last shift everyone has gone home: a counter in overtime comes back for this patient.
        for desk in desks:
            if desk.in_overtime:
                desk.woken = True
                self._at(self.now + self.scenario.staff.reaction_minutes, self._press, desk)
                return

    # ================================================================== the manager (advisor practice)
    def _advise(self) -> None:
        """Read the real advisor (the ops page's advice) and send someone to act on it, after a delay."""
        assert self.queue is not None
        advice = self.queue.staffing(publish=False)["advice"]
        delay = self.scenario.staff.manager_delay_minutes
        by_code = {desk.code: desk for desk in self.desks}
        for item in advice:
            if item["kind"] == "open_counter":
                service = item["service"]
                rooms = [d for d in self.desks if d.reserve and service in d.services]
                if any(d.pending for d in rooms):
                    continue  # someone is already on the way to open a room for it
                room = next((d for d in rooms if d.state == CLOSED and not d.working
                             and self._reserve_window(d, self.now + delay)), None)
                if room is not None:
                    room.pending = True
                    self._at(self.now + delay, self._open_reserve, room, service, item["message_en"])
            elif item["kind"] == "idle_counter":
                desk = by_code.get(item["counter"])
                if desk is not None and not desk.pending:
                    desk.pending = True
                    self._at(self.now + delay, self._nudge, desk)
            # "room R can take S": the advisor names an open room of the same kind; taking S there needs
            # the room configured for S, which is what the scenario's reserve list is.

    def _reserve_window(self, desk: Desk, minute: float) -> tuple[float, float] | None:
        """The reserve's free hours around `minute`, if at least 15 minutes of them are left."""
        return next(((start, end) for start, end in desk.reserve if start <= minute < end - 15), None)

    def _open_reserve(self, desk: Desk, service: str, reason: str) -> None:
        desk.pending = False
        window = self._reserve_window(desk, self.now)
        if window is None or desk.working:
            return
        desk.on_shift = True
        self.advice_acted.append({"at": self.now, "action": "open", "counter": desk.code, "service": service,
                                  "reason": reason})
        self._at(window[1], self._shift_end, desk, False)
        if desk.state == CLOSED:
            self._call(desk)

    def _nudge(self, desk: Desk) -> None:
        """An open counter that has called no one: a reserve room goes back to its own work, another presses next."""
        assert self.queue is not None
        desk.pending = False
        if desk.state != IDLE:
            return
        if desk.reserve:
            desk.on_shift = False
            self.queue.close_counter(desk.code, actor=ACTOR)
            desk.state = CLOSED
            self.advice_acted.append({"at": self.now, "action": "close", "counter": desk.code})
        elif desk.on_shift:
            self._press(desk)
            if desk.state != IDLE:  # the nudge found someone to call (nobody waiting: nothing to do)
                self.advice_acted.append({"at": self.now, "action": "nudge", "counter": desk.code})

    # ================================================================== staff
    def _press(self, desk: Desk) -> None:
        desk.woken = False
        if desk.state == IDLE or (desk.state == CLOSED and desk.working):
            self._call(desk)

    def _call(self, desk: Desk) -> None:
        assert self.queue is not None
        self._called(desk, self.queue.call_next(desk.code, actor=ACTOR))

    def _called(self, desk: Desk, view: dict[str, Any] | None) -> None:
        assert self.queue is not None
        if view is None:
            desk.ticket = None
            if desk.on_shift:
                desk.state = IDLE
            else:
                self.queue.close_counter(desk.code, actor=ACTOR)
                desk.state = CLOSED
            return
        desk.state, desk.ticket, desk.calls = CALLING, view["id"], 1
        visit, stage = self.by_ticket[view["id"]], self.stage_of[view["id"]]
        if stage.absent or visit.left or visit.busy:
            # Gone, or in another line's room (parallel tickets): the engine's recalls, then a no-show.
            self._at(self.now + self.scenario.patients.recall_interval_minutes, self._recall, desk, view["id"])
        else:
            visit.busy = True
            self._at(self.now + stage.walk, self._start, desk, view["id"])

    def _recall(self, desk: Desk, ticket_id: int) -> None:
        assert self.queue is not None
        if desk.ticket != ticket_id:
            return
        visit, stage = self.by_ticket[ticket_id], self.stage_of[ticket_id]
        gone = stage.absent or visit.left
        if desk.calls - 1 < self.recalls:
            self.queue.call_next(desk.code, actor=ACTOR)
            desk.calls += 1
            if not gone and not visit.busy:
                # Back from the other line in time: the patient hears the recall and comes.
                visit.busy = True
                self._at(self.now + stage.walk, self._start, desk, ticket_id)
            else:
                self._at(self.now + self.scenario.patients.recall_interval_minutes, self._recall, desk, ticket_id)
            return
        if gone:
            visit.left = True
        if desk.working and not desk.pause_due:
            self._called(desk, self.queue.call_next(desk.code, actor=ACTOR))  # no-show, then the next
        else:
            self.queue.no_show(desk.code, actor=ACTOR)
            self._free(desk)
        if not gone:
            if visit.busy:
                visit.missed.add(ticket_id)  # busy elsewhere: comes back when free, as a late return
            else:
                # Free again just as the no-show was pressed: at the counter a moment later, a late return.
                self.late_returns += 1
                self._wake(self.queue.return_late(ticket_id, actor=ACTOR)["service"])

    def _start(self, desk: Desk, ticket_id: int) -> None:
        assert self.queue is not None
        self.queue.start(desk.code, actor=ACTOR)
        desk.state = SERVING
        work = self.stage_of[ticket_id].work * desk.pace
        self._at(self.now + work, self._done, desk, ticket_id, work)

    def _done(self, desk: Desk, ticket_id: int, work: float) -> None:
        assert self.queue is not None
        visit, stage = self.by_ticket[ticket_id], self.stage_of[ticket_id]
        visit.busy = False
        self.recent_times[stage.service].append(work)
        turnaround = self.scenario.flow.result_minutes.get(stage.service, 0.0)
        visit.results_ready = max(visit.results_ready, self.now + turnaround)
        if ticket_id in visit.wave:
            visit.wave.discard(ticket_id)
            if visit.wave:
                # Other tests of the group are still ahead: back to those lines; a line that called the
                # patient meanwhile and marked a no-show takes them back (the engine's late return).
                for missed in sorted(visit.missed):
                    self.late_returns += 1
                    view = self.queue.return_late(missed, actor=ACTOR)
                    self._wake(view["service"])
                visit.missed.clear()
                self._finish_and_next(desk)
                return
            visit.step, visit.wave_end = visit.wave_end, -1  # the group is done: on to what follows it
        if visit.step + 1 < len(visit.stages) and visit.stages[visit.step + 1].priority == "returning" \
                and visit.results_ready > self.now:
            # Back to the doctor only with the results: the patient waits for them outside any line.
            visit.step += 1
            self._at(visit.results_ready, self._back_with_results, visit)
            self._finish_and_next(desk)
            return
        if visit.step + 1 < len(visit.stages):
            visit.step += 1
            if self.practice.routing:
                self._route(visit)
            group = self._parallel_group(visit) if self.practice.parallel else 0
            following = visit.stage
            klass = self.practice.priority(following.priority)
            view = self.queue.transfer(desk.code, following.service, priority=klass, actor=ACTOR)
            self._issued(view, visit, following)
            if group:
                # Parallel tickets: the patient takes a number in every line of the group at once.
                visit.wave, visit.wave_end = {view["id"]}, visit.step + group - 1
                for other in visit.stages[visit.step + 1:visit.step + group]:
                    held = self.queue.issue(other.service, priority=self.practice.priority(other.priority),
                                            actor=ACTOR, source="order")
                    self._issued(held, visit, other)
                    visit.wave.add(held["id"])
            self._free(desk)
        else:
            visit.last_end = self.now
            self._finish_and_next(desk)

    def _finish_and_next(self, desk: Desk) -> None:
        """Staff press "next" (finish and call the following patient), or finish and take their pause."""
        assert self.queue is not None
        if desk.working and not desk.pause_due:
            self._called(desk, self.queue.call_next(desk.code, actor=ACTOR))
        else:
            self.queue.finish(desk.code, actor=ACTOR)
            self._free(desk)

    def _back_with_results(self, visit: Visit) -> None:
        assert self.queue is not None
        stage = visit.stage
        view = self.queue.issue(stage.service, priority=self.practice.priority(stage.priority), actor="kiosk",
                                source="kiosk")
        self._issued(view, visit, stage)

    def _free(self, desk: Desk) -> None:
        """The counter has nobody: call the next one, take the pause that is due, or close."""
        assert self.queue is not None
        desk.ticket = None
        if desk.pause_due and desk.on_shift:
            self._pause_now(desk)
        elif desk.working:
            self._call(desk)
        else:
            self.queue.close_counter(desk.code, actor=ACTOR)
            desk.state = CLOSED

    def _shift_start(self, desk: Desk) -> None:
        desk.on_shift, desk.in_overtime = True, False
        if desk.state == CLOSED:
            self._call(desk)

    def _shift_end(self, desk: Desk, last: bool) -> None:
        assert self.queue is not None
        desk.on_shift = False
        desk.in_overtime = last and self.scenario.staff.overtime
        desk.pause_due = False
        if desk.state == IDLE:
            self.queue.close_counter(desk.code, actor=ACTOR)
            desk.state = CLOSED

    def _pause_due(self, desk: Desk) -> None:
        if not desk.on_shift:
            return
        if desk.state == IDLE:
            self._pause_now(desk)
        elif desk.state in (CALLING, SERVING):
            desk.pause_due = True

    def _pause_now(self, desk: Desk) -> None:
        assert self.queue is not None
        self.queue.pause(desk.code, actor=ACTOR, reason="short break")
        desk.state, desk.pause_due = PAUSED, False
        pause = lognormal(self.pause_rngs[desk.code], self.scenario.staff.pause_minutes)
        self._at(self.now + pause, self._pause_end, desk)

    def _pause_end(self, desk: Desk) -> None:
        assert self.queue is not None
        if desk.state != PAUSED:
            return
        if desk.working:
            self._call(desk)  # "next" at a paused counter resumes it
        else:
            self.queue.close_counter(desk.code, actor=ACTOR)
            desk.state = CLOSED
