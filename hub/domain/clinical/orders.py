"""Lab and imaging orders (chỉ định cận lâm sàng): placing them, sending the patient through the performing
services' queues, results with H/L flags, and the return to the ordering doctor's queue.

The path of a patient, as docs/clinical.md tells it: the doctor orders -> one ticket per performing
service, lab sampling first, then imaging, the next one issued when the patient's ticket in the previous
service is finished -> results are written on the orders -> when none of the visit's orders is open any
more, a "returning" ticket puts the patient back in the ordering service's line.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub import protocol as p
from hub.config import CatalogueItem, ClinicConfig
from hub.db import Database
from hub.domain.clinical.identity import require_identified
from hub.domain.clinical.ranges import reference_range
from hub.domain.clinical.reads import (
    ACTIVE_TICKET,
    CANCELLED,
    IN_PROGRESS,
    OPEN_STATES,
    ORDERED,
    RESULTED,
    O,
    OrderReads,
    P,
    T,
    V,
)
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import Event, EventBus, TicketChanged
from hub.domain.common.models import AuditEntry
from hub.domain.queue import routing
from hub.domain.queue.engine import QueueService

# action -> (the states it may start from, the state it leads to)
ORDER_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "start": ((ORDERED,), IN_PROGRESS),
    "result": ((IN_PROGRESS,), RESULTED),
    "cancel": ((ORDERED, IN_PROGRESS), CANCELLED),
}
LEFT_SERVICE = (p.DONE, p.TRANSFERRED)
# Sampling first: it is quick, some tests want the patient fasting, and the samples run while the
# patient waits for imaging. Services of one kind go in the order of config/clinic.toml.
KIND_STEP = {"lab": 0, "imaging": 1}
# Priority classes that describe the patient (carried to the lab and imaging lines); the others describe
# one ticket's circumstances (a booking slot, a return) and do not carry over.
CIRCUMSTANTIAL_PRIORITIES = ("booked", "returning")
RETURN_PRIORITY = "returning"
MAX_ITEMS = 20
MAX_REPORT = 10_000
MAX_VALUE = 1e7
SYSTEM_ACTOR = "system:orders"


# ------------------------------------------------------------------------------------------ events
@dataclass(frozen=True)
class OrderEvent(Event):
    """Base of the order events; `order` is the order as the API shows it, `action` what happened."""

    order: dict[str, Any]
    action: str


@dataclass(frozen=True)
class OrderPlaced(OrderEvent):
    """A doctor ordered a lab test or an imaging study."""

    action: str = "place"


@dataclass(frozen=True)
class OrderChanged(OrderEvent):
    """An order was started ("start"), cancelled ("cancel") or released to the patient portal ("release")."""


@dataclass(frozen=True)
class OrderResulted(OrderEvent):
    """Results were written on an order (they are on the visit from now on)."""

    action: str = "result"


@dataclass(frozen=True)
class VisitRouted(Event):
    """The patient was put in a performing service's line for their orders."""

    visit_id: int
    service: str
    ticket: dict[str, Any]


@dataclass(frozen=True)
class VisitReturned(Event):
    """All orders of a round are closed: the patient waits again in the ordering service's line."""

    visit_id: int
    service: str
    counter: str | None
    ticket: dict[str, Any]


# ------------------------------------------------------------------------------------------ results
def flag(value: float, low: float | None, high: float | None) -> str | None:
    """"H" above the reference range, "L" below it, None inside (or without a range)."""
    if high is not None and value > high:
        return "H"
    if low is not None and value < low:
        return "L"
    return None


