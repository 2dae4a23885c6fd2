"""REST endpoints: examination records, lab and imaging orders, results and the return to the doctor."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from hub.api.auth import actor, identify, require_roles
from hub.api.errors import ApiError, error_response
from hub.api.hub_access import current_hub, parse_body
from hub.api.queue.tickets import require_ticket_reader
from hub.api.schemas import PatientRequest
from hub.domain.patients.records import identify_by_card
from hub.domain.patients.registry import DuplicatePatient, PatientDetails
from kiosk.cccd import CccdError, parse_cccd

bp = Blueprint("clinical", __name__)
READERS = ("doctor", "lab", "nurse")
DOCTORS = ("doctor",)
PERFORMERS = ("lab",)
STAFF = ("doctor", "lab", "nurse", "reception", "cashier")
IDENTIFIERS = ("doctor", "nurse", "reception")

Code = Annotated[StrictStr, Field(min_length=1, max_length=32)]
LongText = Annotated[StrictStr, Field(max_length=5000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PrescriptionLineRequest(_Body):
    """One drug: a catalogue `drug_code` (name, strength, form, unit and route come from the catalogue), or
    none and the drug typed as free text (`name` and `unit` then needed)."""

    drug_code: Annotated[StrictStr, Field(max_length=32)] | None = None
    name: Annotated[StrictStr, Field(max_length=200)] | None = None
    strength: Annotated[StrictStr, Field(max_length=40)] | None = None
    form: Annotated[StrictStr, Field(max_length=80)] | None = None
    unit: Annotated[StrictStr, Field(max_length=20)] | None = None
    route: Annotated[StrictStr, Field(max_length=20)] | None = None
    dose: Annotated[StrictStr, Field(max_length=200)] | None = None  # "1 viên x 2 lần/ngày"
    days: StrictInt | None = None
    quantity: StrictInt  # in the unit; 1..10000 (checked by the domain: 422 bad_quantity)
    instructions: Annotated[StrictStr, Field(max_length=300)] | None = None  # "uống sau ăn"


class ExamRequest(_Body):
    """PUT /visits/<id>/exam: the whole record (fields left out are cleared)."""

    notes: LongText | None = None
    diagnosis_code: Annotated[StrictStr, Field(max_length=12)] | None = None
    diagnosis_text: Annotated[StrictStr, Field(max_length=300)] | None = None
    prescription: LongText | None = None  # free text beside the lines (advice, anything not a line)
    prescription_lines: Annotated[list[PrescriptionLineRequest], Field(max_length=50)] = []
    weight_kg: StrictFloat | StrictInt | None = None  # 0.3-300; needed with a prescription under 72 months
    height_cm: StrictFloat | StrictInt | None = None  # 20-250
    ticket: StrictInt | None = None  # the ticket being served while it was written


class OrdersRequest(_Body):
    """POST /visits/<id>/orders: catalogue codes; from `counter` the patient's ticket there moves on."""

    items: Annotated[list[Code], Field(min_length=1, max_length=20)]
    note: Annotated[StrictStr, Field(max_length=300)] | None = None
    counter: Code | None = None
    keep_patient: StrictBool = False


class ResultRequest(_Body):
    """POST /orders/<id>/result: lab `values` (analyte code -> number), or the imaging `report`."""

    values: dict[Annotated[StrictStr, Field(max_length=16)], StrictFloat | StrictInt] | None = None
    report: Annotated[StrictStr, Field(max_length=10_000)] | None = None
    release: StrictBool = False


class CancelOrderRequest(_Body):
    reason: Annotated[StrictStr, Field(max_length=200)] | None = None


class EmptyBody(_Body):
    pass


class IdentifyVisitRequest(_Body):
    """POST /visits/<id>/patient: exactly one of a patient code (found by search), the raw QR text of a
    scanned chip ID card (found or registered), or a new registration `new_patient` (409 possible_duplicate as at
    reception unless new_patient.confirm_new)."""

    patient: Annotated[StrictStr, Field(min_length=1, max_length=32)] | None = None
    cccd: Annotated[StrictStr, Field(min_length=1, max_length=1000)] | None = None
    new_patient: PatientRequest | None = None


def _username() -> str | None:
    identity = identify()
    return identity.actor.removeprefix("user:") if identity and identity.actor.startswith("user:") else None


