"""REST endpoints: the BHYT card check, a visit's insurance (check, override), a patient's coverage periods."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify, request, send_file
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from hub.api.auth import actor, require_roles
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub, parse_body
from hub.domain.insurance.service import InsuranceService

bp = Blueprint("insurance", __name__)
CHECKERS = ("kiosk", "reception", "cashier")
RECEPTION = ("reception",)
READERS = ("reception", "cashier", "doctor")
CLAIMS = ("cashier",)  # the finance office; admin always
CardCode = Annotated[StrictStr, Field(min_length=1, max_length=24, examples=["DN4010123456789"])]
# JSON has no date type: an ISO date string, parsed even in strict models.
Day = Annotated[date, Field(strict=False)]
NationalId = Annotated[StrictStr, Field(pattern=r"^\d{12}$", examples=["001085012345"])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _OneCard(_Body):
    @model_validator(mode="after")
    def _exactly_one(self) -> Any:
        if bool(self.card_code) == bool(self.national_id):  # type: ignore[attr-defined]
            raise ValueError("give card_code or national_id (one of them)")
        return self


class CardCheckRequest(_OneCard):
    """Look a card up at the insurer by its 15-character code or the 12-digit CCCD number."""

    card_code: CardCode | None = None
    national_id: NationalId | None = None
    full_name: Annotated[StrictStr, Field(max_length=120)] | None = None
    date_of_birth: Day | None = None


class VisitCheckRequest(_OneCard):
    """Check the card for this visit; `route_reason` when the patient brings a referral or is an emergency."""

    card_code: CardCode | None = None
    national_id: NationalId | None = None
    route_reason: Literal["referral", "emergency"] | None = None


class OverrideRequest(_Body):
    """Reception's decision over the insurer's answer, with a reason (audited)."""

    status: Literal["eligible", "refused", "fee_paying"]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    benefit_level: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    route_reason: Literal["registered_here", "referral", "emergency"] | None = None


class CoverageRequest(_Body):
    """A coverage period from the card: code (or CCCD alone), validity, registered facility, 5-years date."""

    card_code: CardCode | None = None
    national_id: NationalId | None = None
    benefit_level: Annotated[StrictInt, Field(ge=1, le=5)] | None = None
    valid_from: Day
    valid_to: Day
    facility_code: Annotated[StrictStr, Field(pattern=r"^\d{5}$")]
    five_years_from: Day | None = None


class ClaimExportRequest(_Body):
    """Export a day's insured visits (default today), or one visit again after a correction."""

    day: Day | None = None
    visit_id: Annotated[StrictInt, Field(ge=1, le=2**53)] | None = None


class ClaimRejectRequest(_Body):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=300)]


def _insurance() -> InsuranceService:
    service = current_hub().insurance
    if service is None:
        raise ApiError(409, "insurance_not_configured", "Chưa cấu hình BHYT (config/insurance.toml) / health "
                                                        "insurance is not configured on this hub")
    return service


@bp.post("/insurance/check")
@require_roles(*CHECKERS)
def check_card():  # type: ignore[no-untyped-def]
    body = parse_body(CardCheckRequest)
    return jsonify(_insurance().check(card_code=body.card_code, national_id=body.national_id,
                                      full_name=body.full_name, date_of_birth=body.date_of_birth))


@bp.post("/insurance/recheck")
@require_roles(*RECEPTION)
def recheck_pending():  # type: ignore[no-untyped-def]
    """Ask the insurer again now for every visit left "not yet checked"."""
    parse_body(_Body)
    return jsonify({"resolved": _insurance().recheck_pending()})


@bp.get("/visits/<int:visit_id>/insurance")
@require_roles(*READERS)
def visit_insurance(visit_id: int):  # type: ignore[no-untyped-def]
    return jsonify(_insurance().visit_coverage(visit_id))


