"""Concurrency: numbers and calls stay correct when many kiosks and counters act at the same instant.

Each worker is a separate process with its own Database on the same SQLite file or PostgreSQL
database, as several hub processes would be (within one process sqlite3 calls serialise anyway).
Workers wait at a barrier after their set-up so that they really start together.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections import Counter as Tally
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hub import protocol as p
from hub.config import ClinicConfig, CounterConfig
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict
from hub.domain.common.events import EventBus
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Counter, Ticket, TicketSequence, TicketTransition
from tests.conftest import SITE_TZ

MOMENT = datetime(2026, 11, 23, 9, 0, tzinfo=SITE_TZ)
CONTEXT = multiprocessing.get_context("fork")
WORKER_TIMEOUT_S = 90
CALLING_COUNTERS = [f"k{i}" for i in range(1, 9)]


def clinic_with_calling_counters(clinic: ClinicConfig) -> ClinicConfig:
    """The sample clinic plus eight counters that all serve reception (tiep-don)."""
    extra = [CounterConfig(code=code, name=f"Quầy {code}", name_en=f"Counter {code}", zone="sanh-a",
                           services=["tiep-don"]) for code in CALLING_COUNTERS]
    return clinic.model_copy(update={"counters": [*clinic.counters, *extra]})


def open_queue(url: str, clinic: ClinicConfig) -> QueueService:
    queue = QueueService(Database(url), clinic, EventBus(), VirtualClock(MOMENT))
    queue.counter("q1")  # connect and read the ids now, not after the barrier
    return queue


def _run(work: Callable[..., Any], url: str, clinic: ClinicConfig, barrier: Any, results: Any, index: int,
         args: tuple[Any, ...]) -> None:
    try:
        queue = open_queue(url, clinic)
        barrier.wait(timeout=WORKER_TIMEOUT_S)
        results.put((index, True, work(queue, *args)))
        queue.db.dispose()
    except BaseException:
        results.put((index, False, traceback.format_exc()))


Job = tuple[Callable[..., Any], tuple[Any, ...]]


def run_workers(db: Database, clinic: ClinicConfig, jobs: list[Job]) -> list[Any]:
    """Run each (function, args) in its own process against db's URL; return their results in order."""
    db.dispose()  # no pooled connection may be shared with the children
    barrier = CONTEXT.Barrier(len(jobs))
    results = CONTEXT.Queue()
    processes = [CONTEXT.Process(target=_run, args=(work, db.url, clinic, barrier, results, index, args))
                 for index, (work, args) in enumerate(jobs)]
    for process in processes:
        process.start()
    collected: dict[int, Any] = {}
    failures = []
    for _ in processes:
        index, ok, payload = results.get(timeout=WORKER_TIMEOUT_S)
        if ok:
            collected[index] = payload
        else:
            failures.append(f"worker {index}:\n{payload}")
    for process in processes:
        process.join(timeout=WORKER_TIMEOUT_S)
    assert not failures, "\n".join(failures)
    return [collected[i] for i in range(len(jobs))]


def sync(db: Database, clinic: ClinicConfig) -> QueueService:
    queue = QueueService(db, clinic, EventBus(), VirtualClock(MOMENT))
    queue.sync_config()
    return queue


# ---------------------------------------------------------------- workers (module level: run in children)
def issue_tickets(queue: QueueService, count: int, service: str) -> list[tuple[int, str]]:
    out = []
    for _ in range(count):
        ticket = queue.issue(service, source="kiosk")
        out.append((ticket["id"], ticket["number"]))
    return out


def lease_blocks(queue: QueueService, sizes: list[int], service: str) -> list[tuple[int, int]]:
    out = []
    for size in sizes:
        _, first, last = queue.lease_block(service, size, actor="kiosk-offline")
        assert last - first + 1 == size
        out.append((first, last))
    return out


def press_next_until_empty(queue: QueueService, counter: str) -> dict[str, Any]:
    """Call, start, call again... as a nurse does, until nobody waits; check each ticket is ours."""
    called, busy = [], 0
    while True:
        try:
            ticket = queue.call_next(counter, actor=f"nurse-{counter}")
        except Conflict as exc:
            assert exc.code == "busy", exc.code
            busy += 1
            continue
        if ticket is None:  # that press also finished the patient in hand
            break
        assert ticket["counter"] == counter and ticket["status"] == p.CALLED
        called.append(ticket["id"])
        # Nobody else may hold it: it is at this counter until this counter moves it on.
        assert queue.counter(counter)["ticket"]["id"] == ticket["id"]
        assert queue.start(counter, actor=f"nurse-{counter}")["id"] == ticket["id"]
    return {"called": called, "busy": busy}


