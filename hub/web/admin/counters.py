"""The live counters page: open, pause, close a counter, and who works at it today."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.web.admin import bp
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import tr

COUNTER_ACTIONS = {"open": "open_counter", "close": "close_counter", "pause": "pause", "resume": "resume"}


@bp.get("/counters")
@staff_page("admin")
def counters():  # type: ignore[no-untyped-def]
    hub = current_hub()
    staff = hub.staff.list()
    by_counter: dict[str, list] = {}
    for person in staff:
        if person.counter:
            by_counter.setdefault(person.counter, []).append(person)
    return render_template("admin_counters.html", site=hub.config.site, counters=hub.queue.counters(),
                           staff=staff, by_counter=by_counter)


@bp.post("/counters/<code>/<action>")
@staff_page("admin")
def counter_action(code: str, action: str):  # type: ignore[no-untyped-def]
    method = COUNTER_ACTIONS.get(action)
    if method is None:
        flash(tr("Thao tác không hợp lệ.", "Unknown action."), "error")
        return redirect(url_for("admin.counters"))
    try:
        getattr(current_hub().queue, method)(code, actor=current_staff().actor)
        flash(tr(f"Đã cập nhật {code}.", f"{code} updated."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.counters"))


@bp.post("/staff/assign")
@staff_page("admin")
def assign():  # type: ignore[no-untyped-def]
    username = request.form.get("username", "")
    counter = request.form.get("counter") or None
    try:
        current_hub().staff.assign_counter(username, counter)
        flash(tr(f"Đã phân công {username}.", f"{username} assigned."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.counters"))