def lab_values(item: CatalogueItem, values: Mapping[str, Any], *, born: date | None, sex: str | None,
               day: date) -> list[dict[str, Any]]:
    """Check one value per analyte of the item and flag each against the reference range of the patient's
    age band and sex on the sample `day` (hub.domain.clinical.ranges); no range for the band: no flag, a note.

    The range is copied into the result, so a later change of the catalogue never rewrites old results.
    """
    known = {a.code for a in item.analytes}
    unknown = sorted(set(values) - known)
    if unknown:
        raise Invalid("unknown_analyte", f"{item.code} has no analyte {', '.join(unknown)} (expected {sorted(known)})")
    missing = [a.code for a in item.analytes if a.code not in values]
    if missing:
        raise Invalid("missing_value", f"Thiếu kết quả / missing values: {', '.join(missing)}")
    out = []
    for analyte in item.analytes:
        value = values[analyte.code]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Invalid("bad_value", f"{analyte.code}: expected a number, got {value!r}")
        # Counts and concentrations are never negative; a minus sign is a typing slip.
        if value < 0 or value > MAX_VALUE:
            raise Invalid("bad_value", f"{analyte.code}: {value} is outside 0..{MAX_VALUE:g}")
        chosen = reference_range(analyte, born, sex, day)
        out.append({"code": analyte.code, "name": analyte.name, "value": float(value), "unit": analyte.unit,
                    "low": chosen.low, "high": chosen.high, "band": chosen.band, "note": chosen.note,
                    "flag": flag(float(value), chosen.low, chosen.high)})
    return out


# ------------------------------------------------------------------------------------------ service
@dataclass
class _Work:
    """What one operation accumulates inside its transaction."""

    connection: Connection
    now: datetime
    events: list[Event]


