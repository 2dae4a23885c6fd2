"""Staff accounts on the admin pages: create, edit (name, role, counter or room), disable and enable
(never delete), reset a password (the person sets a new one at the next login)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.domain.staff.accounts import MIN_PASSWORD, ROLE_NAMES, STAFF_ROLES, temporary_password
from hub.web.admin import bp
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import tr


def _page(template: str, status: int = 200, **context):  # type: ignore[no-untyped-def]
    hub = current_hub()
    return render_template(template, site=hub.config.site, roles=[(r, *ROLE_NAMES[r]) for r in STAFF_ROLES],
                           counters=hub.config.counters, min_password=MIN_PASSWORD, **context), status


@bp.get("/staff")
@staff_page("admin")
def staff_list():  # type: ignore[no-untyped-def]
    hub = current_hub()
    names = {c.code: (c.name, c.name_en) for c in hub.config.counters}
    return _page("admin_staff.html", people=hub.staff.list(include_disabled=True), counter_names=names,
                 form={}, created=None)


@bp.post("/staff")
@staff_page("admin")
def staff_create():  # type: ignore[no-untyped-def]
    hub = current_hub()
    form = request.form
    password = form.get("password", "") or temporary_password()
    try:
        person = hub.staff.add(form.get("username", ""), form.get("full_name", ""), form.get("role", ""), password,
                               counter=form.get("counter") or None, must_change=True, actor=current_staff().actor)
    except DomainError as exc:
        flash(exc.message, "error")
        names = {c.code: (c.name, c.name_en) for c in hub.config.counters}
        return _page("admin_staff.html", 422, people=hub.staff.list(include_disabled=True), counter_names=names,
                     form=form, created=None)
    names = {c.code: (c.name, c.name_en) for c in hub.config.counters}
    # The password is shown this once, on this answer only: it is not stored anywhere readable.
    return _page("admin_staff.html", 201, people=hub.staff.list(include_disabled=True), counter_names=names,
                 form={}, created={"username": person.username, "full_name": person.full_name, "password": password})


@bp.route("/staff/<username>", methods=["GET", "POST"])
@staff_page("admin")
def staff_edit(username: str):  # type: ignore[no-untyped-def]
    hub = current_hub()
    try:
        person = hub.staff.account(username)
    except DomainError:
        abort(404)
    status = 200
    if request.method == "POST":
        try:
            hub.staff.update(username, full_name=request.form.get("full_name", ""), role=request.form.get("role", ""),
                             counter=request.form.get("counter") or None, actor=current_staff().actor)
        except DomainError as exc:
            flash(exc.message, "error")
            status = 422
        else:
            flash(tr(f"Đã lưu {username}.", f"{username} saved."), "ok")
            return redirect(url_for("admin.staff_edit", username=username))
    return _page("admin_staff_edit.html", status, person=person, history=hub.staff.history(username, 30),
                 new_password=None, advice=_advice(person.id))


def _advice(staff_id: int) -> dict | None:  # type: ignore[type-arg]
    messages = current_hub().staff_messages
    return messages.preference(staff_id) if messages is not None else None


@bp.post("/staff/<username>/advice")
@staff_page("admin")
def staff_advice(username: str):  # type: ignore[no-untyped-def]
    """Opt an admin in or out of the staffing advice as a message (inbox; Zalo when a phone is given)."""
    hub = current_hub()
    try:
        person = hub.staff.account(username)
    except DomainError:
        abort(404)
    if hub.staff_messages is None:
        abort(404)
    try:
        hub.staff_messages.set_preference(person.id, advice=request.form.get("advice") == "on",
                                          zalo_phone=request.form.get("zalo_phone") or None,
                                          actor=current_staff().actor)
    except DomainError as exc:
        flash(exc.message, "error")
    else:
        flash(tr(f"Đã lưu nhận tư vấn của {username}.", f"Advice messages of {username} saved."), "ok")
    return redirect(url_for("admin.staff_edit", username=username))


@bp.get("/messages")
@staff_page("admin")
def staff_inbox():  # type: ignore[no-untyped-def]
    """The staff in-app inbox: the staffing advice sent to this admin (read when the page is opened)."""
    hub = current_hub()
    me = current_staff()
    messages = hub.staff_messages.inbox(me.id) if hub.staff_messages is not None else []
    page = render_template("admin_messages.html", site=hub.config.site, messages=messages,
                           advice=_advice(me.id), me=me)
    for message in messages:
        if not message["read"]:
            hub.staff_messages.mark_read(me.id, message["id"])  # type: ignore[union-attr]
    return page


@bp.post("/staff/<username>/reset-password")
@staff_page("admin")
def staff_reset(username: str):  # type: ignore[no-untyped-def]
    hub = current_hub()
    try:
        password = hub.staff.reset_password(username, actor=current_staff().actor)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.staff_list"))
    return _page("admin_staff_edit.html", person=hub.staff.account(username), history=hub.staff.history(username, 30),
                 new_password=password)


@bp.post("/staff/<username>/<action>")
@staff_page("admin")
def staff_toggle(username: str, action: str):  # type: ignore[no-untyped-def]
    hub = current_hub()
    if action not in ("disable", "enable"):
        abort(404)
    try:
        getattr(hub.staff, action)(username, actor=current_staff().actor)
        flash(tr(f"Đã khoá {username}." if action == "disable" else f"Đã mở lại {username}.",
                 f"{username} disabled." if action == "disable" else f"{username} enabled."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.staff_edit", username=username))
