"""Examination records, the visit as the doctor sees it, a patient's history, and ICD-10 diagnoses.

Orders and results live in `hub.domain.clinical.orders` (`ClinicalService.orders`) and `hub.domain.clinical.reads`
(`ClinicalService.orders.reads`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.config import ICD10_PATTERN, ClinicConfig, DoctorConfig
from hub.db import Database
from hub.domain.booking.models import Doctor, VisitIntake
from hub.domain.clinical.identity import IdentityService, require_identified
from hub.domain.clinical.models import ExamRecord
from hub.domain.clinical.orders import OrderService
from hub.domain.clinical.prescriptions import validate_lines, validate_weight, weight_required
from hub.domain.clinical.slips import SlipService
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Invalid, NotFound
from hub.domain.common.events import Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.patients.models import Patient
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket, Visit

E = ExamRecord.__table__
T = Ticket.__table__
V = Visit.__table__
P = Patient.__table__
I = VisitIntake.__table__  # noqa: E741 - the table, as T is tickets
D = Doctor.__table__

ICD10 = re.compile(ICD10_PATTERN)
MAX_NOTES = 5000
MAX_DIAGNOSIS_TEXT = 300
HISTORY_VISITS = 20


@dataclass(frozen=True)
class ExamRecorded(Event):
    """The doctor saved the examination of a visit (notes, diagnosis, prescription)."""

    visit_id: int
    exam: dict[str, Any]


def normalise_icd10(code: str) -> str:
    """"j06.9", " J069 ", "J06.9†" -> "J06.9"; raises Invalid when it is not an ICD-10 code."""
    cleaned = code.strip().upper().rstrip("†*+")
    if re.fullmatch(r"[A-Z][0-9]{3,4}", cleaned):
        cleaned = cleaned[:3] + "." + cleaned[3:]  # typed without the dot
    if not ICD10.fullmatch(cleaned):
        raise Invalid("bad_icd10", f"'{code}' không phải mã ICD-10 (ví dụ J06.9) / not an ICD-10 code (e.g. J06.9)")
    return cleaned


def _folded(text: str) -> str:
    """Lowercase without diacritics: "đau đầu" matches "dau dau" as doctors type it in a hurry."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[(),;:/-]", " ", plain)