class OrderService:
    """Orders of a visit: place, route the patient, start, result, cancel, release; and the reads."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock, queue: QueueService) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self.queue = queue
        self.tz = clinic.site.tz
        self.reads = OrderReads(db, clinic, clock, queue)
        self._items = {item.code: item for item in clinic.catalogue}
        self._service_rank = {s.code: index for index, s in enumerate(clinic.services)}
        bus.subscribe(TicketChanged, self._on_ticket_changed)

    @contextmanager
    def _work(self) -> Iterator[_Work]:
        events: list[Event] = []
        with self.db.write() as connection:
            yield _Work(connection, self.clock.now(), events)
        self.bus.publish_all(events)

    @staticmethod
    def _audit(work: _Work, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        work.connection.execute(insert(AuditEntry).values(at=work.now, actor=actor[:64], action=action,
                                                          subject=subject[:64], detail=detail))

    def item(self, code: str) -> CatalogueItem:
        item = self._items.get(code) if isinstance(code, str) else None
        if item is None:
            raise Invalid("unknown_item", f"Không có chỉ định '{code}' / unknown catalogue item '{code}'")
        return item

    # ================================================================== placing
    def place(self, visit_id: int, items: list[str], *, actor: str, note: str | None = None,
              counter: str | None = None, keep_patient: bool = False) -> dict[str, Any]:
        """Order `items` for a visit and put the patient in the first performing service's line.

        From the doctor's `counter` serving this visit, the patient's ticket there is transferred to that
        line (unless `keep_patient`: the doctor finishes it later); otherwise a new ticket is issued.
        Returns {"orders": [...], "tickets": [the tickets issued now]}.
        """
        if not items:
            raise Invalid("no_items", "Chưa chọn chỉ định nào / choose at least one item")
        if len(items) > MAX_ITEMS:
            raise Invalid("too_many_items", f"at most {MAX_ITEMS} items in one order")
        if len(set(items)) != len(items):
            raise Invalid("duplicate_item", "an item appears twice in the order")
        chosen = [self.item(code) for code in items]
        ordering_service, at_counter = self._ordering_place(visit_id, counter)
        with self._work() as work:
            self._lock_visit(work.connection, visit_id)
            require_identified(work.connection, visit_id)
            ids = []
            for item in sorted(chosen, key=self._step):
                ids.append(work.connection.execute(insert(O).values(
                    visit_id=visit_id, item_code=item.code, kind=item.kind, service=item.service, price=item.price,
                    status=ORDERED, ordered_by=actor[:64], ordering_service=ordering_service,
                    ordering_counter=counter, note=note, created_at=work.now, released=False,
                ).returning(O.c.id)).scalar_one())
            self._audit(work, actor, "orders_placed", f"visit:{visit_id}", {"items": items, "counter": counter})
            orders = self.reads.where(work.connection, O.c.id.in_(ids))
            work.events += [OrderPlaced(order) for order in orders]
        transfer_from = counter if at_counter and not keep_patient else None
        tickets = self.route(visit_id, actor=actor, transfer_from=transfer_from)
        return {"orders": self.reads.of_visit(visit_id), "tickets": tickets}

    def _step(self, item: CatalogueItem) -> tuple[int, int]:
        return KIND_STEP.get(item.kind, len(KIND_STEP)), self._service_rank.get(item.service, 0)

    def _ordering_place(self, visit_id: int, counter: str | None) -> tuple[str, bool]:
        """The service the patient returns to, and whether `counter` is serving this visit right now."""
        with self.db.read() as connection:
            day = connection.execute(select(V.c.day).where(V.c.id == visit_id)).scalar()
            if day is None:
                raise NotFound("unknown_visit", f"no visit {visit_id}")
            require_identified(connection, visit_id)
            if day != local_day(self.clock.now(), self.tz):
                raise Conflict("visit_closed", f"visit {visit_id} was on {day}: orders go on today's visit")
            if counter is not None:
                current = self.queue.counter(counter)["ticket"]
                if current is not None:
                    row = connection.execute(select(T.c.visit_id).where(T.c.id == current["id"])).one()
                    if row.visit_id == visit_id:
                        if current["status"] != p.SERVING:
                            raise Conflict("not_serving", f"{current['number']} is {current['status']}: "
                                                          "start serving the patient before ordering")
                        return current["service"], True
                services = [s for s in self.queue.counter_config(counter).services
                            if self.queue.service_config(s).kind == "exam"]
                if services:
                    return services[0], False
            exam = self._exam_services()
            last = connection.execute(select(T.c.service_id).where(
                T.c.visit_id == visit_id, T.c.service_id.in_([self.queue.service_id(s) for s in exam]))
                .order_by(T.c.id.desc()).limit(1)).scalar()
        if last is None:
            raise Conflict("no_exam_ticket", "this visit was never in an examination service: order from a room")
        return self.queue.service_code(last), False

    def _exam_services(self) -> list[str]:
        return [s.code for s in self.clinic.services if s.kind == "exam"]

    @staticmethod
    def _lock_visit(connection: Connection, visit_id: int) -> None:
        """Serialise the order work of one visit (PostgreSQL; SQLite's writes are serial anyway)."""
        statement = select(V.c.id).where(V.c.id == visit_id)
        if connection.dialect.name == "postgresql":
            statement = statement.with_for_update()
        if connection.execute(statement).first() is None:
            raise NotFound("unknown_visit", f"no visit {visit_id}")

    # ================================================================== routing
    def route(self, visit_id: int, *, actor: str = SYSTEM_ACTOR,
              transfer_from: str | None = None) -> list[dict[str, Any]]:
        """Put the patient in the line of the next performing service that has open orders without a ticket.

        Idempotent: while the patient is in a performing service's line or room, or an earlier step is not
        finished, nothing happens; an unlinked ticket the patient already holds there (a manual transfer)
        is linked instead of issuing another; the issue itself carries an idempotency key.
        """
        target = self._next_step(visit_id)
        if target is None:
            return []
        service, order_ids, existing = target
        if existing is not None:
            ticket = self.queue.get_ticket(existing)
        else:
            note = self._ticket_note(order_ids)
            priority = self._carried_priority(visit_id)
            ticket = None
            if transfer_from is not None:
                try:
                    ticket = self.queue.transfer(transfer_from, service, actor=actor, note=note, priority=priority)
                except Conflict:
                    pass  # the doctor finished the ticket meanwhile: the patient gets a ticket of their own
            if ticket is None:
                ticket = self.queue.issue(service, priority=priority, actor=actor, source="order", visit_id=visit_id,
                                          note=note, idempotency_key=f"order:{visit_id}:{service}:{min(order_ids)}")
        with self._work() as work:
            work.connection.execute(update(O).where(O.c.id.in_(order_ids), O.c.ticket_id.is_(None))
                                    .values(ticket_id=ticket["id"]))
            work.events.append(VisitRouted(visit_id, service, ticket))
        return [ticket]

    def _next_step(self, visit_id: int) -> tuple[str, list[int], int | None] | None:
        """(service, its open orders without a ticket, an active ticket of the visit there) or None."""
        with self.db.read() as connection:
            rows = connection.execute(
                select(O.c.id, O.c.item_code, O.c.service, O.c.kind, O.c.ticket_id, T.c.status.label("t_status"))
                .select_from(O.outerjoin(T, T.c.id == O.c.ticket_id))
                .where(O.c.visit_id == visit_id, O.c.status.in_(OPEN_STATES))).all()
            if not rows:
                return None
            steps: dict[str, list[Any]] = {}
            for row in rows:
                steps.setdefault(row.service, []).append(row)
            for service in self._route_order(steps):
                linked = [r for r in steps[service] if r.ticket_id is not None]
                unlinked = [r.id for r in steps[service] if r.ticket_id is None]
                # In that line or room now: an order added meanwhile joins the ticket the patient holds there.
                active = [r.ticket_id for r in linked if r.t_status in ACTIVE_TICKET]
                if active:
                    return (service, unlinked, active[0]) if unlinked else None
                # Missed the call (a late return puts them back) or the ticket was cancelled: staff decide.
                if any(r.t_status not in LEFT_SERVICE for r in linked):
                    return None
                if unlinked:
                    existing = connection.execute(select(T.c.id).where(
                        T.c.visit_id == visit_id, T.c.service_id == self.queue.service_id(service),
                        T.c.status.in_(ACTIVE_TICKET)).order_by(T.c.id.desc()).limit(1)).scalar()
                    return service, unlinked, existing
        return None

    def _route_order(self, steps: dict[str, list[Any]]) -> list[str]:
        """The performing services in the order the patient should take them.

        Services the patient has been to (or is in) keep their place first; the ones not yet begun go in
        the order of the earliest expected return to the doctor from the live estimates (re-planned at
        every step, so a line that grew meanwhile is avoided), within the catalogue's constraints. With
        `[routing] enabled = false`: lab first, then imaging, in the configuration's order.
        """
        written = sorted(steps, key=lambda s: (KIND_STEP.get(steps[s][0].kind, 9), self._service_rank[s]))
        begun = [s for s in written if any(r.ticket_id is not None for r in steps[s])]
        pending = [s for s in written if s not in begun]
        if not self.clinic.routing.enabled:
            return written
        if len(pending) < 2:
            return begun + pending  # the station the patient is in (or has been to) is looked at first
        return begun + self.plan_stations(pending, {s: [r.item_code for r in steps[s]] for s in pending})

    def planned_route(self, ticket_id: int) -> list[dict[str, Any]]:
        """The stations still ahead of a ticket's visit, in the order routing plans them now (the visit
        status shows it): each {"service", "name", "name_en"}; the one the patient is in comes first."""
        with self.db.read() as connection:
            visit_id = connection.execute(select(T.c.visit_id).where(T.c.id == ticket_id)).scalar()
            if visit_id is None:
                raise NotFound("unknown_ticket", f"no ticket {ticket_id}")
            rows = connection.execute(
                select(O.c.id, O.c.item_code, O.c.service, O.c.kind, O.c.ticket_id, T.c.status.label("t_status"))
                .select_from(O.outerjoin(T, T.c.id == O.c.ticket_id))
                .where(O.c.visit_id == visit_id, O.c.status.in_(OPEN_STATES))).all()
        steps: dict[str, list[Any]] = {}
        for row in rows:
            # Stations already left (results awaited) are behind the patient, not ahead.
            if row.ticket_id is not None and row.t_status in LEFT_SERVICE:
                continue
            steps.setdefault(row.service, []).append(row)
        out = []
        for service in self._route_order(steps):
            cfg = self.queue.service_config(service)
            out.append({"service": service, "name": cfg.name, "name_en": cfg.name_en})
        return out

    def plan_stations(self, services: list[str], items: dict[str, list[str]]) -> list[str]:
        """Routing of performing services (each with the catalogue items ordered there), by live estimates."""
        # How each line will change (the forward model with the recent arrivals): a long line that is
        # draining is better visited later.
        outlooks = {o.code: o for o in self.queue.outlooks(services)}
        stations = []
        for service in services:
            catalogue = [self.item(code) for code in items[service]]
            points = [(m, e.p50_minutes) for m, e in outlooks[service].predictions if e is not None]
            now_wait = points[0][1] if points and points[0][0] == 0 else 0.0
            stations.append(routing.Station(
                service, now_wait, self.queue.service_config(service).service_minutes.mean,
                wait_profile=tuple(p for p in points if p[0] > 0), kind=catalogue[0].kind if catalogue else "lab",
                result_minutes=max((i.result_minutes for i in catalogue), default=0.0),
                fasting=any(i.fasting for i in catalogue), contrast=any(i.contrast for i in catalogue)))
        try:
            return routing.plan(stations).order
        except routing.RoutingError:
            return services  # contradictory constraints in the catalogue: the written order

    def _ticket_note(self, order_ids: list[int]) -> str:
        with self.db.read() as connection:
            codes = connection.execute(select(O.c.item_code).where(O.c.id.in_(order_ids)).order_by(O.c.id)).scalars()
            return ("Chỉ định: " + ", ".join(codes))[:200]

    def _carried_priority(self, visit_id: int) -> str:
        """The patient's own priority class (elderly, child...) from their latest ticket of the visit."""
        with self.db.read() as connection:
            priority = connection.execute(select(T.c.priority).where(
                T.c.visit_id == visit_id, T.c.priority.not_in(CIRCUMSTANTIAL_PRIORITIES))
                .order_by(T.c.id.desc()).limit(1)).scalar()
        return priority or "normal"

    def _on_ticket_changed(self, event: TicketChanged) -> None:
        """A patient finished in a lab or imaging room: on to the next performing service, if any."""
        ticket = event.ticket
        if event.action not in ("finish", "transfer") or not ticket.get("visit_id"):
            return
        service = self.clinic.service(ticket["service"])
        if service is not None and service.kind in KIND_STEP:
            self.route(ticket["visit_id"])

    # ================================================================== the work of lab and imaging
    def start(self, order_id: int, *, actor: str) -> dict[str, Any]:
        """The sample is taken or the study begins."""
        return self._move(order_id, "start", actor)

    def record_result(self, order_id: int, *, actor: str, values: Mapping[str, Any] | None = None,
                      report: str | None = None, release: bool = False) -> dict[str, Any]:
        """Lab: one value per analyte (flagged H/L), an optional comment; imaging: the report text."""
        report = report.strip() if isinstance(report, str) else None
        with self._work() as work:
            row = self._load(work.connection, order_id)
            require_identified(work.connection, row.visit_id)
            self._check_transition(row, "result")
            item = self.item(row.item_code)
            if row.kind == "lab":
                if values is None:
                    raise Invalid("values_required", f"{item.code} is a lab test: send one value per analyte")
                patient = work.connection.execute(
                    select(V.c.day, P.c.date_of_birth, P.c.sex).select_from(V.join(P, P.c.id == V.c.patient_id))
                    .where(V.c.id == row.visit_id)).one()
                # Orders are placed on today's visit and sampled the same day: the visit's day is the sample day.
                results: list[dict[str, Any]] | None = lab_values(item, values, born=patient.date_of_birth,
                                                                  sex=patient.sex, day=patient.day)
            else:
                if values:
                    raise Invalid("report_required", f"{item.code} is an imaging study: send a report, not values")
                if not report:
                    raise Invalid("report_required", "Chưa nhập kết quả / the report is empty")
                results = None
            if report is not None and len(report) > MAX_REPORT:
                raise Invalid("report_too_long", f"the report has more than {MAX_REPORT} characters")
            work.connection.execute(update(O).where(O.c.id == order_id).values(
                status=RESULTED, result_values=results, result_report=report or None, resulted_at=work.now,
                resulted_by=actor[:64], released=bool(release)))
            flags = {r["code"]: r["flag"] for r in results or [] if r["flag"]}
            self._audit(work, actor, "order_resulted", f"order:{order_id}", {"flags": flags, "released": release})
            order = self.reads.where(work.connection, O.c.id == order_id)[0]
            work.events.append(OrderResulted(order))
        self._after_close(row.visit_id, row.ordering_service)
        return self.reads.get(order_id)

    def cancel(self, order_id: int, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Cancelled orders do not hold the patient back: the return happens without them."""
        order = self._move(order_id, "cancel", actor, reason)
        self._drop_empty_ticket(order, actor)
        self._after_close(order["visit_id"], order["ordering_service"])
        return self.reads.get(order_id)

    def release(self, order_id: int, *, actor: str) -> dict[str, Any]:
        """Make a result visible to the patient on the portal."""
        with self._work() as work:
            row = self._load(work.connection, order_id)
            if row.status != RESULTED:
                raise Conflict("illegal_transition", f"order {order_id} is {row.status}: only results can be released")
            if not row.released:
                work.connection.execute(update(O).where(O.c.id == order_id).values(released=True))
                self._audit(work, actor, "order_released", f"order:{order_id}")
                order = self.reads.where(work.connection, O.c.id == order_id)[0]
                work.events.append(OrderChanged(order, "release"))
        return self.reads.get(order_id)

    def _move(self, order_id: int, action: str, actor: str, reason: str | None = None) -> dict[str, Any]:
        with self._work() as work:
            row = self._load(work.connection, order_id)
            self._check_transition(row, action)
            target = ORDER_TRANSITIONS[action][1]
            result = work.connection.execute(update(O).where(O.c.id == order_id, O.c.status == row.status)
                                             .values(status=target))
            if result.rowcount != 1:
                raise Conflict("illegal_transition", f"order {order_id} changed meanwhile; reload")
            detail = {"from": row.status, **({"reason": reason} if reason else {})}
            self._audit(work, actor, f"order_{action}", f"order:{order_id}", detail)
            order = self.reads.where(work.connection, O.c.id == order_id)[0]
            work.events.append(OrderChanged(order, action))
            return order

    def _load(self, connection: Connection, order_id: int) -> Any:
        row = connection.execute(select(O).where(O.c.id == order_id)).first()
        if row is None:
            raise NotFound("unknown_order", f"no order {order_id}")
        self._lock_visit(connection, row.visit_id)
        return row

    @staticmethod
    def _check_transition(row: Any, action: str) -> None:
        allowed, _ = ORDER_TRANSITIONS[action]
        if row.status not in allowed:
            raise Conflict("illegal_transition",
                           f"Không thể {action} chỉ định {row.id} đang ở trạng thái {row.status} / "
                           f"cannot {action} order {row.id}: it is {row.status} (needs {' or '.join(allowed)})")

    def _drop_empty_ticket(self, order: Mapping[str, Any], actor: str) -> None:
        """A waiting ticket whose orders were all cancelled is cancelled too: nobody waits for nothing."""
        ticket_id = order["ticket"]["id"] if order.get("ticket") else None
        if ticket_id is None:
            return
        with self.db.read() as connection:
            still_open = connection.execute(select(O.c.id).where(O.c.ticket_id == ticket_id,
                                                                 O.c.status.in_(OPEN_STATES)).limit(1)).first()
            status = connection.execute(select(T.c.status).where(T.c.id == ticket_id)).scalar()
        if still_open is None and status == p.WAITING:
            self.queue.cancel(ticket_id, actor=actor, reason="orders cancelled")

    def _after_close(self, visit_id: int, ordering_service: str) -> None:
        """After a result or a cancellation: the next step of the patient, or their return to the doctor."""
        self.route(visit_id)
        self.return_if_done(visit_id, ordering_service)

    def return_if_done(self, visit_id: int, ordering_service: str) -> dict[str, Any] | None:
        """When none of the visit's orders from `ordering_service` is open, and the patient is not in that
        service's line or room, issue them a "returning" ticket there (once per round of orders)."""
        with self.db.read() as connection:
            rows = connection.execute(select(O.c.id, O.c.status, O.c.ordering_counter).where(
                O.c.visit_id == visit_id, O.c.ordering_service == ordering_service).order_by(O.c.id)).all()
            if not rows or any(r.status in OPEN_STATES for r in rows):
                return None
            present = connection.execute(select(T.c.id).where(
                T.c.visit_id == visit_id, T.c.service_id == self.queue.service_id(ordering_service),
                T.c.status.in_(ACTIVE_TICKET)).limit(1)).first()
        if present is not None:
            return None
        last = rows[-1]
        counter = self.clinic.counter(last.ordering_counter) if last.ordering_counter else None
        room_vi, room_en = (counter.name, counter.name_en) if counter else ("phòng khám", "the doctor")
        ticket = self.queue.issue(
            ordering_service, priority=RETURN_PRIORITY, actor=SYSTEM_ACTOR, source="order", visit_id=visit_id,
            note=f"Đã có kết quả CLS, về {room_vi} / results ready, back to {room_en}"[:200],
            # One return per round of orders: the round's last order names it.
            idempotency_key=f"return:{visit_id}:{last.id}")
        self.bus.publish(VisitReturned(visit_id, ordering_service, last.ordering_counter, ticket))
        return ticket
