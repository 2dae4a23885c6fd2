"""The database: engine set-up for SQLite and PostgreSQL, and write/read transactions.

SQLite runs in WAL mode with synchronous=FULL: a ticket number that was printed must survive a power
cut. Writes that read then write (numbering, call-next) take the write lock up front (BEGIN IMMEDIATE)
so two writers never both read the same "next" value; on PostgreSQL row locks and conditional updates
do the same job.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path).resolve()}"


class Database:
    """One engine and the two kinds of transaction the services use."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            in_memory = url in ("sqlite://", "sqlite:///:memory:")
            if not in_memory:
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                url, echo=echo,
                # A bigger prepared-statement cache: the engine's hot paths use a few dozen statements.
                connect_args={"check_same_thread": False, "timeout": 30, "cached_statements": 512},
                # One shared connection for an in-memory database, or every checkout sees an empty one.
                poolclass=StaticPool if in_memory else None,
            )
            self._install_sqlite_hooks(self.engine, in_memory)
            # An in-memory database is one connection: serialise its users ourselves, and keep it
            # checked out (simulations run hundreds of thousands of short transactions on it).
            self._memory_lock = threading.RLock() if in_memory else None
            self._memory_connection: Connection | None = None
            # Group commit (see `_GroupCommit`); CLINICQ_GROUP_COMMIT=0 turns it off (for comparisons).
            enabled = os.environ.get("CLINICQ_GROUP_COMMIT", "1") not in ("0", "false", "off")
            self._group = _GroupCommit(self.engine) if enabled and not in_memory else None
        else:
            self.engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size,
                                        pool_pre_ping=True)
            self._memory_lock = None
            self._memory_connection = None
            # PostgreSQL: group commit only when asked (CLINICQ_GROUP_COMMIT=all). Each ticket's row locks
            # (its number's sequence row, its line's version row) are held until its COMMIT's fsync, so
            # the writers of one line wait out one fsync each; sharing the COMMIT lifts that, but a batch
            # holds the locks of all its members, and two hub processes whose batches lock two lines in
            # opposite orders meet in a deadlock that PostgreSQL breaks (after deadlock_timeout) by
            # failing one writer. One hub process per database: safe; several: leave it off.
            enabled = os.environ.get("CLINICQ_GROUP_COMMIT", "1") == "all"
            self._group = _GroupCommit(self.engine) if enabled else None

    @staticmethod
    def _install_sqlite_hooks(engine: Engine, in_memory: bool) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Let SQLAlchemy's "begin" event issue BEGIN itself, so we can choose IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # Straight to the driver: this runs for every transaction, and SQLAlchemy's statement
            # machinery costs more than SQLite's own BEGIN.
            immediate = connection.get_execution_options().get("clinicq_write")
            connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        if self._memory_lock is not None:
            with self._memory_lock, self._shared_connection().begin():
                yield self._shared_connection()
            return
        if self._group is not None:
            with self._group.write() as connection:
                yield connection
            return
        with self.engine.connect() as connection:
            connection.execution_options(clinicq_write=True)
            with connection.begin():
                yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (rolled back at the end)."""
        if self._memory_lock is not None:
            with self._memory_lock, self._shared_connection().begin() as transaction:
                yield self._shared_connection()
                transaction.rollback()
            return
        with self.engine.connect() as connection, connection.begin() as transaction:
            yield connection
            transaction.rollback()

    def _shared_connection(self) -> Connection:
        if self._memory_connection is None:
            self._memory_connection = self.engine.connect()
            self._memory_connection.execution_options(clinicq_write=True)
        return self._memory_connection

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def offload_commits(self, run: Callable[[Callable[[], None]], object]) -> bool:
        """Have group commits run their COMMIT through `run` (which waits for it); False without group commit."""
        if self._group is None or not self.is_sqlite:
            return False
        self._group.offload = run
        return True

    def dispose(self) -> None:
        if self._group is not None:
            self._group.close()
        if self._memory_connection is not None:
            self._memory_connection.close()
            self._memory_connection = None
        self.engine.dispose()


class _Batch:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: BaseException | None = None


class _GroupCommit:
    """SQLite write transactions that share one COMMIT, hence one fsync (group commit).

    With synchronous=FULL each COMMIT waits for the disk: one fsync per ticket caps a hub at the disk's
    fsync rate, and while a gevent process waits in it nothing else runs. Here the writers of one
    process take turns on one connection; each runs inside a SAVEPOINT of a transaction that stays open
    while writers keep coming: the first writer of a batch (its leader) lets the greenlets that are ready
    run their writes into the same transaction, then commits once for all. Nobody returns from `write()`
    before that COMMIT is durable, so a reply still means "on disk"; a writer whose own work fails
    rolls back to its savepoint only, and if the COMMIT fails every member of the batch gets the error.
    The turns are a lock taken in arrival order (gevent's lock under the hub), and the write lock of the
    file is held only by this one connection: no greenlet sits in BEGIN IMMEDIATE's busy wait behind
    another greenlet of the same process.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.connection: Connection | None = None
        self.root = None  # the batch's open transaction
        self.batch: _Batch | None = None
        # Runs the COMMIT elsewhere and waits for it (gevent's OS thread pool under the hub); None: here.
        self.offload: Callable[[Callable[[], None]], object] | None = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        self.lock.acquire()
        leader = False
        try:
            if self.connection is None:
                self.connection = self.engine.connect()
                self.connection.execution_options(clinicq_write=True)
            if self.root is None:
                self.root = self.connection.begin()
                self.batch = _Batch()
                leader = True
        except BaseException:
            self.lock.release()
            raise
        batch = self.batch
        assert batch is not None
        # The savepoint goes straight to the driver: SQLAlchemy's begin_nested() costs several times
        # SQLite's own SAVEPOINT/RELEASE, once per ticket. Writers inside may still nest their own
        # SQLAlchemy savepoints: those are released or rolled back before this one.
        connection = self.connection
        error: BaseException | None = None
        try:
            _driver_run(connection, "SAVEPOINT clinicq_writer")
            yield connection
            _driver_run(connection, "RELEASE SAVEPOINT clinicq_writer")
        except BaseException as exc:  # this writer's work only: back to its savepoint
            error = exc
            try:
                _driver_run(connection, "ROLLBACK TO SAVEPOINT clinicq_writer")
                _driver_run(connection, "RELEASE SAVEPOINT clinicq_writer")
            except BaseException as rollback_error:  # no savepoint or a broken connection: the batch fails
                batch.error = rollback_error
        finally:
            self.lock.release()
        if leader:
            time.sleep(0)  # the writers ready to run join this batch now (a greenlet switch under gevent)
            with self.lock:
                try:
                    if batch.error is None:
                        if self.offload is not None:
                            # The fsync in an OS thread (the driver lets go of the GIL meanwhile): the
                            # event loop reads, checks and prepares the next requests while the disk
                            # works, and they form the next batch behind this lock. SQLAlchemy's own
                            # commit below then finds the transaction closed and only does its bookkeeping.
                            self.offload(self.connection.connection.driver_connection.commit)
                        self.root.commit()
                    else:
                        self.root.rollback()
                except BaseException as exc:
                    batch.error = exc
                    try:
                        self.root.rollback()
                    except Exception:
                        self.connection.invalidate()
                        self.connection = None
                finally:
                    self.root, self.batch = None, None
            batch.done.set()
        elif error is None:
            batch.done.wait()
        if error is not None:
            raise error
        if batch.error is not None:
            raise RuntimeError("the group commit failed: this write was not saved") from batch.error

    def close(self) -> None:
        with self.lock:
            if self.connection is not None:
                self.connection.close()
                self.connection = None


def _driver_run(connection: Connection, sql: str) -> None:
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def upsert(connection: Connection, table, values: dict, keys: list[str], update: dict):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET update, for SQLite and PostgreSQL alike.

    Returns the statement so callers may add `.returning(...)` before executing it.
    """
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(table).values(**values)
    return statement.on_conflict_do_update(index_elements=keys, set_=update)
