"""The queue engine: issuing tickets and moving them through their states at counters.

Every operation is one database transaction. Ticket numbers come from a per-(service, local day)
sequence row that is incremented in place (the row lock serialises takers on PostgreSQL; BEGIN
IMMEDIATE does it on SQLite), and a unique constraint backs it up. Call-next claims a ticket with a
conditional UPDATE ... WHERE status = 'waiting', so two counters can never both get it. Events are
published only after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub import protocol as p
from hub.config import ClinicConfig, CounterConfig, ServiceConfig
from hub.db import Database, upsert
from hub.db_fast import execute as fast
from hub.domain import calling_policy as policy
from hub.domain.clock import Clock, local_day, to_ms
from hub.domain.errors import Conflict, Invalid, NotFound
from hub.domain.estimates import CounterLoad, Estimate, ServiceForecast, day_intervals_ms
from hub.domain.events import (
    CounterChanged,
    Event,
    EventBus,
    QueueChanged,
    TicketCalled,
    TicketChanged,
    TicketIssued,
    coalesce,
)
from hub.domain.models import (
    AuditEntry,
    Counter,
    CounterService,
    Service,
    Ticket,
    TicketSequence,
    TicketTransition,
    Visit,
)
from hub.domain.service_times import ServiceTimeBook

T = Ticket.__table__
C = Counter.__table__
TT = TicketTransition.__table__
MAX_CLAIM_ATTEMPTS = 20

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
_UPDATE_TICKET = update(T).where(T.c.id == bindparam("b_ticket"))
_RECALL_TICKET = _UPDATE_TICKET.values(call_count=T.c.call_count + 1).returning(*TICKET_COLUMNS)
_CLAIM_TICKET = update(T).where(T.c.id == bindparam("b_ticket"), T.c.status == p.WAITING).values(
    first_called_at=func.coalesce(T.c.first_called_at, bindparam("b_now", type_=T.c.first_called_at.type))
).returning(*TICKET_COLUMNS)
_INSERT_TICKET = insert(T).returning(*TICKET_COLUMNS)
_INSERT_VISIT = insert(Visit).returning(Visit.id)
_SEQUENCES = TicketSequence.__table__
_ADVANCE_SEQUENCE = update(_SEQUENCES).where(
    _SEQUENCES.c.service_id == bindparam("b_service"), _SEQUENCES.c.day == bindparam("b_day")).values(
    last_seq=_SEQUENCES.c.last_seq + bindparam("b_block")).returning(_SEQUENCES.c.last_seq)
_INSERT_TRANSITION = insert(TT)
_INSERT_AUDIT = insert(AuditEntry)
_PERIOD_START = select(TT.c.at).where(TT.c.ticket_id == bindparam("b_ticket")).order_by(TT.c.id.desc()).limit(1)
# A counter with its current ticket in one read: every key press starts with both.
_CURRENT_PREFIX = "t_"
_COUNTER_BY_CODE = select(C, *(c.label(_CURRENT_PREFIX + c.name) for c in TICKET_COLUMNS)).select_from(
    C.outerjoin(T, T.c.id == C.c.current_ticket_id)).where(C.c.code == bindparam("b_code"))
_COUNTER_BY_CODE_LOCKED = _COUNTER_BY_CODE.with_for_update(of=C)
_COUNTER_BY_ID = select(C).where(C.c.id == bindparam("b_counter"))
_UPDATE_COUNTER = update(C).where(C.c.id == bindparam("b_counter"))
_SET_CURRENT = _UPDATE_COUNTER.returning(*C.c)
# A counter and its current ticket in one query (what its LED and the boards show).
_COUNTER_WITH_TICKET = select(
    C, T.c.number.label("t_number"), T.c.status.label("t_status"), T.c.last_called_at.label("t_last_called_at"),
    T.c.served_at.label("t_served_at"), T.c.service_id.label("t_service_id"), T.c.priority.label("t_priority"),
    T.c.call_count.label("t_call_count"),
).select_from(C.outerjoin(T, T.c.id == C.c.current_ticket_id)).where(C.c.id == bindparam("b_counter"))
_WAITING_IN_SERVICE = (T.c.service_id == bindparam("b_service"), T.c.day == bindparam("b_day"), T.c.status == p.WAITING)
_LINE_HEAD = select(T.c.id, T.c.priority, T.c.queue_key_ms, T.c.issued_at, T.c.status_since).where(
    *_WAITING_IN_SERVICE).order_by(T.c.queue_key_ms, T.c.id).limit(1)
_LINE_OLDEST_NORMAL = select(T.c.id, T.c.priority, T.c.queue_key_ms, T.c.issued_at, T.c.status_since).where(
    *_WAITING_IN_SERVICE, T.c.priority == policy.NORMAL).order_by(T.c.queue_key_ms, T.c.id).limit(1)
_COUNT_AHEAD_OF_KEY = select(func.count()).select_from(T).where(
    *_WAITING_IN_SERVICE, T.c.queue_key_ms <= bindparam("b_key"))
_COUNT_AHEAD_OF_TICKET = select(func.count()).select_from(T).where(*_WAITING_IN_SERVICE, or_(
    T.c.queue_key_ms < bindparam("b_key"),
    and_(T.c.queue_key_ms == bindparam("b_key"), T.c.id < bindparam("b_ticket"))))
_COUNTER_SERVICES = CounterService.__table__
_FORECAST_COUNTERS = select(C.c.id, C.c.code, C.c.state, C.c.state_since, T.c.status, T.c.last_called_at,
                            T.c.served_at).select_from(
    C.join(_COUNTER_SERVICES, _COUNTER_SERVICES.c.counter_id == C.c.id)
    .outerjoin(T, T.c.id == C.c.current_ticket_id)).where(_COUNTER_SERVICES.c.service_id == bindparam("b_service"))
_RECENT_PRIORITY_ARRIVALS = select(T.c.priority, func.count(), func.min(T.c.issued_at)).where(
    T.c.service_id == bindparam("b_service"), T.c.issued_at >= bindparam("b_since"),
    T.c.issued_at <= bindparam("b_now"), T.c.priority != policy.NORMAL).group_by(T.c.priority)
# First calls (not recalls) a counter made recently, by service: how it shares its time.
_RECENT_CALLS_BY_SERVICE = select(T.c.service_id, func.count()).select_from(TT.join(T, T.c.id == TT.c.ticket_id)).where(
    TT.c.counter_id == bindparam("b_counter"), TT.c.at >= bindparam("b_since"), TT.c.to_status == p.CALLED,
    TT.c.from_status == p.WAITING).group_by(T.c.service_id)
_WAITING_BY_SERVICE = select(T.c.service_id, func.count()).where(
    T.c.service_id.in_(bindparam("b_services", expanding=True)), T.c.day == bindparam("b_day"),
    T.c.status == p.WAITING).group_by(T.c.service_id)


@dataclass(frozen=True)
class _Claimed:
    """A ticket about to be claimed from the waiting line: what `_claim` and `_transition` read."""

    id: int
    status: str
    status_since: datetime | None


@dataclass
class _Txn:
    """What one operation accumulates inside its transaction."""

    connection: Connection
    now: datetime
    events: list[Event]


class QueueService:
    """Issue, call, serve and move tickets; open, pause and close counters."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self.tz = clinic.site.tz
        self.times = ServiceTimeBook(clinic)
        self.rules = policy.PolicyRules(
            head_start_minutes={c.code: c.head_start_minutes for c in clinic.priority_classes},
            overrides_service_order=frozenset(c.code for c in clinic.priority_classes if c.overrides_service_order),
            max_consecutive_priority=clinic.queue.max_consecutive_priority,
            starvation_minutes=clinic.queue.starvation_minutes,
        )
        self._service_ids: dict[str, int] = {}
        self._service_codes: dict[int, str] = {}
        self._counter_ids: dict[str, int] = {}
        self._counter_codes: dict[int, str] = {}
        # The configuration is immutable: index it once (a big hospital has hundreds of counters).
        self._service_cfgs = {s.code: s for s in clinic.services}
        self._counter_cfgs = {c.code: c for c in clinic.counters}
        self._serving = {s.code: [c for c in clinic.counters if s.code in c.services] for s in clinic.services}
        self._counter_hours = {c.code: clinic.counter_hours(c) for c in clinic.counters}
        # Recent arrivals of priority classes per service: (minute counted, {class: (count, first ms)}).
        self._arrivals: dict[int, tuple[int, dict[str, tuple[int, int]]]] = {}
        # Share of a shared counter's time given to the services it takes first: (minute counted, {service: share}).
        self._shares: dict[str, tuple[int, dict[str, float]]] = {}

    # ================================================================== set-up
    def sync_config(self) -> None:
        """Make the services and counters tables match config/ (codes are the stable identity)."""
        with self.db.write() as connection:
            for cfg in self.clinic.services:
                values = {"name": cfg.name, "name_en": cfg.name_en, "kind": cfg.kind, "prefix": cfg.prefix,
                          "fee": cfg.fee, "active": True}
                connection.execute(upsert(connection, Service.__table__, {"code": cfg.code, **values},
                                          ["code"], values))
            configured = [s.code for s in self.clinic.services]
            connection.execute(update(Service).where(Service.code.not_in(configured)).values(active=False))
            for cfg in self.clinic.counters:
                values = {"name": cfg.name, "name_en": cfg.name_en, "zone": cfg.zone, "active": True}
                connection.execute(upsert(connection, C, {"code": cfg.code, "state": p.COUNTER_CLOSED,
                                                          "priority_streak": 0, **values}, ["code"], values))
            configured = [c.code for c in self.clinic.counters]
            connection.execute(update(Counter).where(Counter.code.not_in(configured)).values(active=False))
            self._load_ids(connection)
            connection.execute(CounterService.__table__.delete())
            for cfg in self.clinic.counters:
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

    # ================================================================== lookups
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

    # ================================================================== transactions
    @contextmanager
    def _transaction(self) -> Iterator[_Txn]:
        self._ensure_ids()
        events: list[Event] = []
        with self.db.write() as connection:
            txn = _Txn(connection, self.clock.now(), events)
            yield txn
        self.bus.publish_all(coalesce(events))

    def _audit(self, txn: _Txn, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        fast(txn.connection, _INSERT_AUDIT, {"at": txn.now, "actor": actor[:64], "action": action,
                                               "subject": subject[:64], "detail": detail})

    def _transition(self, txn: _Txn, ticket: Any, to_status: str, actor: str, counter_id: int | None,
                    reason: str | None = None) -> None:
        """Append the log row that closes the ticket's current period and opens the next."""
        opened = getattr(ticket, "status_since", None)
        if opened is None:  # a ticket from before status_since was kept: read its log
            opened = fast(txn.connection, _PERIOD_START, {"b_ticket": ticket.id}).scalar_one()
        fast(txn.connection, _INSERT_TRANSITION, {
            "ticket_id": ticket.id, "from_status": ticket.status, "to_status": to_status, "started_at": opened,
            "at": txn.now, "duration_ms": max(to_ms(txn.now) - to_ms(opened), 0), "counter_id": counter_id,
            "actor": actor[:64], "reason": reason})

    # ================================================================== issuing
    def issue(self, service: str, *, priority: str = "normal", actor: str = "system", **details: Any) -> dict[str, Any]:
        """Take the next number of a service and put the ticket in line (see `_issue` for details)."""
        cfg = self.service_config(service)
        self._check_priority(priority)
        try:
            with self._transaction() as txn:
                return self._issue(txn, cfg, priority=priority, actor=actor, **details)
        except IntegrityError:
            if not details.get("idempotency_key"):
                raise
            # The same request, sent twice at once, was issued by another process meanwhile (the
            # unique key refused ours): this finds and returns that ticket.
            with self._transaction() as txn:
                return self._issue(txn, cfg, priority=priority, actor=actor, **details)

    def _issue(self, txn: _Txn, cfg: ServiceConfig, *, priority: str, actor: str, source: str = "kiosk",
               source_device: str | None = None, visit_id: int | None = None, patient_id: int | None = None,
               slot_at: datetime | None = None, idempotency_key: str | None = None,
               issued_at: datetime | None = None, seq: int | None = None, note: str | None = None,
               transferred_from_id: int | None = None, appointment_id: int | None = None) -> dict[str, Any]:
        """`issued_at` and `seq` are given only for tickets a kiosk issued offline from a leased block;
        a repeated `idempotency_key` returns the ticket already issued for it."""
        connection = txn.connection
        if idempotency_key:
            existing = connection.execute(select(T.c.id).where(T.c.idempotency_key == idempotency_key)).scalar()
            if existing is not None:
                return self._view(connection, self._load(connection, existing), txn.now)
        service_id = self._service_ids[cfg.code]
        arrival = issued_at or txn.now
        day = local_day(arrival, self.tz)
        offline = seq is not None
        if seq is None:
            seq = self._take_number(connection, service_id, day)
        if visit_id is None:
            visit_id = fast(connection, _INSERT_VISIT, {"patient_id": patient_id, "day": day,
                                                          "started_at": arrival}).scalar_one()
        head_start = self.rules.head_start_minutes[priority]
        key = policy.queue_key_ms(to_ms(arrival), head_start, to_ms(slot_at) if slot_at else None)
        ahead = self._count_ahead(connection, service_id, day, key, None)
        estimate = self.forecast(connection, cfg.code, txn.now).for_position(ahead, priority)
        inserted = fast(connection, _INSERT_TICKET, dict(
            service_id=service_id, day=day, seq=seq, number=p.ticket_number(cfg.prefix, seq),
            priority=priority, source=source, source_device=source_device, status=p.WAITING,
            visit_id=visit_id, queue_key_ms=key, issued_at=arrival, status_since=arrival, call_count=0,
            slot_at=slot_at,
            offline=offline, idempotency_key=idempotency_key, note=note,
            transferred_from_id=transferred_from_id, appointment_id=appointment_id,
            estimate_p50_min=estimate.p50_minutes if estimate else None,
            estimate_p90_min=estimate.p90_minutes if estimate else None,
        )).one()
        fast(connection, _INSERT_TRANSITION, dict(
            ticket_id=inserted.id, from_status=None, to_status=p.WAITING, started_at=arrival, at=arrival,
            duration_ms=0, actor=actor[:64], reason=source))
        view = self._view(connection, inserted, txn.now, ahead=ahead, estimate=estimate)
        if priority != policy.NORMAL:
            self._count_arrival(service_id, priority, to_ms(arrival), to_ms(txn.now))
        txn.events += [TicketIssued(view), QueueChanged(cfg.code)]
        return view

    def _take_number(self, connection: Connection, service_id: int, day: date, block: int = 1) -> int:
        """Advance the (service, day) sequence by `block` and return the first number taken."""
        # After the day's first ticket the row exists and a plain UPDATE (row-locking, and cacheable, which
        # SQLAlchemy's ON CONFLICT is not) does the job; the upsert covers the first ticket of the day.
        last = fast(connection, _ADVANCE_SEQUENCE, {"b_service": service_id, "b_day": day, "b_block": block}).scalar()
        if last is None:
            statement = upsert(connection, TicketSequence.__table__,
                               {"service_id": service_id, "day": day, "last_seq": block},
                               ["service_id", "day"],
                               {"last_seq": TicketSequence.__table__.c.last_seq + block})
            last = connection.execute(statement.returning(TicketSequence.__table__.c.last_seq)).scalar_one()
        return last - block + 1

    def lease_block(self, service: str, size: int, *, actor: str) -> tuple[date, int, int]:
        """Reserve `size` consecutive numbers of today for a kiosk to issue while offline."""
        cfg = self.service_config(service)
        if not 1 <= size <= 500:
            raise Invalid("bad_lease_size", "a lease holds between 1 and 500 numbers")
        with self._transaction() as txn:
            day = local_day(txn.now, self.tz)
            first = self._take_number(txn.connection, self._service_ids[cfg.code], day, size)
            self._audit(txn, actor, "lease_block", cfg.code, {"day": day.isoformat(), "first": first, "size": size})
        return day, first, first + size - 1

    # ================================================================== calling
    def call_next(self, counter: str, *, actor: str) -> dict[str, Any] | None:
        """The "next" key: recall a called ticket (no-show after the allowed recalls), finish a served
        one, then call the next in line. Returns the called ticket, or None when nobody waits."""
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            row = self._open_if_needed(txn, row, actor)
            current = self._current(txn, row)
            if current is not None and current.status == p.CALLED:
                if current.call_count - 1 < self.clinic.queue.recalls_before_no_show:
                    return self._recall(txn, row, current, actor)
                self._end_call(txn, row, current, p.NO_SHOW, actor, "no answer after recalls", clear_counter=False)
            elif current is not None and current.status in (p.SERVING, p.ON_HOLD):
                self._finish(txn, row, current, actor, clear_counter=False)
            # The counter's current ticket is set once, to the ticket called now (or to none).
            return self._call_best(txn, row, actor)

    def call_ticket(self, counter: str, ticket_id: int, *, actor: str) -> dict[str, Any]:
        """Call a specific waiting ticket out of turn (audited)."""
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            row = self._open_if_needed(txn, row, actor)
            current = self._current(txn, row)
            if current is not None:
                raise Conflict("counter_busy",
                               f"Quầy đang phục vụ số {current.number}: hãy kết thúc hoặc báo vắng trước / "
                               f"counter still has {current.number}: finish it or mark no-show first")
            ticket = self._load(txn.connection, ticket_id)
            served = self._counter_service_ids(row.code)
            if ticket.service_id not in served:
                raise Conflict("wrong_service", f"{ticket.number} is not in a service this counter serves")
            if ticket.status != p.WAITING or ticket.day != local_day(txn.now, self.tz):
                raise Conflict("illegal_transition", f"{ticket.number} is {ticket.status}, not waiting today")
            self._audit(txn, actor, "call_out_of_turn", ticket.number, {"counter": row.code, "ticket_id": ticket.id})
            called = self._claim(txn, row, ticket, actor)
            if called is None:
                raise Conflict("illegal_transition", f"{ticket.number} was just called elsewhere")
            return called

    def recall(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.CALLED,), "recall")
            return self._recall(txn, row, current, actor)

    def start(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.CALLED,), "start")
            fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": p.SERVING, "served_at": txn.now,
                                                    "status_since": txn.now})
            self._transition(txn, current, p.SERVING, actor, row.id)
            walked = (to_ms(txn.now) - to_ms(current.last_called_at or txn.now)) / 60_000
            self.times.record_call_outcome(txn.connection, current.service_id, False, walked, txn.now)
            return self._changed(txn, row, current.id, current.status, "start",
                                 _updated(current, status=p.SERVING, served_at=txn.now, status_since=txn.now))

    def finish(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            # on_hold -> done is not a transition of the protocol: resume the counter first.
            current = self._require_current(txn, row, (p.SERVING,), "finish")
            return self._finish(txn, row, current, actor)

    def no_show(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.CALLED,), "no-show")
            return self._end_call(txn, row, current, p.NO_SHOW, actor, None)

    def transfer(self, counter: str, to_service: str, *, actor: str, note: str | None = None,
                 priority: str | None = None) -> dict[str, Any]:
        """Send the patient being served to another service; returns the new waiting ticket."""
        target = self.service_config(to_service)
        if priority is not None:
            self._check_priority(priority)
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._require_current(txn, row, (p.SERVING,), "transfer")
            if self._service_ids[target.code] == current.service_id:
                raise Conflict("same_service", "transfer to the service the ticket is already in")
            fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": p.TRANSFERRED,
                                                    "finished_at": txn.now, "status_since": txn.now})
            self._transition(txn, current, p.TRANSFERRED, actor, row.id, f"to {target.code}")
            self._learn_service(txn, row, current)
            self._set_current(txn, row, None)
            done = self._view(txn.connection, _updated(current, status=p.TRANSFERRED, finished_at=txn.now,
                                                       status_since=txn.now), txn.now)
            txn.events += [TicketChanged(done, current.status, "transfer"), QueueChanged(done["service"])]
            # One transaction: the patient is never out of one line without being in the next.
            return self._issue(txn, target, priority=priority or _carried_priority(current.priority),
                               source="transfer",
                               visit_id=current.visit_id, note=note, transferred_from_id=current.id, actor=actor)

    def return_late(self, ticket_id: int, *, actor: str) -> dict[str, Any]:
        """A no-show who turns up late goes back in line behind K waiting tickets."""
        with self._transaction() as txn:
            ticket = self._load(txn.connection, ticket_id)
            if ticket.status != p.NO_SHOW or ticket.day != local_day(txn.now, self.tz):
                raise Conflict("illegal_transition",
                               f"{ticket.number} is {ticket.status}: only today's no-shows return")
            keys = txn.connection.execute(
                select(T.c.queue_key_ms).where(T.c.service_id == ticket.service_id, T.c.day == ticket.day,
                                               T.c.status == p.WAITING)
                .order_by(T.c.queue_key_ms, T.c.id).limit(self.clinic.queue.late_return_behind + 1)
            ).scalars().all()
            key = policy.late_return_key(keys, self.clinic.queue.late_return_behind, to_ms(txn.now))
            behind = min(self.clinic.queue.late_return_behind, len(keys))
            if self._count_ahead(txn.connection, ticket.service_id, ticket.day, key, ticket.id) < behind:
                # Tickets sharing a key (patients of one booking slot) are ordered by id, and the
                # returner's older id would pass them: go just past the K-th ticket's key instead.
                key = keys[behind - 1] + 1
            returned = txn.connection.execute(update(T).where(T.c.id == ticket.id, T.c.status == p.NO_SHOW).values(
                status=p.WAITING, queue_key_ms=key, counter_id=None, status_since=txn.now))
            if returned.rowcount != 1:  # another hub process returned it since we read it
                raise Conflict("illegal_transition", f"{ticket.number} has just been returned to the line")
            self._transition(txn, ticket, p.WAITING, actor, None, "late return")
            view = self._view(txn.connection, self._load(txn.connection, ticket.id), txn.now)
            txn.events += [TicketChanged(view, ticket.status, "return"), QueueChanged(view["service"])]
            return view

    def cancel(self, ticket_id: int, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        with self._transaction() as txn:
            ticket = self._load(txn.connection, ticket_id)
            if ticket.status != p.WAITING:
                raise Conflict("illegal_transition",
                               f"{ticket.number} is {ticket.status}: only waiting tickets can be cancelled")
            cancelled = txn.connection.execute(update(T).where(T.c.id == ticket.id, T.c.status == p.WAITING)
                                               .values(status=p.CANCELLED, finished_at=txn.now, status_since=txn.now))
            if cancelled.rowcount != 1:  # a counter called it since we read it
                raise Conflict("illegal_transition", f"{ticket.number} has just been called: too late to cancel")
            self._transition(txn, ticket, p.CANCELLED, actor, None, reason)
            view = self._view(txn.connection, self._load(txn.connection, ticket.id), txn.now)
            txn.events += [TicketChanged(view, ticket.status, "cancel"), QueueChanged(view["service"])]
            return view

    # ================================================================== counter state
    def open_counter(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            if row.state == p.COUNTER_OPEN:
                return self._counter_view(txn.connection, row.id)
            if row.state == p.COUNTER_PAUSED:
                return self._resume(txn, row, actor)
            self._set_counter_state(txn, row, p.COUNTER_OPEN, None, actor)
            return self._counter_view(txn.connection, row.id)

    def pause(self, counter: str, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            if row.state != p.COUNTER_OPEN:
                raise Conflict("illegal_transition", f"counter {row.code} is {row.state}, not open")
            current = self._current(txn, row)
            if current is not None and current.status == p.CALLED:
                raise Conflict("ticket_called",
                               f"{current.number} is being called: start, recall or mark no-show first")
            if current is not None and current.status == p.SERVING:
                txn.connection.execute(update(T).where(T.c.id == current.id).values(status=p.ON_HOLD,
                                                                                    status_since=txn.now))
                self._transition(txn, current, p.ON_HOLD, actor, row.id, reason)
                view = self._view(txn.connection, self._load(txn.connection, current.id), txn.now)
                txn.events.append(TicketChanged(view, current.status, "hold"))
            self._set_counter_state(txn, row, p.COUNTER_PAUSED, reason or "", actor)
            return self._counter_view(txn.connection, row.id)

    def resume(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            if row.state != p.COUNTER_PAUSED:
                raise Conflict("illegal_transition", f"counter {row.code} is {row.state}, not paused")
            return self._resume(txn, row, actor)

    def close_counter(self, counter: str, *, actor: str) -> dict[str, Any]:
        with self._transaction() as txn:
            row = self._lock_counter(txn, counter)
            current = self._current(txn, row)
            if current is not None:
                raise Conflict("counter_busy", f"counter {row.code} still has {current.number} ({current.status})")
            if row.state != p.COUNTER_CLOSED:
                self._set_counter_state(txn, row, p.COUNTER_CLOSED, None, actor)
            return self._counter_view(txn.connection, row.id)

    def _resume(self, txn: _Txn, row: Any, actor: str) -> dict[str, Any]:
        current = self._current(txn, row)
        if current is not None and current.status == p.ON_HOLD:
            txn.connection.execute(update(T).where(T.c.id == current.id).values(status=p.SERVING,
                                                                                status_since=txn.now))
            self._transition(txn, current, p.SERVING, actor, row.id, "resume")
            view = self._view(txn.connection, self._load(txn.connection, current.id), txn.now)
            txn.events.append(TicketChanged(view, current.status, "unhold"))
        self._set_counter_state(txn, row, p.COUNTER_OPEN, None, actor)
        return self._counter_view(txn.connection, row.id)

    def _set_counter_state(self, txn: _Txn, row: Any, state: str, reason: str | None, actor: str) -> None:
        fast(txn.connection, _UPDATE_COUNTER, {"b_counter": row.id, "state": state, "pause_reason": reason,
                                                  "state_since": txn.now})
        self._audit(txn, actor, f"counter_{state}", row.code, {"reason": reason} if reason else None)
        txn.events.append(CounterChanged(self._counter_view(txn.connection, row.id)))
        for service_id in self._counter_service_ids(row.code):
            txn.events.append(QueueChanged(self._service_codes[service_id]))

    def _open_if_needed(self, txn: _Txn, row: Any, actor: str) -> Any:
        """A keypad has no "open" key: pressing next at a closed or paused counter opens it."""
        if row.state == p.COUNTER_CLOSED:
            self._set_counter_state(txn, row, p.COUNTER_OPEN, None, actor)
        elif row.state == p.COUNTER_PAUSED:
            self._resume(txn, row, actor)
        else:
            return row
        return fast(txn.connection, _COUNTER_BY_ID, {"b_counter": row.id}).one()

    # ================================================================== internals of calling
    def _lock_counter(self, txn: _Txn, code: str) -> Any:
        """The counter (locked on PostgreSQL) with its current ticket as `.current`."""
        self.counter_config(code)
        locked = txn.connection.dialect.name == "postgresql"
        row = fast(txn.connection, _COUNTER_BY_CODE_LOCKED if locked else _COUNTER_BY_CODE, {"b_code": code}).first()
        if row is None:
            raise NotFound("unknown_counter", f"unknown counter '{code}'")
        fields = row._mapping
        counter = SimpleNamespace(**{c.name: fields[c.name] for c in C.c})
        counter.current = None
        if row.current_ticket_id is not None:
            counter.current = SimpleNamespace(**{c.name: fields[_CURRENT_PREFIX + c.name] for c in TICKET_COLUMNS})
        return counter

    def _current(self, txn: _Txn, counter_row: Any) -> Any | None:
        if counter_row.current_ticket_id is None:
            return None
        current = getattr(counter_row, "current", None)
        if current is not None and current.id == counter_row.current_ticket_id:
            return current
        return self._load(txn.connection, counter_row.current_ticket_id)

    def _require_current(self, txn: _Txn, row: Any, states: tuple[str, ...], action: str) -> Any:
        current = self._current(txn, row)
        if current is None:
            raise Conflict("no_current_ticket",
                           f"Quầy {row.code} chưa gọi số nào / counter {row.code} has no ticket to {action}")
        if current.status not in states:
            raise Conflict("illegal_transition",
                           f"cannot {action} {current.number}: it is {current.status} (needs {' or '.join(states)})")
        return current

    def _set_current(self, txn: _Txn, row: Any, ticket: Any | None, streak: int | None = None) -> dict[str, Any]:
        """Make `ticket` (a ticket row, or None) the counter's current one; returns the counter's new view."""
        values: dict[str, Any] = {"b_counter": row.id, "current_ticket_id": ticket.id if ticket else None}
        if streak is not None:
            values["priority_streak"] = streak
        counter = fast(txn.connection, _SET_CURRENT, values).one()
        counter_view = self._counter_view_of(counter, ticket)
        txn.events.append(CounterChanged(counter_view))
        return counter_view

    def _counter_service_ids(self, code: str) -> list[int]:
        return [self._service_ids[s] for s in self.counter_config(code).services]

    def _lines(self, txn: _Txn, row: Any, since: dict[int, datetime]) -> list[policy.ServiceLine]:
        """The counter's lines in its service order; `since` gets each candidate's waiting-since time."""
        day = local_day(txn.now, self.tz)
        want_normal = row.priority_streak >= self.rules.max_consecutive_priority
        lines = []
        for service_id in self._counter_service_ids(row.code):
            where = {"b_service": service_id, "b_day": day}
            head = fast(txn.connection, _LINE_HEAD, where).first()
            oldest = None
            if want_normal and head is not None:
                oldest = fast(txn.connection, _LINE_OLDEST_NORMAL, where).first()
            code = self._service_codes[service_id]
            for candidate in (head, oldest):
                if candidate is not None:
                    since[candidate.id] = candidate.status_since
            lines.append(policy.ServiceLine(code, _candidate(head, code), _candidate(oldest, code)))
        return lines

    def _call_best(self, txn: _Txn, row: Any, actor: str) -> dict[str, Any] | None:
        for _ in range(MAX_CLAIM_ATTEMPTS):
            since: dict[int, datetime] = {}
            chosen = policy.choose_next(self._lines(txn, row, since), row.priority_streak, to_ms(txn.now), self.rules)
            if chosen is None:
                if row.current_ticket_id is not None:
                    self._set_current(txn, row, None)
                return None
            # The claim needs only the id and the status the ticket is claimed from, not the whole row.
            ticket = _Claimed(chosen.ticket_id, p.WAITING, since.get(chosen.ticket_id))
            called = self._claim(txn, row, ticket, actor, policy.next_streak(row.priority_streak, chosen, self.rules))
            if called is not None:
                return called
        raise Conflict("busy", "the line changed too often while calling; press again")

    def _claim(self, txn: _Txn, row: Any, ticket: Any, actor: str, streak: int | None = None) -> dict[str, Any] | None:
        """Atomically move a waiting ticket to called at this counter; None if someone else got it."""
        claimed = fast(txn.connection, _CLAIM_TICKET, {
            "b_ticket": ticket.id, "b_now": txn.now, "status": p.CALLED, "counter_id": row.id, "call_count": 1,
            "last_called_at": txn.now, "status_since": txn.now}).first()
        if claimed is None:
            return None
        self._transition(txn, ticket, p.CALLED, actor, row.id)
        counter_view = self._set_current(txn, row, claimed, streak)
        view = self._view(txn.connection, claimed, txn.now)
        txn.events += [self._call_event(txn, view, row, recall=False, counter_view=counter_view),
                       QueueChanged(view["service"])]
        return view

    def _recall(self, txn: _Txn, row: Any, current: Any, actor: str) -> dict[str, Any]:
        recalled = fast(txn.connection, _RECALL_TICKET, {"b_ticket": current.id, "last_called_at": txn.now,
                                                           "status_since": txn.now}).one()
        self._transition(txn, current, p.CALLED, actor, row.id, "recall")
        view = self._view(txn.connection, recalled, txn.now)
        txn.events.append(self._call_event(txn, view, row, recall=True))
        return view

    def _call_event(self, txn: _Txn, view: dict[str, Any], row: Any, recall: bool,
                    counter_view: dict[str, Any] | None = None) -> TicketCalled:
        """`counter_view`: the counter as just read in this transaction, if the caller has it."""
        return TicketCalled(ticket=view, counter=counter_view or self._counter_view(txn.connection, row.id),
                            recall=recall, call_id=uuid.uuid4().hex[:16], at=txn.now.timestamp())

    def _end_call(self, txn: _Txn, row: Any, current: Any, status: str, actor: str,
                  reason: str | None, clear_counter: bool = True) -> dict[str, Any]:
        """`clear_counter`: False when the caller sets the counter's next ticket in the same transaction."""
        fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": status, "finished_at": txn.now,
                                                "status_since": txn.now})
        self._transition(txn, current, status, actor, row.id, reason)
        minutes = (to_ms(txn.now) - to_ms(current.first_called_at or txn.now)) / 60_000
        self.times.record_call_outcome(txn.connection, current.service_id, True, minutes, txn.now)
        if clear_counter:
            self._set_current(txn, row, None)
        return self._changed(txn, row, current.id, current.status, status.replace("_", "-"),
                             _updated(current, status=status, finished_at=txn.now, status_since=txn.now))

    def _finish(self, txn: _Txn, row: Any, current: Any, actor: str, clear_counter: bool = True) -> dict[str, Any]:
        fast(txn.connection, _UPDATE_TICKET, {"b_ticket": current.id, "status": p.DONE, "finished_at": txn.now,
                                                "status_since": txn.now})
        self._transition(txn, current, p.DONE, actor, row.id)
        self._learn_service(txn, row, current)
        if clear_counter:
            self._set_current(txn, row, None)
        return self._changed(txn, row, current.id, current.status, "finish",
                             _updated(current, status=p.DONE, finished_at=txn.now, status_since=txn.now))

    def _learn_service(self, txn: _Txn, row: Any, ticket: Any) -> None:
        if ticket.served_at is None:
            return
        minutes = (to_ms(txn.now) - to_ms(ticket.served_at)) / 60_000
        hour = ticket.served_at.astimezone(self.tz).hour
        self.times.record_service(txn.connection, ticket.service_id, row.code, hour, minutes, txn.now)

    def _changed(self, txn: _Txn, row: Any, ticket_id: int, previous: str, action: str,
                 updated: Any | None = None) -> dict[str, Any]:
        """`updated`: the ticket row as the caller just changed it, which spares reading it back."""
        view = self._view(txn.connection, updated or self._load(txn.connection, ticket_id), txn.now)
        txn.events += [TicketChanged(view, previous, action), QueueChanged(view["service"])]
        return view

    # ================================================================== reading
    def _load(self, connection: Connection, ticket_id: int) -> Any:
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise Invalid("bad_ticket_id", "a ticket id is an integer")
        row = fast(connection, _TICKET_BY_ID, {"b_ticket": ticket_id}).first()
        if row is None:
            raise NotFound("unknown_ticket", f"no ticket {ticket_id}")
        return row

    def _count_ahead(self, connection: Connection, service_id: int, day: date, key: int, ticket_id: int | None) -> int:
        where = {"b_service": service_id, "b_day": day, "b_key": key}
        if ticket_id is None:
            return fast(connection, _COUNT_AHEAD_OF_KEY, where).scalar_one()
        return fast(connection, _COUNT_AHEAD_OF_TICKET, {**where, "b_ticket": ticket_id}).scalar_one()

    def get_ticket(self, ticket_id: int) -> dict[str, Any]:
        self._ensure_ids()
        with self.db.read() as connection:
            now = self.clock.now()
            return self._view(connection, self._load(connection, ticket_id), now, live=True)

    def find_ticket(self, number: str, day: date | None = None) -> dict[str, Any]:
        """Today's ticket by its display number (A023), as staff type it."""
        self._ensure_ids()
        day = day or self.today()
        with self.db.read() as connection:
            ticket_id = connection.execute(select(T.c.id).where(T.c.number == number.upper(), T.c.day == day)
                                           .order_by(T.c.id.desc()).limit(1)).scalar()
            if ticket_id is None:
                raise NotFound("unknown_ticket", f"no ticket {number} today")
            return self._view(connection, self._load(connection, ticket_id), self.clock.now(), live=True)

    def _view(self, connection: Connection, row: Any, now: datetime, *, ahead: int | None = None,
              estimate: Estimate | None = None, live: bool = False) -> dict[str, Any]:
        """The ticket as the API and the events show it (no patient data: boards get this too)."""
        service = self._service_codes[row.service_id]
        cfg = self._service_cfgs.get(service)
        counter_code = self._counter_codes.get(row.counter_id) if row.counter_id else None
        counter_cfg = self._counter_cfgs.get(counter_code) if counter_code else None
        if row.status == p.WAITING and (live or ahead is None):
            ahead = self._count_ahead(connection, row.service_id, row.day, row.queue_key_ms, row.id)
            if live:
                estimate = self.forecast(connection, service, now).for_position(ahead, row.priority)
        elif row.status != p.WAITING:
            ahead, estimate = 0, None
        return {
            "id": row.id,
            "number": row.number,
            "service": service,
            "service_name": cfg.name if cfg else service,
            "service_name_en": cfg.name_en if cfg else service,
            "priority": row.priority,
            "status": row.status,
            "source": row.source,
            "offline": bool(row.offline),
            "counter": counter_code,
            "counter_name": counter_cfg.name if counter_cfg else None,
            "counter_name_en": counter_cfg.name_en if counter_cfg else None,
            "ahead": ahead,
            "estimate": estimate.as_dict() if estimate else None,
            "call_count": row.call_count,
            "visit_id": row.visit_id,
            "day": row.day.isoformat(),
            "issued_at": row.issued_at.isoformat(),
            "called_at": row.last_called_at.isoformat() if row.last_called_at else None,
            "served_at": row.served_at.isoformat() if row.served_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "transferred_from": row.transferred_from_id,
        }

    def _counter_view(self, connection: Connection, counter_id: int) -> dict[str, Any]:
        row = fast(connection, _COUNTER_WITH_TICKET, {"b_counter": counter_id}).one()
        ticket = None
        if row.current_ticket_id is not None:
            ticket = SimpleNamespace(id=row.current_ticket_id, number=row.t_number, status=row.t_status,
                                     served_at=row.t_served_at, last_called_at=row.t_last_called_at,
                                     service_id=row.t_service_id, priority=row.t_priority,
                                     call_count=row.t_call_count)
        return self._counter_view_of(row, ticket)

    def _counter_view_of(self, counter: Any, ticket: Any | None) -> dict[str, Any]:
        """What a counter shows (its LED, the boards): `ticket` is its current ticket row, or None."""
        cfg = self._counter_cfgs.get(counter.code)
        shown = None
        if ticket is not None:
            since = ticket.served_at if ticket.status in (p.SERVING, p.ON_HOLD) else ticket.last_called_at
            shown = {"id": ticket.id, "number": ticket.number, "status": ticket.status,
                     "service": self._service_codes[ticket.service_id], "priority": ticket.priority,
                     "call_count": ticket.call_count, "since": since.isoformat() if since else None}
        return {
            "code": counter.code,
            "name": counter.name,
            "name_en": counter.name_en,
            "zone": counter.zone,
            "state": counter.state,
            "pause_reason": counter.pause_reason,
            "state_since": counter.state_since.isoformat() if counter.state_since else None,
            "services": list(cfg.services) if cfg else [],
            "ticket": shown,
        }

    def counters(self) -> list[dict[str, Any]]:
        self._ensure_ids()
        with self.db.read() as connection:
            return [self._counter_view(connection, self._counter_ids[c.code]) for c in self.clinic.counters]

    def counter(self, code: str) -> dict[str, Any]:
        self.counter_config(code)
        self._ensure_ids()
        with self.db.read() as connection:
            return self._counter_view(connection, self._counter_ids[code])

    def services_overview(self, codes: list[str] | None = None) -> list[dict[str, Any]]:
        """Each service (or those of `codes`) with how many wait and are served, and the estimate for
        a ticket taken now."""
        wanted = [self.service_config(code) for code in codes] if codes is not None else self.clinic.services
        self._ensure_ids()
        now = self.clock.now()
        day = local_day(now, self.tz)
        with self.db.read() as connection:
            counts = connection.execute(
                select(T.c.service_id, T.c.status, func.count()).where(
                    T.c.day == day, T.c.status.in_((p.WAITING, p.CALLED, p.SERVING, p.ON_HOLD)))
                .group_by(T.c.service_id, T.c.status)).all()
            last = dict(connection.execute(
                select(T.c.service_id, func.max(T.c.seq)).where(T.c.day == day).group_by(T.c.service_id)).all())
            by_service: dict[int, dict[str, int]] = {}
            for service_id, status, count in counts:
                by_service.setdefault(service_id, {})[status] = count
            out = []
            for cfg in wanted:
                service_id = self._service_ids[cfg.code]
                figures = by_service.get(service_id, {})
                waiting = figures.get(p.WAITING, 0)
                estimate = self.forecast(connection, cfg.code, now).for_position(waiting)
                serving_counters = [c.code for c in self.clinic.counters if cfg.code in c.services]
                out.append({
                    "code": cfg.code, "name": cfg.name, "name_en": cfg.name_en, "kind": cfg.kind,
                    "prefix": cfg.prefix, "fee": cfg.fee, "waiting": waiting,
                    "called": figures.get(p.CALLED, 0),
                    "serving": figures.get(p.SERVING, 0) + figures.get(p.ON_HOLD, 0),
                    "last_issued": p.ticket_number(cfg.prefix, last[service_id]) if last.get(service_id) else None,
                    "estimate": estimate.as_dict() if estimate else None,
                    "counters": serving_counters,
                })
            return out

    def waiting_tickets(self, service: str, limit: int = 50) -> list[dict[str, Any]]:
        """The line of a service in calling order, with each ticket's estimate."""
        cfg = self.service_config(service)
        self._ensure_ids()
        now = self.clock.now()
        with self.db.read() as connection:
            rows = connection.execute(select(*TICKET_COLUMNS).where(
                T.c.service_id == self._service_ids[cfg.code], T.c.day == local_day(now, self.tz),
                T.c.status == p.WAITING).order_by(T.c.queue_key_ms, T.c.id).limit(limit)).all()
            forecast = self.forecast(connection, cfg.code, now)
            return [self._view(connection, row, now, ahead=index, estimate=forecast.for_position(index, row.priority))
                    for index, row in enumerate(rows)]

    # ================================================================== estimates
    def forecast(self, connection: Connection, service: str, now: datetime) -> ServiceForecast:
        """Gather the state one service's estimates need (counters, learned times, arrivals)."""
        service_id = self._service_ids[service]
        hour = now.astimezone(self.tz).hour
        day_start = datetime.combine(local_day(now, self.tz), datetime.min.time(), tzinfo=self.tz)
        serving = self._serving[service]
        rows = {}
        if serving:
            for row in fast(connection, _FORECAST_COUNTERS, {"b_service": service_id}):
                rows[row.code] = row
        earlier_work = self._earlier_work(connection, serving, service, now)
        earlier_share = self._earlier_share(connection, serving, service, now)
        loads = []
        for cfg in serving:
            row = rows.get(cfg.code)
            if row is None:
                continue
            since = row.served_at if row.status in (p.SERVING, p.ON_HOLD) else row.last_called_at
            loads.append(CounterLoad(
                code=cfg.code, state=row.state,
                state_since_ms=to_ms(row.state_since) if row.state_since else None,
                current_status=row.status, current_since_ms=to_ms(since) if since else None,
                hours_ms=day_intervals_ms(self._counter_hours[cfg.code], day_start),
                service_time=self.times.service_time(connection, service_id, service, cfg.code, hour),
                earlier_work_minutes=earlier_work.get(cfg.code, 0.0),
                earlier_share=earlier_share.get(cfg.code, 0.0)))
        rates = self._priority_rates(connection, service_id, now)
        no_show_rate, no_show_minutes = self.times.no_show(connection, service_id)
        return ServiceForecast(
            now_ms=to_ms(now),
            service_time=self.times.service_time(connection, service_id, service, None, hour),
            counters=loads, arrivals_per_minute=rates, head_starts=self.rules.head_start_minutes,
            no_show_rate=no_show_rate, no_show_minutes=no_show_minutes,
            expected_break_minutes=self.clinic.estimates.expected_break_minutes,
            p90_scale=self.clinic.estimates.p90_scale, walk_minutes=self.times.walk_minutes(connection, service_id))

    def _earlier_work(self, connection: Connection, serving: list[CounterConfig], service: str,
                      now: datetime) -> dict[str, float]:
        """Minutes of work a multi-service counter has in the services it takes before ours."""
        earlier = {c.code: c.services[: c.services.index(service)] for c in serving if c.services[0] != service}
        needed = {s for services in earlier.values() for s in services}
        if not needed:
            return {}
        day = local_day(now, self.tz)
        waiting = dict(connection.execute(_WAITING_BY_SERVICE, {
            "b_services": [self._service_ids[s] for s in needed], "b_day": day}).all())
        out = {}
        for code, services in earlier.items():
            work = 0.0
            for s in services:
                sid = self._service_ids[s]
                sharing = len(self._serving[s])
                mean = self.times.service_time(connection, sid, s).mean
                work += waiting.get(sid, 0) * mean / max(sharing, 1)
            out[code] = work
        return out

    def _earlier_share(self, connection: Connection, serving: list[CounterConfig], service: str,
                       now: datetime) -> dict[str, float]:
        """Share of a multi-service counter's recent work that went to the services it takes before ours.

        Such a counter takes our line only when those are empty: measured, not assumed, because it
        depends on how busy their dedicated counters are. Counted at most once a minute per counter.
        """
        since = now - timedelta(minutes=self.clinic.estimates.history_minutes)
        minute = to_ms(now) // 60_000
        out = {}
        for cfg in serving:
            earlier = cfg.services[: cfg.services.index(service)]
            if not earlier:
                continue
            cached = self._shares.get(cfg.code)
            if cached is None or cached[0] != minute:
                calls = fast(connection, _RECENT_CALLS_BY_SERVICE, {
                    "b_counter": self._counter_ids[cfg.code], "b_since": since}).all()
                busy = {self._service_codes[sid]: count * self.times.service_time(
                    connection, sid, self._service_codes[sid]).mean for sid, count in calls}
                total = sum(busy.values())
                shares = {s: sum(busy.get(e, 0.0) for e in cfg.services[: cfg.services.index(s)]) / total
                          for s in cfg.services} if total > 0 else {}
                cached = self._shares[cfg.code] = (minute, shares)
            if service in cached[1]:
                out[cfg.code] = cached[1][service]
        return out

    def _count_arrival(self, service_id: int, priority: str, arrival_ms: int, now_ms: int) -> None:
        cached = self._arrivals.get(service_id)
        if cached is None or cached[0] != now_ms // 60_000:
            return  # counted afresh at the next estimate anyway
        if now_ms - arrival_ms > self.clinic.estimates.history_minutes * 60_000:
            return  # an offline ticket issued long ago is no recent arrival
        count, first_ms = cached[1].get(priority, (0, arrival_ms))
        cached[1][priority] = (count + 1, min(first_ms, arrival_ms))

    def _priority_rates(self, connection: Connection, service_id: int, now: datetime) -> dict[str, float]:
        """Arrivals per minute of each priority class in the recent window (the tickets that jump ahead).

        Counted at most once a minute per service (a busy reception issues several tickets a minute);
        a priority ticket this process issues is added to the count at once.
        """
        now_ms = to_ms(now)
        window = self.clinic.estimates.history_minutes
        cached = self._arrivals.get(service_id)
        if cached is None or cached[0] != now_ms // 60_000:
            since = now - timedelta(minutes=window)
            rows = connection.execute(
                _RECENT_PRIORITY_ARRIVALS, {"b_service": service_id, "b_since": since, "b_now": now}).all()
            cached = (now_ms // 60_000, {klass: (count, to_ms(first)) for klass, count, first in rows})
            self._arrivals[service_id] = cached
        rates = {}
        for klass, (count, first_ms) in cached[1].items():
            # Early in the morning the window is mostly empty: divide by the time actually covered.
            covered = max(min(window, (now_ms - first_ms) / 60_000), 15.0)
            rates[klass] = count / covered
        return rates


# A booked slot or a return from lab/imaging earned the place in *that* line; in the next service the
# patient queues on their own class (elderly, child...) or as anyone else.
PLACE_PRIORITIES = ("booked", "returning")


def _carried_priority(priority: str) -> str:
    """The priority a transferred patient keeps in the next service."""
    return policy.NORMAL if priority in PLACE_PRIORITIES else priority


def _updated(ticket: Any, **changes: Any) -> SimpleNamespace:
    """A loaded ticket row with the columns an UPDATE by its id has just set (all values known)."""
    fields = ticket._mapping if hasattr(ticket, "_mapping") else vars(ticket)
    return SimpleNamespace(**{**fields, **changes})


def _candidate(row: Any | None, service: str) -> policy.Candidate | None:
    if row is None:
        return None
    return policy.Candidate(row.id, service, row.priority, row.queue_key_ms, to_ms(row.issued_at))
