"""The queue engine on both databases: numbering, states, calls, calling order, events, leases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hub import protocol as p
from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import CounterChanged, QueueChanged, TicketCalled, TicketChanged, TicketIssued
from hub.domain.common.models import AuditEntry
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Counter, Ticket, TicketTransition
from tests.conftest import SITE_TZ, RecordingBus, make_queue

Engine = tuple[QueueService, RecordingBus]
NURSE = "nurse:lan"


# ---------------------------------------------------------------- helpers
def log_of(queue: QueueService, ticket_id: int) -> list[Any]:
    """The ticket's transition log, oldest first."""
    with queue.db.read() as connection:
        return connection.execute(select(TicketTransition.__table__).where(
            TicketTransition.ticket_id == ticket_id).order_by(TicketTransition.id)).all()


def audit_of(queue: QueueService, action: str) -> list[Any]:
    with queue.db.read() as connection:
        return connection.execute(select(AuditEntry.__table__).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.id)).all()


def status_of(queue: QueueService, ticket_id: int) -> str:
    return queue.get_ticket(ticket_id)["status"]


def current_of(queue: QueueService, counter: str) -> int | None:
    ticket = queue.counter(counter)["ticket"]
    return ticket["id"] if ticket else None


def issue_spaced(queue: QueueService, clock: VirtualClock, service: str, count: int, *, seconds: float = 10,
                 **kwargs: Any) -> list[dict[str, Any]]:
    """Issue `count` tickets `seconds` apart (distinct arrival times, so distinct queue keys)."""
    tickets = []
    for _ in range(count):
        tickets.append(queue.issue(service, **kwargs))
        clock.advance(seconds)
    return tickets


def calling_order(queue: QueueService, counter: str, count: int) -> list[int]:
    """Ids of the next `count` tickets a counter calls, each started so the next press moves on."""
    order = []
    for _ in range(count):
        called = queue.call_next(counter, actor=NURSE)
        assert called is not None, f"{counter} found nobody after {order}"
        order.append(called["id"])
        queue.start(counter, actor=NURSE)
    return order


def at_local(clock: VirtualClock, hour: int, minute: int, day_offset: int = 0) -> None:
    base = clock.now().astimezone(SITE_TZ).date() + timedelta(days=day_offset)
    clock.set(datetime(base.year, base.month, base.day, hour, minute, tzinfo=SITE_TZ))


def with_queue_policy(clinic: ClinicConfig, **changes: Any) -> ClinicConfig:
    return clinic.model_copy(update={"queue": clinic.queue.model_copy(update=changes)})


