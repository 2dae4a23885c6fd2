"""Stateful property test of the queue engine on SQLite.

Hypothesis drives random sequences of kiosk and counter actions through QueueService and a small model
of what should happen; after every step the database is checked against the model and the rules:
no ticket lost, numbers unique and consecutive per service and day, no ticket at two counters, counters
and tickets agree, every transition is one of the protocol's and the log is contiguous, a ticket is
called from the waiting line once (again only after a late return), and each call follows the calling
policy. The policy values are tightened (short streaks, quick starvation, one recall) so that short runs
reach the interesting cases.
"""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from hub import migrate
from hub import protocol as p
from hub.config import ClinicConfig, load_config
from hub.db import Database
from hub.domain.common.clock import VirtualClock, local_day, to_ms
from hub.domain.common.errors import Conflict
from hub.domain.common.events import TicketCalled
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Counter, Ticket, TicketTransition
from tests.conftest import CONFIG_DIR, SITE_TZ, RecordingBus

COUNTERS = {"q1": ["tiep-don"], "q2": ["tiep-don"], "q4": ["thu-ngan", "tiep-don"], "q5": ["thu-ngan"],
            "p101": ["kham-noi"]}
SERVICES = ["tiep-don", "thu-ngan", "kham-noi"]
PRIORITIES = ["normal", "normal", "normal", "elderly", "returning", "booked", "emergency"]
# What can happen in one step, the common things several times over.
ACTIONS = (["call_next"] * 6 + ["arrive"] * 5 + ["start"] * 3
           + ["finish", "advance", "no_show", "transfer", "return_late", "pause"] * 2
           + ["recall", "resume", "close", "cancel", "next_morning"])
ARRIVAL = st.tuples(st.sampled_from(SERVICES), st.sampled_from(PRIORITIES), st.integers(-60, 90), st.integers(0, 120))
ACTIVE = (p.CALLED, p.SERVING, p.ON_HOLD)
START = datetime(2026, 11, 23, 7, 30, tzinfo=SITE_TZ)
ALLOWED = {(a, b) for a, targets in p.TRANSITIONS.items() for b in targets}


def _clinic() -> ClinicConfig:
    clinic = load_config(CONFIG_DIR, env={})
    policy = clinic.queue.model_copy(update={
        "recalls_before_no_show": 1, "late_return_behind": 2, "max_consecutive_priority": 2,
        "starvation_minutes": 10})
    return clinic.model_copy(update={"queue": policy})


CLINIC = _clinic()
HEAD_START = {c.code: c.head_start_minutes for c in CLINIC.priority_classes}
OVERRIDES = {c.code for c in CLINIC.priority_classes if c.overrides_service_order}
PREFIX = {s.code: s.prefix for s in CLINIC.services}


@dataclass
class ModelTicket:
    id: int
    service: str
    priority: str
    day: str
    seq: int
    issued_ms: int
    status: str = p.WAITING
    counter: str | None = None
    call_count: int = 0
    returned: bool = False  # came back late after a no-show


@dataclass
class ModelCounter:
    state: str = p.COUNTER_CLOSED
    current: int | None = None
    priority_streak: int = 0  # consecutive priority calls made by "next"


@dataclass(frozen=True)
class Waiting:
    """A waiting ticket as read from the database just before a call."""

    id: int
    priority: str
    key: int
    issued_ms: int


@cache
def _template() -> Database:
    template = Database("sqlite://")
    migrate.upgrade(template)
    QueueService(template, CLINIC, RecordingBus(), VirtualClock(START)).sync_config()
    return template


