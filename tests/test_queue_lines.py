"""The in-memory waiting lines (hub/domain/queue/lines.py) against a full recount, on SQLite and PostgreSQL.

Two engines share one database, as two hub processes do; Hypothesis drives random sequences of issues,
calls, no-shows, late returns, cancels, transfers, writes by other modules straight to the tickets table,
and transactions that roll back after touching a line. After every step, for both engines, each waiting
ticket's "ahead", each service's "waiting" and the place a new ticket would get equal a COUNT over the
database.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select, text, update

from hub import migrate
from hub import protocol as p
from hub.db import Database
from hub.domain.common.clock import VirtualClock, local_day, to_ms
from hub.domain.common.errors import DomainError
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket
from tests.conftest import SITE_TZ, RecordingBus

COUNTERS = ["q1", "q2", "q4", "q5", "p101"]
SERVICES = ["tiep-don", "thu-ngan", "kham-noi"]
PRIORITIES = ["normal", "normal", "normal", "elderly", "emergency"]
START = datetime(2026, 11, 23, 7, 30, tzinfo=SITE_TZ)
T = Ticket.__table__


def make_machine(url: str, clinic) -> type[RuleBasedStateMachine]:  # type: ignore[no-untyped-def]
    class LineMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.db = Database(url)
            if self.db.dialect == "postgresql":
                with self.db.engine.begin() as connection:
                    connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            else:
                self.db.engine.dispose()
                Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            migrate.upgrade(self.db)
            self.clock = VirtualClock(START)
            # Two processes' engines on one database: each has its own line index.
            self.engines = [QueueService(self.db, clinic, RecordingBus(), self.clock) for _ in range(2)]
            self.engines[0].sync_config()

        def teardown(self) -> None:
            self.db.dispose()

        def day(self):  # type: ignore[no-untyped-def]
            return local_day(self.clock.now(), SITE_TZ)

        @rule(who=st.integers(0, 1), service=st.sampled_from(SERVICES), priority=st.sampled_from(PRIORITIES),
              seconds=st.integers(0, 120))
        def issue(self, who: int, service: str, priority: str, seconds: int) -> None:
            self.clock.advance(seconds)
            view = self.engines[who].issue(service, priority=priority)
            with self.db.read() as connection:
                row = connection.execute(select(T.c.queue_key_ms).where(T.c.id == view["id"])).one()
                expected = self.engines[who]._count_ahead_sql(
                    connection, self.engines[who].service_id(service), self.day(), row.queue_key_ms, view["id"])
            assert view["ahead"] == expected

        @rule(who=st.integers(0, 1), counter=st.sampled_from(COUNTERS))
        def call_next(self, who: int, counter: str) -> None:
            self.engines[who].call_next(counter, actor="test")

        @rule(who=st.integers(0, 1), counter=st.sampled_from(COUNTERS), action=st.sampled_from(
            ["no_show", "finish", "start"]))
        def counter_key(self, who: int, counter: str, action: str) -> None:
            try:
                getattr(self.engines[who], action)(counter, actor="test")
            except DomainError:
                pass  # nothing to act on at this counter: refused, as it should be

        @rule(who=st.integers(0, 1), counter=st.sampled_from(COUNTERS), to=st.sampled_from(SERVICES))
        def transfer(self, who: int, counter: str, to: str) -> None:
            try:
                self.engines[who].transfer(counter, to, actor="test")
            except DomainError:
                pass

        @rule(who=st.integers(0, 1), index=st.integers(0, 1000), status=st.sampled_from([p.WAITING, p.NO_SHOW]))
        def cancel_or_return(self, who: int, index: int, status: str) -> None:
            with self.db.read() as connection:
                ids = connection.execute(select(T.c.id).where(T.c.status == status).order_by(T.c.id)).scalars().all()
            if not ids:
                return
            ticket = ids[index % len(ids)]
            try:
                if status == p.WAITING:
                    self.engines[who].cancel(ticket, actor="test")
                else:
                    self.engines[who].return_late(ticket, actor="test")
            except DomainError:
                pass

        @rule(index=st.integers(0, 1000), action=st.sampled_from(["cancel", "rekey", "delete_done"]))
        def foreign_write(self, index: int, action: str) -> None:
            """Another module (or a hand at the database) changes the line behind the engines' backs."""
            with self.db.write() as connection:
                ids = connection.execute(select(T.c.id).where(T.c.status == p.WAITING).order_by(T.c.id)).scalars().all()
                if not ids:
                    return
                ticket = ids[index % len(ids)]
                if action == "cancel":
                    connection.execute(update(T).where(T.c.id == ticket).values(status=p.CANCELLED))
                else:
                    connection.execute(update(T).where(T.c.id == ticket).values(
                        queue_key_ms=to_ms(self.clock.now()) - index * 1000))

        @rule(who=st.integers(0, 1), service=st.sampled_from(SERVICES))
        def rolled_back(self, who: int, service: str) -> None:
            """An issue whose transaction fails after the ticket is in: the line must not keep it."""
            engine = self.engines[who]

            class Boom(Exception):
                pass

            with pytest.raises(Boom), engine._transaction() as txn:
                engine._issue(txn, engine.service_config(service), priority="normal", actor="test")
                engine._count_ahead(txn.connection, engine.service_id(service), self.day(), 0, None)
                raise Boom

        @invariant()
        def lines_match_a_recount(self) -> None:
            day = self.day()
            with self.db.read() as connection:
                waiting = connection.execute(select(T.c.id, T.c.service_id, T.c.queue_key_ms).where(
                    T.c.status == p.WAITING, T.c.day == day)).all()
                counts = dict(connection.execute(select(T.c.service_id, func.count()).where(
                    T.c.status == p.WAITING, T.c.day == day).group_by(T.c.service_id)).all())
            for engine in self.engines:
                for ticket in waiting:
                    with self.db.read() as connection:
                        expected = engine._count_ahead_sql(connection, ticket.service_id, day,
                                                           ticket.queue_key_ms, ticket.id)
                    assert engine.get_ticket(ticket.id)["ahead"] == expected
                overview = {s["code"]: s["waiting"] for s in engine.services_overview()}
                for service in SERVICES:
                    service_id = engine.service_id(service)
                    assert overview[service] == counts.get(service_id, 0)
                    with self.db.read() as connection:
                        key = to_ms(self.clock.now())
                        assert engine._count_ahead(connection, service_id, day, key, None) == \
                            engine._count_ahead_sql(connection, service_id, day, key, None)

    return LineMachine


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_lines_equal_a_full_recount(kind: str, tmp_path: Path, clinic, request) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'lines.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    machine = make_machine(url, clinic)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=12 if kind == "sqlite" else 6, stateful_step_count=30, deadline=None,
        suppress_health_check=list(HealthCheck)))


