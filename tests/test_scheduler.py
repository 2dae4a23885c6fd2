"""The scheduler: interval and daily jobs on a virtual clock, one leader among several, takeover, the
background loop, the outbox job of the hub and `clinicq worker`."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.config import ClinicConfig
from hub.core import build_hub
from hub.db import Database
from hub.domain.common.clock import SystemClock, VirtualClock
from hub.scheduler import Scheduler
from tests.conftest import CONFIG_DIR, SITE_TZ
from tests.notifications_support import APPOINTMENT, add_patient


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SITE_TZ)


def scheduler(db: Database, clock: VirtualClock, owner: str, lease: float = 30) -> Scheduler:
    return Scheduler(db, clock, SITE_TZ, owner=owner, lease_seconds=lease)


class Calls:
    def __init__(self) -> None:
        self.times: list[datetime] = []
        self._lock = threading.Lock()

    def __call__(self, now: datetime) -> None:
        with self._lock:
            self.times.append(now)


def test_interval_job_runs_every_n_seconds(sqlite_db: Database, clock: VirtualClock) -> None:
    runner = scheduler(sqlite_db, clock, "a")
    calls = Calls()
    runner.add_job("tick", calls, every_seconds=10)
    assert runner.run_pending() == ["tick"]
    clock.advance(9)
    assert runner.run_pending() == []
    clock.advance(1)
    assert runner.run_pending() == ["tick"]
    assert calls.times == [at(23, 8, 0), at(23, 8, 0, 10)]


def test_daily_job_runs_once_a_day_at_site_time_even_across_a_restart(sqlite_db: Database) -> None:
    clock = VirtualClock(at(23, 8, 0))
    calls = Calls()
    first = scheduler(sqlite_db, clock, "a")
    first.add_job("no-shows", calls, at="18:00")
    assert first.run_pending() == []  # a new job waits for its time of day
    clock.set(at(23, 18, 0))
    assert first.run_pending() == ["no-shows"]
    clock.set(at(23, 18, 5))
    assert first.run_pending() == []
    first.stop()  # restart: another process, same database
    second = scheduler(sqlite_db, clock, "b")
    second.add_job("no-shows", calls, at="18:00")
    clock.set(at(23, 19, 0))
    assert second.run_pending() == []  # today's run is recorded in the database
    clock.set(at(25, 9, 0))  # down for a day and a half: one catch-up run, not two
    assert second.run_pending() == ["no-shows"]
    assert second.run_pending() == []
    clock.set(at(25, 18, 0))
    assert second.run_pending() == ["no-shows"]
    assert len(calls.times) == 3


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(sqlite_db: Database, clock: VirtualClock) -> None:
    runner = scheduler(sqlite_db, clock, "a")
    calls = Calls()

    def broken(now: datetime) -> None:
        raise RuntimeError("database of the lab is down")

    runner.add_job("broken", broken, every_seconds=60)
    runner.add_job("fine", calls, every_seconds=60)
    assert runner.run_pending() == ["broken", "fine"]
    runs = runner.job_runs()
    assert runs["broken"]["last_ok"] is False and "lab is down" in runs["broken"]["last_error"]
    assert runs["fine"]["last_ok"] is True and len(calls.times) == 1


def test_add_job_checks_its_arguments(sqlite_db: Database, clock: VirtualClock) -> None:
    runner = scheduler(sqlite_db, clock, "a")
    for kwargs in ({}, {"every_seconds": 5, "at": "18:00"}, {"at": "25:00"}, {"every_seconds": 0}):
        with pytest.raises(ValueError):
            runner.add_job("job", Calls(), **kwargs)
    runner.add_job("job", Calls(), every_seconds=5)
    with pytest.raises(ValueError):
        runner.add_job("job", Calls(), every_seconds=5)


def test_only_the_leader_runs_jobs_and_another_takes_over_when_it_stops_renewing(sqlite_db: Database,
                                                                                 clock: VirtualClock) -> None:
    calls = Calls()
    first, second = scheduler(sqlite_db, clock, "hub-1"), scheduler(sqlite_db, clock, "hub-2")
    for runner in (first, second):
        runner.add_job("outbox", calls, every_seconds=5)
    assert first.run_pending() == ["outbox"] and first.is_leader
    for _ in range(10):  # both tick for a minute: only the leader runs anything
        clock.advance(6)
        first.run_pending()
        assert second.run_pending() == [] and not second.is_leader
    assert len(calls.times) == 11
    # hub-1 hangs. It renewed its 30 s lease at most 15 s ago (renewals come every half lease).
    expires = first.lease.expires_at
    assert expires is not None and 15 < (expires - clock.now()).total_seconds() <= 30
    clock.advance(15)
    assert second.run_pending() == []
    clock.set(expires)
    assert second.run_pending() == ["outbox"] and second.is_leader
    assert first.run_pending() == [] and not first.is_leader  # it wakes up as a follower


def test_a_stopped_leader_hands_over_at_once(sqlite_db: Database, clock: VirtualClock) -> None:
    first, second = scheduler(sqlite_db, clock, "hub-1"), scheduler(sqlite_db, clock, "hub-2")
    assert first.lease.hold(clock.now()) and not second.lease.hold(clock.now())
    first.stop()
    assert second.lease.hold(clock.now())


def test_candidates_racing_for_the_lease_elect_one(any_db: Database, clock: VirtualClock) -> None:
    runners = [scheduler(any_db, clock, f"hub-{i}") for i in range(4)]
    for round_ in range(2):  # on an empty table (insert race), then on an expired lease (update race)
        start = threading.Barrier(len(runners))
        results: dict[str, bool] = {}

        def race(runner: Scheduler, start: threading.Barrier, results: dict[str, bool]) -> None:
            start.wait()
            results[runner.owner] = runner.lease.hold(clock.now())

        threads = [threading.Thread(target=race, args=(runner, start, results)) for runner in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sum(results.values()) == 1, f"round {round_}: {results}"
        for runner in runners:
            runner.lease._expires = None  # forget: every candidate asks the database next round
        clock.advance(31)


def test_the_background_loop_runs_and_stops(sqlite_db: Database) -> None:
    runner = Scheduler(sqlite_db, SystemClock(), SITE_TZ, owner="loop", lease_seconds=5, tick_seconds=0.05)
    calls = Calls()
    runner.add_job("tick", calls, every_seconds=0.1)
    runner.start()
    deadline = time.monotonic() + 5
    while len(calls.times) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    runner.stop()
    count = len(calls.times)
    assert count >= 2
    time.sleep(0.2)
    assert len(calls.times) == count
    assert not runner.is_leader


def test_the_hub_scheduler_sends_the_outbox(tmp_path: Path, clinic: ClinicConfig) -> None:
    clock = VirtualClock(at(23, 8, 0))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'hub.db'}", clock=clock)
    try:
        patient = add_patient(hub.db)
        [in_app, file_log] = hub.notifications.enqueue("confirmation", patient_id=patient, params=APPOINTMENT)
        assert (in_app["channel"], file_log["channel"]) == ("in_app", "file_log")  # the sample's channels
        ran = hub.scheduler.run_pending()
        assert ran[0] == "notifications.send" and "followups.plan" in ran  # and the reminder planner
        assert {r["state"] for r in hub.notifications.list()} == {"sent"}
        line = json.loads((tmp_path / "notifications.jsonl").read_text(encoding="utf-8"))
        assert line["subject"] == "Xác nhận lịch tái khám 30/11/2026 lúc 08:30"
    finally:
        hub.close()


def test_clinicq_worker_once_and_status(tmp_path: Path) -> None:
    from hub.cli import cli

    runner = CliRunner()
    arguments = ["--config", str(CONFIG_DIR), "--var", str(tmp_path), "--db", f"sqlite:///{tmp_path / 'w.db'}"]
    result = runner.invoke(cli, ["worker", "--once", *arguments])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output.strip().splitlines()[-1])
    assert status["leader"] is True and {"notifications.send", "followups.plan"} <= set(status["ran"])
    result = runner.invoke(cli, ["worker", "--status", *arguments])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output[result.output.index("{"):])
    assert {"followups.no_shows", "followups.plan", "notifications.send", "report-rollups",
            "bookings.remind", "insurance.recheck", "insurance.claims", "staffing.advice"} == set(status["jobs"])
    assert status["runs"]["notifications.send"]["last_ok"] == "True"
