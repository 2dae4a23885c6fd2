"""REST endpoints: doctors and their schedules, free slots, appointments, check-in and walk-in visits."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, jsonify, request

from hub.api.auth import actor, identify, require_roles
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub, parse_body
from hub.api.queue.tickets import with_status_url
from hub.api.schemas import (
    AppointmentRequest,
    CancelAppointmentRequest,
    CheckInRequest,
    EmptyBody,
    RescheduleRequest,
    VisitRequest,
)
from hub.domain.booking.appointments import STATES

bp = Blueprint("booking", __name__)
BOOKERS = ("reception", "doctor")
READERS = ("reception", "nurse", "doctor", "cashier")
RECEPTION = ("reception",)


def _day_arg(name: str = "day") -> date:
    """?day=YYYY-MM-DD, today (site time) when absent."""
    value = request.args.get(name)
    if not value:
        return current_hub().booking.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{name}: expected a date such as 2026-11-24, got {value!r}") from None


@bp.get("/doctors")
def list_doctors():  # type: ignore[no-untyped-def]
    """Public: the doctors (of ?service=), for booking pages."""
    return jsonify({"doctors": current_hub().booking.schedules.doctors(request.args.get("service") or None)})


@bp.get("/doctors/<code>/schedule")
@require_roles(*READERS)
def doctor_schedule(code: str):  # type: ignore[no-untyped-def]
    """Weekly blocks and the exceptions from today (or ?since=)."""
    since = _day_arg("since") if request.args.get("since") else None
    return jsonify(current_hub().booking.schedules.schedule(code, since=since))


@bp.get("/slots")
def list_slots():  # type: ignore[no-untyped-def]
    """Public: the day's slots with free places (?service= and/or ?doctor=, ?day=, ?all=1 for full ones too)."""
    day = _day_arg()
    slots = current_hub().booking.free_slots(day, service=request.args.get("service") or None,
                                             doctor=request.args.get("doctor") or None,
                                             include_full=request.args.get("all") in ("1", "true"))
    closed = current_hub().config.closed_on(day)
    return jsonify({"day": day.isoformat(), "slots": slots,
                    "closed": {"name": closed.name, "name_en": closed.name_en or closed.name} if closed else None})


@bp.post("/appointments")
@require_roles(*BOOKERS)
def book():  # type: ignore[no-untyped-def]
    body = parse_body(AppointmentRequest)
    caller = identify()
    channel = body.channel or ("doctor" if caller and caller.role == "doctor" else "reception")
    appointment = current_hub().booking.book(
        patient_code=body.patient_code, slot_start=body.slot_start, doctor=body.doctor, service=body.service,
        reason=body.reason, channel=channel, status=body.status, actor=actor())
    return jsonify(appointment), 201


@bp.get("/appointments")
@require_roles(*READERS)
def list_appointments():  # type: ignore[no-untyped-def]
    """A day's appointments in slot order (?day=, ?service=, ?doctor=, ?status=)."""
    status = request.args.get("status") or None
    if status is not None and status not in STATES:
        raise ApiError(422, "invalid_request", f"status is one of {', '.join(STATES)}")
    day = _day_arg()
    appointments = current_hub().booking.appointments_on(
        day, service=request.args.get("service") or None, doctor=request.args.get("doctor") or None, status=status)
    return jsonify({"day": day.isoformat(), "appointments": appointments})


@bp.get("/appointments/<code>")
@require_roles(*READERS)
def get_appointment(code: str):  # type: ignore[no-untyped-def]
    """One appointment with its history (appointment_events)."""
    return jsonify(current_hub().booking.get(code))


@bp.post("/appointments/<code>/confirm")
@require_roles(*BOOKERS)
def confirm(code: str):  # type: ignore[no-untyped-def]
    parse_body(EmptyBody)
    return jsonify(current_hub().booking.confirm(code, actor=actor()))


@bp.post("/appointments/<code>/cancel")
@require_roles(*BOOKERS)
def cancel(code: str):  # type: ignore[no-untyped-def]
    body = parse_body(CancelAppointmentRequest)
    return jsonify(current_hub().booking.cancel(code, actor=actor(), reason=body.reason))


@bp.post("/appointments/<code>/no-show")
@require_roles(*BOOKERS)
def no_show(code: str):  # type: ignore[no-untyped-def]
    parse_body(EmptyBody)
    return jsonify(current_hub().booking.mark_no_show(code, actor=actor()))


@bp.post("/appointments/<code>/reschedule")
@require_roles(*BOOKERS)
def reschedule(code: str):  # type: ignore[no-untyped-def]
    body = parse_body(RescheduleRequest)
    return jsonify(current_hub().booking.reschedule(code, body.slot_start, doctor=body.doctor, actor=actor()))


@bp.post("/appointments/<code>/check-in")
@require_roles(*RECEPTION)
def check_in(code: str):  # type: ignore[no-untyped-def]
    """Reception checks a booking in with the reason and symptoms: 201 {"ticket", "appointment"}."""
    body = parse_body(CheckInRequest)
    result = current_hub().booking.check_in(code, actor=actor(), source="reception", reason=body.reason,
                                            symptoms=body.symptoms)
    with_status_url(result["ticket"])
    return jsonify(result), 201


@bp.post("/visits")
@require_roles(*RECEPTION)
def register_visit():  # type: ignore[no-untyped-def]
    """A walk-in: 201 {"ticket", "visit_id", "intake"}."""
    body = parse_body(VisitRequest)
    if body.counter is not None and current_hub().config.counter(body.counter) is None:
        raise ApiError(422, "unknown_counter", f"Không có quầy {body.counter!r} / no counter {body.counter!r}")
    result = current_hub().booking.register_visit(
        body.patient_code, body.service, priority=body.priority, doctor=body.doctor, reason=body.reason,
        symptoms=body.symptoms, actor=actor())
    with_status_url(result["ticket"])
    hub = current_hub()
    if hub.insurance is not None:  # the card on file is checked for the visit, as at the kiosk
        result["ticket"]["insurance"] = hub.insurance.on_ticket(result["visit_id"], body.patient_code,
                                                                actor=actor())
    # The walk-in ticket on paper at the reception desk: saved before print, so a printer fault (or a
    # desk with no printer) leaves it to reprint and never loses the ticket the patient is already in line with.
    result["slip"] = hub.clinical.slips.print_walk_in(result["visit_id"], result["ticket"], body.counter)
    return jsonify(result), 201


@bp.get("/visits/<int:visit_id>/intake")
@require_roles(*READERS)
def visit_intake(visit_id: int):  # type: ignore[no-untyped-def]
    """What reception recorded for a visit: reason, symptoms, service, doctor, appointment."""
    return jsonify(current_hub().booking.intake(visit_id))
