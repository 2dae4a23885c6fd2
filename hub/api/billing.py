"""REST endpoints: bills, deposits, payments through providers, refunds, voids and gap-free invoices."""

from __future__ import annotations

import io
from typing import Annotated, Literal

import qrcode
from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from hub.api.auth import actor, identify, require_roles
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub, parse_body
from hub.domain.billing.service import MAX_AMOUNT

bp = Blueprint("billing", __name__)
CASHIERS = ("cashier",)
TAKERS = ("reception", "cashier")  # who may take deposits and see bills
Method = Literal["cash", "card", "ewallet", "bank_qr"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DepositRequest(_Body):
    """An advance payment (tạm ứng): whole VND, no floats."""

    amount: Annotated[StrictInt, Field(ge=1, le=MAX_AMOUNT)]
    method: Method


class PaymentRequest(_Body):
    """Settle the bill; `amount`, when sent, must equal what is due (it guards against a stale screen)."""

    method: Method
    amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)] | None = None


class VoidRequest(_Body):
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class CancelPaymentRequest(_Body):
    reason: Annotated[StrictStr, Field(max_length=200)] | None = None


@bp.get("/bills")
@require_roles(*TAKERS)
def find_bills():  # type: ignore[no-untyped-def]
    """?q= a ticket number (today), patient code, visit id or code, invoice or receipt number."""
    query = request.args.get("q", "")
    if not query.strip():
        raise ApiError(422, "invalid_request", "q: give a ticket number, patient code, visit code or invoice number")
    return jsonify({"bills": current_hub().billing.find(query)})


@bp.get("/visits/<int:visit_id>/bill")
@require_roles(*TAKERS)
def get_bill(visit_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().billing.bill(visit_id))


@bp.post("/visits/<int:visit_id>/deposits")
@require_roles(*TAKERS)
def take_deposit(visit_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(DepositRequest)
    return jsonify(current_hub().billing.deposit(visit_id, body.amount, body.method, actor=actor())), 201


@bp.post("/visits/<int:visit_id>/payments")
@require_roles(*CASHIERS)
def take_payment(visit_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(PaymentRequest)
    return jsonify(current_hub().billing.pay(visit_id, body.method, actor=actor(), amount=body.amount)), 201


@bp.get("/payments/<int:payment_id>")
@require_roles(*TAKERS)
def get_payment(payment_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().billing.payment(payment_id))


@bp.get("/payments/<int:payment_id>/qr.png")
@require_roles(*TAKERS)
def payment_qr(payment_id: int):  # type: ignore[no-untyped-def]
    """The VietQR code of a bank-transfer payment as a PNG (the page shows it to the patient)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    code.add_data(current_hub().billing.qr_payload(payment_id))
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return Response(out.getvalue(), mimetype="image/png", headers={"Cache-Control": "no-store"})


def _only_deposits_for_reception(payment_id: int) -> None:
    """Reception handles deposits; settling a bill is the cashier's."""
    identity = identify()
    reception = identity is not None and identity.role == "reception"
    if reception and current_hub().billing.payment(payment_id)["kind"] != "deposit":
        raise ApiError(403, "forbidden", "reception may confirm or cancel deposits only")


@bp.post("/payments/<int:payment_id>/confirm")
@require_roles(*TAKERS)
def confirm_transfer(payment_id: int):  # type: ignore[no-untyped-def]
    """The bank transfer arrived: approve the pending QR payment (and settle the bill)."""
    parse_body(_Body)
    _only_deposits_for_reception(payment_id)
    return jsonify(current_hub().billing.confirm_transfer(payment_id, actor=actor()))


@bp.post("/payments/<int:payment_id>/cancel")
@require_roles(*TAKERS)
def cancel_payment(payment_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(CancelPaymentRequest)
    _only_deposits_for_reception(payment_id)
    return jsonify(current_hub().billing.cancel_pending(payment_id, actor=actor(), reason=body.reason))


@bp.post("/payments/<int:payment_id>/void")
@require_roles(*CASHIERS)
def void_payment(payment_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(VoidRequest)
    return jsonify(current_hub().billing.void(payment_id, actor=actor(), reason=body.reason))


@bp.get("/invoices/<int:invoice_id>")
@require_roles(*TAKERS)
def get_invoice(invoice_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().billing.invoice(invoice_id))
