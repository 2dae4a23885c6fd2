"""Patients: lookups the queue needs (registration itself comes with the outpatient journey)."""

from __future__ import annotations

from sqlalchemy import select

from hub.db import Database
from hub.domain.errors import NotFound
from hub.domain.models import Patient


def find_patient_id(db: Database, code: str) -> int:
    with db.read() as connection:
        patient_id = connection.execute(select(Patient.id).where(Patient.code == code)).scalar()
    if patient_id is None:
        raise NotFound("unknown_patient", f"no patient with code {code!r}")
    return patient_id