# ---------------------------------------------------------------- numbering
def test_numbers_run_from_001_per_service(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    numbers = []
    for service in ["tiep-don", "kham-noi", "tiep-don", "tiep-don", "kham-noi", "xet-nghiem"]:
        numbers.append(queue.issue(service)["number"])
        clock.advance(5)
    assert numbers == ["A001", "B001", "A002", "A003", "B002", "X001"]


def test_a_new_ticket_counts_the_tickets_ahead_of_it(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    tickets = issue_spaced(queue, clock, "tiep-don", 3)
    assert [t["ahead"] for t in tickets] == [0, 1, 2]
    assert queue.get_ticket(tickets[2]["id"])["ahead"] == 2


def test_numbers_restart_at_local_midnight_not_at_utc_midnight(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    issue_spaced(queue, clock, "tiep-don", 2)
    at_local(clock, 23, 59)
    before_midnight = queue.issue("tiep-don")
    late_evening_utc = clock.now()
    at_local(clock, 0, 1, day_offset=1)
    after_midnight = queue.issue("tiep-don")
    # In UTC both instants fall on the same date (16:59Z and 17:01Z): a UTC day would not restart.
    assert late_evening_utc.astimezone(UTC).date() == clock.now().astimezone(UTC).date()
    assert (before_midnight["number"], before_midnight["day"]) == ("A003", "2026-11-23")
    assert (after_midnight["number"], after_midnight["day"]) == ("A001", "2026-11-24")
    assert queue.today().isoformat() == "2026-11-24"
    assert queue.find_ticket("a001")["id"] == after_midnight["id"]


def test_numbers_do_not_restart_at_utc_midnight(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    at_local(clock, 6, 59, day_offset=1)  # 23:59 UTC the day before
    first = queue.issue("tiep-don")
    utc_before = clock.now().astimezone(UTC).date()
    at_local(clock, 7, 1)  # 00:01 UTC
    second = queue.issue("tiep-don")
    assert utc_before != clock.now().astimezone(UTC).date()
    assert (first["number"], second["number"]) == ("A001", "A002")
    assert first["day"] == second["day"] == "2026-11-24"


def test_yesterdays_waiting_tickets_are_not_called_today(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    at_local(clock, 23, 50)
    queue.issue("tiep-don")
    at_local(clock, 7, 0, day_offset=1)
    assert queue.call_next("q1", actor=NURSE) is None
    today = queue.issue("tiep-don")
    assert queue.call_next("q1", actor=NURSE)["id"] == today["id"]


def test_the_database_refuses_a_duplicate_number(engine: Engine) -> None:
    queue, _ = engine
    ticket = queue.issue("tiep-don")
    with pytest.raises(IntegrityError) as refused, queue.db.write() as connection:
        row = connection.execute(select(Ticket.__table__).where(Ticket.id == ticket["id"])).one()._asdict()
        row.pop("id")
        connection.execute(insert(Ticket.__table__).values(**{**row, "idempotency_key": None}))
    assert "seq" in str(refused.value)


def test_unknown_service_and_priority_are_refused_without_taking_a_number(engine: Engine) -> None:
    queue, bus = engine
    with pytest.raises(NotFound) as unknown_service:
        queue.issue("kham-mat")
    with pytest.raises(Invalid) as unknown_priority:
        queue.issue("tiep-don", priority="vip")
    assert (unknown_service.value.code, unknown_priority.value.code) == ("unknown_service", "unknown_priority")
    assert bus.seen == []
    assert queue.issue("tiep-don")["number"] == "A001"


# ---------------------------------------------------------------- the state machine
# Single-service counters, one per check, so that several tickets can be driven in one database.
LANES = [("tiep-don", "q1"), ("thu-ngan", "q5"), ("kham-noi", "p101"), ("kham-ngoai", "p103"),
         ("kham-nhi", "p104"), ("kham-san", "p105"), ("kham-tmh", "p106"), ("xet-nghiem", "p201"),
         ("cdha", "p203"), ("nha-thuoc", "nt1")]
TRANSFER_TO = "nha-thuoc"


def drive_to(queue: QueueService, clock: VirtualClock, state: str, lane: tuple[str, str] = LANES[0]) -> int:
    """A ticket of the lane's service in `state`, at the lane's counter when it is at a counter."""
    service, counter = lane
    ticket_id = queue.issue(service)["id"]
    clock.advance(30)
    call = lambda: queue.call_ticket(counter, ticket_id, actor=NURSE)  # noqa: E731
    start = lambda: queue.start(counter, actor=NURSE)  # noqa: E731
    steps: dict[str, list[Callable[[], Any]]] = {
        p.WAITING: [],
        p.CANCELLED: [lambda: queue.cancel(ticket_id, actor=NURSE)],
        p.CALLED: [call],
        p.NO_SHOW: [call, lambda: queue.no_show(counter, actor=NURSE)],
        p.SERVING: [call, start],
        p.ON_HOLD: [call, start, lambda: queue.pause(counter, actor=NURSE)],
        p.DONE: [call, start, lambda: queue.finish(counter, actor=NURSE)],
        p.TRANSFERRED: [call, start, lambda: queue.transfer(counter, TRANSFER_TO, actor=NURSE)],
    }
    for step in steps[state]:
        step()
        clock.advance(30)
    assert status_of(queue, ticket_id) == state
    return ticket_id


Operation = Callable[[QueueService, int, str], Any]
# The operation that performs each transition of protocol.TRANSITIONS (queue, ticket id, counter).
TRANSITION_OPERATIONS: dict[tuple[str, str], Operation] = {
    (p.WAITING, p.CALLED): lambda q, t, c: q.call_next(c, actor=NURSE),
    (p.WAITING, p.CANCELLED): lambda q, t, c: q.cancel(t, actor=NURSE),
    (p.CALLED, p.CALLED): lambda q, t, c: q.recall(c, actor=NURSE),
    (p.CALLED, p.SERVING): lambda q, t, c: q.start(c, actor=NURSE),
    (p.CALLED, p.NO_SHOW): lambda q, t, c: q.no_show(c, actor=NURSE),
    (p.SERVING, p.DONE): lambda q, t, c: q.finish(c, actor=NURSE),
    (p.SERVING, p.TRANSFERRED): lambda q, t, c: q.transfer(c, TRANSFER_TO, actor=NURSE),
    (p.SERVING, p.ON_HOLD): lambda q, t, c: q.pause(c, actor=NURSE),
    (p.ON_HOLD, p.SERVING): lambda q, t, c: q.resume(c, actor=NURSE),
    (p.NO_SHOW, p.WAITING): lambda q, t, c: q.return_late(t, actor=NURSE),
}
# called -> waiting is allowed by the protocol, but no operation performs it: a counter with a called
# ticket refuses to close (see test_a_counter_with_a_ticket_refuses_to_close).
UNREACHABLE = {(p.CALLED, p.WAITING)}


def test_every_protocol_transition_has_an_operation() -> None:
    allowed = {(a, b) for a, targets in p.TRANSITIONS.items() for b in targets}
    assert set(TRANSITION_OPERATIONS) | UNREACHABLE == allowed


def test_every_allowed_transition_works_and_is_logged(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    for lane, ((source, target), operation) in zip(LANES, TRANSITION_OPERATIONS.items(), strict=True):
        ticket_id = drive_to(queue, clock, source, lane)
        before = len(log_of(queue, ticket_id))
        operation(queue, ticket_id, lane[1])
        assert status_of(queue, ticket_id) == target, (source, target)
        log = log_of(queue, ticket_id)
        assert len(log) == before + 1, (source, target)
        assert (log[-1].from_status, log[-1].to_status, log[-1].actor) == (source, target, NURSE)


# Each operation, and the only states it may start from.
OPERATIONS: dict[str, tuple[Operation, set[str]]] = {
    "cancel": (lambda q, t, c: q.cancel(t, actor=NURSE), {p.WAITING}),
    "call_ticket": (lambda q, t, c: q.call_ticket(c, t, actor=NURSE), {p.WAITING}),
    "recall": (lambda q, t, c: q.recall(c, actor=NURSE), {p.CALLED}),
    "start": (lambda q, t, c: q.start(c, actor=NURSE), {p.CALLED}),
    "no_show": (lambda q, t, c: q.no_show(c, actor=NURSE), {p.CALLED}),
    "finish": (lambda q, t, c: q.finish(c, actor=NURSE), {p.SERVING}),
    "transfer": (lambda q, t, c: q.transfer(c, TRANSFER_TO, actor=NURSE), {p.SERVING}),
    "return_late": (lambda q, t, c: q.return_late(t, actor=NURSE), {p.NO_SHOW}),
}
CLEAR_CODES = {"illegal_transition", "no_current_ticket", "counter_busy"}


@pytest.mark.parametrize("state", p.TICKET_STATES)
def test_every_illegal_transition_is_refused_and_changes_nothing(engine: Engine, clock: VirtualClock,
                                                                 state: str) -> None:
    queue, bus = engine
    illegal = [name for name, (_, allowed) in OPERATIONS.items() if state not in allowed]
    assert illegal
    for lane, name in zip(LANES, illegal, strict=False):
        ticket_id = drive_to(queue, clock, state, lane)
        log_before = log_of(queue, ticket_id)
        counter_before = queue.counter(lane[1])
        seen_before = len(bus.seen)
        with pytest.raises(Conflict) as refused:
            OPERATIONS[name][0](queue, ticket_id, lane[1])
        assert refused.value.code in CLEAR_CODES, (name, state, refused.value.code)
        assert refused.value.status == 409
        assert status_of(queue, ticket_id) == state, (name, state)
        assert log_of(queue, ticket_id) == log_before, (name, state)
        assert queue.counter(lane[1]) == counter_before, (name, state)
        assert len(bus.seen) == seen_before, (name, state)


def test_the_protocol_allows_every_transition_the_operations_perform() -> None:
    targets = {"cancel": p.CANCELLED, "call_ticket": p.CALLED, "recall": p.CALLED, "start": p.SERVING,
               "no_show": p.NO_SHOW, "finish": p.DONE, "transfer": p.TRANSFERRED, "return_late": p.WAITING}
    for operation, (_, allowed) in OPERATIONS.items():
        for state in allowed:
            assert targets[operation] in p.TRANSITIONS[state], (operation, state)


def test_the_log_has_one_row_per_transition_with_contiguous_periods(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    ticket = queue.issue("tiep-don", actor="kiosk-1")
    steps = [
        (17, lambda: queue.call_next("q1", actor=NURSE)),
        (23, lambda: queue.recall("q1", actor=NURSE)),
        (41, lambda: queue.start("q1", actor=NURSE)),
        (300, lambda: queue.pause("q1", actor=NURSE, reason="break")),
        (120.5, lambda: queue.resume("q1", actor=NURSE)),
        (90, lambda: queue.transfer("q1", "kham-noi", actor=NURSE)),
    ]
    for seconds, step in steps:
        clock.advance(seconds)
        step()
    log = log_of(queue, ticket["id"])
    assert [(row.from_status, row.to_status) for row in log] == [
        (None, p.WAITING), (p.WAITING, p.CALLED), (p.CALLED, p.CALLED), (p.CALLED, p.SERVING),
        (p.SERVING, p.ON_HOLD), (p.ON_HOLD, p.SERVING), (p.SERVING, p.TRANSFERRED)]
    assert log[0].started_at == log[0].at == datetime.fromisoformat(ticket["issued_at"])
    for previous, row in pairwise(log):
        assert row.started_at == previous.at
        assert row.duration_ms == int((row.at - row.started_at).total_seconds() * 1000)
    assert [row.duration_ms for row in log[1:]] == [int(s * 1000) for s, _ in steps]
    assert sum(row.duration_ms for row in log) == int((log[-1].at - log[0].at).total_seconds() * 1000)
    assert log[0].actor == "kiosk-1" and log[0].counter_id is None
    with queue.db.read() as connection:
        q1 = connection.execute(select(Counter.id).where(Counter.code == "q1")).scalar_one()
    assert {row.counter_id for row in log[1:]} == {q1}


# ---------------------------------------------------------------- recall, no-show, late return
def test_next_recalls_then_marks_no_show_after_the_allowed_recalls(engine: Engine, clock: VirtualClock,
                                                                     clinic: ClinicConfig) -> None:
    queue, bus = engine
    first, second = issue_spaced(queue, clock, "tiep-don", 2)
    recalls = clinic.queue.recalls_before_no_show
    assert queue.call_next("q1", actor=NURSE)["id"] == first["id"]
    for press in range(recalls):
        clock.advance(20)
        again = queue.call_next("q1", actor=NURSE)
        assert (again["id"], again["status"], again["call_count"]) == (first["id"], p.CALLED, press + 2)
    assert [e.recall for e in bus.of(TicketCalled)] == [False] + [True] * recalls
    clock.advance(20)
    called = queue.call_next("q1", actor=NURSE)
    assert called["id"] == second["id"]
    assert status_of(queue, first["id"]) == p.NO_SHOW
    reasons = [(row.to_status, row.reason) for row in log_of(queue, first["id"])]
    assert reasons.count((p.CALLED, "recall")) == recalls
    assert reasons[-1][0] == p.NO_SHOW


def test_no_show_by_next_with_nobody_left_frees_the_counter(engine: Engine, clinic: ClinicConfig) -> None:
    queue, _ = engine
    ticket = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    for _ in range(clinic.queue.recalls_before_no_show):
        queue.call_next("q1", actor=NURSE)
    assert queue.call_next("q1", actor=NURSE) is None
    assert status_of(queue, ticket["id"]) == p.NO_SHOW
    assert current_of(queue, "q1") is None


def test_with_zero_recalls_the_second_press_is_a_no_show(any_db: Database, clinic: ClinicConfig,
                                                          clock: VirtualClock) -> None:
    queue, _ = make_queue(any_db, with_queue_policy(clinic, recalls_before_no_show=0), clock)
    first, second = issue_spaced(queue, clock, "tiep-don", 2)
    queue.call_next("q1", actor=NURSE)
    assert queue.call_next("q1", actor=NURSE)["id"] == second["id"]
    assert status_of(queue, first["id"]) == p.NO_SHOW


def test_a_late_no_show_returns_behind_k_waiting_tickets(engine: Engine, clock: VirtualClock,
                                                         clinic: ClinicConfig) -> None:
    queue, bus = engine
    k = clinic.queue.late_return_behind
    late = queue.issue("tiep-don")
    clock.advance(10)
    queue.call_next("q1", actor=NURSE)
    queue.no_show("q1", actor=NURSE)
    others = issue_spaced(queue, clock, "tiep-don", k + 3)
    back = queue.return_late(late["id"], actor=NURSE)
    assert (back["status"], back["ahead"], back["counter"]) == (p.WAITING, k, None)
    assert isinstance(bus.seen[-1], QueueChanged) and bus.of(TicketChanged)[-1].action == "return"
    line = [t["id"] for t in queue.waiting_tickets("tiep-don")]
    assert line == [t["id"] for t in others[:k]] + [late["id"]] + [t["id"] for t in others[k:]]
    assert calling_order(queue, "q1", k + 1)[-1] == late["id"]
    [returned] = [row for row in log_of(queue, late["id"]) if row.reason == "late return"]
    assert (returned.from_status, returned.to_status, returned.counter_id) == (p.NO_SHOW, p.WAITING, None)


def test_a_late_return_into_a_short_line_goes_last(engine: Engine, clock: VirtualClock,
                                                   clinic: ClinicConfig) -> None:
    queue, _ = engine
    late = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    queue.no_show("q1", actor=NURSE)
    clock.advance(5)
    others = issue_spaced(queue, clock, "tiep-don", clinic.queue.late_return_behind - 1)
    back = queue.return_late(late["id"], actor=NURSE)
    assert back["ahead"] == len(others)
    clock.advance(5)
    newcomer = queue.issue("tiep-don")
    assert newcomer["ahead"] == len(others) + 1


def test_a_late_return_into_an_empty_line_is_next(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    late = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    queue.no_show("q1", actor=NURSE)
    clock.advance(600)
    assert queue.return_late(late["id"], actor=NURSE)["ahead"] == 0
    assert queue.call_next("q2", actor=NURSE)["id"] == late["id"]


def test_a_late_return_behind_patients_sharing_a_slot_still_waits_for_k(engine: Engine, clock: VirtualClock,
                                                                        clinic: ClinicConfig) -> None:
    """Booked patients of one slot who arrive early share a queue key; the returner must not pass them."""
    queue, _ = engine
    k = clinic.queue.late_return_behind
    late = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    queue.no_show("q1", actor=NURSE)
    slot = clock.now() + timedelta(minutes=50)
    booked = issue_spaced(queue, clock, "tiep-don", k + 2, seconds=30, priority="booked", slot_at=slot)
    back = queue.return_late(late["id"], actor=NURSE)
    assert back["ahead"] >= k
    called = calling_order(queue, "q1", k)
    assert late["id"] not in called
    assert set(called) <= {t["id"] for t in booked}


def test_only_todays_no_shows_may_return(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    waiting = queue.issue("tiep-don")
    with pytest.raises(Conflict) as not_a_no_show:
        queue.return_late(waiting["id"], actor=NURSE)
    assert not_a_no_show.value.code == "illegal_transition"
    late = queue.issue("tiep-don")
    queue.call_ticket("q1", late["id"], actor=NURSE)
    queue.no_show("q1", actor=NURSE)
    at_local(clock, 7, 30, day_offset=1)
    with pytest.raises(Conflict) as yesterday:
        queue.return_late(late["id"], actor=NURSE)
    assert yesterday.value.code == "illegal_transition"
    assert status_of(queue, late["id"]) == p.NO_SHOW


# ---------------------------------------------------------------- calling a given ticket, transfer
def test_calling_a_specific_ticket_out_of_turn_is_audited(engine: Engine, clock: VirtualClock) -> None:
    queue, bus = engine
    tickets = issue_spaced(queue, clock, "tiep-don", 3)
    called = queue.call_ticket("q2", tickets[2]["id"], actor=NURSE)
    assert (called["id"], called["status"], called["counter"]) == (tickets[2]["id"], p.CALLED, "q2")
    [entry] = audit_of(queue, "call_out_of_turn")
    assert (entry.actor, entry.subject) == (NURSE, "A003")
    assert entry.detail == {"counter": "q2", "ticket_id": tickets[2]["id"]}
    assert bus.of(TicketCalled)[-1].ticket["id"] == tickets[2]["id"]
    # The line is otherwise untouched: the next press continues in order.
    queue.start("q2", actor=NURSE)
    assert queue.call_next("q2", actor=NURSE)["id"] == tickets[0]["id"]


def test_calling_a_specific_ticket_is_refused_when_it_cannot_be_served_here(engine: Engine,
                                                                            clock: VirtualClock) -> None:
    queue, _ = engine
    other_service = queue.issue("thu-ngan")
    with pytest.raises(Conflict) as wrong_service:
        queue.call_ticket("q1", other_service["id"], actor=NURSE)
    first, second = issue_spaced(queue, clock, "tiep-don", 2)
    queue.call_ticket("q1", first["id"], actor=NURSE)
    with pytest.raises(Conflict) as busy:
        queue.call_ticket("q1", second["id"], actor=NURSE)
    with pytest.raises(Conflict) as taken:
        queue.call_ticket("q2", first["id"], actor=NURSE)
    with pytest.raises(NotFound):
        queue.call_ticket("q2", 987654, actor=NURSE)
    assert (wrong_service.value.code, busy.value.code, taken.value.code) == (
        "wrong_service", "counter_busy", "illegal_transition")
    assert len(audit_of(queue, "call_out_of_turn")) == 1
    assert status_of(queue, second["id"]) == p.WAITING


def test_transfer_moves_the_patient_to_another_service_in_the_same_visit(engine: Engine, clock: VirtualClock) -> None:
    queue, bus = engine
    ticket = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    queue.start("q1", actor=NURSE)
    clock.advance(180)
    new = queue.transfer("q1", "kham-noi", actor=NURSE, note="đau bụng")
    old = queue.get_ticket(ticket["id"])
    assert old["status"] == p.TRANSFERRED and old["finished_at"] is not None
    assert (new["service"], new["number"], new["status"], new["source"]) == ("kham-noi", "B001", p.WAITING, "transfer")
    assert new["visit_id"] == ticket["visit_id"]
    assert new["transferred_from"] == ticket["id"]
    assert new["priority"] == ticket["priority"]
    assert current_of(queue, "q1") is None
    assert bus.of(TicketChanged)[-1].action == "transfer"
    assert bus.of(TicketIssued)[-1].ticket["id"] == new["id"]
    assert queue.call_next("p101", actor=NURSE)["id"] == new["id"]


def test_transfer_may_change_the_priority_and_refuses_the_same_service(engine: Engine) -> None:
    queue, _ = engine
    queue.issue("kham-noi")
    queue.call_next("p101", actor=NURSE)
    queue.start("p101", actor=NURSE)
    with pytest.raises(Conflict) as same:
        queue.transfer("p101", "kham-noi", actor=NURSE)
    with pytest.raises(Invalid):
        queue.transfer("p101", "xet-nghiem", actor=NURSE, priority="vip")
    with pytest.raises(NotFound):
        queue.transfer("p101", "kham-mat", actor=NURSE)
    assert same.value.code == "same_service"
    assert queue.transfer("p101", "xet-nghiem", actor=NURSE, priority="returning")["priority"] == "returning"


def test_a_failing_transfer_changes_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    queue, bus = engine
    ticket = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    queue.start("q1", actor=NURSE)
    log_before = log_of(queue, ticket["id"])
    seen_before = len(bus.seen)

    def broken_issue(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("printer on fire")

    monkeypatch.setattr(queue, "_issue", broken_issue)
    with pytest.raises(RuntimeError):
        queue.transfer("q1", "kham-noi", actor=NURSE)
    assert status_of(queue, ticket["id"]) == p.SERVING
    assert current_of(queue, "q1") == ticket["id"]
    assert log_of(queue, ticket["id"]) == log_before
    assert len(bus.seen) == seen_before


# ---------------------------------------------------------------- counters
def test_pause_puts_the_patient_on_hold_and_resume_restores_it(engine: Engine, clock: VirtualClock) -> None:
    queue, bus = engine
    ticket = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    queue.start("q1", actor=NURSE)
    clock.advance(60)
    paused = queue.pause("q1", actor=NURSE, reason="nghỉ trưa")
    assert (paused["state"], paused["pause_reason"]) == (p.COUNTER_PAUSED, "nghỉ trưa")
    assert paused["ticket"]["status"] == p.ON_HOLD and status_of(queue, ticket["id"]) == p.ON_HOLD
    assert bus.of(TicketChanged)[-1].action == "hold"
    clock.advance(60)
    resumed = queue.resume("q1", actor=NURSE)
    assert resumed["state"] == p.COUNTER_OPEN and resumed["ticket"]["status"] == p.SERVING
    assert status_of(queue, ticket["id"]) == p.SERVING
    assert bus.of(TicketChanged)[-1].action == "unhold"
    assert [a.action for a in (*audit_of(queue, "counter_paused"), *audit_of(queue, "counter_open"))] == [
        "counter_paused", "counter_open", "counter_open"]


def test_pause_is_refused_while_a_ticket_is_called_or_the_counter_is_not_open(engine: Engine) -> None:
    queue, _ = engine
    with pytest.raises(Conflict) as closed:
        queue.pause("q1", actor=NURSE)
    queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    with pytest.raises(Conflict) as called:
        queue.pause("q1", actor=NURSE)
    with pytest.raises(Conflict) as not_paused:
        queue.resume("q1", actor=NURSE)
    assert (closed.value.code, called.value.code, not_paused.value.code) == (
        "illegal_transition", "ticket_called", "illegal_transition")
    assert queue.counter("q1")["state"] == p.COUNTER_OPEN


def test_next_at_a_paused_counter_resumes_finishes_and_calls(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    first, second = issue_spaced(queue, clock, "tiep-don", 2)
    queue.call_next("q1", actor=NURSE)
    queue.start("q1", actor=NURSE)
    queue.pause("q1", actor=NURSE)
    assert queue.call_next("q1", actor=NURSE)["id"] == second["id"]
    assert status_of(queue, first["id"]) == p.DONE
    assert [row.to_status for row in log_of(queue, first["id"])][-3:] == [p.ON_HOLD, p.SERVING, p.DONE]
    assert queue.counter("q1")["state"] == p.COUNTER_OPEN


def test_next_at_a_closed_counter_opens_it(engine: Engine) -> None:
    queue, bus = engine
    assert queue.counter("q1")["state"] == p.COUNTER_CLOSED
    ticket = queue.issue("tiep-don")
    called = queue.call_next("q1", actor=NURSE)
    counter = queue.counter("q1")
    assert called["id"] == ticket["id"]
    assert counter["state"] == p.COUNTER_OPEN and counter["ticket"]["id"] == ticket["id"]
    assert [e.actor for e in audit_of(queue, "counter_open")] == [NURSE]
    assert any(isinstance(e, CounterChanged) and e.counter["state"] == p.COUNTER_OPEN for e in bus.seen)


def test_next_at_a_closed_counter_with_nobody_waiting_opens_it_and_calls_nobody(engine: Engine) -> None:
    queue, _ = engine
    assert queue.call_next("q3", actor=NURSE) is None
    assert queue.counter("q3")["state"] == p.COUNTER_OPEN and queue.counter("q3")["ticket"] is None


def test_a_counter_with_a_ticket_refuses_to_close(engine: Engine) -> None:
    queue, _ = engine
    ticket = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    with pytest.raises(Conflict) as busy:
        queue.close_counter("q1", actor=NURSE)
    assert busy.value.code == "counter_busy" and status_of(queue, ticket["id"]) == p.CALLED
    queue.start("q1", actor=NURSE)
    queue.finish("q1", actor=NURSE)
    assert queue.close_counter("q1", actor=NURSE)["state"] == p.COUNTER_CLOSED


def test_unknown_counter_is_refused(engine: Engine) -> None:
    queue, _ = engine
    with pytest.raises(NotFound) as unknown:
        queue.call_next("q99", actor=NURSE)
    assert unknown.value.code == "unknown_counter"


# ---------------------------------------------------------------- calling order
def test_a_counter_takes_its_services_in_the_configured_order(engine: Engine, clock: VirtualClock,
                                                             clinic: ClinicConfig) -> None:
    queue, _ = engine
    assert clinic.counter("q4").services == ["thu-ngan", "tiep-don"]
    reception = issue_spaced(queue, clock, "tiep-don", 2)
    cashier = issue_spaced(queue, clock, "thu-ngan", 2)  # arrived later, but q4 serves cashier first
    assert calling_order(queue, "q4", 4) == [t["id"] for t in cashier + reception]


def test_a_single_service_counter_never_calls_another_service(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    queue.issue("thu-ngan")
    assert queue.call_next("q1", actor=NURSE) is None


def test_emergency_overrides_the_service_order(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    issue_spaced(queue, clock, "thu-ngan", 2)
    issue_spaced(queue, clock, "tiep-don", 2)
    emergency = queue.issue("tiep-don", priority="emergency")
    first, second = calling_order(queue, "q4", 2)
    assert first == emergency["id"]
    assert queue.get_ticket(second)["service"] == "thu-ngan"


def test_booked_patients_are_ordered_by_slot_time(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    at_local(clock, 8, 0)
    slot = datetime(2026, 11, 23, 9, 30, tzinfo=SITE_TZ)
    later_slot = queue.issue("kham-noi", priority="booked", slot_at=slot)
    clock.advance(300)
    earlier_slot = queue.issue("kham-noi", priority="booked", slot_at=slot - timedelta(minutes=30))
    at_local(clock, 9, 20)
    walk_in = queue.issue("kham-noi")
    at_local(clock, 9, 40)
    order = calling_order(queue, "p101", 3)
    # Keys: 08:45 (slot 09:00), 09:15 (slot 09:30), 09:20 (walk-in).
    assert order == [earlier_slot["id"], later_slot["id"], walk_in["id"]]


def test_an_early_booked_patient_does_not_pass_walk_ins_long_before_the_slot(engine: Engine,
                                                                               clock: VirtualClock) -> None:
    queue, _ = engine
    at_local(clock, 8, 0)
    booked = queue.issue("kham-noi", priority="booked", slot_at=datetime(2026, 11, 23, 10, 0, tzinfo=SITE_TZ))
    clock.advance(600)
    walk_in = queue.issue("kham-noi")
    assert queue.call_next("p101", actor=NURSE)["id"] == walk_in["id"]
    queue.start("p101", actor=NURSE)
    assert queue.call_next("p101", actor=NURSE)["id"] == booked["id"]


def test_a_late_booked_patient_gets_the_head_start_from_arrival(engine: Engine, clock: VirtualClock,
                                                                clinic: ClinicConfig) -> None:
    queue, _ = engine
    head_start = clinic.priority("booked").head_start_minutes
    at_local(clock, 8, 0)
    long_before = queue.issue("kham-noi")
    clock.advance((head_start - 5) * 60)
    shortly_before = queue.issue("kham-noi")
    clock.advance(10 * 60)  # arrives head_start + 5 minutes after the first walk-in, slot long past
    booked = queue.issue("kham-noi", priority="booked", slot_at=datetime(2026, 11, 23, 7, 30, tzinfo=SITE_TZ))
    order = calling_order(queue, "p102", 3)
    assert order == [long_before["id"], booked["id"], shortly_before["id"]]


def test_returning_patients_pass_only_those_who_came_within_their_head_start(engine: Engine, clock: VirtualClock,
                                                                              clinic: ClinicConfig) -> None:
    queue, _ = engine
    head_start = clinic.priority("returning").head_start_minutes
    at_local(clock, 8, 0)
    earlier = queue.issue("kham-noi")  # came head_start + 5 minutes before the returning patient
    clock.advance(10 * 60)
    within = queue.issue("kham-noi")  # head_start - 5 minutes before
    clock.advance((head_start - 5) * 60)
    returning = queue.issue("kham-noi", priority="returning")
    assert returning["ahead"] == 1
    order = calling_order(queue, "p101", 3)
    assert order == [earlier["id"], returning["id"], within["id"]]


def test_anti_starvation_serves_an_ordinary_patient_after_a_streak_of_priority_calls(
        engine: Engine, clock: VirtualClock, clinic: ClinicConfig) -> None:
    queue, _ = engine
    streak = clinic.queue.max_consecutive_priority
    elderly = issue_spaced(queue, clock, "kham-noi", streak + 3, seconds=1, priority="elderly")
    ordinary = queue.issue("kham-noi")
    clock.advance(clinic.queue.starvation_minutes * 60)
    order = calling_order(queue, "p101", streak + 2)
    assert order == [t["id"] for t in elderly[:streak]] + [ordinary["id"], elderly[streak]["id"]]


def test_anti_starvation_waits_until_the_ordinary_patient_has_waited_long_enough(
        engine: Engine, clock: VirtualClock, clinic: ClinicConfig) -> None:
    queue, _ = engine
    streak = clinic.queue.max_consecutive_priority
    elderly = issue_spaced(queue, clock, "kham-noi", streak + 3, seconds=1, priority="elderly")
    ordinary = queue.issue("kham-noi")
    clock.advance(clinic.queue.starvation_minutes * 60 - 5)
    order = calling_order(queue, "p101", streak + 2)
    assert ordinary["id"] not in order
    assert order == [t["id"] for t in elderly[:streak + 2]]
    clock.advance(10)
    assert queue.call_next("p101", actor=NURSE)["id"] == ordinary["id"]


# ---------------------------------------------------------------- idempotency, events, leases
def test_an_idempotency_key_returns_the_same_ticket(engine: Engine, clock: VirtualClock) -> None:
    queue, bus = engine
    first = queue.issue("tiep-don", idempotency_key="kiosk-1:0001", source_device="kiosk-1")
    clock.advance(5)
    again = queue.issue("tiep-don", idempotency_key="kiosk-1:0001", source_device="kiosk-1")
    assert (again["id"], again["number"]) == (first["id"], first["number"])
    assert len(bus.of(TicketIssued)) == 1
    assert queue.issue("tiep-don")["number"] == "A002"  # no number was spent on the repeat


def test_events_are_published_after_the_commit(engine: Engine) -> None:
    queue, bus = engine
    seen_from_outside: list[tuple[str, Any]] = []

    def on_issued(event: TicketIssued) -> None:
        # A fresh transaction on another connection sees the ticket only if it was committed.
        seen_from_outside.append(("issued", queue.get_ticket(event.ticket["id"])["status"]))

    def on_called(event: TicketCalled) -> None:
        seen_from_outside.append(("called", current_of(queue, event.counter["code"]) == event.ticket["id"]))

    bus.subscribe(TicketIssued, on_issued)
    bus.subscribe(TicketCalled, on_called)
    queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    assert seen_from_outside == [("issued", p.WAITING), ("called", True)]


def test_a_call_publishes_call_counter_and_queue_events(engine: Engine) -> None:
    queue, bus = engine
    ticket = queue.issue("tiep-don")
    bus.seen.clear()
    queue.call_next("q1", actor=NURSE)
    [call] = bus.of(TicketCalled)
    assert (call.ticket["id"], call.counter["code"], call.counter["zone"], call.recall) == (
        ticket["id"], "q1", "sanh-a", False)
    assert call.call_id and call.at > 0
    assert [e.service for e in bus.of(QueueChanged)] and all(e.service == "tiep-don" for e in bus.of(QueueChanged))
    assert any(isinstance(e, CounterChanged) and e.counter["ticket"] and e.counter["ticket"]["id"] == ticket["id"]
               for e in bus.seen)


def test_a_failed_operation_publishes_nothing_and_rolls_back(engine: Engine) -> None:
    queue, bus = engine
    first = queue.issue("tiep-don")
    second = queue.issue("tiep-don")
    queue.call_next("q1", actor=NURSE)
    queue.start("q1", actor=NURSE)
    queue.pause("q1", actor=NURSE)
    bus.seen.clear()
    # Calling a given ticket at a paused counter first resumes it (events queued), then finds it busy.
    with pytest.raises(Conflict) as busy:
        queue.call_ticket("q1", second["id"], actor=NURSE)
    assert busy.value.code == "counter_busy"
    assert bus.seen == []
    assert queue.counter("q1")["state"] == p.COUNTER_PAUSED
    assert status_of(queue, first["id"]) == p.ON_HOLD
    with pytest.raises(Conflict):
        queue.cancel(first["id"], actor=NURSE)
    assert bus.seen == []


def test_a_failing_adapter_does_not_undo_the_operation(engine: Engine) -> None:
    queue, bus = engine

    def broken(event: Any) -> None:
        raise RuntimeError("adapter down")

    bus.subscribe(TicketIssued, broken)
    ticket = queue.issue("tiep-don")
    assert status_of(queue, ticket["id"]) == p.WAITING
    assert len(bus.of(TicketIssued)) == 1


def test_a_leased_block_is_skipped_by_normal_issue(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    issue_spaced(queue, clock, "tiep-don", 3)
    day, first, last = queue.lease_block("tiep-don", 10, actor="kiosk-2")
    assert (day.isoformat(), first, last) == ("2026-11-23", 4, 13)
    assert queue.issue("tiep-don")["number"] == "A014"
    [entry] = audit_of(queue, "lease_block")
    assert (entry.actor, entry.subject, entry.detail) == ("kiosk-2", "tiep-don",
                                                          {"day": "2026-11-23", "first": 4, "size": 10})


def test_a_kiosk_issues_offline_from_its_leased_block(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    _, first, _ = queue.lease_block("tiep-don", 5, actor="kiosk-2")
    online = queue.issue("tiep-don")
    offline_at = clock.now() - timedelta(minutes=3)
    offline = queue.issue("tiep-don", seq=first + 1, issued_at=offline_at, source_device="kiosk-2",
                          idempotency_key="kiosk-2:offline-1")
    assert (online["number"], offline["number"], offline["offline"]) == ("A006", "A002", True)
    assert datetime.fromisoformat(offline["issued_at"]) == offline_at
    # It arrived earlier, so it is called before the online ticket.
    assert queue.call_next("q1", actor=NURSE)["id"] == offline["id"]


def test_lease_size_is_checked(engine: Engine) -> None:
    queue, _ = engine
    for size in (0, 501):
        with pytest.raises(Invalid) as bad:
            queue.lease_block("tiep-don", size, actor="kiosk-2")
        assert bad.value.code == "bad_lease_size"
    assert queue.issue("tiep-don")["number"] == "A001"


def test_leases_are_per_service_and_day(engine: Engine, clock: VirtualClock) -> None:
    queue, _ = engine
    assert queue.lease_block("tiep-don", 20, actor="kiosk-1")[1:] == (1, 20)
    assert queue.lease_block("thu-ngan", 5, actor="kiosk-1")[1:] == (1, 5)
    at_local(clock, 0, 5, day_offset=1)
    day, first, last = queue.lease_block("tiep-don", 5, actor="kiosk-1")
    assert (day.isoformat(), first, last) == ("2026-11-24", 1, 5)


def test_counter_rows_match_the_configuration(engine: Engine, clinic: ClinicConfig) -> None:
    queue, _ = engine
    with queue.db.read() as connection:
        codes = set(connection.execute(select(Counter.code).where(Counter.active.is_(True))).scalars())
    assert codes == {c.code for c in clinic.counters}
    assert [c["code"] for c in queue.counters()] == [c.code for c in clinic.counters]


@pytest.mark.parametrize(("priority", "carried"), [("booked", "normal"), ("returning", "normal"),
                                                   ("elderly", "elderly"), ("normal", "normal")])
def test_a_transfer_keeps_the_patients_class_but_not_a_place_earned_in_the_line(
        engine: Engine, clock: VirtualClock, priority: str, carried: str) -> None:
    queue, _bus = engine
    slot = clock.now() + timedelta(minutes=10) if priority == "booked" else None
    queue.issue("kham-noi", priority=priority, slot_at=slot)
    queue.call_next("p101", actor=NURSE)
    queue.start("p101", actor=NURSE)
    assert queue.transfer("p101", "thu-ngan", actor=NURSE)["priority"] == carried