@bp.post("/visits/<int:visit_id>/insurance")
@require_roles("kiosk", "reception")
def check_visit(visit_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(VisitCheckRequest)
    return jsonify(_insurance().check_visit(visit_id, card_code=body.card_code, national_id=body.national_id,
                                            route_reason=body.route_reason, actor=actor()))


@bp.post("/visits/<int:visit_id>/insurance/override")
@require_roles(*RECEPTION)
def override_visit(visit_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(OverrideRequest)
    return jsonify(_insurance().override(visit_id, status=body.status, reason=body.reason, actor=actor(),
                                         benefit_level=body.benefit_level, route_reason=body.route_reason))


@bp.get("/patients/<int:patient_id>/coverages")
@require_roles(*READERS)
def patient_coverages(patient_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"coverages": _insurance().coverages(patient_id)})


@bp.post("/patients/<int:patient_id>/coverages")
@require_roles(*RECEPTION)
def add_coverage(patient_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(CoverageRequest)
    return jsonify(_insurance().add_coverage(patient_id, body.model_dump(), actor=actor())), 201


@bp.post("/insurance/claims/export")
@require_roles(*CLAIMS)
def export_claims():  # type: ignore[no-untyped-def]
    body = parse_body(ClaimExportRequest)
    claims = _insurance().claims
    if body.visit_id is not None:
        return jsonify(claims.reexport(body.visit_id, actor=actor()))
    return jsonify(claims.export_day(body.day or current_hub().queue.today(), actor=actor()))


@bp.get("/insurance/claims")
@require_roles(*CLAIMS)
def list_claims():  # type: ignore[no-untyped-def]
    """?day=YYYY-MM-DD, ?state=draft|exported|rejected."""
    day = None
    if request.args.get("day"):
        try:
            day = date.fromisoformat(request.args["day"])
        except ValueError:
            raise ApiError(422, "invalid_request", "day: a date like 2026-12-07") from None
    return jsonify({"claims": _insurance().claims.claims(day=day, state=request.args.get("state") or None)})


@bp.post("/insurance/claims/<int:visit_id>/reject")
@require_roles(*CLAIMS)
def reject_claim(visit_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(ClaimRejectRequest)
    return jsonify(_insurance().claims.reject(visit_id, reason=body.reason, actor=actor()))


@bp.get("/insurance/figures")
@require_roles("cashier", "reception")
def figures():  # type: ignore[no-untyped-def]
    """?from=&to= (site days, default today): insured share, amounts by payer, refusals by reason."""
    from hub.domain.insurance.figures import insurance_figures

    today = current_hub().queue.today()
    try:
        start = date.fromisoformat(request.args.get("from") or today.isoformat())
        end = date.fromisoformat(request.args.get("to") or start.isoformat())
    except ValueError:
        raise ApiError(422, "invalid_request", "from, to: dates like 2026-12-07") from None
    _insurance()
    return jsonify(insurance_figures(current_hub().db, start, end, current_hub().billing.bill))


@bp.get("/insurance/claims/<int:visit_id>/file")
@require_roles(*CLAIMS)
def claim_file(visit_id: int):  # type: ignore[no-untyped-def]
    """The exported XML (GIAMDINHHS envelope) of a visit's claim."""
    claims = _insurance().claims
    claim = claims.claim(visit_id)
    if not claim["file_name"]:
        raise ApiError(404, "no_claim_file", "this claim has not been exported")
    path = claims.path_of(claim["file_name"])
    return send_file(path, mimetype="application/xml", as_attachment=True, download_name=path.name)


@bp.get("/insurance/claims/batch")
@require_roles(*CLAIMS)
def claims_batch():  # type: ignore[no-untyped-def]
    """?day= (default today): one GIAMDINHHS file with every exported claim of the day."""
    try:
        day = date.fromisoformat(request.args.get("day") or current_hub().queue.today().isoformat())
    except ValueError:
        raise ApiError(422, "invalid_request", "day: a date like 2026-12-07") from None
    path = _insurance().claims.batch_path(day)
    return send_file(path, mimetype="application/xml", as_attachment=True, download_name=path.name)


_MONEY = {"type": "integer", "description": "whole VND"}
_PARTS = {"amount": _MONEY, "insurance_pays": _MONEY, "patient_pays": _MONEY}
# Added to the OpenAPI document (hub/api/openapi.py).
COMPONENTS: dict[str, Any] = {
    "Bill": {"type": "object", "required": ["items", "amount", "insurance_pays", "patient_pays", "due"],
             "properties": {**_PARTS, "total": _MONEY, "deposits": _MONEY, "paid": _MONEY, "refunded": _MONEY,
                            "due": {"type": "integer", "description": "what the patient still owes (their part)"},
                            "insurance": {"type": ["object", "null"]},
                            "items": {"type": "array", "items": {"type": "object", "required": list(_PARTS),
                                                                 "properties": {**_PARTS, "key": {"type": "string"},
                                                                                "code": {"type": "string"}}}}}},
    "CardCheck": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "enum": ["eligible", "refused", "unchecked"]},
        "reason": {"type": ["string", "null"],
                   "enum": ["expired", "not_found", "name_dob_mismatch", "not_yet_valid", "gateway_down", None]},
        "message": {"type": ["string", "null"]}, "card_code": {"type": ["string", "null"]},
        "national_id": {"type": ["string", "null"]}, "holder_name": {"type": ["string", "null"]},
        "date_of_birth": {"type": ["string", "null"], "format": "date"},
        "benefit_level": {"type": ["integer", "null"]}, "valid_from": {"type": ["string", "null"], "format": "date"},
        "valid_to": {"type": ["string", "null"], "format": "date"}, "facility_code": {"type": ["string", "null"]},
        "route_reason": {"type": ["string", "null"]}}},
    "VisitCoverage": {"type": "object", "required": ["visit_id", "status"], "properties": {
        "visit_id": {"type": "integer"},
        "status": {"type": "string", "enum": ["eligible", "refused", "unchecked", "fee_paying"]},
        "benefit_level": {"type": ["integer", "null"]}, "route": {"type": "string"},
        "reason": {"type": ["string", "null"]}, "override_by": {"type": ["string", "null"]},
        "override_reason": {"type": ["string", "null"]}}},
}
OPERATIONS: dict[str, tuple[str, type[BaseModel] | None, int, str | None]] = {
    "insurance.check_card": ("Check a BHYT card at the insurer by card_code or national_id (CCCD); a gateway "
                             "that is down answers status unchecked", CardCheckRequest, 200, "CardCheck"),
    "insurance.recheck_pending": ("Check again every visit left not yet checked", None, 200, None),
    "insurance.visit_insurance": ("How a visit is paid: the card check, route, override", None, 200, "VisitCoverage"),
    "insurance.check_visit": ("Check the card for a visit and record the result", VisitCheckRequest, 200,
                              "VisitCoverage"),
    "insurance.override_visit": ("Override the insurer's answer for a visit, with a reason (audited)",
                                 OverrideRequest, 200, "VisitCoverage"),
    "insurance.patient_coverages": ("A patient's coverage periods, superseded ones included", None, 200, None),
    "insurance.add_coverage": ("Add a coverage period from the card (overlapping ones are superseded)",
                               CoverageRequest, 201, None),
    "insurance.export_claims": ("Export a day's insured visits (or one visit) as claims XML (130/QĐ-BYT); answers "
                                "the files written and the visits that cannot be claimed, with why",
                                ClaimExportRequest, 200, None),
    "insurance.list_claims": ("Claims with their state (draft, exported, rejected + reason) by ?day= ?state=", None,
                              200, None),
    "insurance.reject_claim": ("Record the insurer's rejection of an exported claim, with its reason",
                               ClaimRejectRequest, 200, None),
    "insurance.figures": ("Insurance figures of ?from=&to=: insured share of visits, amounts by payer, refusals "
                          "by reason", None, 200, None),
    "insurance.claim_file": ("The exported claim XML of a visit (application/xml)", None, 200, None),
    "insurance.claims_batch": ("The day's batch claim file: every exported claim of ?day= in one GIAMDINHHS "
                               "envelope (application/xml; 404 when the day has none)", None, 200, None),
}
