"""The queue engine's core: configuration indices, transactions, the period log, ticket loads.

Every operation is one database transaction (`QueueCore._transaction`); events are published only
after the commit. The other modules of this package add one job each on top of this class:
forecast -> views -> issuing -> counters -> calling, and `engine.QueueService` is the whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from hub import protocol as p
from hub.config import ClinicConfig, CounterConfig, ServiceConfig
from hub.db import Database, upsert
from hub.db_fast import execute as fast
from hub.domain.common.clock import Clock, local_day, to_ms
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import (
    Event,
    EventBus,
    coalesce,
)
from hub.domain.common.models import AuditEntry
from hub.domain.queue import policy
from hub.domain.queue.calibration import P90Calibrator
from hub.domain.queue.lines import Line, LineIndex
from hub.domain.queue.models import Counter, CounterService, Service, Ticket, TicketTransition
from hub.domain.queue.service_times import ServiceTimeBook

T = Ticket.__table__
C = Counter.__table__
TT = TicketTransition.__table__
TICKET_COLUMNS = (
    T.c.id, T.c.service_id, T.c.day, T.c.seq, T.c.number, T.c.priority, T.c.source, T.c.status,
    T.c.visit_id, T.c.counter_id, T.c.queue_key_ms, T.c.issued_at, T.c.first_called_at,
    T.c.last_called_at, T.c.call_count, T.c.served_at, T.c.finished_at, T.c.slot_at, T.c.offline,
    T.c.transferred_from_id, T.c.estimate_p50_min, T.c.estimate_p90_min, T.c.note, T.c.source_device,
    T.c.status_since,
)
# Statements of the hot paths, built once with bound parameters: SQLAlchemy then skips building and
# hashing a new statement object on every call, which cost more than SQLite's own work. UPDATEs take
# their SET columns from the parameter names; "b_" names are the WHERE values.
_TICKET_BY_ID = select(*TICKET_COLUMNS).where(T.c.id == bindparam("b_ticket"))
INSERT_TRANSITION = insert(TT)
_INSERT_AUDIT = insert(AuditEntry)
_PERIOD_START = select(TT.c.at).where(TT.c.ticket_id == bindparam("b_ticket")).order_by(TT.c.id.desc()).limit(1)
WAITING_IN_SERVICE = (T.c.service_id == bindparam("b_service"), T.c.day == bindparam("b_day"), T.c.status == p.WAITING)
_COUNT_AHEAD_OF_KEY = select(func.count()).select_from(T).where(
    *WAITING_IN_SERVICE, T.c.queue_key_ms <= bindparam("b_key"))
_COUNT_AHEAD_OF_TICKET = select(func.count()).select_from(T).where(*WAITING_IN_SERVICE, or_(
    T.c.queue_key_ms < bindparam("b_key"),
    and_(T.c.queue_key_ms == bindparam("b_key"), T.c.id < bindparam("b_ticket"))))


@dataclass
class Txn:
    """What one operation accumulates inside its transaction."""

    connection: Connection
    now: datetime
    events: list[Event]


class QueueCore:
    """The queue's set-up and the pieces every operation shares: ids of services and counters, one
    transaction per operation, the period log, loading tickets and counting places."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self.tz = clinic.site.tz
        self.times = ServiceTimeBook(clinic)
        self._service_ids: dict[str, int] = {}
        self._service_codes: dict[int, str] = {}
        self._counter_ids: dict[str, int] = {}
        self._counter_codes: dict[int, str] = {}
        self._index(clinic)
        # Recent arrivals of priority classes per service: (minute counted, {class: (count, first ms)}).
        self._arrivals: dict[int, tuple[int, dict[str, tuple[int, int]]]] = {}
        # Share of a shared counter's time given to the services it takes first: (minute counted, {service: share}).
        self._shares: dict[str, tuple[int, dict[str, float]]] = {}
        # Waiting lines in memory (counts and places in O(log n)); the lines each open write transaction
        # read, by id of its connection: dropped if it rolls back (it may have seen its own changes).
        self.lines = LineIndex()
        # Per service, the last forecast whose played-forward calls the next ones may share (estimates).
        self._schedules: dict[str, Any] = {}
        self._lines_read: dict[int, set[tuple[int, date]]] = {}
        self._log_pruned_on: date | None = None
        settings = clinic.estimates
        self.calibration = P90Calibrator(start=settings.p90_scale, target=settings.p90_target,
                                         rate=settings.calibration_rate, enabled=settings.p90_calibration)
        self._overdue_checked: dict[int, int] = {}  # service id -> the minute its overdue tickets were counted
    def _index(self, clinic: ClinicConfig) -> None:
        """Index the structure once (a big hospital has hundreds of counters); again only when it changes.

        Each map is replaced whole, so an operation running meanwhile reads the old map or the new one.
        """
        self.rules = policy.PolicyRules(
            head_start_minutes={c.code: c.head_start_minutes for c in clinic.priority_classes},
            overrides_service_order=frozenset(c.code for c in clinic.priority_classes if c.overrides_service_order),
            max_consecutive_priority=clinic.queue.max_consecutive_priority,
            starvation_minutes=clinic.queue.starvation_minutes,
        )
        self._service_cfgs = {s.code: s for s in clinic.services}
        self._counter_cfgs = {c.code: c for c in clinic.counters}
        self._serving = {s.code: [c for c in clinic.counters if s.code in c.services] for s in clinic.services}
        self._counter_hours = {c.code: clinic.counter_hours(c) for c in clinic.counters}
    def apply_structure(self, clinic: ClinicConfig) -> None:
        """A new structure is in force (an admin's edit, here or in another hub process): re-index it and
        re-read the ids of its rows, which `write_structure_tables` wrote in the edit's transaction."""
        self._index(clinic)
        self.times.set_priors(clinic)
        with self.db.read() as connection:
            self._load_ids(connection)
    def check_structure_change(self, old: ClinicConfig, new: ClinicConfig) -> None:
        """Refuse to drop a service with people waiting or a counter that is open: finish or move them first."""
        removed_services = [s.code for s in old.services if new.service(s.code) is None]
        removed_counters = [c.code for c in old.counters if new.counter(c.code) is None]
        if not removed_services and not removed_counters:
            return
        today = self.today()
        self._ensure_ids()
        with self.db.read() as connection:
            for code in removed_services:
                waiting = connection.execute(select(func.count()).select_from(T).where(
                    T.c.service_id == self._service_ids[code], T.c.day == today,
                    T.c.status.in_((p.WAITING, p.CALLED, p.SERVING, p.ON_HOLD)))).scalar_one()
                if waiting:
                    raise Conflict("service_in_use", f"Dịch vụ {code} còn {waiting} số đang chờ hoặc đang phục vụ; "
                                                     f"hãy phục vụ hoặc chuyển họ trước / {code} still has {waiting} "
                                                     "tickets in line: serve or transfer them first")
            for code in removed_counters:
                state = connection.execute(select(C.c.state).where(C.c.id == self._counter_ids[code])).scalar()
                if state is not None and state != p.COUNTER_CLOSED:
                    raise Conflict("counter_in_use", f"Quầy {code} đang mở; hãy đóng quầy trước / counter {code} is "
                                                     "open: close it first")
    def sync_config(self) -> None:
        """Make the services and counters tables match the structure in force (codes are the stable identity)."""
        with self.db.write() as connection:
            self.write_structure_tables(connection, self.clinic)
    def write_structure_tables(self, connection: Connection, clinic: ClinicConfig) -> None:
        """The services, counters and counter_services rows of `clinic`; the rest marked inactive."""
        for cfg in clinic.services:
            values = {"name": cfg.name, "name_en": cfg.name_en, "kind": cfg.kind, "prefix": cfg.prefix,
                      "fee": cfg.fee, "active": True}
            connection.execute(upsert(connection, Service.__table__, {"code": cfg.code, **values},
                                      ["code"], values))
        configured = [s.code for s in clinic.services]
        connection.execute(update(Service).where(Service.code.not_in(configured)).values(active=False))
        for cfg in clinic.counters:
            values = {"name": cfg.name, "name_en": cfg.name_en, "zone": cfg.zone, "active": True}
            connection.execute(upsert(connection, C, {"code": cfg.code, "state": p.COUNTER_CLOSED,
                                                      "priority_streak": 0, **values}, ["code"], values))
        configured = [c.code for c in clinic.counters]
        connection.execute(update(Counter).where(Counter.code.not_in(configured)).values(active=False))
        self._load_ids(connection)
        connection.execute(CounterService.__table__.delete())
        for cfg in clinic.counters:
            for position, code in enumerate(cfg.services):
                connection.execute(insert(CounterService).values(
                    counter_id=self._counter_ids[cfg.code], service_id=self._service_ids[code],
                    position=position))
    def _load_ids(self, connection: Connection) -> None:
        self._service_ids = dict(connection.execute(select(Service.code, Service.id)).tuples().all())
        self._service_codes = {v: k for k, v in self._service_ids.items()}
        self._counter_ids = dict(connection.execute(select(Counter.code, Counter.id)).tuples().all())
        self._counter_codes = {v: k for k, v in self._counter_ids.items()}
    def _ensure_ids(self) -> None:
        if not self._service_ids:
            with self.db.read() as connection:
                self._load_ids(connection)
    def service_id(self, code: str) -> int:
        self._ensure_ids()
        return self._service_ids[code]
    def service_code(self, service_id: int) -> str:
        self._ensure_ids()
        return self._service_codes[service_id]
    def counter_id(self, code: str) -> int:
        self._ensure_ids()
        return self._counter_ids[code]
    def counter_code(self, counter_id: int) -> str:
        self._ensure_ids()
        return self._counter_codes[counter_id]
    def service_config(self, code: str) -> ServiceConfig:
        cfg = self._service_cfgs.get(code) if isinstance(code, str) else None
        if cfg is None:
            raise NotFound("unknown_service", f"Không có dịch vụ '{code}' / unknown service '{code}'")
        return cfg
    def counter_config(self, code: str) -> CounterConfig:
        cfg = self._counter_cfgs.get(code) if isinstance(code, str) else None
        if cfg is None:
            raise NotFound("unknown_counter", f"Không có quầy '{code}' / unknown counter '{code}'")
        return cfg
    def _check_priority(self, code: str) -> None:
        if not isinstance(code, str) or self.clinic.priority(code) is None:
            known = [c.code for c in self.clinic.priority_classes]
            raise Invalid("unknown_priority", f"unknown priority class {code!r}; expected one of {known}")
    def today(self) -> date:
        return local_day(self.clock.now(), self.tz)
    @contextmanager
    def _transaction(self) -> Iterator[Txn]:
        self._ensure_ids()
        events: list[Event] = []
        read: set[tuple[int, date]] = set()
        try:
            with self.db.write() as connection:
                self._lines_read[id(connection)] = read
                try:
                    txn = Txn(connection, self.clock.now(), events)
                    yield txn
                finally:
                    self._lines_read.pop(id(connection), None)
        except BaseException:
            self.lines.forget(read)
            raise
        self.bus.publish_all(coalesce(events))
    def _audit(self, txn: Txn, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        fast(txn.connection, _INSERT_AUDIT, {"at": txn.now, "actor": actor[:64], "action": action,
                                               "subject": subject[:64], "detail": detail})
    def _transition(self, txn: Txn, ticket: Any, to_status: str, actor: str, counter_id: int | None,
                    reason: str | None = None) -> None:
        """Append the log row that closes the ticket's current period and opens the next."""
        opened = getattr(ticket, "status_since", None)
        if opened is None:  # a ticket from before status_since was kept: read its log
            opened = fast(txn.connection, _PERIOD_START, {"b_ticket": ticket.id}).scalar_one()
        fast(txn.connection, INSERT_TRANSITION, {
            "ticket_id": ticket.id, "from_status": ticket.status, "to_status": to_status, "started_at": opened,
            "at": txn.now, "duration_ms": max(to_ms(txn.now) - to_ms(opened), 0), "counter_id": counter_id,
            "actor": actor[:64], "reason": reason})
    def _load(self, connection: Connection, ticket_id: int) -> Any:
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise Invalid("bad_ticket_id", "a ticket id is an integer")
        row = fast(connection, _TICKET_BY_ID, {"b_ticket": ticket_id}).first()
        if row is None:
            raise NotFound("unknown_ticket", f"no ticket {ticket_id}")
        return row
    def _line(self, connection: Connection, service_id: int, day: date) -> Line:
        """The waiting line of a service on a day, as `connection`'s transaction sees it."""
        read = self._lines_read.get(id(connection))
        if read is not None:
            read.add((service_id, day))
            if self._log_pruned_on != day and day == self.today():
                self._log_pruned_on = day  # once a day per process, in a write transaction
                self.lines.prune(connection, day)
        return self.lines.line(connection, service_id, day)
    def _count_ahead(self, connection: Connection, service_id: int, day: date, key: int, ticket_id: int | None) -> int:
        line = self._line(connection, service_id, day)
        return line.ahead_of_key(key) if ticket_id is None else line.ahead_of(key, ticket_id)
    def _count_ahead_sql(self, connection: Connection, service_id: int, day: date, key: int,
                         ticket_id: int | None) -> int:
        """The same count by a COUNT over the line (O(n)): the reference the line index is tested against."""
        where = {"b_service": service_id, "b_day": day, "b_key": key}
        if ticket_id is None:
            return fast(connection, _COUNT_AHEAD_OF_KEY, where).scalar_one()
        return fast(connection, _COUNT_AHEAD_OF_TICKET, {**where, "b_ticket": ticket_id}).scalar_one()
    def waiting_count(self, connection: Connection, service_id: int, day: date) -> int:
        return len(self._line(connection, service_id, day))