def _with_status_urls(tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    hub = current_hub()
    return [{**t, "status_url": hub.status_url(t["id"])} for t in tickets]


# ------------------------------------------------------------------------------------------ visits
@bp.get("/visits/<int:visit_id>")
@require_roles(*READERS)
def get_visit(visit_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().clinical.visit(visit_id))


@bp.get("/tickets/<int:ticket_id>/visit")
@require_roles(*READERS)
def visit_of_ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    """The visit a ticket belongs to (the doctor's page follows its counter's current ticket)."""
    return jsonify(current_hub().clinical.visit_of_ticket(ticket_id))


@bp.get("/tickets/<int:ticket_id>/next")
def next_step(ticket_id: int):  # type: ignore[no-untyped-def]
    """Where the patient goes now; for staff, or for the patient with the ticket's link token (?k=)."""
    require_ticket_reader(ticket_id)
    orders = current_hub().clinical.orders
    step = orders.reads.next_step(ticket_id)
    step["next"] = _with_status_urls(step["next"])
    step["route"] = orders.planned_route(ticket_id)  # the stations ahead, in the planned order
    return jsonify(step)


@bp.post("/visits/<int:visit_id>/patient")
@require_roles(*IDENTIFIERS)
def identify_visit(visit_id: int):  # type: ignore[no-untyped-def]
    """Give an anonymous visit its patient, so that notes, orders and results can be written on it."""
    body = parse_body(IdentifyVisitRequest)
    given = [name for name in ("patient", "cccd", "new_patient") if getattr(body, name) is not None]
    if len(given) != 1:
        raise ApiError(422, "invalid_request", "send exactly one of patient, cccd, new_patient")
    hub = current_hub()
    code = body.patient
    if body.cccd is not None:
        try:
            card = parse_cccd(body.cccd, today=hub.queue.today())
        except CccdError as error:
            # The message names the field that failed, never its content (the card is personal data).
            raise ApiError(422, "invalid_cccd", f"Không đọc được thẻ CCCD / unreadable ID card: {error}") from None
        code = identify_by_card(hub.db, hub.clock, card, actor=actor()).patient["code"]
    elif body.new_patient is not None:
        details = PatientDetails(**body.new_patient.model_dump(exclude={"confirm_new"}))
        try:
            code = hub.booking.patients.register(details, actor=actor(), source="clinic",
                                                 confirm_new=body.new_patient.confirm_new)["code"]
        except DuplicatePatient as duplicate:
            return error_response(409, duplicate.code, duplicate.message, {"candidates": duplicate.candidates})
    hub.clinical.identity.identify(visit_id, str(code), actor=actor())
    return jsonify(hub.clinical.visit(visit_id))


@bp.get("/visits/<int:visit_id>/exam")
@require_roles(*READERS)
def get_exam(visit_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"visit_id": visit_id, "exam": current_hub().clinical.exam(visit_id)})


