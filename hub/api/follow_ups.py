"""REST endpoints of follow-up care: the doctor's order at the end of a visit, slot suggestions, series,
the no-show call-back list and the figures."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Annotated, Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from hub.api.auth import actor, identify, require_roles
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub, parse_body
from hub.api.schemas import Code, EmptyBody, IsoDate, IsoDateTime

bp = Blueprint("follow_ups", __name__)
ORDERING = ("doctor", "nurse", "reception")
CALLERS = ("reception",)  # the administrative staff who phone patients (and admin)
ClockTime = Annotated[StrictStr, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Reason = Annotated[StrictStr, Field(max_length=300)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FollowUpOrder(_Body):
    """Book follow-ups at the end of a visit: one of `day`, `after_days`/`after_weeks` or `slot_start`."""

    doctor: Code | None = None  # default: the caller's own doctor record, else the visit's doctor
    day: IsoDate | None = None
    after_days: Annotated[StrictInt, Field(ge=1, le=120)] | None = None
    after_weeks: Annotated[StrictInt, Field(ge=1, le=17)] | None = None
    slot_start: IsoDateTime | None = None  # a slot staff picked instead of the nearest free one
    time: ClockTime | None = None  # preferred time of day (site time)
    reason: Reason | None = None
    count: Annotated[StrictInt, Field(ge=1, le=52)] = 1
    every_weeks: Annotated[StrictInt, Field(ge=1, le=52)] | None = None
    every_days: Annotated[StrictInt, Field(ge=1, le=366)] | None = None
    mode: Literal["next", "all"] = "next"  # book each when the previous is fulfilled, or all now


class StopSeries(_Body):
    cancel_open: StrictBool = False


class CallRecord(_Body):
    """One call of the call-back list and its outcome."""

    outcome: Literal["rebooked", "call_back", "unreachable", "declined", "moved_away"]
    note: Annotated[StrictStr, Field(max_length=500)] | None = None
    call_back_on: IsoDate | None = None  # outcome call_back
    slot_start: IsoDateTime | None = None  # outcome rebooked
    doctor: Code | None = None  # outcome rebooked: another doctor of the same service


def _caller_doctor() -> str | None:
    """The doctor record of a logged-in doctor (config/doctors.toml username)."""
    identity = identify()
    if identity is None or not identity.actor.startswith("user:"):
        return None
    doctor = current_hub().clinical.doctor_for(identity.actor.removeprefix("user:"))
    return doctor.code if doctor else None


def _parse_time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _date_arg(name: str, default: date | None = None) -> date:
    value = request.args.get(name)
    if not value:
        if default is None:
            raise ApiError(422, "invalid_request", f"{name} is required (YYYY-MM-DD)")
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{name}: expected a date such as 2026-12-07, got {value!r}") from None


@bp.post("/visits/<int:visit_id>/follow-ups")
@require_roles(*ORDERING)
def order_follow_up(visit_id: int):  # type: ignore[no-untyped-def]
    """201 {"series", "appointments", "missing"}."""
    body = parse_body(FollowUpOrder)
    after_days = body.after_days if body.after_weeks is None else body.after_weeks * 7
    if body.after_days is not None and body.after_weeks is not None:
        raise ApiError(422, "invalid_request", "give after_days or after_weeks, not both")
    every_days = body.every_days if body.every_weeks is None else body.every_weeks * 7
    result = current_hub().follow_ups.order(
        visit_id, actor=actor(), doctor=body.doctor or _caller_doctor(), on=body.day, after_days=after_days,
        slot_start=body.slot_start, at=_parse_time(body.time), reason=body.reason, count=body.count,
        every_days=every_days, mode=body.mode)
    return jsonify(result), 201


@bp.get("/visits/<int:visit_id>/follow-ups")
@require_roles(*ORDERING)
def visit_follow_ups(visit_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().follow_ups.of_visit(visit_id))


@bp.get("/follow-ups/slots")
@require_roles(*ORDERING)
def follow_up_slots():  # type: ignore[no-untyped-def]
    """?doctor= and ?day= or ?after_days=: the suggested slot and the free slots of the days around it."""
    follow_ups = current_hub().follow_ups
    doctor = request.args.get("doctor") or _caller_doctor()
    if not doctor:
        raise ApiError(422, "invalid_request", "doctor is required")
    after = request.args.get("after_days", "")
    if after:
        if not after.isdigit() or not 1 <= int(after) <= 120:
            raise ApiError(422, "invalid_request", "after_days is 1 to 120")
        wanted = follow_ups.today() + timedelta(days=int(after))
    else:
        wanted = _date_arg("day")
    days = request.args.get("days", "3")
    if not days.isdigit() or int(days) > 14:
        raise ApiError(422, "invalid_request", "days is 0 to 14")
    try:
        at = _parse_time(request.args.get("time"))
    except ValueError:
        raise ApiError(422, "invalid_request", "time is HH:MM") from None
    return jsonify(follow_ups.options(doctor, wanted, days=int(days), at=at))


@bp.get("/follow-ups/series/<int:series_id>")
@require_roles(*ORDERING)
def get_series(series_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().follow_ups.series(series_id))


@bp.post("/follow-ups/series/<int:series_id>/stop")
@require_roles("doctor", "reception")
def stop_series(series_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(StopSeries)
    follow_ups = current_hub().follow_ups
    follow_ups.stop_series(series_id, actor=actor(), cancel_open=body.cancel_open)
    return jsonify(follow_ups.series(series_id))


@bp.get("/follow-ups/callbacks")
@require_roles(*CALLERS)
def list_callbacks():  # type: ignore[no-untyped-def]
    """?view=due (default) | waiting | resolved."""
    callbacks = current_hub().follow_ups.callbacks
    view = request.args.get("view", "due")
    return jsonify({"view": view, "items": callbacks.items(view), "counts": callbacks.counts()})


@bp.get("/follow-ups/callbacks/<int:callback_id>")
@require_roles(*CALLERS)
def get_callback(callback_id: int):  # type: ignore[no-untyped-def]
    return jsonify(current_hub().follow_ups.callbacks.get(callback_id))


@bp.post("/follow-ups/callbacks/<int:callback_id>/calls")
@require_roles(*CALLERS)
def log_call(callback_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(CallRecord)
    item = current_hub().follow_ups.callbacks.log_call(
        callback_id, outcome=body.outcome, actor=actor(), note=body.note, call_back_on=body.call_back_on,
        slot_start=body.slot_start, doctor=body.doctor)
    return jsonify(item), 201


@bp.post("/follow-ups/callbacks/<int:callback_id>/message")
@require_roles(*CALLERS)
def send_callback_message(callback_id: int):  # type: ignore[no-untyped-def]
    parse_body(EmptyBody)
    return jsonify(current_hub().follow_ups.callbacks.send_message(callback_id, actor=actor()))


@bp.get("/follow-ups/analysis")
@require_roles("admin")
def analysis():  # type: ignore[no-untyped-def]
    """?from=&to= (site days; default the last 30 days), ?lang=en for English group names."""
    follow_ups = current_hub().follow_ups
    last = _date_arg("to", follow_ups.today())
    first = _date_arg("from", last - timedelta(days=29))
    return jsonify(follow_ups.analysis.figures(first, last, language=request.args.get("lang", "vi")))
