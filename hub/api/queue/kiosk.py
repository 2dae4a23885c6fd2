"""The hub's side of the touchscreen kiosks: set-up, number leases, ID-card check-in, reprints.

POST /tickets (tickets.py) files the kiosks' offline tickets with the checks defined here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect
from sqlalchemy import select

from hub.api.auth import actor, identify, require_roles
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub, parse_body
from hub.api.schemas import EmptyBody, IdentifyRequest, LeaseRequest, TicketRequest, TypedIdentifyRequest
from hub.domain.common.errors import Invalid
from hub.domain.insurance.typed_identify import AttemptLimiter, NoMatch, find_typed, parse_typed_number
from hub.domain.patients.records import identify_by_card
from hub.domain.queue.leases import LeaseBook
from hub.domain.queue.models import Ticket
from hub.domain.queue.reprints import request_reprint
from kiosk.cccd import CccdError, parse_cccd

bp = Blueprint("kiosk", __name__)
KIOSK = ("kiosk",)
REGISTRARS = ("kiosk", "reception")
REPRINTERS = ("nurse", "reception", "doctor", "lab", "cashier")


@bp.get("/kiosk/setup")
@require_roles(*KIOSK)
def kiosk_setup():  # type: ignore[no-untyped-def]
    """What a kiosk needs besides GET /services and /counters: the site and the priority classes."""
    config = current_hub().config
    site = config.site
    return jsonify({
        "structure_version": config.version,
        "site": {"id": site.id, "name": site.name, "name_en": site.name_en, "timezone": site.timezone,
                 "language": site.language, "public_url": site.public_url},
        "priorities": [{"code": c.code, "name": c.name, "name_en": c.name_en, "kiosk": c.kiosk}
                       for c in config.priority_classes],
    })


@bp.post("/leases")
@require_roles(*KIOSK)
def take_lease():  # type: ignore[no-untyped-def]
    """Reserve a block of today's numbers for this kiosk to issue while the hub is unreachable."""
    body = parse_body(LeaseRequest)
    lease = LeaseBook(current_hub().queue).take(body.service, body.size, holder=actor())
    return jsonify(lease.as_dict()), 201


@bp.post("/patients/identify")
@require_roles(*REGISTRARS)
def identify_patient():  # type: ignore[no-untyped-def]
    """Find or register the patient of a scanned chip ID card; 201 when registered now."""
    body = parse_body(IdentifyRequest)
    try:
        card = parse_cccd(body.cccd, today=current_hub().queue.today())
    except CccdError as error:
        # The message names the field that failed, never its content (the card is personal data).
        raise ApiError(422, "invalid_cccd", f"Không đọc được thẻ CCCD / unreadable ID card: {error}",
                       [{"field": f"cccd.{error.reason}", "message": str(error)}]) from None
    hub = current_hub()
    found = identify_by_card(hub.db, hub.clock, card, actor=actor())
    answer: dict[str, Any] = {"patient": found.patient, "created": found.created}
    if hub.insurance is not None:
        # The CCCD stands for the BHYT card: check it now, so the kiosk can send the patient to the right line.
        answer["insurance"] = _insurance(national_id=card.id_number, full_name=card.full_name,
                                         date_of_birth=card.date_of_birth)
    return jsonify(answer), 201 if found.created else 200


@bp.post("/patients/identify-typed")
@require_roles(*KIOSK)
def identify_typed():  # type: ignore[no-untyped-def]
    """A known patient from a typed CCCD number or BHYT card code plus the date of birth; never registers."""
    body = parse_body(TypedIdentifyRequest)
    number = parse_typed_number(body.number)  # 422 on a bad shape: not a guess, so it is not counted
    hub = current_hub()
    limiter = current_app.extensions.get("kiosk_typed_attempts")
    if limiter is None:
        limiter = current_app.extensions.setdefault("kiosk_typed_attempts", AttemptLimiter(hub.clock))
    who = actor()
    limiter.check(who)
    try:
        patient = find_typed(hub.db, hub.clock, number, body.date_of_birth, actor=who)
    except NoMatch:
        limiter.miss(who)
        raise
    answer: dict[str, Any] = {"patient": patient, "created": False}
    if hub.insurance is not None:
        # As for a scan: the insurer is asked now, so the kiosk can send the patient to the right line.
        answer["insurance"] = _insurance(full_name=str(patient["full_name"]), date_of_birth=body.date_of_birth,
                                         **{number.kind: number.value})
    return jsonify(answer), 200


def _insurance(**query: Any) -> dict[str, Any]:
    insurance = current_hub().insurance
    assert insurance is not None
    return insurance.arrival_answer(**query)


@bp.post("/tickets/<int:ticket_id>/reprint")
@require_roles(*REPRINTERS)
def reprint_ticket(ticket_id: int):  # type: ignore[no-untyped-def]
    """Ask the kiosk that issued a ticket to print it again (an MQTT command that expires)."""
    parse_body(EmptyBody)
    hub = current_hub()
    if hub.mqtt_status() != "ok":
        raise ApiError(503, "device_bus_down", "the device bus (MQTT) is not connected: reprint at the kiosk")
    sent = request_reprint(hub.queue, hub.devices, hub.bus, hub.clock, ticket_id, actor=actor())
    return jsonify(sent), 202


@bp.get("/tickets/by-key/<key>")
def ticket_by_key(key: str):  # type: ignore[no-untyped-def]
    """The QR code of an offline ticket: its status page once the kiosk has filed it on the hub."""
    hub = current_hub()
    if not 8 <= len(key) <= 64:
        raise ApiError(404, "not_found", "no such ticket")
    with hub.db.read() as connection:
        ticket_id = connection.execute(select(Ticket.id).where(Ticket.idempotency_key == key)).scalar()
    if ticket_id is None:
        raise ApiError(404, "not_synced_yet", "Số này chưa có trên hệ thống, vui lòng thử lại sau ít phút / "
                                              "this number is not on the hub yet, try again in a few minutes")
    return redirect(hub.status_url(ticket_id), 302)


# ------------------------------------------------------------------ used by POST /tickets
def offline_issue(body: TicketRequest, key: str | None) -> dict[str, Any]:
    """The `seq` and `issued_at` of an offline ticket, after checking its number against the kiosk's leases."""
    if body.offline is None:
        return {}
    caller = identify()
    if caller is None or caller.role not in ("kiosk", "admin"):
        raise ApiError(403, "forbidden", "only a kiosk files offline tickets")
    if key is None:
        raise Invalid("idempotency_key_required", "an offline ticket needs its idempotency_key")
    if body.service is None:
        raise Invalid("invalid_request", "an offline ticket needs its service")
    LeaseBook(current_hub().queue).check_offline(body.service, body.offline.seq, body.offline.issued_at,
                                                 holder=caller.actor, key=key)
    return {"seq": body.offline.seq, "issued_at": body.offline.issued_at}


def issuing_device(body: TicketRequest) -> str | None:
    """The registered kiosk a ticket is printed on, so staff can have it reprinted there."""
    if body.device is None:
        return None
    device = current_hub().devices.get(body.device)
    if device is None or device["type"] != "kiosk":
        raise Invalid("unknown_device", f"no kiosk {body.device!r} in the device registry")
    return body.device
