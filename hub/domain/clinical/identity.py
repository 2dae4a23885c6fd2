"""The identity rule: a clinical record is only written on a visit whose patient is identified.

A kiosk ticket taken without an ID card or a booking belongs to an anonymous visit. That is fine for the
services that keep no record (pharmacy pickup, the cashier, the information desk: `anonymous_allowed` in
config/clinic.toml), but an examination note, a diagnosis, an order or a result written on it would belong
to nobody and could never be found again, or worse be merged by hand onto the wrong person. So every
clinical write checks the visit here first, and the doctor's or nurse's page can identify the patient on
the spot (`IdentityService.identify`) instead of sending them back to reception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.config import ClinicConfig, ServiceConfig
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, NotFound
from hub.domain.common.events import Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Visit

V = Visit.__table__
P = Patient.__table__

# Kinds of service that keep no clinical record: an anonymous ticket there is normal.
ANONYMOUS_KINDS = ("reception", "cashier", "pharmacy")
NOT_IDENTIFIED = "patient_not_identified"
NOT_IDENTIFIED_MESSAGE = ("Chưa xác định bệnh nhân: hãy quét CCCD, tìm hoặc đăng ký bệnh nhân trước khi ghi bệnh án, "
                          "chỉ định hay kết quả / the patient is not identified: scan the ID card, search or register "
                          "the patient before writing notes, orders or results")


class PatientNotIdentified(Conflict):
    """A clinical write on a visit without an identified patient (409)."""

    def __init__(self, visit_id: int) -> None:
        super().__init__(NOT_IDENTIFIED, NOT_IDENTIFIED_MESSAGE)
        self.visit_id = visit_id


@dataclass(frozen=True)
class VisitIdentified(Event):
    """An anonymous visit now belongs to a patient (identified at the doctor's, the nurse's or reception)."""

    visit_id: int
    patient_code: str
    actor: str


def anonymous_allowed(service: ServiceConfig) -> bool:
    """Whether a ticket of `service` may stay anonymous; config wins, else by the kind of service."""
    if service.anonymous_allowed is not None:
        return service.anonymous_allowed
    return service.kind in ANONYMOUS_KINDS


def require_identified(connection: Connection, visit_id: int) -> int:
    """The visit's patient id; NotFound for no such visit, PatientNotIdentified for an anonymous one."""
    row = connection.execute(select(V.c.patient_id).where(V.c.id == visit_id)).first()
    if row is None:
        raise NotFound("unknown_visit", f"no visit {visit_id}")
    if row.patient_id is None:
        raise PatientNotIdentified(visit_id)
    return row.patient_id


class IdentityService:
    """Attach a registered patient to an anonymous visit."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock

    def identify(self, visit_id: int, patient_code: str, *, actor: str) -> dict[str, Any]:
        """Give the visit its patient. Idempotent for the same patient; a visit never changes patient here
        (that is a correction for the record office, with its own audit), so another patient is a 409."""
        now = self.clock.now()
        with self.db.write() as connection:
            patient = connection.execute(select(P.c.id, P.c.code).where(P.c.code == patient_code)).first()
            if patient is None:
                raise NotFound("unknown_patient", f"Không có bệnh nhân {patient_code!r} / no patient {patient_code!r}")
            visit = connection.execute(select(V.c.id, V.c.patient_id).where(V.c.id == visit_id)).first()
            if visit is None:
                raise NotFound("unknown_visit", f"no visit {visit_id}")
            if visit.patient_id == patient.id:
                return {"visit_id": visit_id, "patient": patient.code, "changed": False}
            if visit.patient_id is not None:
                raise Conflict("visit_has_patient", "Lượt khám này đã có bệnh nhân khác / this visit already has "
                                                    "another patient: correct it at the record office")
            # The guard on patient_id IS NULL makes two staff identifying at once safe: one wins.
            changed = connection.execute(update(V).where(V.c.id == visit_id, V.c.patient_id.is_(None))
                                         .values(patient_id=patient.id)).rowcount
            if changed != 1:
                raise Conflict("visit_has_patient", "the visit was identified meanwhile; reload")
            connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action="visit_identified",
                                                         subject=f"visit:{visit_id}",
                                                         detail={"patient": patient.code}))
        self.bus.publish(VisitIdentified(visit_id, patient.code, actor))
        return {"visit_id": visit_id, "patient": patient.code, "changed": True}