def fresh_database() -> Database:
    """An in-memory database, migrated and synced with the clinic, copied from a template made once."""
    db = Database("sqlite://")
    with _template().engine.connect() as source, db.engine.connect() as target:
        source.connection.driver_connection.backup(target.connection.driver_connection)
    return db


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.db = fresh_database()
        self.clock = VirtualClock(START)
        self.bus = RecordingBus()
        self.queue = QueueService(self.db, CLINIC, self.bus, self.clock)
        with self.db.read() as connection:
            self.counter_ids = dict(connection.execute(select(Counter.code, Counter.id)).tuples().all())
        self.counter_codes = {v: k for k, v in self.counter_ids.items()}
        self.tickets: dict[int, ModelTicket] = {}
        self.counters = {code: ModelCounter() for code in COUNTERS}
        self.last_seq: Tally[tuple[str, str]] = Tally()
        self.log_seen = 0
        self.last_counter: str | None = None
        self.last_log_row: dict[int, Any] = {}
        self.calls_from_line: Tally[int] = Tally()
        self.late_returns: Tally[int] = Tally()

    def teardown(self) -> None:
        self.db.dispose()

    # ------------------------------------------------------------ helpers
    def today(self) -> str:
        return local_day(self.clock.now(), SITE_TZ).isoformat()

    def now_ms(self) -> int:
        return to_ms(self.clock.now())

    def waiting_lines(self, services: list[str]) -> list[list[Waiting]]:
        """Today's waiting tickets of each service, in calling order (queue key, then id)."""
        with self.db.read() as connection:
            rows = connection.execute(select(Ticket.id, Ticket.priority, Ticket.queue_key_ms, Ticket.issued_at)
                                      .where(Ticket.status == p.WAITING,
                                             Ticket.day == local_day(self.clock.now(), SITE_TZ))).all()
        lines = []
        for service in services:
            mine = [Waiting(r.id, r.priority, r.queue_key_ms, to_ms(r.issued_at)) for r in rows
                    if self.tickets[r.id].service == service]
            lines.append(sorted(mine, key=lambda w: (w.key, w.id)))
        return lines

    def expect_conflict(self, action: Any) -> None:
        with pytest.raises(Conflict):
            action()

    def record_issued(self, view: dict[str, Any]) -> None:
        key = (view["service"], view["day"])
        self.last_seq[key] += 1
        assert view["number"] == p.ticket_number(PREFIX[view["service"]], self.last_seq[key])
        assert view["status"] == p.WAITING
        self.tickets[view["id"]] = ModelTicket(view["id"], view["service"], view["priority"], view["day"],
                                               self.last_seq[key], self.now_ms())

    def release(self, counter: str, status: str) -> None:
        model = self.counters[counter]
        ticket = self.tickets[model.current]
        ticket.status, ticket.counter = status, None if status in (p.NO_SHOW, p.DONE, p.TRANSFERRED) else counter
        model.current = None

    # ------------------------------------------------------------ kiosk and reception
    @initialize(arrivals=st.lists(ARRIVAL, min_size=3, max_size=12))
    def morning_line(self, arrivals: list[tuple[str, str, int, int]]) -> None:
        """Patients are already waiting when the counters open."""
        for arrival in arrivals:
            self.issue(*arrival)

    @rule(action=st.sampled_from(ACTIONS), counter=st.sampled_from(sorted(COUNTERS)), same_counter=st.booleans(),
          to_service=st.sampled_from(SERVICES), arrival=ARRIVAL, index=st.integers(0, 10_000),
          seconds=st.integers(0, 40 * 60))
    def step(self, action: str, counter: str, same_counter: bool, to_service: str,
             arrival: tuple[str, str, int, int], index: int, seconds: int) -> None:
        """One thing happens: a patient arrives, a key is pressed at a counter, time passes...

        A single rule with weighted actions keeps runs realistic: "next" and arrivals are the most
        common, a new day is rare, and a nurse often presses several keys in a row at her counter."""
        if same_counter and self.last_counter:
            counter = self.last_counter
        self.last_counter = counter
        if action == "arrive":
            self.issue(*arrival)
        elif action == "cancel":
            self.cancel(index)
        elif action == "return_late":
            self.return_late(index)
        elif action == "advance":
            self.clock.advance(seconds)
        elif action == "next_morning":
            self.next_morning()
        elif action == "transfer":
            self.transfer(counter, to_service)
        else:
            getattr(self, action)(counter)

    def issue(self, service: str, priority: str, slot_offset: int, seconds_later: int) -> None:
        self.clock.advance(seconds_later)
        details = {}
        if priority == "booked":
            details["slot_at"] = self.clock.now() + timedelta(minutes=slot_offset)
        view = self.queue.issue(service, priority=priority, **details)
        assert view["day"] == self.today()
        self.record_issued(view)

    def pick(self, index: int, status: str) -> ModelTicket | None:
        """A ticket in `status` for even indexes (when there is one), else any ticket: refusals count too."""
        likely = sorted(t for t, ticket in self.tickets.items() if ticket.status == status)
        pool = likely if likely and index % 2 == 0 else sorted(self.tickets)
        return self.tickets[pool[index // 2 % len(pool)]] if pool else None

    def cancel(self, index: int) -> None:
        ticket = self.pick(index, p.WAITING)
        if ticket is None:
            return
        if ticket.status != p.WAITING:
            self.expect_conflict(lambda: self.queue.cancel(ticket.id, actor="test"))
            return
        assert self.queue.cancel(ticket.id, actor="test")["status"] == p.CANCELLED
        ticket.status = p.CANCELLED

    def return_late(self, index: int) -> None:
        ticket = self.pick(index, p.NO_SHOW)
        if ticket is None:
            return
        if ticket.status != p.NO_SHOW or ticket.day != self.today():
            self.expect_conflict(lambda: self.queue.return_late(ticket.id, actor="test"))
            return
        [line] = self.waiting_lines([ticket.service])
        view = self.queue.return_late(ticket.id, actor="test")
        behind = CLINIC.queue.late_return_behind
        assert view["status"] == p.WAITING
        # Behind K waiting tickets (all of them when fewer wait); exactly K when their keys leave room.
        assert view["ahead"] >= min(behind, len(line))
        if len(line) <= behind:
            assert view["ahead"] == len(line)
        elif behind and line[behind].key - line[behind - 1].key >= 2:
            assert view["ahead"] == behind
        event("late return")
        ticket.status, ticket.counter, ticket.returned = p.WAITING, None, True

    # ------------------------------------------------------------ counters
    def call_next(self, counter: str) -> None:
        model = self.counters[counter]
        current = self.tickets[model.current] if model.current is not None else None
        lines = self.waiting_lines(COUNTERS[counter])
        self.bus.seen.clear()
        result = self.queue.call_next(counter, actor="test")
        calls = self.bus.of(TicketCalled)
        if current is not None and current.status == p.CALLED \
                and current.call_count - 1 < CLINIC.queue.recalls_before_no_show:
            assert result is not None and result["id"] == current.id and result["status"] == p.CALLED
            event("next: recall")
            assert [(c.ticket["id"], c.recall) for c in calls] == [(current.id, True)]
            current.call_count += 1
            assert result["call_count"] == current.call_count
            return
        if current is not None:
            self.release(counter, p.NO_SHOW if current.status == p.CALLED else p.DONE)
        model.state = p.COUNTER_OPEN
        if not any(lines):
            assert result is None and calls == []
            return
        assert result is not None, f"{counter} called nobody though {lines} wait"
        assert [(c.ticket["id"], c.counter["code"], c.recall) for c in calls] == [(result["id"], counter, False)]
        self.check_calling_order(counter, lines, result["id"])
        ticket = self.tickets[result["id"]]
        ticket.status, ticket.counter, ticket.call_count = p.CALLED, counter, 1
        model.current = ticket.id
        model.priority_streak = model.priority_streak + 1 if HEAD_START[ticket.priority] > 0 else 0

    def check_calling_order(self, counter: str, lines: list[list[Waiting]], called_id: int) -> None:
        """The called ticket is the one the calling policy designates."""
        waiting = {w.id: w for line in lines for w in line}
        assert called_id in waiting, "a ticket that was not waiting today was called"
        called = waiting[called_id]
        heads = [line[0] for line in lines if line]
        # An emergency at the head of its line goes first, whatever its service (one that came back
        # late after a no-show waits behind K tickets like anyone else).
        urgent = [w for w in heads if w.priority in OVERRIDES]
        if urgent:
            event("call: emergency")
            assert (called.key, called.id) == min((w.key, w.id) for w in urgent)
            return
        starving_after = self.now_ms() - int(CLINIC.queue.starvation_minutes * 60_000)

        def starving(w: Waiting) -> bool:
            return w.priority == "normal" and w.issued_ms <= starving_after

        streak_done = self.counters[counter].priority_streak >= CLINIC.queue.max_consecutive_priority
        # An ordinary ticket that has waited that long since it was issued (late returners excluded).
        stuck = [w for w in waiting.values() if starving(w) and not self.tickets[w.id].returned]
        if streak_done and stuck:
            event("call: anti-starvation")
            assert starving(called), "anti-starvation: an ordinary ticket should have been called"
        elif streak_done and starving(called):
            pass  # a late returner that has been in the building long enough may be served this way
        else:  # the head of the first service, in the counter's order, that has someone waiting
            event("call: head of the first service" + (" (not the counter's first)" if not lines[0] else ""))
            assert called == heads[0]

    def recall(self, counter: str) -> None:
        model = self.counters[counter]
        current = self.tickets.get(model.current) if model.current else None
        if current is None or current.status != p.CALLED:
            self.expect_conflict(lambda: self.queue.recall(counter, actor="test"))
            return
        view = self.queue.recall(counter, actor="test")
        current.call_count += 1
        assert (view["id"], view["call_count"]) == (current.id, current.call_count)

    def start(self, counter: str) -> None:
        current = self.tickets.get(self.counters[counter].current or -1)
        if current is None or current.status != p.CALLED:
            self.expect_conflict(lambda: self.queue.start(counter, actor="test"))
            return
        assert self.queue.start(counter, actor="test")["status"] == p.SERVING
        current.status = p.SERVING

    def finish(self, counter: str) -> None:
        current = self.tickets.get(self.counters[counter].current or -1)
        if current is None or current.status != p.SERVING:
            if current is not None and current.status == p.ON_HOLD:
                event("finish refused: on hold")
            self.expect_conflict(lambda: self.queue.finish(counter, actor="test"))
            return
        assert self.queue.finish(counter, actor="test")["status"] == p.DONE
        self.release(counter, p.DONE)

    def no_show(self, counter: str) -> None:
        current = self.tickets.get(self.counters[counter].current or -1)
        if current is None or current.status != p.CALLED:
            self.expect_conflict(lambda: self.queue.no_show(counter, actor="test"))
            return
        assert self.queue.no_show(counter, actor="test")["status"] == p.NO_SHOW
        self.release(counter, p.NO_SHOW)

    def transfer(self, counter: str, to_service: str) -> None:
        current = self.tickets.get(self.counters[counter].current or -1)
        if current is None or current.status != p.SERVING or current.service == to_service:
            self.expect_conflict(lambda: self.queue.transfer(counter, to_service, actor="test"))
            return
        new = self.queue.transfer(counter, to_service, actor="test")
        carried = "normal" if current.priority in ("booked", "returning") else current.priority
        assert new["transferred_from"] == current.id and new["priority"] == carried
        event("transfer")
        self.release(counter, p.TRANSFERRED)
        self.record_issued(new)

    def pause(self, counter: str) -> None:
        model = self.counters[counter]
        current = self.tickets.get(model.current or -1)
        if model.state != p.COUNTER_OPEN or (current is not None and current.status == p.CALLED):
            self.expect_conflict(lambda: self.queue.pause(counter, actor="test"))
            return
        assert self.queue.pause(counter, actor="test", reason="break")["state"] == p.COUNTER_PAUSED
        model.state = p.COUNTER_PAUSED
        if current is not None:
            current.status = p.ON_HOLD

    def resume(self, counter: str) -> None:
        model = self.counters[counter]
        if model.state != p.COUNTER_PAUSED:
            self.expect_conflict(lambda: self.queue.resume(counter, actor="test"))
            return
        assert self.queue.resume(counter, actor="test")["state"] == p.COUNTER_OPEN
        model.state = p.COUNTER_OPEN
        if model.current is not None:
            self.tickets[model.current].status = p.SERVING

    def close(self, counter: str) -> None:
        model = self.counters[counter]
        if model.current is not None:
            self.expect_conflict(lambda: self.queue.close_counter(counter, actor="test"))
            return
        assert self.queue.close_counter(counter, actor="test")["state"] == p.COUNTER_CLOSED
        model.state = p.COUNTER_CLOSED

    # ------------------------------------------------------------ time
    def next_morning(self) -> None:
        local = self.clock.now().astimezone(SITE_TZ) + timedelta(days=1)
        self.clock.set(local.replace(hour=7, minute=0, second=0, microsecond=0))

    # ------------------------------------------------------------ invariants
    @invariant()
    def database_agrees_with_the_model_and_the_rules(self) -> None:
        with self.db.read() as connection:
            tickets = connection.execute(select(Ticket.id, Ticket.status, Ticket.counter_id, Ticket.service_id,
                                                Ticket.day, Ticket.seq, Ticket.number)).all()
            counters = connection.execute(select(Counter.code, Counter.state, Counter.current_ticket_id)).all()
            # The log is append-only: only the rows added since the last check are read.
            log_rows = connection.execute(select(TicketTransition.__table__).where(
                TicketTransition.id > self.log_seen).order_by(TicketTransition.id)).all()
        self.check_tickets(tickets)
        self.check_counters(counters, {row.id: row.counter_id for row in tickets if row.status in ACTIVE})
        self.check_log(log_rows)

    def check_tickets(self, rows: list[Any]) -> None:
        """No ticket lost, each in exactly one state; numbers unique and consecutive per service and day."""
        assert len(rows) == len(self.tickets), "a ticket was lost or appeared from nowhere"
        assert Tally(row.status for row in rows) == Tally(t.status for t in self.tickets.values())
        seqs: dict[tuple[int, Any], list[int]] = {}
        for row in rows:
            model = self.tickets[row.id]
            assert row.status == model.status, (row.id, row.status, model.status)
            if row.status in ACTIVE:
                assert row.counter_id == self.counter_ids[model.counter]
            assert row.number == p.ticket_number(PREFIX[model.service], row.seq)
            seqs.setdefault((row.service_id, row.day), []).append(row.seq)
        for numbers in seqs.values():
            assert sorted(numbers) == list(range(1, len(numbers) + 1)), "a duplicate or a gap in the numbers"

    def check_counters(self, counters: list[Any], active: dict[int, int]) -> None:
        """A counter's ticket is at that counter in an active state; no ticket is held by two counters."""
        holders: Tally[int] = Tally()
        for code, state, current in counters:
            if code not in COUNTERS:
                assert current is None
                continue
            model = self.counters[code]
            assert (state, current) == (model.state, model.current), code
            if current is not None:
                holders[current] += 1
                assert active.get(current) == self.counter_ids[code], "the counter's ticket is not at it"
            status = self.tickets[current].status if current is not None else None
            if state == p.COUNTER_CLOSED:
                assert current is None
            elif state == p.COUNTER_PAUSED:
                assert status in (None, p.ON_HOLD)
            else:
                assert status != p.ON_HOLD
        assert set(holders) == set(active), "a ticket at a counter is not that counter's ticket"
        assert all(count == 1 for count in holders.values()), "a ticket is held by two counters"

    def check_log(self, rows: list[Any]) -> None:
        """Each new row continues its ticket's log with a protocol transition and a contiguous period;
        a ticket leaves the waiting line for a call once, again only after a late return."""
        for row in rows:
            previous = self.last_log_row.get(row.ticket_id)
            if previous is None:
                assert (row.from_status, row.to_status) == (None, p.WAITING)
                assert row.started_at == row.at and row.duration_ms == 0
            else:
                assert row.from_status == previous.to_status
                assert (row.from_status, row.to_status) in ALLOWED, (row.from_status, row.to_status)
                assert row.started_at == previous.at
                assert row.duration_ms == to_ms(row.at) - to_ms(row.started_at) >= 0
            self.last_log_row[row.ticket_id] = row
            self.log_seen = row.id
            if (row.from_status, row.to_status) == (p.WAITING, p.CALLED):
                self.calls_from_line[row.ticket_id] += 1
            elif (row.from_status, row.to_status) == (p.NO_SHOW, p.WAITING):
                self.late_returns[row.ticket_id] += 1
        assert set(self.last_log_row) == set(self.tickets)
        for ticket_id, ticket in self.tickets.items():
            assert self.last_log_row[ticket_id].to_status == ticket.status
            calls = self.calls_from_line[ticket_id]
            assert calls <= 1 + self.late_returns[ticket_id], f"ticket {ticket_id} called from the line {calls} times"


QueueMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=80, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestQueueProperties = QueueMachine.TestCase
