"""The patient's follow-up page behind the signed link of a message (/f/<token>), no login.

The patient confirms, moves the appointment to another free slot near its date, cancels it, or books
a missed one again. A link that was altered gets a 400 page, an expired one a 410 page. Every answer
goes through the domain (`hub.follow_ups.replies`) and so reaches the staff pages at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.domain.follow_ups.links import LinkRefused
from hub.web.auth import csrf
from hub.web.i18n import current_lang, tr

bp = Blueprint("follow_up_links", __name__, url_prefix="/f")
# No form token: the signed token in the path is the patient's secret, so another site cannot forge
# these requests anyway, and a form token would expire on a page left open on the phone.
csrf.exempt(bp)


def _local(message: str) -> str:
    """A domain message is "Vietnamese / English": the page's half."""
    parts = message.split(" / ", 1)
    return (parts[1] if current_lang() == "en" else parts[0]) if len(parts) == 2 else message


def _refused(exc: LinkRefused):  # type: ignore[no-untyped-def]
    config = current_hub().config
    return render_template("follow_up_link_refused.html", site=config.site, code=exc.code, status=exc.status,
                           message=_local(exc.message), hotline=config.notifications.hotline), exc.status


@bp.get("/<token>")
def page(token: str):  # type: ignore[no-untyped-def]
    hub = current_hub()
    replies = hub.follow_ups.replies
    try:
        state = replies.open(token)
    except LinkRefused as exc:
        return _refused(exc)
    if state["rebooked_token"]:  # booked again after a no-show: the page of the new appointment
        return redirect(url_for(".page", token=state["rebooked_token"]))
    choosing = (request.args.get("change") == "1" and state["can_change"]) or state["can_rebook"]
    all_doctors = request.args.get("all") == "1"
    days = replies.slots(token, all_doctors=all_doctors) if choosing else []
    return render_template("follow_up_link.html", site=hub.config.site, token=token, state=state,
                           appointment=state["appointment"], days=days, choosing=choosing, all_doctors=all_doctors,
                           hotline=hub.config.notifications.hotline)


@bp.post("/<token>/<action>")
def act(token: str, action: str):  # type: ignore[no-untyped-def]
    replies = current_hub().follow_ups.replies
    done: dict[str, tuple[str, str]] = {
        "confirm": ("Cảm ơn quý khách đã xác nhận. Hẹn gặp lại!", "Thank you for confirming. See you then!"),
        "cancel": ("Đã hủy lịch tái khám.", "The follow-up is cancelled."),
        "reschedule": ("Đã đổi lịch tái khám.", "The follow-up has moved."),
        "rebook": ("Đã đặt lại lịch tái khám.", "The follow-up is booked again."),
    }
    if action not in done:
        return redirect(url_for(".page", token=token))
    try:
        result = _do(replies, token, action)
    except LinkRefused as exc:
        return _refused(exc)
    except DomainError as exc:
        flash(_local(exc.message), "error")
        return redirect(url_for(".page", token=token, change="1" if action == "reschedule" else None))
    flash(tr(*done[action]), "ok")
    if action == "rebook":
        return redirect(result["link"])
    return redirect(url_for(".page", token=token))


def _do(replies: Any, token: str, action: str) -> dict[str, Any]:
    if action == "confirm":
        return replies.confirm(token)
    if action == "cancel":
        return replies.cancel(token)
    try:
        slot_start = datetime.fromisoformat(request.form.get("slot_start", ""))
    except ValueError:
        raise DomainError("slot_required", "Hãy chọn một giờ / choose a time first") from None
    doctor = request.form.get("doctor") or None
    if action == "reschedule":
        return replies.reschedule(token, slot_start, doctor=doctor)
    rebooked = replies.rebook(token, slot_start, doctor=doctor)
    return {"link": url_for(".page", token=replies.token_for(rebooked))}
