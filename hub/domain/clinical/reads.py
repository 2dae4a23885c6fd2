"""Orders as the pages and the API read them: states, the order view, the worklist, a visit's orders and
where a ticket's holder goes next."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from hub import protocol as p
from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.clinical.models import ClinicalOrder
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Invalid, NotFound
from hub.domain.patients.models import Patient
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket, Visit

O = ClinicalOrder.__table__  # noqa: E741 - the table, as T is tickets elsewhere
T = Ticket.__table__
V = Visit.__table__
P = Patient.__table__

ORDERED, IN_PROGRESS, RESULTED, CANCELLED = "ordered", "in_progress", "resulted", "cancelled"
ORDER_STATES = (ORDERED, IN_PROGRESS, RESULTED, CANCELLED)
OPEN_STATES = (ORDERED, IN_PROGRESS)
ACTIVE_TICKET = (p.WAITING, p.CALLED, p.SERVING, p.ON_HOLD)


class OrderReads:
    """Queries that only read orders; every view of an order is built here."""

    def __init__(self, db: Database, clinic: ClinicConfig, clock: Clock, queue: QueueService) -> None:
        self.db = db
        self.clinic = clinic
        self.clock = clock
        self.queue = queue
        self._items = {item.code: item for item in clinic.catalogue}
        self._doctor_names = {f"user:{d.username}": d.name for d in clinic.doctors if d.username}

    def get(self, order_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            orders = self.where(connection, O.c.id == order_id, with_patient=True)
        if not orders:
            raise NotFound("unknown_order", f"no order {order_id}")
        return orders[0]

    def of_visit(self, visit_id: int) -> list[dict[str, Any]]:
        with self.db.read() as connection:
            return self.where(connection, O.c.visit_id == visit_id)

    def of_visits(self, connection: Connection, visit_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {visit_id: [] for visit_id in visit_ids}
        if visit_ids:
            for order in self.where(connection, O.c.visit_id.in_(visit_ids)):
                out[order["visit_id"]].append(order)
        return out

    def worklist(self, *, service: str | None = None, status: str | None = None, day: date | None = None,
                 visit_id: int | None = None, limit: int = 300) -> list[dict[str, Any]]:
        """Orders for the lab and imaging page: by performing service, state ("open" = not yet resulted), day."""
        conditions = []
        if service is not None:
            if self.clinic.service(service) is None:
                raise Invalid("unknown_service", f"unknown service {service!r}")
            conditions.append(O.c.service == service)
        if status is not None:
            if status == "open":
                conditions.append(O.c.status.in_(OPEN_STATES))
            elif status in ORDER_STATES:
                conditions.append(O.c.status == status)
            else:
                raise Invalid("unknown_status", f"status is one of {', '.join(ORDER_STATES)} or open")
        if visit_id is not None:
            conditions.append(O.c.visit_id == visit_id)
        else:
            conditions.append(V.c.day == (day or local_day(self.clock.now(), self.clinic.site.tz)))
        with self.db.read() as connection:
            return self.where(connection, *conditions, with_patient=True, limit=limit)

    def where(self, connection: Connection, *conditions: Any, with_patient: bool = False,
              limit: int | None = None) -> list[dict[str, Any]]:
        """Orders matching `conditions`, oldest first, with their ticket (and patient, if asked)."""
        columns = [O, T.c.number.label("t_number"), T.c.status.label("t_status")]
        source = O.join(V, V.c.id == O.c.visit_id).outerjoin(T, T.c.id == O.c.ticket_id)
        if with_patient:
            columns += [P.c.code.label("p_code"), P.c.full_name.label("p_name"),
                        P.c.date_of_birth.label("p_birth"), P.c.sex.label("p_sex")]
            source = source.outerjoin(P, P.c.id == V.c.patient_id)
        statement = select(*columns).select_from(source).where(*conditions).order_by(O.c.id)
        if limit is not None:
            statement = statement.limit(limit)
        return [self._view(row, with_patient) for row in connection.execute(statement)]

    def _view(self, row: Any, with_patient: bool) -> dict[str, Any]:
        item = self._items.get(row.item_code)
        service = self.clinic.service(row.service)
        view: dict[str, Any] = {
            "id": row.id, "visit_id": row.visit_id, "item": row.item_code,
            "name": item.name if item else row.item_code, "name_en": item.name_en if item else row.item_code,
            "kind": row.kind, "service": row.service,
            "service_name": service.name if service else row.service,
            "service_name_en": service.name_en if service else row.service,
            "price": row.price, "status": row.status, "ordered_by": row.ordered_by,
            "ordered_by_name": self._doctor_names.get(row.ordered_by),
            "ordering_service": row.ordering_service, "ordering_counter": row.ordering_counter,
            "ticket": {"id": row.ticket_id, "number": row.t_number, "status": row.t_status} if row.ticket_id else None,
            "note": row.note, "created_at": row.created_at.isoformat(),
            "resulted_at": row.resulted_at.isoformat() if row.resulted_at else None,
            "resulted_by": row.resulted_by, "values": row.result_values, "report": row.result_report,
            "released": bool(row.released),
            # What the result form asks for (the catalogue's analytes, units and reference ranges).
            "analytes": [a.model_dump() for a in item.analytes] if item else [],
        }
        if with_patient:
            view["patient"] = None if row.p_code is None else {
                "code": row.p_code, "full_name": row.p_name, "sex": row.p_sex,
                "date_of_birth": row.p_birth.isoformat() if row.p_birth else None}
        return view

    def next_step(self, ticket_id: int) -> dict[str, Any]:
        """Where the holder of a ticket goes now: the visit's tickets still in a line or room, and
        whether results are awaited (the patient will be called back to the doctor)."""
        with self.db.read() as connection:
            visit_id = connection.execute(select(T.c.visit_id).where(T.c.id == ticket_id)).scalar()
            if visit_id is None:
                raise NotFound("unknown_ticket", f"no ticket {ticket_id}")
            active = connection.execute(select(T.c.id).where(
                T.c.visit_id == visit_id, T.c.id != ticket_id, T.c.status.in_(ACTIVE_TICKET))
                .order_by(T.c.id)).scalars().all()
            open_orders = connection.execute(select(O.c.id).where(
                O.c.visit_id == visit_id, O.c.status.in_(OPEN_STATES))).scalars().all()
        return {"ticket": ticket_id, "next": [self.queue.get_ticket(t) for t in active],
                "awaiting_results": bool(open_orders) and not active}
