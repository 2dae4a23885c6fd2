"""Staff pages of follow-up care: the no-show call-back list (/admin/callbacks) and the follow-up report
(/reports/follow-ups, with its CSV). The doctor's follow-up form is a partial (follow_up_form.html)
that the doctor's page includes; it talks to the REST API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from hub import formatting
from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.domain.follow_ups.callbacks import OUTCOME_NAMES, OUTCOMES, VIEWS
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("follow_up_pages", __name__)
CALLERS = ("reception",)  # and admin, always
REPORT_READERS = ("admin",)


def _local(message: str) -> str:
    parts = message.split(" / ", 1)
    return (parts[1] if current_lang() == "en" else parts[0]) if len(parts) == 2 else message


def _site_time(iso: str | None, tz: Any, pattern: str = "%d/%m/%Y %H:%M") -> str:
    if not iso:
        return ""
    if pattern == "%d/%m/%Y %H:%M":  # the usual: through the one formatting module, in the page's language
        return formatting.format_datetime(iso, current_lang(), tz)
    return datetime.fromisoformat(iso).astimezone(tz).strftime(pattern)


# ---------------------------------------------------------------------------------------- the call-back list
@bp.get("/admin/callbacks")
@staff_page(*CALLERS)
def callbacks():  # type: ignore[no-untyped-def]
    hub = current_hub()
    view = request.args.get("view", "due")
    view = view if view in VIEWS else "due"
    listed = hub.follow_ups.callbacks
    doctors: dict[str, list[dict[str, Any]]] = {}
    for doctor in hub.booking.schedules.doctors():
        doctors.setdefault(doctor["service"], []).append(doctor)
    outcomes = {code: tr(*OUTCOME_NAMES[code]) for code in OUTCOME_NAMES}
    return render_template("admin_callbacks.html", site=hub.config.site, view=view, items=listed.items(view),
                           counts=listed.counts(), outcomes=outcomes, call_outcomes=OUTCOMES, doctors=doctors,
                           tz=hub.config.site.tz, site_time=_site_time, today=hub.follow_ups.today().isoformat(),
                           tomorrow=(hub.follow_ups.today() + timedelta(days=1)).isoformat())


@bp.post("/admin/callbacks/<int:callback_id>/call")
@staff_page(*CALLERS)
def log_call(callback_id: int):  # type: ignore[no-untyped-def]
    form = request.form
    try:
        call_back_on = date.fromisoformat(form["call_back_on"]) if form.get("call_back_on") else None
        slot_start = datetime.fromisoformat(form["slot_start"]) if form.get("slot_start") else None
    except ValueError:
        flash(tr("Ngày hoặc giờ không hợp lệ.", "Not a valid date or time."), "error")
        return redirect(url_for(".callbacks"))
    outcome = form.get("outcome", "")
    try:
        item = current_hub().follow_ups.callbacks.log_call(
            callback_id, outcome=outcome, actor=current_staff().actor, note=form.get("note") or None,
            call_back_on=call_back_on if outcome == "call_back" else None,
            slot_start=slot_start if outcome == "rebooked" else None, doctor=form.get("doctor") or None)
    except DomainError as exc:
        flash(_local(exc.message), "error")
        return redirect(url_for(".callbacks", view=request.args.get("view") or None))
    name = item["appointment"]["patient"]["full_name"]
    if item["rebooked"]:
        new = item["rebooked"]
        flash(tr(f"Đã đặt lại lịch cho {name}: {new['time']} ngày {new['day']}, mã {new['code']}.",
                 f"{name} rebooked: {new['time']} on {new['day']}, code {new['code']}."), "ok")
    else:
        flash(tr(f"Đã ghi cuộc gọi cho {name}.", f"Call logged for {name}."), "ok")
    return redirect(url_for(".callbacks", view=request.args.get("view") or None))


@bp.post("/admin/callbacks/<int:callback_id>/message")
@staff_page(*CALLERS)
def send_message(callback_id: int):  # type: ignore[no-untyped-def]
    try:
        current_hub().follow_ups.callbacks.send_message(callback_id, actor=current_staff().actor)
        flash(tr("Đã xếp tin nhắn gửi bệnh nhân.", "The message is queued."), "ok")
    except DomainError as exc:
        flash(_local(exc.message), "error")
    return redirect(url_for(".callbacks", view=request.args.get("view") or None))


# ---------------------------------------------------------------------------------------- the report
def _period() -> tuple[date, date]:
    today = current_hub().follow_ups.today()
    try:
        last = date.fromisoformat(request.args["to"]) if request.args.get("to") else today
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else last - timedelta(days=29)
    except ValueError:
        flash(tr("Ngày không hợp lệ: dùng 30 ngày gần nhất.", "Not a valid date: showing the last 30 days."),
              "error")
        first, last = today - timedelta(days=29), today
    return first, last


@bp.get("/reports/follow-ups")
@staff_page(*REPORT_READERS)
def report():  # type: ignore[no-untyped-def]
    hub = current_hub()
    first, last = _period()
    try:
        figures = hub.follow_ups.analysis.figures(first, last, language=current_lang())
    except DomainError as exc:
        flash(_local(exc.message), "error")
        first, last = last - timedelta(days=29), last
        figures = hub.follow_ups.analysis.figures(first, last, language=current_lang())
    return render_template("follow_up_report.html", site=hub.config.site, figures=figures, first=first, last=last,
                           labels=_chart_labels())


@bp.get("/reports/follow-ups.csv")
@staff_page(*REPORT_READERS)
def report_csv():  # type: ignore[no-untyped-def]
    analysis = current_hub().follow_ups.analysis
    first, last = _period()
    try:
        text = analysis.csv_text(analysis.figures(first, last, language=current_lang()), language=current_lang())
    except DomainError as exc:
        return Response(_local(exc.message), status=422, mimetype="text/plain")
    name = f"tai-kham_{first:%Y%m%d}-{last:%Y%m%d}.csv"
    return Response(text.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _chart_labels() -> dict[str, str]:
    pairs = {
        "confirmation_rate": ("Tỷ lệ xác nhận", "Confirmation rate"),
        "cancellation_rate": ("Tỷ lệ hủy", "Cancellation rate"),
        "no_show_rate": ("Tỷ lệ không đến", "No-show rate"),
        "attendance_rate": ("Tỷ lệ đến khám", "Attendance rate"),
        "confirmed": ("Đã xác nhận qua link", "Confirmed via link"),
        "not_confirmed": ("Chưa xác nhận", "Not confirmed"),
        "ordered": ("Được chỉ định", "Ordered"), "booked": ("Đã đặt lịch", "Booked"),
        "attended": ("Đã đến khám", "Attended"),
    }
    return {key: tr(vi, en) for key, (vi, en) in pairs.items()}