def issue_with_keys(queue: QueueService, keys: list[str]) -> dict[str, int]:
    return {key: queue.issue("tiep-don", idempotency_key=key)["id"] for key in keys}


# ---------------------------------------------------------------- helpers
def sequences(db: Database) -> list[int]:
    with db.read() as connection:
        return list(connection.execute(select(TicketSequence.last_seq)).scalars())


# ---------------------------------------------------------------- tests
def test_fifty_parallel_issues_get_numbers_1_to_50(any_db: Database, clinic: ClinicConfig) -> None:
    queue = sync(any_db, clinic)
    results = run_workers(any_db, clinic, [(issue_tickets, (5, "tiep-don")) for _ in range(10)])
    issued = [ticket for batch in results for ticket in batch]
    numbers = sorted(number for _, number in issued)
    assert numbers == [p.ticket_number("A", n) for n in range(1, 51)]
    assert len({ticket_id for ticket_id, _ in issued}) == 50
    with any_db.read() as connection:
        rows = connection.execute(select(Ticket.seq, Ticket.number)).all()
    assert sorted(seq for seq, _ in rows) == list(range(1, 51))
    assert sequences(any_db) == [50]
    assert queue.issue("tiep-don")["number"] == "A051"


def test_parallel_issues_in_several_services_number_each_service_separately(any_db: Database,
                                                                             clinic: ClinicConfig) -> None:
    sync(any_db, clinic)
    services = ["tiep-don", "kham-noi", "thu-ngan"]
    results = run_workers(any_db, clinic, [(issue_tickets, (8, services[i % 3])) for i in range(6)])
    by_prefix: dict[str, list[int]] = {}
    for batch in results:
        for _, number in batch:
            by_prefix.setdefault(number[0], []).append(int(number[1:]))
    assert {prefix: sorted(seqs) for prefix, seqs in by_prefix.items()} == {
        prefix: list(range(1, 17)) for prefix in ("A", "B", "T")}


def test_eight_counters_pressing_next_call_every_ticket_exactly_once(any_db: Database,
                                                                     clinic: ClinicConfig) -> None:
    clinic = clinic_with_calling_counters(clinic)
    queue = sync(any_db, clinic)
    line = [queue.issue("tiep-don")["id"] for _ in range(200)]
    results = run_workers(any_db, clinic, [(press_next_until_empty, (code,)) for code in CALLING_COUNTERS])
    called = Tally(ticket_id for result in results for ticket_id in result["called"])
    assert sorted(called) == sorted(line), "some ticket was never called"
    assert max(called.values()) == 1, [t for t, n in called.items() if n > 1]
    assert sum(1 for result in results if result["called"]) >= 2, "the counters did not overlap at all"
    with any_db.read() as connection:
        tickets = connection.execute(select(Ticket.id, Ticket.status, Ticket.counter_id)).all()
        calls = Tally(connection.execute(select(TicketTransition.ticket_id).where(
            TicketTransition.to_status == p.CALLED)).scalars())
    assert {status for _, status, _ in tickets} == {p.DONE}
    assert all(calls[ticket_id] == 1 for ticket_id in line)
    # Each ticket ended at the counter that called it.
    holder = {ticket_id: code for code, result in zip(CALLING_COUNTERS, results, strict=True)
              for ticket_id in result["called"]}
    with any_db.read() as connection:
        counter_ids = dict(connection.execute(select(Counter.code, Counter.id)).tuples().all())
    assert all(counter_id == counter_ids[holder[ticket_id]] for ticket_id, _, counter_id in tickets)


def test_leases_and_normal_issues_never_share_a_number(any_db: Database, clinic: ClinicConfig) -> None:
    sync(any_db, clinic)
    jobs = [(issue_tickets, (25, "tiep-don")) for _ in range(4)]
    jobs += [(lease_blocks, ([3, 10, 1, 7, 20], "tiep-don")), (lease_blocks, ([5, 5, 12, 2, 9], "tiep-don"))]
    results = run_workers(any_db, clinic, jobs)
    issued = [int(number[1:]) for batch in results[:4] for _, number in batch]
    leased = [n for blocks in results[4:] for first, last in blocks for n in range(first, last + 1)]
    taken = sorted(issued + leased)
    assert taken == list(range(1, len(taken) + 1)), "a number was given twice or skipped"
    assert len(taken) == 100 + 74
    assert sequences(any_db) == [len(taken)]


