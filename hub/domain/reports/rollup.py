"""A day's figures, computed from the tickets and their period log, and stored once the day is over.

The rules (docs/reports.md says the same for managers):
- A ticket belongs to the local day and hour it was issued. A transferred patient holds one ticket per
  service: each counts on its own (issued, waited, served).
- Outcomes by final status: served = done or transferred after service; transferred, no-show and
  cancelled as they ended; waiting, called, serving or on hold are still open. A late no-show who came
  back and was served counts as served.
- Waiting time: the sum of a ticket's waiting periods that ended in a call (log rows from `waiting` to
  `called`). A ticket cancelled while waiting has no waiting time; it counts as cancelled.
- Service time: the sum of a ticket's serving periods, only for tickets that finished (done or
  transferred); time on hold (a paused counter) is left out, as is the walk from the call to the counter.
- Estimate accuracy: the P50 shown at issue against the time from issue to the first call.
- Visit time (Decision 1313/QĐ-BYT): from the visit's first ticket to the end of its last examination
  (an exam ticket that was served, the return with results included); the target depends on how many
  kinds of paraclinical technique (lab, imaging, functional...) were ordered or queued for in the visit.
  A visit with no served examination is counted apart.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, and_, case, cast, func, select

from hub import protocol as p
from hub.config import ReportSettings
from hub.domain.booking.models import Doctor
from hub.domain.clinical.models import ClinicalOrder, ExamRecord
from hub.domain.queue.models import Counter, Service, Ticket, TicketTransition, Visit
from hub.domain.reports.stats import Spread, bin_of

T = Ticket.__table__
TT = TicketTransition.__table__
V = Visit.__table__
E = ExamRecord.__table__
O = ClinicalOrder.__table__  # noqa: E741 - the orders table, as the other services name it

ROLLUP_VERSION = 2  # bumped whenever stored figures change meaning or shape
DIMENSIONS = ("service", "counter", "doctor", "hour")
SERVED_STATES = (p.DONE, p.TRANSFERRED)
OPEN_STATES = (p.WAITING, p.CALLED, p.SERVING, p.ON_HOLD)
PARACLINICAL_KINDS = ("lab", "imaging")
TARGET_CLASSES = 4  # 0, 1, 2, and 3 or more kinds of technique


def epoch_ms(column: Any, dialect: str) -> Any:
    """A UTC timestamp column as integer milliseconds since 1970, computed by the database."""
    if dialect == "sqlite":
        # UTCDateTime keeps naive UTC text in SQLite; julianday reads it with sub-millisecond precision.
        return cast(func.round((func.julianday(column) - 2440587.5) * 86_400_000.0), BigInteger)
    return cast(func.extract("epoch", column) * 1000, BigInteger)


@dataclass
class TicketFigures:
    """Counts, waiting and service spreads, and estimate errors of a group of tickets."""

    issued: int = 0
    served: int = 0
    transferred: int = 0
    no_show: int = 0
    cancelled: int = 0
    open: int = 0
    arrivals: int = 0  # visits whose first ticket is in this group
    wait: Spread = field(default_factory=Spread)
    service: Spread = field(default_factory=Spread)
    est_count: int = 0
    est_abs_minutes: float = 0.0
    est_bias_minutes: float = 0.0
    est_covered: int = 0  # actual wait within the P90 shown

    COUNTS = ("issued", "served", "transferred", "no_show", "cancelled", "open", "arrivals", "est_count",
              "est_covered")

    def add_ticket(self, ticket: DayTicket) -> None:
        self.issued += 1
        status = ticket.status
        if status in SERVED_STATES:
            self.served += 1
            if ticket.service_ms is not None:
                self.service.add(ticket.service_ms, ticket.service_bin)
        if status == p.TRANSFERRED:
            self.transferred += 1
        elif status == p.NO_SHOW:
            self.no_show += 1
        elif status == p.CANCELLED:
            self.cancelled += 1
        elif status in OPEN_STATES:
            self.open += 1
        if ticket.wait_ms is not None:
            self.wait.add(ticket.wait_ms, ticket.wait_bin)
        if ticket.estimate_p50 is not None and ticket.called_ms is not None:
            actual = (ticket.called_ms - ticket.issued_ms) / 60_000
            error = ticket.estimate_p50 - actual
            self.est_count += 1
            self.est_abs_minutes += abs(error)
            self.est_bias_minutes += error
            if ticket.estimate_p90 is not None and actual <= ticket.estimate_p90:
                self.est_covered += 1

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in self.COUNTS}
        out.update(wait=self.wait.encode(), service=self.service.encode(),
                   est_abs_minutes=round(self.est_abs_minutes, 4), est_bias_minutes=round(self.est_bias_minutes, 4))
        return out

    def merge_encoded(self, encoded: dict[str, Any]) -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + encoded.get(name, 0))
        self.wait.merge_encoded(encoded.get("wait"))
        self.service.merge_encoded(encoded.get("service"))
        self.est_abs_minutes += encoded.get("est_abs_minutes", 0.0)
        self.est_bias_minutes += encoded.get("est_bias_minutes", 0.0)


@dataclass
class VisitFigures:
    """The Decision 1313 classes of a set of visits, and the slowest of them."""

    visits: int = 0
    no_exam: int = 0
    classes: list[Spread] = field(default_factory=lambda: [Spread() for _ in range(TARGET_CLASSES)])
    met: list[int] = field(default_factory=lambda: [0] * TARGET_CLASSES)
    slowest: list[dict[str, Any]] = field(default_factory=list)

    def encode(self) -> dict[str, Any]:
        return {"v": ROLLUP_VERSION, "visits": self.visits, "no_exam": self.no_exam,
                "classes": [s.encode() for s in self.classes], "met": list(self.met), "slowest": self.slowest}

    def merge_encoded(self, encoded: dict[str, Any], keep: int) -> None:
        self.visits += encoded.get("visits", 0)
        self.no_exam += encoded.get("no_exam", 0)
        for index, spread in enumerate(encoded.get("classes", [])):
            self.classes[index].merge_encoded(spread)
        for index, count in enumerate(encoded.get("met", [])):
            self.met[index] += count
        self.slowest = heapq.nlargest(keep, [*self.slowest, *encoded.get("slowest", [])],
                                      key=lambda v: (v["minutes"], -v["visit_id"]))


@dataclass(slots=True)
class DayTicket:
    """One ticket of the day with its period sums (and their histogram bins, taken once), as the rollup reads it."""

    id: int
    visit_id: int
    number: str
    service: str
    counter: str
    status: str
    issued_ms: int
    called_ms: int | None
    finished_ms: int | None
    wait_ms: int | None
    service_ms: int | None
    estimate_p50: float | None
    estimate_p90: float | None
    wait_bin: int = 0
    service_bin: int = 0


@dataclass(frozen=True)
class Catalog:
    """Codes and kinds for the ids the tables hold, read once per computation."""

    services: dict[int, str]
    service_kinds: dict[str, str]
    counters: dict[int, str]
    doctors: dict[int, str]
    doctor_of_room: dict[str, str]  # a counter that is one doctor's room

    @classmethod
    def read(cls, connection: Connection) -> Catalog:
        S, C, D = Service.__table__, Counter.__table__, Doctor.__table__
        services = {row.id: (row.code, row.kind) for row in connection.execute(select(S.c.id, S.c.code, S.c.kind))}
        doctors = connection.execute(select(D.c.id, D.c.code, D.c.room, D.c.active)).all()
        rooms: dict[str, list[str]] = defaultdict(list)
        for row in doctors:
            if row.room and row.active:
                rooms[row.room].append(row.code)
        return cls(services={k: v[0] for k, v in services.items()}, service_kinds=dict(services.values()),
                   counters=dict(connection.execute(select(C.c.id, C.c.code)).tuples().all()),
                   doctors={row.id: row.code for row in doctors},
                   doctor_of_room={room: codes[0] for room, codes in rooms.items() if len(codes) == 1})


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where a local day starts and ends."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def local_hour(ms: int, offset_seconds: int) -> int:
    return ((ms // 1000 + offset_seconds) // 3600) % 24


class DayRollup:
    """Computes one local day's figures for every group."""

    def __init__(self, settings: ReportSettings, tz: ZoneInfo) -> None:
        self.settings = settings
        self.tz = tz

    def compute(self, connection: Connection, day: date) -> dict[tuple[str, str], dict[str, Any]]:
        """{(dim, key): figures} for the day; ("all", "") and ("visits", "") are always there."""
        catalog = Catalog.read(connection)
        tickets = self._tickets(connection, day, catalog)
        doctors = self._exam_doctors(connection, day, catalog)
        techniques = self._ordered_techniques(connection, day)
        offset = int(self.tz.utcoffset(datetime.combine(day, time(12))).total_seconds())  # type: ignore[union-attr]

        groups: dict[tuple[str, str], TicketFigures] = defaultdict(TicketFigures)
        everything = groups[("all", "")]
        by_visit: dict[int, list[DayTicket]] = defaultdict(list)
        for ticket in tickets:
            hour = f"{local_hour(ticket.issued_ms, offset):02d}"
            keys = [("service", ticket.service), ("counter", ticket.counter), ("hour", hour)]
            if catalog.service_kinds.get(ticket.service) == "exam":
                doctor = doctors.get(ticket.visit_id) or catalog.doctor_of_room.get(ticket.counter, "")
                keys.append(("doctor", doctor))
            everything.add_ticket(ticket)
            for key in keys:
                groups[key].add_ticket(ticket)
            by_visit[ticket.visit_id].append(ticket)

        visits = VisitFigures()
        timed: list[tuple[int, int, list[DayTicket], set[str]]] = []
        for visit_id, held in by_visit.items():
            first = min(held, key=lambda t: (t.issued_ms, t.id))
            everything.arrivals += 1
            groups[("service", first.service)].arrivals += 1
            groups[("hour", f"{local_hour(first.issued_ms, offset):02d}")].arrivals += 1
            elapsed, kinds = self._classify(visits, held, techniques.get(visit_id, set()), catalog)
            if elapsed is not None:
                timed.append((elapsed, -visit_id, held, kinds))
        for elapsed, negative_id, held, kinds in heapq.nlargest(self.settings.slowest_visits, timed,
                                                                 key=lambda item: item[:2]):
            visits.slowest.append(self._slow_entry(-negative_id, elapsed, held, kinds))
        out = {key: figures.encode() for key, figures in groups.items()}
        out[("visits", "")] = visits.encode()
        return out

    # ------------------------------------------------------------------ reading the day
    def _tickets(self, connection: Connection, day: date, catalog: Catalog) -> list[DayTicket]:
        dialect = connection.dialect.name
        waited = and_(TT.c.from_status == p.WAITING, TT.c.to_status == p.CALLED)
        served = TT.c.from_status == p.SERVING
        periods = (
            select(TT.c.ticket_id,
                   func.sum(case((waited, TT.c.duration_ms), else_=0)).label("wait_ms"),
                   func.sum(case((waited, 1), else_=0)).label("waits"),
                   func.sum(case((served, TT.c.duration_ms), else_=0)).label("service_ms"),
                   func.sum(case((served, 1), else_=0)).label("services"))
            .select_from(TT.join(T, T.c.id == TT.c.ticket_id))
            .where(T.c.day == day, TT.c.from_status.in_((p.WAITING, p.SERVING)))
            .group_by(TT.c.ticket_id)
        ).subquery()
        rows = connection.execute(
            select(T.c.id, T.c.visit_id, T.c.number, T.c.service_id, T.c.counter_id, T.c.status,
                   epoch_ms(T.c.issued_at, dialect).label("issued_ms"),
                   epoch_ms(T.c.first_called_at, dialect).label("called_ms"),
                   epoch_ms(T.c.finished_at, dialect).label("finished_ms"),
                   T.c.estimate_p50_min, T.c.estimate_p90_min,
                   periods.c.wait_ms, periods.c.waits, periods.c.service_ms, periods.c.services)
            .select_from(T.outerjoin(periods, periods.c.ticket_id == T.c.id))
            .where(T.c.day == day)).all()
        services, counters = catalog.services, catalog.counters
        out = []
        for (ticket_id, visit_id, number, service_id, counter_id, status, issued_ms, called_ms, finished_ms, p50,
             p90, wait_ms, waits, service_ms, services_count) in rows:
            wait = int(wait_ms) if waits else None
            service = int(service_ms) if services_count else None
            out.append(DayTicket(
                ticket_id, visit_id, number, services.get(service_id, "?"), counters.get(counter_id, ""), status,
                int(issued_ms), _int(called_ms), _int(finished_ms), wait, service, p50, p90,
                bin_of(wait) if wait is not None else 0, bin_of(service) if service is not None else 0))
        return out

    @staticmethod
    def _exam_doctors(connection: Connection, day: date, catalog: Catalog) -> dict[int, str]:
        """The doctor who wrote each visit's examination record."""
        rows = connection.execute(
            select(E.c.visit_id, E.c.doctor_id).select_from(E.join(V, V.c.id == E.c.visit_id))
            .where(V.c.day == day, E.c.doctor_id.is_not(None)).order_by(E.c.id))
        return {row.visit_id: catalog.doctors.get(row.doctor_id, "") for row in rows}

    def _ordered_techniques(self, connection: Connection, day: date) -> dict[int, set[str]]:
        rows = connection.execute(
            select(O.c.visit_id, O.c.kind, O.c.service).select_from(O.join(V, V.c.id == O.c.visit_id))
            .where(V.c.day == day, O.c.status != "cancelled"))
        out: dict[int, set[str]] = defaultdict(set)
        for row in rows:
            out[row.visit_id].add(self.settings.techniques.get(row.service, row.kind))
        return out

    # ------------------------------------------------------------------ Decision 1313
    def _classify(self, visits: VisitFigures, held: list[DayTicket], ordered: Iterable[str],
                  catalog: Catalog) -> tuple[int | None, set[str]]:
        """Count the visit in its target class; returns its time in ms (None without an exam) and kinds."""
        visits.visits += 1
        kinds = set(ordered)
        exam_end = None
        for ticket in held:
            kind = catalog.service_kinds.get(ticket.service)
            if ticket.service in self.settings.techniques:
                kinds.add(self.settings.techniques[ticket.service])
            elif kind in PARACLINICAL_KINDS:
                kinds.add(kind)  # type: ignore[arg-type]
            if kind == "exam" and ticket.status in SERVED_STATES and ticket.finished_ms is not None:
                exam_end = max(exam_end or 0, ticket.finished_ms)
        if exam_end is None:
            visits.no_exam += 1
            return None, kinds
        elapsed = max(exam_end - min(t.issued_ms for t in held), 0)
        klass = min(len(kinds), TARGET_CLASSES - 1)
        visits.classes[klass].add(elapsed)
        visits.met[klass] += elapsed <= self.settings.targets[klass] * 60_000
        return elapsed, kinds

    def _slow_entry(self, visit_id: int, elapsed: int, held: list[DayTicket], kinds: set[str]) -> dict[str, Any]:
        ordered = sorted(held, key=lambda t: (t.issued_ms, t.id))
        target = self.settings.targets[min(len(kinds), TARGET_CLASSES - 1)]
        return {"visit_id": visit_id, "minutes": round(elapsed / 60_000, 2), "kinds": sorted(kinds),
                "target": target, "met": elapsed <= target * 60_000, "start_ms": ordered[0].issued_ms,
                "tickets": " → ".join(t.number for t in ordered)}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
