"""The database: engine set-up for SQLite and PostgreSQL, and write/read transactions.

SQLite runs in WAL mode with synchronous=FULL: a ticket number that was printed must survive a power
cut. Writes that read then write (numbering, call-next) take the write lock up front (BEGIN IMMEDIATE)
so two writers never both read the same "next" value; on PostgreSQL row locks and conditional updates
do the same job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
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
        else:
            self.engine = create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size,
                                        pool_pre_ping=True)
            self._memory_lock = None
            self._memory_connection = None

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

    def dispose(self) -> None:
        if self._memory_connection is not None:
            self._memory_connection.close()
            self._memory_connection = None
        self.engine.dispose()


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
