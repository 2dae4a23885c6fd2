"""Paper at every change of line: the order slip (phiếu chỉ định) and the "return to the doctor" slip.

Each time the patient's number changes (D025 -> X022 -> D026) they get a slip that says where to go:
every ordered station with its room(s), floor, the patient's number there and the estimated wait, and
what to do before (fasting...). A slip is saved before it is printed (`printed_slips`): a printer fault
leaves it `failed` with the error, never lost, and staff reprint it. Printing itself is a port
(`SlipPrinter`): the hub wires the ESC/POS raster printer (hub/printing), tests a fake or the emulator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import insert, select, update

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.clinical.models import PrintedSlip
from hub.domain.clinical.orders import OrderService, VisitReturned
from hub.domain.clinical.ranges import years_between
from hub.domain.clinical.reads import CANCELLED, O, P, T, V
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, NotFound
from hub.domain.common.events import EventBus
from hub.domain.queue.engine import QueueService

log = logging.getLogger(__name__)
S = PrintedSlip.__table__
VISIT_CODE_PREFIX = "LK"  # the same code as on receipts (hub.domain.billing.bills.visit_code)
MAX_ERROR = 300


class SlipPrinter(Protocol):
    """Prints a slip's content on a named printer; raises any exception on a fault."""

    def print_slip(self, printer: str, content: dict[str, Any]) -> None: ...


def visit_code(visit_id: int) -> str:
    return f"{VISIT_CODE_PREFIX}{visit_id:06d}"


def parse_visit_code(code: str) -> int | None:
    """LK000123 -> 123; anything else -> None (the status page answers 404, never 500)."""
    digits = code[len(VISIT_CODE_PREFIX):] if code.upper().startswith(VISIT_CODE_PREFIX) else ""
    if not digits.isdigit() or len(digits) > 12:
        return None
    return int(digits) or None


def initials(full_name: str | None) -> str | None:
    """"Hoàng Thị Ngọc" -> "H. T. N.": a public page shows no more of the patient's name."""
    if not full_name:
        return None
    return " ".join(f"{part[0].upper()}." for part in full_name.split())