class ClinicalService:
    """The doctor's side of a visit; lab and imaging orders are in `self.orders`."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock, queue: QueueService) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self.queue = queue
        self.tz = clinic.site.tz
        self.orders = OrderService(db, clinic, bus, clock, queue)
        self.identity = IdentityService(db, clinic, bus, clock)
        self.slips = SlipService(db, clinic, bus, clock, queue, self.orders)
        self._icd10 = {c.code: c for c in clinic.icd10}
        self._icd10_words = [(c, _folded(f"{c.code} {c.name} {c.name_en}").split()) for c in clinic.icd10]
        self._drug_words = [(d, _folded(f"{d.name} {d.ingredient} {d.strength} {d.form}").split())
                            for d in clinic.drugs]

    # ================================================================== reference data
    def doctor_for(self, username: str) -> DoctorConfig | None:
        """The doctor a staff login belongs to (config/doctors.toml `username`)."""
        return next((d for d in self.clinic.doctors if d.username and d.username.lower() == username.lower()), None)

    def icd10_search(self, query: str, limit: int = 20) -> list[dict[str, str]]:
        """Codes where every word of `query` starts a word of the code or the names (diacritics optional)."""
        words = _folded(query).split()
        phrase = " ".join(words)
        found = []
        for code, text in self._icd10_words:
            if all(any(t.startswith(w) for t in text) for w in words):
                # A code typed as such first, then names holding the words as one phrase, then by code.
                rank = (not code.code.lower().startswith(phrase), phrase not in " ".join(text), code.code)
                found.append((rank, code))
        found.sort(key=lambda pair: pair[0])
        return [{"code": c.code, "name": c.name, "name_en": c.name_en} for _, c in found[:limit]]

    def drug_search(self, query: str, limit: int = 20) -> list[dict[str, str]]:
        """Drugs where every word of `query` starts a word of the name, ingredient, strength or form
        (diacritics optional, "amox 250" finds the syrup); names starting with the query first."""
        words = _folded(query).split()
        if not words:
            return []
        phrase = " ".join(words)
        found = []
        for drug, text in self._drug_words:
            if all(any(t.startswith(w) for t in text) for w in words):
                found.append(((not " ".join(text).startswith(phrase), drug.name), drug))
        found.sort(key=lambda pair: pair[0])
        return [d.model_dump() for _, d in found[:limit]]

    def catalogue(self) -> list[dict[str, Any]]:
        out = []
        for item in self.clinic.catalogue:
            service = self.clinic.service(item.service)
            out.append({**item.model_dump(), "service_name": service.name if service else item.service,
                        "service_name_en": service.name_en if service else item.service})
        return out

    # ================================================================== examination
    def save_exam(self, visit_id: int, *, actor: str, notes: str | None = None, diagnosis_code: str | None = None,
                  diagnosis_text: str | None = None, prescription: str | None = None, doctor: str | None = None,
                  ticket_id: int | None = None, prescription_lines: list[dict[str, Any]] | None = None,
                  weight_kg: float | None = None, height_cm: float | None = None) -> dict[str, Any]:
        """Write the visit's examination record (one per visit; each save replaces the fields and is audited).

        `prescription_lines` are checked against the drug catalogue (hub.domain.clinical.prescriptions); a
        prescription for a child under 72 months needs the weight (422 weight_required)."""
        lines = [line.as_dict() for line in validate_lines(prescription_lines, self.clinic.drugs)]
        weight_kg, height_cm = validate_weight(weight_kg, height_cm)
        code = normalise_icd10(diagnosis_code) if diagnosis_code and diagnosis_code.strip() else None
        text = (diagnosis_text or "").strip() or None
        if code and not text:
            known = self._icd10.get(code)
            if known is None:
                raise Invalid("diagnosis_text_required", f"{code} không có trong danh mục: hãy ghi tên chẩn đoán / "
                                                         "not in the list: type the diagnosis")
            text = known.name
        for name, value, limit in (("notes", notes, MAX_NOTES), ("prescription", prescription, MAX_NOTES),
                                   ("diagnosis_text", text, MAX_DIAGNOSIS_TEXT)):
            if value is not None and len(value) > limit:
                raise Invalid("too_long", f"{name} has more than {limit} characters")
        now = self.clock.now()
        fields = {"notes": (notes or "").strip() or None, "diagnosis_code": code, "diagnosis_text": text,
                  "prescription": (prescription or "").strip() or None, "prescription_lines": lines,
                  "weight_kg": weight_kg, "height_cm": height_cm, "author": actor[:64], "updated_at": now}
        with self.db.write() as connection:
            patient_id = require_identified(connection, visit_id)
            if (lines or fields["prescription"]) and weight_kg is None:
                born = connection.execute(select(P.c.date_of_birth).where(P.c.id == patient_id)).scalar()
                day = connection.execute(select(V.c.day).where(V.c.id == visit_id)).scalar_one()
                if weight_required(born, day):
                    raise Invalid("weight_required", "Trẻ dưới 72 tháng tuổi: đơn thuốc phải ghi cân nặng (Thông tư "
                                                     "52/2017/TT-BYT) / a child under 72 months: the prescription "
                                                     "needs the weight")
            if ticket_id is not None:
                owner = connection.execute(select(T.c.visit_id).where(T.c.id == ticket_id)).scalar()
                if owner != visit_id:
                    raise Invalid("bad_ticket", f"ticket {ticket_id} is not a ticket of visit {visit_id}")
            existing = connection.execute(select(E.c.id).where(E.c.visit_id == visit_id)
                                          .order_by(E.c.id).limit(1)).scalar()
            doctor_id = connection.execute(select(D.c.id).where(D.c.code == doctor)).scalar() if doctor else None
            if existing is None:
                connection.execute(insert(E).values(visit_id=visit_id, doctor_id=doctor_id, ticket_id=ticket_id,
                                                    created_at=now, **fields))
            else:
                extra = {k: v for k, v in (("doctor_id", doctor_id), ("ticket_id", ticket_id)) if v is not None}
                connection.execute(update(E).where(E.c.id == existing).values(**fields, **extra))
            connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action="exam_saved",
                                                         subject=f"visit:{visit_id}",
                                                         detail={"diagnosis_code": code,
                                                                 "drugs": [line["drug_code"] or line["name"]
                                                                           for line in lines]}))
            exam = self._exam(connection, visit_id)
        self.bus.publish(ExamRecorded(visit_id, exam))
        return exam

    def exam(self, visit_id: int) -> dict[str, Any] | None:
        with self.db.read() as connection:
            if connection.execute(select(V.c.id).where(V.c.id == visit_id)).first() is None:
                raise NotFound("unknown_visit", f"no visit {visit_id}")
            return self._exam(connection, visit_id)

    def _exam(self, connection: Connection, visit_id: int) -> dict[str, Any] | None:
        return self._exams(connection, [visit_id]).get(visit_id)

    def _exams(self, connection: Connection, visit_ids: list[int]) -> dict[int, dict[str, Any]]:
        rows = connection.execute(select(E, D.c.code.label("d_code"), D.c.name.label("d_name"))
                                  .select_from(E.outerjoin(D, D.c.id == E.c.doctor_id))
                                  .where(E.c.visit_id.in_(visit_ids)).order_by(E.c.id)).all()
        out: dict[int, dict[str, Any]] = {}
        for row in rows:
            out.setdefault(row.visit_id, {
                "visit_id": row.visit_id, "notes": row.notes, "diagnosis_code": row.diagnosis_code,
                "diagnosis_text": row.diagnosis_text, "prescription": row.prescription,
                "prescription_lines": list(row.prescription_lines or []), "weight_kg": row.weight_kg,
                "height_cm": row.height_cm, "author": row.author,
                "doctor": {"code": row.d_code, "name": row.d_name} if row.d_code else None,
                "ticket_id": row.ticket_id, "created_at": row.created_at.isoformat(),
                "updated_at": row.updated_at.isoformat()})
        return out

    # ================================================================== the visit
    def visit(self, visit_id: int) -> dict[str, Any]:
        """Everything the doctor's page shows of a visit: patient, intake, tickets, exam, orders and results."""
        with self.db.read() as connection:
            row = connection.execute(select(V).where(V.c.id == visit_id)).first()
            if row is None:
                raise NotFound("unknown_visit", f"no visit {visit_id}")
            intake = connection.execute(select(I).where(I.c.visit_id == visit_id)).first()
            return {
                "id": row.id, "day": row.day.isoformat(), "started_at": row.started_at.isoformat(),
                "ended_at": row.ended_at.isoformat() if row.ended_at else None,
                "today": row.day == local_day(self.clock.now(), self.tz),
                "patient": self._patient(connection, row.patient_id),
                "intake": None if intake is None else {
                    "reason": intake.reason, "symptoms": intake.symptoms, "service": intake.service,
                    "recorded_by": intake.recorded_by, "recorded_at": intake.recorded_at.isoformat()},
                "tickets": self._tickets(connection, visit_id),
                "exam": self._exam(connection, visit_id),
                "orders": self.orders.reads.of_visits(connection, [visit_id])[visit_id],
            }

    def visit_of_ticket(self, ticket_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            visit_id = connection.execute(select(T.c.visit_id).where(T.c.id == ticket_id)).scalar()
        if visit_id is None:
            raise NotFound("unknown_ticket", f"no ticket {ticket_id}")
        return self.visit(visit_id)

    def _patient(self, connection: Connection, patient_id: int | None) -> dict[str, Any] | None:
        if patient_id is None:
            return None
        row = connection.execute(select(P).where(P.c.id == patient_id)).one()
        return {"code": row.code, "full_name": row.full_name, "sex": row.sex, "phone": row.phone,
                "date_of_birth": row.date_of_birth.isoformat() if row.date_of_birth else None,
                "age": _age(row.date_of_birth, local_day(self.clock.now(), self.tz)),
                "insurance_no": row.insurance_no, "address": row.address}

    def _tickets(self, connection: Connection, visit_id: int) -> list[dict[str, Any]]:
        rows = connection.execute(select(T.c.id, T.c.number, T.c.service_id, T.c.status, T.c.priority, T.c.source,
                                         T.c.counter_id, T.c.issued_at, T.c.finished_at, T.c.note)
                                  .where(T.c.visit_id == visit_id).order_by(T.c.id)).all()
        out = []
        for row in rows:
            service = self.clinic.service(self.queue.service_code(row.service_id))
            out.append({
                "id": row.id, "number": row.number, "service": service.code if service else None,
                "service_name": service.name if service else None,
                "service_name_en": service.name_en if service else None, "status": row.status,
                "priority": row.priority, "source": row.source,
                "counter": self.queue.counter_code(row.counter_id) if row.counter_id else None,
                "issued_at": row.issued_at.isoformat(),
                "finished_at": row.finished_at.isoformat() if row.finished_at else None, "note": row.note})
        return out

    # ================================================================== history
    def history(self, patient_code: str, *, exclude_visit: int | None = None,
                limit: int = HISTORY_VISITS) -> dict[str, Any]:
        """A patient's earlier visits, newest first: diagnoses, orders and their results."""
        with self.db.read() as connection:
            patient_id = connection.execute(select(P.c.id).where(P.c.code == patient_code)).scalar()
            if patient_id is None:
                raise NotFound("unknown_patient", f"no patient with code {patient_code!r}")
            statement = select(V.c.id, V.c.day).where(V.c.patient_id == patient_id)
            if exclude_visit is not None:
                statement = statement.where(V.c.id != exclude_visit)
            visits = connection.execute(statement.order_by(V.c.day.desc(), V.c.id.desc()).limit(limit)).all()
            ids = [v.id for v in visits]
            exams = self._exams(connection, ids) if ids else {}
            orders = self.orders.reads.of_visits(connection, ids)
            services = self._exam_services_of(connection, ids)
            return {
                "patient": self._patient(connection, patient_id),
                "visits": [{"id": v.id, "day": v.day.isoformat(), "services": services.get(v.id, []),
                            "exam": exams.get(v.id), "orders": orders[v.id]} for v in visits],
            }

    def _exam_services_of(self, connection: Connection, visit_ids: list[int]) -> dict[int, list[str]]:
        """The examination services each visit went through (which speciality saw the patient)."""
        if not visit_ids:
            return {}
        exam_ids = [self.queue.service_id(s.code) for s in self.clinic.services if s.kind == "exam"]
        out: dict[int, list[str]] = {}
        for visit_id, service_id in connection.execute(
                select(T.c.visit_id, T.c.service_id).where(T.c.visit_id.in_(visit_ids), T.c.service_id.in_(exam_ids))
                .order_by(T.c.id)).all():
            code = self.queue.service_code(service_id)
            if code not in out.setdefault(visit_id, []):
                out[visit_id].append(code)
        return out


def _age(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
