"""Group commit on SQLite (hub/db.py `_GroupCommit`): writers share COMMITs, each keeps its own fate.

Real SQLite file, real threads (the hub's greenlets behave the same way through the same locks).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text

from hub.db import Database


def _table(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, writer INTEGER UNIQUE)"))


def test_writers_share_commits_and_a_failure_stays_its_own(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    _table(db)
    commits = []
    event.listen(db.engine, "commit", lambda connection: commits.append(1))
    gate = threading.Barrier(20)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        gate.wait()
        try:
            with db.write() as connection:
                connection.execute(text("INSERT INTO t (writer) VALUES (:w)"), {"w": index})
                if index == 7:
                    raise ValueError("this writer fails after its insert")
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.read() as connection:
        saved = sorted(connection.execute(text("SELECT writer FROM t")).scalars())
    assert saved == [i for i in range(20) if i != 7]
    assert len(errors) == 1
    assert 1 <= len(commits) <= 20
    db.dispose()


def test_a_returned_write_is_on_disk(tmp_path: Path) -> None:
    """What `write()` returned from is visible to another process at once (it was committed)."""
    path = tmp_path / "d.db"
    db = Database(f"sqlite:///{path}")
    _table(db)
    with db.write() as connection:
        connection.execute(text("INSERT INTO t (writer) VALUES (1)"))
    seen = subprocess.run([sys.executable, "-c", f"import sqlite3; print(sqlite3.connect({str(path)!r})"
                                                 ".execute('select count(*) from t').fetchone()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert seen == "1"
    with pytest.raises(RuntimeError), db.write() as connection:
        connection.execute(text("INSERT INTO t (writer) VALUES (2)"))
        raise RuntimeError("rolled back")
    with db.read() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    db.dispose()


def test_postgresql_group_commit_when_asked(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLINICQ_GROUP_COMMIT=all: PostgreSQL writers share COMMITs too; a writer whose statement fails
    (PostgreSQL then refuses every statement until the savepoint is rolled back) loses only its own work."""
    monkeypatch.setenv("CLINICQ_GROUP_COMMIT", "all")
    db = Database(pg_url)
    assert db._group is not None
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS gc_t"))
        connection.execute(text("CREATE TABLE gc_t (id SERIAL PRIMARY KEY, writer INTEGER UNIQUE)"))
    commits = []
    event.listen(db.engine, "commit", lambda connection: commits.append(1))
    gate = threading.Barrier(12)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        gate.wait()
        try:
            with db.write() as connection:
                # Writer 11 repeats writer 3's value: a unique violation inside the shared transaction.
                connection.execute(text("INSERT INTO gc_t (writer) VALUES (:w)"), {"w": 3 if index == 11 else index})
        except Exception as exc:  # the test counts them
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.read() as connection:
        saved = sorted(connection.execute(text("SELECT writer FROM gc_t")).scalars())
    assert saved == list(range(11))
    assert len(errors) == 1 and "unique" in str(errors[0]).lower()
    assert 1 <= len(commits) <= 12
    with db.write() as connection:  # the shared connection is usable after the failure
        connection.execute(text("INSERT INTO gc_t (writer) VALUES (100)"))
    with db.read() as connection:
        assert connection.execute(text("SELECT count(*) FROM gc_t")).scalar_one() == 12
    db.dispose()


def test_postgresql_writes_one_transaction_each_by_default(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLINICQ_GROUP_COMMIT", raising=False)
    assert Database(pg_url)._group is None


def test_commits_offloaded_to_another_thread_are_durable_before_write_returns(tmp_path: Path) -> None:
    """The hub runs SQLite's COMMIT in an OS thread (hub/server.py): `write()` still returns only after it."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "o.db"
    db = Database(f"sqlite:///{path}")
    _table(db)
    ran_in: list[str] = []
    pool = ThreadPoolExecutor(1, thread_name_prefix="committer")

    def run(work):  # type: ignore[no-untyped-def]
        def named():  # type: ignore[no-untyped-def]
            ran_in.append(threading.current_thread().name)
            return work()
        return pool.submit(named).result()

    assert db.offload_commits(run)
    for value in (1, 2):
        with db.write() as connection:
            connection.execute(text("INSERT INTO t (writer) VALUES (:w)"), {"w": value})
        seen = subprocess.run([sys.executable, "-c", f"import sqlite3; print(sqlite3.connect({str(path)!r})"
                                                     ".execute('select count(*) from t').fetchone()[0])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        assert seen == str(value)
    assert len(ran_in) == 2 and all(name.startswith("committer") for name in ran_in)
    with pytest.raises(ValueError), db.write() as connection:
        connection.execute(text("INSERT INTO t (writer) VALUES (3)"))
        raise ValueError("rolled back, never committed")
    with db.read() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    pool.shutdown()
    db.dispose()