def test_a_request_repeated_by_several_kiosks_at_once_gives_one_ticket(any_db: Database,
                                                                      clinic: ClinicConfig) -> None:
    sync(any_db, clinic)
    keys = [f"kiosk-7:{n:04d}" for n in range(15)]
    results = run_workers(any_db, clinic, [(issue_with_keys, (keys,)) for _ in range(6)])
    assert all(result == results[0] for result in results), "two kiosks got different tickets for one key"
    with any_db.read() as connection:
        seqs = sorted(connection.execute(select(Ticket.seq)).scalars())
    assert seqs == list(range(1, len(keys) + 1))


def race(db: Database, clinic: ClinicConfig, slow: Callable[[QueueService], Any],
         fast: Callable[[QueueService], Any]) -> tuple[Any, Any]:
    """Run `slow` in a thread that pauses right after reading its ticket, and `fast` meanwhile.

    On PostgreSQL `fast` commits while `slow` holds a stale read; on SQLite `slow` holds the write
    lock, so `fast` waits for it instead. Returns each one's result, or the code of its Conflict."""
    slow_queue = QueueService(db, clinic, EventBus(), VirtualClock(MOMENT))
    fast_queue = QueueService(db, clinic, EventBus(), VirtualClock(MOMENT))
    read_done, fast_done = threading.Event(), threading.Event()
    original_load = slow_queue._load

    def load_then_wait(connection: Any, wanted: int) -> Any:
        row = original_load(connection, wanted)
        if not read_done.is_set():
            read_done.set()
            fast_done.wait(timeout=1)
        return row

    slow_queue._load = load_then_wait  # type: ignore[method-assign]
    outcome: dict[str, Any] = {}

    def attempt(name: str, queue: QueueService, operation: Callable[[QueueService], Any]) -> None:
        try:
            outcome[name] = operation(queue)
        except Conflict as exc:
            outcome[name] = exc.code

    thread = threading.Thread(target=attempt, args=("slow", slow_queue, slow))
    thread.start()
    assert read_done.wait(timeout=10)
    attempt("fast", fast_queue, fast)
    fast_done.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return outcome["slow"], outcome["fast"]


def log_pairs(db: Database, ticket_id: int) -> list[tuple[str | None, str]]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(
            select(TicketTransition.from_status, TicketTransition.to_status).where(
                TicketTransition.ticket_id == ticket_id).order_by(TicketTransition.id))]


def test_cancel_racing_a_call_leaves_a_consistent_ticket(any_db: Database, clinic: ClinicConfig) -> None:
    """The patient cancels at the kiosk while a counter calls them: exactly one of the two wins."""
    queue = sync(any_db, clinic)
    ticket_id = queue.issue("tiep-don")["id"]
    cancelled, called = race(any_db, clinic, lambda q: q.cancel(ticket_id, actor="kiosk")["status"],
                             lambda q: q.call_next("q1", actor="nurse"))
    final = queue.get_ticket(ticket_id)["status"]
    if called is not None:  # the call won: the cancel must have been refused
        assert (cancelled, final) == ("illegal_transition", p.CALLED)
        assert log_pairs(any_db, ticket_id) == [(None, p.WAITING), (p.WAITING, p.CALLED)]
    else:  # the cancel won
        assert (cancelled, final) == (p.CANCELLED, p.CANCELLED)
        assert log_pairs(any_db, ticket_id) == [(None, p.WAITING), (p.WAITING, p.CANCELLED)]


def test_a_late_return_pressed_twice_at_once_returns_the_ticket_once(any_db: Database,
                                                                     clinic: ClinicConfig) -> None:
    queue = sync(any_db, clinic)
    ticket_id = queue.issue("tiep-don")["id"]
    queue.call_next("q1", actor="nurse")
    queue.no_show("q1", actor="nurse")

    def return_late(q: QueueService) -> str:
        return q.return_late(ticket_id, actor="reception")["status"]

    outcomes = race(any_db, clinic, return_late, return_late)
    assert sorted(outcomes) == sorted([p.WAITING, "illegal_transition"])
    assert log_pairs(any_db, ticket_id)[-2:] == [(p.CALLED, p.NO_SHOW), (p.NO_SHOW, p.WAITING)]
