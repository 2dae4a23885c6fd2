"""Tickets: take a number, follow it, cancel it, bring a late no-show back."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from hub.api.auth import actor, identify, require_roles
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub, parse_body
from hub.api.queue.kiosk import issuing_device, offline_issue
from hub.api.schemas import CancelRequest, EmptyBody, TicketRequest
from hub.domain.patients.records import find_patient_id

bp = Blueprint("tickets", __name__)
ISSUERS = ("kiosk", "reception", "nurse", "doctor", "device")
STAFF = ("nurse", "reception", "doctor", "lab", "cashier")


def with_status_url(ticket: dict[str, Any]) -> dict[str, Any]:
    ticket["status_url"] = current_hub().status_url(ticket["id"])
    return ticket


@bp.post("/tickets")
@require_roles(*ISSUERS)
def issue_ticket():  # type: ignore[no-untyped-def]
    body = parse_body(TicketRequest)
    hub = current_hub()
    key = body.idempotency_key or request.headers.get("Idempotency-Key") or None
    if key is not None and not (8 <= len(key) <= 64):
        raise ApiError(422, "invalid_request", "Idempotency-Key must be 8 to 64 characters")
    if body.appointment_code:
        return _check_in(body, key)
    if body.service is None:
        raise ApiError(422, "invalid_request", "service: Field required", [{"field": "service",
                                                                             "message": "Field required"}])
    patient_id = find_patient_id(hub.db, body.patient_code) if body.patient_code else None
    ticket, new = hub.queue.issue_new(body.service, priority=body.priority, source=body.source,
                                      patient_id=patient_id, idempotency_key=key, note=body.note, actor=actor(),
                                      source_device=issuing_device(body), **offline_issue(body, key))
    if hub.insurance is not None and body.offline is None:
        # Who pays: the card on file is checked for this visit; the ticket and screens say which. A new
        # anonymous ticket's visit was made by this very request and has no decision yet: nothing to read.
        ticket["insurance"] = (None if new and not body.patient_code else
                               hub.insurance.on_ticket(ticket["visit_id"], body.patient_code, actor=actor()))
    return jsonify(with_status_url(ticket)), 201


def _check_in(body: TicketRequest, key: str | None):  # type: ignore[no-untyped-def]
    """A booking checked in at a kiosk: the appointment decides the service, the priority ("booked") and
    the slot time that orders the line (a `service` or `priority` sent along is not used)."""
    if body.offline is not None:
        raise ApiError(422, "invalid_request", "bookings are checked in online only")
    result = current_hub().booking.check_in(body.appointment_code or "", actor=actor(), source=body.source,
                                            patient_code=body.patient_code, source_device=issuing_device(body),
                                            request_key=key)
    ticket = with_status_url(result["ticket"])
    appointment = result["appointment"]
    ticket["slot_at"] = appointment["slot_start"]
    ticket["appointment"] = {name: appointment[name] for name in
                             ("code", "status", "doctor", "doctor_name", "room", "day", "time")}
    return jsonify(ticket), 201


def require_ticket_reader(ticket_id: int) -> None:
    """Staff and devices with a token, or the patient holding the ticket's signed link token (?token= or ?k=)."""
    token = request.args.get("token") or request.args.get("k")
    if token is None:
        if identify() is None:
            raise ApiError(401, "unauthorized", "send a bearer token or the ticket's link token")
    elif not current_hub().check_ticket_token(ticket_id, token):
        raise ApiError(403, "forbidden", "this link is not for this ticket")


@bp.get("/tickets/<int:ticket_id>")
def get_ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    """Staff and devices with a token, or a patient holding the ticket's signed link token."""
    require_ticket_reader(ticket_id)
    return jsonify(with_status_url(current_hub().queue.get_ticket(ticket_id)))


@bp.post("/tickets/<int:ticket_id>/cancel")
@require_roles(*STAFF, "kiosk")
def cancel_ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(CancelRequest)
    return jsonify(current_hub().queue.cancel(ticket_id, actor=actor(), reason=body.reason))


@bp.post("/tickets/<int:ticket_id>/return")
@require_roles(*STAFF)
def return_late(ticket_id: int):  # type: ignore[no-untyped-def]
    parse_body(EmptyBody)
    return jsonify(current_hub().queue.return_late(ticket_id, actor=actor()))
