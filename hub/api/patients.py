"""Patient records: register (with duplicate detection), search, read and correct.

The patient portal will register through POST /patients as well once patients can log in; until
then these endpoints are for staff (the kiosk registers by ID card: POST /patients/identify).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict

from hub.api.auth import actor, require_roles
from hub.api.errors import error_response
from hub.api.hub_access import current_hub, parse_body
from hub.api.schemas import PatientRequest, PatientUpdate
from hub.domain.patients.registry import DuplicatePatient, PatientDetails

bp = Blueprint("patients", __name__)
REGISTRARS = ("reception",)
READERS = ("reception", "nurse", "doctor", "lab", "cashier")


@bp.post("/patients")
@require_roles(*REGISTRARS)
def register_patient():  # type: ignore[no-untyped-def]
    """201 with the new record; 409 `possible_duplicate` / `national_id_taken` with details.candidates."""
    body = parse_body(PatientRequest)
    details = PatientDetails(**body.model_dump(exclude={"confirm_new"}))
    try:
        patient = current_hub().booking.patients.register(details, actor=actor(), source="reception",
                                                          confirm_new=body.confirm_new)
    except DuplicatePatient as duplicate:
        return error_response(409, duplicate.code, duplicate.message, {"candidates": duplicate.candidates})
    return jsonify(patient), 201


@bp.get("/patients")
@require_roles(*READERS)
def search_patients():  # type: ignore[no-untyped-def]
    """?q= a patient code, phone, CCCD number, or part of a name (diacritics optional)."""
    query = request.args.get("q", "")
    return jsonify({"query": query, "patients": current_hub().booking.patients.search(query)})


@bp.get("/patients/<code>")
@require_roles(*READERS)
def get_patient(code: str):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().booking.patients.get(code))


@bp.patch("/patients/<code>")
@require_roles(*REGISTRARS)
def update_patient(code: str):  # type: ignore[no-untyped-def]
    body = parse_body(PatientUpdate)
    changes = body.model_dump(exclude_unset=True)
    return jsonify(current_hub().booking.patients.update(code, changes, actor=actor()))


class ConsentRequest(BaseModel):
    """Which message channels the patient agrees to (zalo, sms, email, in_app): given ones change, others stay."""

    model_config = ConfigDict(extra="forbid", strict=True)

    sms: bool | None = None
    email: bool | None = None
    in_app: bool | None = None
    zalo: bool | None = None


@bp.get("/patients/<code>/consents")
@require_roles(*READERS)
def patient_consents(code: str):  # type: ignore[no-untyped-def]
    hub = current_hub()
    patient = hub.booking.patients.get(code)
    return jsonify({"patient": code, "consents": hub.notifications.consents(patient["id"])})


@bp.put("/patients/<code>/consents")
@require_roles(*REGISTRARS)
def set_patient_consents(code: str):  # type: ignore[no-untyped-def]
    """Reminders by SMS or email go out only with the patient's recorded consent (kept with who and when)."""
    body = parse_body(ConsentRequest)
    hub = current_hub()
    patient = hub.booking.patients.get(code)
    for channel, granted in body.model_dump(exclude_none=True).items():
        hub.notifications.set_consent(patient["id"], channel, granted, actor=actor(), source="reception")
    return jsonify({"patient": code, "consents": hub.notifications.consents(patient["id"])})


@bp.get("/patients/<code>/appointments")
@require_roles(*READERS)
def patient_appointments(code: str):  # type: ignore[no-untyped-def]
    return jsonify({"patient": code, "appointments": current_hub().booking.appointments_of(code)})