class SlipService:
    """Build, save, print and reprint the patient's slips."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock, queue: QueueService,
                 orders: OrderService) -> None:
        self.db = db
        self.clinic = clinic
        self.clock = clock
        self.queue = queue
        self.orders = orders
        self.printer: SlipPrinter | None = None
        self.link_for: Callable[[int], str] | None = None  # ticket id -> its status page (the QR)
        # visit id -> the signed visit status page /v/<code>?k= (the QR follows the whole visit); preferred
        # over `link_for` when wired.
        self.visit_link: Callable[[int], str] | None = None
        bus.subscribe(VisitReturned, self._on_returned)

    # ================================================================== content
    def _header(self, visit_id: int) -> dict[str, Any]:
        site = self.clinic.site
        with self.db.read() as connection:
            row = connection.execute(select(V.c.day, P.c.code, P.c.full_name, P.c.date_of_birth)
                                     .select_from(V.outerjoin(P, P.c.id == V.c.patient_id))
                                     .where(V.c.id == visit_id)).first()
        if row is None:
            raise NotFound("unknown_visit", f"no visit {visit_id}")
        return {"hospital": site.name, "hospital_en": site.name_en, "visit_code": visit_code(visit_id),
                "patient": None if row.code is None else {
                    "code": row.code, "full_name": row.full_name,
                    "age": years_between(row.date_of_birth, row.day) if row.date_of_birth else None},
                "printed_at": self.clock.now().isoformat(), "timezone": site.timezone}

    def _place(self, service: str) -> dict[str, Any]:
        """The rooms that serve `service` and their floor(s), as the slip names them."""
        counters = [c for c in self.clinic.counters if service in c.services]
        floors = list(dict.fromkeys(c.floor for c in counters if c.floor))
        floors_en = list(dict.fromkeys(c.floor_en or c.floor for c in counters if c.floor))
        return {"rooms": [c.name for c in counters], "rooms_en": [c.name_en for c in counters],
                "floor": ", ".join(floors) or None, "floor_en": ", ".join(floors_en) or None}

    def order_content(self, visit_id: int, counter: str | None) -> dict[str, Any]:
        """Every open order of the visit grouped by station, in the order the patient goes."""
        orders = [o for o in self.orders.reads.of_visit(visit_id) if o["status"] not in (CANCELLED, "resulted")]
        stations: dict[str, dict[str, Any]] = {}
        for order in orders:
            item = self.orders.item(order["item"])
            station = stations.get(order["service"])
            if station is None:
                ticket = self.queue.get_ticket(order["ticket"]["id"]) if order["ticket"] else None
                station = stations[order["service"]] = {
                    "service": order["service"], "service_name": order["service_name"],
                    "service_name_en": order["service_name_en"], **self._place(order["service"]),
                    "number": ticket["number"] if ticket else None,
                    "ticket_id": ticket["id"] if ticket else None,
                    "ahead": ticket["ahead"] if ticket else None,
                    "estimate": ticket["estimate"] if ticket else None,
                    "items": [], "before": [], "before_en": []}
            station["items"].append(order["name"])
            if item.before and item.before not in station["before"]:
                station["before"].append(item.before)
                station["before_en"].append(item.before_en or item.before)
        room = self.clinic.counter(counter) if counter else None
        first = next((s for s in stations.values() if s["ticket_id"]), None)
        return {**self._header(visit_id), "kind": "order", "title": "PHIẾU CHỈ ĐỊNH", "title_en": "ORDER SLIP",
                "from_room": room.name if room else None, "from_room_en": room.name_en if room else None,
                "stations": list(stations.values()),
                "status_url": self._link(visit_id, first["ticket_id"] if first else None)}

    def return_content(self, visit_id: int, service: str, counter: str | None,
                       ticket: dict[str, Any]) -> dict[str, Any]:
        room = self.clinic.counter(counter) if counter else None
        place = self._place(service)
        if room is not None:
            place = {**place, "rooms": [room.name], "rooms_en": [room.name_en],
                     "floor": room.floor or place["floor"], "floor_en": room.floor_en or place["floor_en"]}
        cfg = self.clinic.service(service)
        station = {"service": service, "service_name": cfg.name if cfg else service,
                   "service_name_en": cfg.name_en if cfg else service, **place, "number": ticket["number"],
                   "ticket_id": ticket["id"], "ahead": ticket.get("ahead"), "estimate": ticket.get("estimate"),
                   "items": [], "before": [], "before_en": []}
        return {**self._header(visit_id), "kind": "return", "title": "ĐÃ CÓ KẾT QUẢ — VỀ PHÒNG KHÁM",
                "title_en": "RESULTS READY — BACK TO THE DOCTOR", "from_room": None, "from_room_en": None,
                "stations": [station], "status_url": self._link(visit_id, ticket["id"])}

    def walk_in_content(self, visit_id: int, ticket: dict[str, Any]) -> dict[str, Any]:
        """The reception walk-in ticket: number, service, room(s), floor, visit code and the QR."""
        station = {"service": ticket["service"], "service_name": ticket["service_name"],
                   "service_name_en": ticket["service_name_en"], **self._place(ticket["service"]),
                   "number": ticket["number"], "ticket_id": ticket["id"], "ahead": ticket.get("ahead"),
                   "estimate": ticket.get("estimate"), "items": [], "before": [], "before_en": []}
        return {**self._header(visit_id), "kind": "walk_in", "title": "PHIẾU SỐ THỨ TỰ",
                "title_en": "QUEUE TICKET", "from_room": None, "from_room_en": None,
                "stations": [station], "status_url": self._link(visit_id, ticket["id"])}

    def _link(self, visit_id: int, ticket_id: int | None) -> str | None:
        if self.visit_link is not None:
            return self.visit_link(visit_id)
        return self.link_for(ticket_id) if self.link_for and ticket_id else None

    # ================================================================== the visit status page
    def visit_status(self, visit_id: int) -> dict[str, Any]:
        """The whole visit as the patient follows it: every station (one per ticket, then the ordered
        stations not yet issued), with the number there, room(s), floor, status and estimate.
        Public (behind the signed link): the patient appears by initials only."""
        with self.db.read() as connection:
            row = connection.execute(select(V.c.day, P.c.full_name).select_from(
                V.outerjoin(P, P.c.id == V.c.patient_id)).where(V.c.id == visit_id)).first()
            if row is None:
                raise NotFound("unknown_visit", f"no visit {visit_id}")
            ticket_ids = connection.execute(select(T.c.id).where(T.c.visit_id == visit_id)
                                            .order_by(T.c.issued_at, T.c.id)).scalars().all()
        stations: list[dict[str, Any]] = []
        for ticket_id in ticket_ids:
            ticket = self.queue.get_ticket(ticket_id)
            place = self._place(ticket["service"])
            if ticket.get("counter_name"):  # called: the room that called them, not every room of the line
                place = {**place, "rooms": [ticket["counter_name"]], "rooms_en": [ticket["counter_name_en"]]}
            stations.append({"service": ticket["service"], "service_name": ticket["service_name"],
                             "service_name_en": ticket["service_name_en"], **place, "number": ticket["number"],
                             "status": ticket["status"], "ahead": ticket["ahead"], "estimate": ticket["estimate"]})
        issued = {s["service"] for s in stations if s["status"] not in ("done", "transferred", "cancelled",
                                                                         "no_show")}
        for order in self.orders.reads.of_visit(visit_id):
            if order["ticket"] or order["status"] in (CANCELLED, "resulted") or order["service"] in issued:
                continue
            issued.add(order["service"])
            stations.append({"service": order["service"], "service_name": order["service_name"],
                             "service_name_en": order["service_name_en"], **self._place(order["service"]),
                             "number": None, "status": "not_yet", "ahead": None, "estimate": None})
        return {"visit_code": visit_code(visit_id), "day": row.day.isoformat(), "patient": initials(row.full_name),
                "hospital": self.clinic.site.name, "hospital_en": self.clinic.site.name_en, "stations": stations}

    # ================================================================== save, then print
    def print_order_slip(self, visit_id: int, counter: str | None) -> dict[str, Any]:
        """The order slip at the doctor's room (its counter's printer)."""
        return self._save_and_print("order", visit_id, counter, self.order_content(visit_id, counter))

    def print_walk_in(self, visit_id: int, ticket: dict[str, Any], counter: str | None) -> dict[str, Any]:
        """The walk-in ticket on the reception counter's printer (saved first; a fault leaves it to reprint)."""
        return self._save_and_print("walk_in", visit_id, counter or self.reception_counter(),
                                    self.walk_in_content(visit_id, ticket))

    def reception_counter(self) -> str | None:
        """The desk whose printer takes a walk-in ticket when the clerk names none: the first reception
        counter (serving a reception-kind service) that has a printer."""
        reception = {s.code for s in self.clinic.services if s.kind == "reception"}
        return next((c.code for c in self.clinic.counters if c.printer and reception & set(c.services)), None)

    def _on_returned(self, event: VisitReturned) -> None:
        """The last result is in: the slip with the new number goes to the printer of the room the patient
        is leaving (the last performing station's counter), else the ordering room's."""
        try:
            printer_counter = self._last_performing_counter(event.visit_id) or event.counter
            content = self.return_content(event.visit_id, event.service, event.counter, event.ticket)
            self._save_and_print("return", event.visit_id, printer_counter, content)
        except Exception:  # the patient's return ticket is issued already; a slip must never undo it
            log.exception("return slip of visit %s not saved", event.visit_id)

    def _last_performing_counter(self, visit_id: int) -> str | None:
        with self.db.read() as connection:
            ticket_id = connection.execute(select(O.c.ticket_id).where(O.c.visit_id == visit_id,
                                                                      O.c.ticket_id.is_not(None))
                                           .order_by(O.c.resulted_at.desc(), O.c.id.desc()).limit(1)).scalar()
        if ticket_id is None:
            return None
        counter = self.queue.get_ticket(ticket_id).get("counter")
        cfg = self.clinic.counter(counter) if counter else None
        return counter if cfg and cfg.printer else None

    def _save_and_print(self, kind: str, visit_id: int, counter: str | None, content: dict[str, Any]) -> dict[str, Any]:
        cfg = self.clinic.counter(counter) if counter else None
        printer = cfg.printer if cfg else None
        with self.db.write() as connection:
            slip_id = connection.execute(insert(S).values(
                kind=kind, visit_id=visit_id, counter=counter, printer=printer, content=content,
                status="pending" if printer else "no_printer", attempts=0,
                created_at=self.clock.now()).returning(S.c.id)).scalar_one()
        if printer:
            self._print(slip_id)
        return self.get(slip_id)

    def _print(self, slip_id: int) -> None:
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.id == slip_id)).one()
        error = None
        try:
            if self.printer is None:
                raise RuntimeError("no slip printer is wired in this hub")
            self.printer.print_slip(row.printer, row.content)
        except Exception as exc:  # any fault of the printer path: the slip stays saved, marked failed
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        with self.db.write() as connection:
            connection.execute(update(S).where(S.c.id == slip_id).values(
                status="failed" if error else "printed", error=error, attempts=S.c.attempts + 1,
                printed_at=None if error else self.clock.now()))

    def reprint(self, slip_id: int, *, counter: str | None = None) -> dict[str, Any]:
        """Print a saved slip again (after a fault, or a lost slip), on its printer or `counter`'s."""
        slip = self.get(slip_id)
        printer = slip["printer"]
        if counter is not None:
            cfg = self.clinic.counter(counter)
            if cfg is None:
                raise NotFound("unknown_counter", f"no counter {counter!r}")
            printer = cfg.printer
        if not printer:
            raise Conflict("no_printer", "Phòng/quầy này không có máy in / this room or counter has no printer")
        with self.db.write() as connection:
            connection.execute(update(S).where(S.c.id == slip_id).values(printer=printer, status="pending"))
        self._print(slip_id)
        return self.get(slip_id)

    def get(self, slip_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.id == slip_id)).first()
        if row is None:
            raise NotFound("unknown_slip", f"no slip {slip_id}")
        return _view(row)

    def of_visit(self, visit_id: int) -> list[dict[str, Any]]:
        with self.db.read() as connection:
            rows = connection.execute(select(S).where(S.c.visit_id == visit_id).order_by(S.c.id)).all()
        return [_view(r) for r in rows]


def _view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "visit_id": row.visit_id, "counter": row.counter, "printer": row.printer,
            "status": row.status, "attempts": row.attempts, "error": row.error, "content": row.content,
            "created_at": row.created_at.isoformat(),
            "printed_at": row.printed_at.isoformat() if row.printed_at else None}
