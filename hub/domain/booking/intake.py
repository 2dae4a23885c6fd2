"""A patient's visit of the day and what reception records at intake (reason, symptoms, service, doctor).

Functions work inside the caller's transaction; the booking service calls them at check-in and for
walk-ins, and the doctor's page reads the intake back.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.domain.booking.models import Appointment, Doctor, VisitIntake
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Visit

A = Appointment.__table__
D = Doctor.__table__
P = Patient.__table__
V = Visit.__table__
VI = VisitIntake.__table__
MAX_SYMPTOMS = 4000


def todays_visit(connection: Connection, patient_id: int, day: date, now: datetime) -> int:
    """The patient's open visit of `day`, or a new one: a visit is one patient's day."""
    visit_id = connection.execute(select(V.c.id).where(V.c.patient_id == patient_id, V.c.day == day,
                                                       V.c.ended_at.is_(None)).order_by(V.c.id.desc()).limit(1)
                                  ).scalar()
    if visit_id is None:
        visit_id = connection.execute(insert(V).values(patient_id=patient_id, day=day, started_at=now)
                                      .returning(V.c.id)).scalar_one()
    return visit_id


def record_intake(connection: Connection, visit_id: int, now: datetime, actor: str, *, service: str,
                  doctor_id: int | None, appointment_id: int | None, reason: str | None,
                  symptoms: str | None) -> None:
    """One intake per visit: a second service the same day updates it (and keeps what is not restated)."""
    values: dict[str, Any] = {"service": service, "doctor_id": doctor_id, "appointment_id": appointment_id,
                              "recorded_by": actor[:64], "recorded_at": now}
    if reason:
        values["reason"] = reason[:300]
    if symptoms:
        values["symptoms"] = symptoms[:MAX_SYMPTOMS]
    if connection.execute(select(VI.c.visit_id).where(VI.c.visit_id == visit_id)).first():
        connection.execute(update(VI).where(VI.c.visit_id == visit_id).values(**values))
    else:
        connection.execute(insert(VI).values(visit_id=visit_id, **values))


def intake_view(connection: Connection, visit_id: int) -> dict[str, Any] | None:
    """The intake of a visit with its patient, doctor and appointment codes; None when none was recorded."""
    row = connection.execute(
        select(VI, D.c.code.label("d_code"), D.c.name.label("d_name"), A.c.code.label("a_code"),
               P.c.code.label("p_code"))
        .select_from(VI.join(V, V.c.id == VI.c.visit_id).outerjoin(P, P.c.id == V.c.patient_id)
                     .outerjoin(D, D.c.id == VI.c.doctor_id).outerjoin(A, A.c.id == VI.c.appointment_id))
        .where(VI.c.visit_id == visit_id)).first()
    if row is None:
        return None
    return {"visit_id": row.visit_id, "patient_code": row.p_code, "service": row.service, "doctor": row.d_code,
            "doctor_name": row.d_name, "appointment": row.a_code, "reason": row.reason, "symptoms": row.symptoms,
            "recorded_by": row.recorded_by, "recorded_at": row.recorded_at.isoformat()}
