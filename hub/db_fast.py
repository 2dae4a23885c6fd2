"""The queue engine's hot statements, run straight on the database driver.

SQLAlchemy's execution layer costs some 25-45 µs per statement on this hardware: several times what
SQLite itself spends on the engine's small, indexed statements, and most of the time of a simulated
hospital day. The statements the engine runs for every ticket are compiled once per dialect (and per
set of parameter names) and executed on the DB-API cursor of the very same connection, so they share
its transaction. Parameters and results still go through SQLAlchemy's own column types (UTC
datetimes, JSON, booleans), and driver errors are re-raised as SQLAlchemy's exceptions, so callers
catch `IntegrityError` exactly as with `Connection.execute`. Statements with expanding IN lists are
not supported here: use `Connection.execute` for them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.sql.expression import ClauseElement

Processor = Callable[[Any], Any] | None


class _RowBase(tuple):
    """Rows behave like SQLAlchemy's for what the engine uses: attributes and `_mapping`."""

    __slots__ = ()

    @property
    def _mapping(self) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))  # type: ignore[attr-defined]


@dataclass
class _Plan:
    sql: str
    positional: tuple[str, ...] | None  # parameter order for "?"-style drivers; None: named parameters
    bind_processors: dict[str, Processor]
    columns: list[Any]
    row_class: type | None
    construct: Callable[[Mapping[str, Any]], dict[str, Any]]
    # Result conversions need the driver's column types (PostgreSQL numerics): made on first use.
    result_processors: tuple[Processor, ...] | None = None
    active_processors: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None  # (column, processor) that convert


class FastResult:
    """The rows of one statement, fetched at once (the engine's statements return a handful)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rows)

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise NoResultFound("no row") if not self.rows else MultipleResultsFound("more than one row")
        return self.rows[0]

    def all(self) -> list[Any]:
        return self.rows

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


_plans: dict[tuple[int, str, frozenset[str]], _Plan] = {}
_statements: dict[int, ClauseElement] = {}  # keeps each planned statement alive, so its id stays its own


def _plan(statement: ClauseElement, connection: Connection, keys: frozenset[str]) -> _Plan:
    dialect = connection.dialect
    cache_key = (id(statement), dialect.name, keys)
    plan = _plans.get(cache_key)
    if plan is not None:
        return plan
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()}
    columns = list(getattr(statement, "exported_columns", []) or [])
    row_class = None
    if columns:
        base = namedtuple("Row", [column.key for column in columns], rename=True)  # type: ignore[misc]
        row_class = type("Row", (_RowBase, base), {"__slots__": ()})
    plan = _Plan(sql=compiled.string, positional=tuple(compiled.positiontup) if compiled.positional else None,
                 bind_processors=binds, columns=columns, row_class=row_class,
                 construct=lambda params, compiled=compiled: compiled.construct_params(params))
    _plans[cache_key] = plan
    _statements[id(statement)] = statement
    return plan


def execute(connection: Connection, statement: ClauseElement, params: Mapping[str, Any] | None = None) -> FastResult:
    """Run a Core statement on `connection`'s driver connection, in its current transaction."""
    params = params or {}
    plan = _plan(statement, connection, frozenset(params))
    values = plan.construct(params)
    for name, process in plan.bind_processors.items():
        if process is not None and name in values:
            values[name] = process(values[name])
    arguments: Any = [values[name] for name in plan.positional] if plan.positional is not None else values
    driver = connection.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(plan.sql, arguments)
        raw_rows = cursor.fetchall() if plan.row_class is not None else []
        rowcount = cursor.rowcount
        if plan.result_processors is None and plan.row_class is not None:
            plan.result_processors = tuple(
                column.type.dialect_impl(connection.dialect).result_processor(connection.dialect, described[1])
                for column, described in zip(plan.columns, cursor.description, strict=True))
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(plan.sql, arguments, exc, connection.dialect.loaded_dbapi.Error,
                                  dialect=connection.dialect) from exc
    finally:
        cursor.close()
    if plan.row_class is None:
        return FastResult([], rowcount)
    row_class = plan.row_class
    active = plan.active_processors
    if active is None:
        # Only the columns that convert (datetimes, JSON, booleans...): most of a row's columns are
        # integers and strings the driver already gives as they are.
        assert plan.result_processors is not None
        active = plan.active_processors = tuple(
            (index, process) for index, process in enumerate(plan.result_processors) if process is not None)
    if not active:
        rows = [row_class._make(raw) for raw in raw_rows]
    else:
        rows = []
        for raw in raw_rows:
            values = list(raw)
            for index, process in active:
                values[index] = process(values[index])
            rows.append(row_class._make(values))
    return FastResult(rows, rowcount if rowcount >= 0 else len(rows))