@bp.put("/visits/<int:visit_id>/exam")
@require_roles(*DOCTORS)
def put_exam(visit_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(ExamRequest)
    clinical = current_hub().clinical
    username = _username()
    doctor = clinical.doctor_for(username) if username else None
    exam = clinical.save_exam(visit_id, actor=actor(), notes=body.notes, diagnosis_code=body.diagnosis_code,
                              diagnosis_text=body.diagnosis_text, prescription=body.prescription,
                              doctor=doctor.code if doctor else None, ticket_id=body.ticket,
                              prescription_lines=[line.model_dump() for line in body.prescription_lines],
                              weight_kg=body.weight_kg, height_cm=body.height_cm)
    return jsonify({"visit_id": visit_id, "exam": exam})


@bp.post("/visits/<int:visit_id>/orders")
@require_roles(*DOCTORS)
def place_orders(visit_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(OrdersRequest)
    clinical = current_hub().clinical
    placed = clinical.orders.place(visit_id, list(body.items), actor=actor(), note=body.note,
                                   counter=body.counter, keep_patient=body.keep_patient)
    # Paper at the change of line: saved first, so a printer fault only marks it failed (reprint below).
    slip = clinical.slips.print_order_slip(visit_id, body.counter)
    return jsonify({"orders": placed["orders"], "tickets": _with_status_urls(placed["tickets"]), "slip": slip}), 201


@bp.get("/visits/<int:visit_id>/slips")
@require_roles(*READERS, "reception")
def visit_slips(visit_id: int):  # type: ignore[no-untyped-def]
    """The slips printed for a visit (order slips, return to the doctor), with their print state."""
    return jsonify({"slips": current_hub().clinical.slips.of_visit(visit_id)})


class ReprintSlipRequest(_Body):
    counter: Code | None = None  # print at this room or counter instead of the original printer


@bp.post("/slips/<int:slip_id>/reprint")
@require_roles(*READERS, "reception")
def reprint_slip(slip_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(ReprintSlipRequest)
    return jsonify(current_hub().clinical.slips.reprint(slip_id, counter=body.counter))


@bp.get("/patients/<code>/history")
@require_roles(*READERS)
def patient_history(code: str):  # type: ignore[no-untyped-def]
    """Earlier visits, newest first (?exclude=<visit id> leaves out the visit on screen)."""
    exclude = request.args.get("exclude", type=int)
    return jsonify(current_hub().clinical.history(code, exclude_visit=exclude))


# ------------------------------------------------------------------------------------------ orders
@bp.get("/orders")
@require_roles(*READERS)
def list_orders():  # type: ignore[no-untyped-def]
    """?service=xet-nghiem&status=ordered|in_progress|resulted|cancelled|open&day=YYYY-MM-DD&visit=<id>."""
    args = request.args
    day = None
    if args.get("day"):
        try:
            day = date.fromisoformat(args["day"])
        except ValueError:
            raise ApiError(422, "invalid_request", "day must be YYYY-MM-DD") from None
    visit = args.get("visit", type=int)
    if args.get("visit") and visit is None:
        raise ApiError(422, "invalid_request", "visit must be an integer")
    orders = current_hub().clinical.orders.reads.worklist(service=args.get("service") or None,
                                                    status=args.get("status") or None, day=day, visit_id=visit)
    return jsonify({"orders": orders})


@bp.get("/orders/<int:order_id>")
@require_roles(*READERS)
def get_order(order_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().clinical.orders.reads.get(order_id))


@bp.post("/orders/<int:order_id>/start")
@require_roles(*PERFORMERS)
def start_order(order_id: int):  # type: ignore[no-untyped-def]
    parse_body(EmptyBody)
    return jsonify(current_hub().clinical.orders.start(order_id, actor=actor()))


@bp.post("/orders/<int:order_id>/result")
@require_roles(*PERFORMERS)
def result_order(order_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(ResultRequest)
    return jsonify(current_hub().clinical.orders.record_result(
        order_id, actor=actor(), values=body.values, report=body.report, release=body.release))


@bp.post("/orders/<int:order_id>/cancel")
@require_roles(*DOCTORS, *PERFORMERS)
def cancel_order(order_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(CancelOrderRequest)
    return jsonify(current_hub().clinical.orders.cancel(order_id, actor=actor(), reason=body.reason))


@bp.post("/orders/<int:order_id>/release")
@require_roles(*DOCTORS, *PERFORMERS)
def release_order(order_id: int):  # type: ignore[no-untyped-def]
    parse_body(EmptyBody)
    return jsonify(current_hub().clinical.orders.release(order_id, actor=actor()))


# ------------------------------------------------------------------------------------------ reference data
@bp.get("/catalogue")
@require_roles(*STAFF)
def catalogue():  # type: ignore[no-untyped-def]
    """What a doctor can order: codes, names, prices (VND), the performing service, analytes."""
    return jsonify({"items": current_hub().clinical.catalogue()})


@bp.get("/drugs")
@require_roles(*READERS)
def drugs():  # type: ignore[no-untyped-def]
    """?q=: the prescription catalogue (config/drugs.toml) matching every word; free text stays allowed."""
    query = request.args.get("q", "")[:100]
    return jsonify({"drugs": current_hub().clinical.drug_search(query)})


@bp.get("/icd10")
@require_roles(*READERS)
def icd10():  # type: ignore[no-untyped-def]
    """?q=: codes of config/icd10.toml matching every word (diacritics optional); others pass by pattern."""
    query = request.args.get("q", "")[:100]
    return jsonify({"codes": current_hub().clinical.icd10_search(query)})