def test_a_line_is_loaded_once_then_followed(tmp_path: Path, clinic) -> None:  # type: ignore[no-untyped-def]
    """After its first load, a line is followed through the change log: no reload per ticket."""
    db = Database(f"sqlite:///{tmp_path / 'once.db'}")
    migrate.upgrade(db)
    clock = VirtualClock(START)
    first, second = (QueueService(db, clinic, RecordingBus(), clock) for _ in range(2))
    first.sync_config()
    def busy_minute(count: int) -> None:
        for index in range(count):
            (first if index % 3 else second).issue("tiep-don")
            clock.advance(5)
        first.call_next("q1", actor="test")
        second.call_next("q2", actor="test")
        first.services_overview()
        second.services_overview()

    busy_minute(5)
    loads = first.lines.loads, second.lines.loads
    busy_minute(60)
    assert (first.lines.loads, second.lines.loads) == loads  # followed through the log, never reloaded
    assert first.services_overview(["tiep-don"])[0]["waiting"] == 65 - 2  # the second "next" at q1 and q2 recalls
    assert second.services_overview(["tiep-don"])[0]["waiting"] == 65 - 2  # the second "next" at q1 and q2 recalls
    db.dispose()



def test_shared_schedules_give_the_estimates_a_fresh_forecast_gives(tmp_path: Path, clinic) -> None:  # type: ignore[no-untyped-def]
    """Estimates from a forecast that reuses the last one's played-forward calls equal those played afresh."""
    db = Database(f"sqlite:///{tmp_path / 'est.db'}")
    migrate.upgrade(db)
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SITE_TZ))
    queue = QueueService(db, clinic, RecordingBus(), clock)
    queue.sync_config()
    queue.open_counter("q1", actor="test")
    issued = []
    for index in range(60):
        issued.append(queue.issue("tiep-don", priority="elderly" if index % 7 == 0 else "normal"))
        clock.advance(0.01)
    queue.call_next("q1", actor="test")  # the counters change: a new schedule
    for ticket in issued[1:]:
        shared = queue.get_ticket(ticket["id"])
        queue._schedules.clear()
        fresh = queue.get_ticket(ticket["id"])
        assert shared["estimate"] == fresh["estimate"] and shared["ahead"] == fresh["ahead"]
    assert issued[-1]["estimate"]["p50_minutes"] > issued[1]["estimate"]["p50_minutes"]
    db.dispose()


def test_the_log_of_old_days_is_pruned(tmp_path: Path, clinic) -> None:  # type: ignore[no-untyped-def]
    from hub.domain.queue.lines import LINE_CHANGES

    db = Database(f"sqlite:///{tmp_path / 'prune.db'}")
    migrate.upgrade(db)
    clock = VirtualClock(START)
    queue = QueueService(db, clinic, RecordingBus(), clock)
    queue.sync_config()
    queue.issue("tiep-don")
    clock.advance(3 * 86400)  # three days later
    fresh = QueueService(db, clinic, RecordingBus(), clock)
    assert fresh.issue("tiep-don")["ahead"] == 0
    with db.read() as connection:
        days = set(connection.execute(select(LINE_CHANGES.c.day)).scalars())
    assert days == {local_day(clock.now(), SITE_TZ)}
    db.dispose()
