"""Admin page: doctors' weekly working blocks (slot length, capacity) and exceptions on given dates."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for

from hub.api.hub_access import current_hub
from hub.config import WEEKDAYS
from hub.domain.booking.schedules import parse_clock_time
from hub.domain.common.errors import DomainError, Invalid
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import tr

bp = Blueprint("schedules", __name__, url_prefix="/admin/schedules")
WEEKDAY_NAMES = (("Thứ Hai", "Monday"), ("Thứ Ba", "Tuesday"), ("Thứ Tư", "Wednesday"), ("Thứ Năm", "Thursday"),
                 ("Thứ Sáu", "Friday"), ("Thứ Bảy", "Saturday"), ("Chủ Nhật", "Sunday"))


def _number(name: str) -> int:
    try:
        return int(request.form.get(name, ""))
    except ValueError:
        raise Invalid("bad_number", tr(f"'{name}' phải là số", f"'{name}' must be a number")) from None


def _back(doctor: str):  # type: ignore[no-untyped-def]
    return redirect(url_for("schedules.page", doctor=doctor))


@bp.get("")
@staff_page("admin")
def page():  # type: ignore[no-untyped-def]
    hub = current_hub()
    doctors = hub.booking.schedules.doctors()
    chosen = request.args.get("doctor") or (doctors[0]["code"] if doctors else None)
    schedule = hub.booking.schedules.schedule(chosen) if chosen and any(d["code"] == chosen for d in doctors) else None
    return render_template("admin_schedules.html", site=hub.config.site, doctors=doctors, chosen=chosen,
                           schedule=schedule, weekdays=[tr(vi, en) for vi, en in WEEKDAY_NAMES], codes=WEEKDAYS,
                           service_names={s.code: tr(s.name, s.name_en) for s in hub.config.services})


@bp.post("/<doctor>/blocks")
@staff_page("admin")
def add_block(doctor: str):  # type: ignore[no-untyped-def]
    try:
        days = [int(d) for d in request.form.getlist("weekday") if d.isdigit()]
        if not days:
            raise Invalid("no_weekday", tr("Hãy chọn ít nhất một ngày trong tuần.", "Pick at least one weekday."))
        start = parse_clock_time(request.form.get("start", ""), "start")
        end = parse_clock_time(request.form.get("end", ""), "end")
        slot_minutes, capacity = _number("slot_minutes"), _number("capacity")
        for weekday in days:
            current_hub().booking.schedules.add_block(doctor, weekday=weekday, start=start, end=end,
                                                      slot_minutes=slot_minutes, capacity=capacity,
                                                      actor=current_staff().actor)
        flash(tr("Đã thêm ca làm việc.", "Working block added."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(doctor)


@bp.post("/<doctor>/blocks/<int:block_id>/delete")
@staff_page("admin")
def remove_block(doctor: str, block_id: int):  # type: ignore[no-untyped-def]
    try:
        current_hub().booking.schedules.remove_block(doctor, block_id, actor=current_staff().actor)
        flash(tr("Đã xoá ca làm việc.", "Working block removed."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(doctor)


@bp.post("/<doctor>/exceptions")
@staff_page("admin")
def set_exception(doctor: str):  # type: ignore[no-untyped-def]
    try:
        try:
            day = date.fromisoformat(request.form.get("day", ""))
        except ValueError:
            raise Invalid("bad_day", tr("Ngày không hợp lệ.", "Not a date.")) from None
        closed = request.form.get("closed") == "yes"
        start = None if closed else parse_clock_time(request.form.get("start", ""), "start")
        end = None if closed else parse_clock_time(request.form.get("end", ""), "end")
        current_hub().booking.schedules.set_exception(doctor, day, closed=closed, start=start, end=end,
                                                      note=request.form.get("note") or None,
                                                      actor=current_staff().actor)
        flash(tr(f"Đã lưu ngày {day:%d/%m/%Y}.", f"{day:%d/%m/%Y} saved."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(doctor)


@bp.post("/<doctor>/exceptions/<int:exception_id>/delete")
@staff_page("admin")
def remove_exception(doctor: str, exception_id: int):  # type: ignore[no-untyped-def]
    try:
        current_hub().booking.schedules.remove_exception(doctor, exception_id, actor=current_staff().actor)
        flash(tr("Đã xoá ngày ngoại lệ.", "Exception removed."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return _back(doctor)
