"""Editing the clinic's structure live: services, counters and rooms, priority classes and calling rules,
boards, opening hours, weekly closed days and holidays. Each save is one `StructureService.change`:
validated as config/ is, audited, applied to the running hub and to its other processes.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.domain.structure.service import StructureInvalid
from hub.web.admin import bp
from hub.web.admin.sections import QUEUE_RULES, SECTIONS, Section, read_item, read_rules, weekday_options, zones
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import tr


def _section(name: str) -> Section:
    section = SECTIONS.get(name)
    if section is None:
        abort(404)
    return section


def _items(section: Section) -> list[dict[str, Any]]:
    return list(current_hub().structure.document()[section.name])


def _find(section: Section, key: str) -> dict[str, Any] | None:
    return next((item for item in _items(section) if str(item[section.key]) == key), None)


def _explain(section: Section | None, problems: list[str]) -> list[str]:
    """'counters[16].zone: ...' as the page's own words: 'Khu vực: ...'."""
    labels = {spec.name: spec for spec in section.fields} if section else {}
    labels.update({spec.name: spec for spec in QUEUE_RULES})
    out = []
    for problem in problems:
        match = re.match(r"^\w+(?:\[\d+\])?\.([\w.]+?)(?:\[\d+\])?: (.*)$", problem, re.DOTALL)
        spec = labels.get(match.group(1)) if match else None
        out.append(f"{tr(spec.vi, spec.en)}: {match.group(2)}" if spec and match else problem)
    return out


def _save(changes: dict[str, Any], section: Section | None, done_vi: str, done_en: str) -> bool:
    """One change of the structure; flashes the outcome. False (with the reasons shown) when refused."""
    version = request.form.get("version", type=int)
    try:
        current_hub().structure.change(changes, actor=current_staff().actor, expected_version=version)
    except StructureInvalid as exc:
        for problem in _explain(section, exc.problems):
            flash(problem, "error")
        return False
    except DomainError as exc:
        flash(exc.message, "error")
        return False
    flash(tr(done_vi, done_en), "ok")
    return True


def _render_form(section: Section, item: dict[str, Any], *, is_new: bool, status: int = 200):  # type: ignore[no-untyped-def]
    hub = current_hub()
    return render_template("admin_structure_form.html", site=hub.config.site, section=section, item=item,
                           is_new=is_new, version=hub.config.version, hub=hub, zones=zones(hub),
                           sections=SECTIONS), status


@bp.get("/structure")
@staff_page("admin")
def structure_home():  # type: ignore[no-untyped-def]
    return redirect(url_for("admin.structure_list", name="counters"))


@bp.get("/structure/<name>")
@staff_page("admin")
def structure_list(name: str):  # type: ignore[no-untyped-def]
    section = _section(name)
    hub = current_hub()
    return render_template("admin_structure_list.html", site=hub.config.site, section=section, items=_items(section),
                           version=hub.config.version, sections=SECTIONS, hub=hub, rules=QUEUE_RULES,
                           queue=hub.config.queue.model_dump())


@bp.route("/structure/<name>/new", methods=["GET", "POST"])
@staff_page("admin")
def structure_new(name: str):  # type: ignore[no-untyped-def]
    section = _section(name)
    if request.method == "GET":
        return _render_form(section, dict(section.defaults), is_new=True)
    item = read_item(section, request.form, None)
    for default, value in section.defaults.items():
        item.setdefault(default, value)
    key = str(item.get(section.key) or "")
    if key and _find(section, key) is not None:
        flash(tr(f"Đã có {section.item_vi} mã {key}.", f"There already is a {section.item_en} {key}."), "error")
        return _render_form(section, item, is_new=True, status=409)
    items = [*_items(section), item]
    if name == "holidays":
        items.sort(key=lambda h: str(h.get("day")))
    if not _save({name: items}, section, f"Đã thêm {section.item_vi} {key}.", f"Added {section.item_en} {key}."):
        return _render_form(section, item, is_new=True, status=422)
    return redirect(url_for("admin.structure_list", name=name))


@bp.route("/structure/<name>/<key>/edit", methods=["GET", "POST"])
@staff_page("admin")
def structure_edit(name: str, key: str):  # type: ignore[no-untyped-def]
    section = _section(name)
    existing = _find(section, key)
    if existing is None:
        abort(404)
    if request.method == "GET":
        return _render_form(section, existing, is_new=False)
    item = read_item(section, request.form, existing)
    items = [item if str(other[section.key]) == key else other for other in _items(section)]
    if not _save({name: items}, section, f"Đã lưu {section.item_vi} {key}.", f"Saved {section.item_en} {key}."):
        return _render_form(section, item, is_new=False, status=422)
    return redirect(url_for("admin.structure_list", name=name))


@bp.post("/structure/<name>/<key>/move")
@staff_page("admin")
def structure_move(name: str, key: str):  # type: ignore[no-untyped-def]
    """Up or down in the list: the order of services on the kiosk, of counters on the boards."""
    section = _section(name)
    items = _items(section)
    index = next((i for i, item in enumerate(items) if str(item[section.key]) == key), None)
    if index is None:
        abort(404)
    other = index - 1 if request.form.get("direction") == "up" else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
        _save({name: items}, section, "Đã đổi thứ tự.", "Order changed.")
    return redirect(url_for("admin.structure_list", name=name))


@bp.post("/structure/<name>/<key>/remove")
@staff_page("admin")
def structure_remove(name: str, key: str):  # type: ignore[no-untyped-def]
    section = _section(name)
    items = [item for item in _items(section) if str(item[section.key]) != key]
    _save({name: items}, section, f"Đã xoá {section.item_vi} {key}.", f"Removed {section.item_en} {key}.")
    return redirect(url_for("admin.structure_list", name=name))


@bp.post("/structure/queue")
@staff_page("admin")
def structure_rules():  # type: ignore[no-untyped-def]
    hub = current_hub()
    _save({"queue": read_rules(request.form, hub.config.queue.model_dump())}, None, "Đã lưu quy tắc gọi số.",
          "Calling rules saved.")
    return redirect(url_for("admin.structure_list", name="priority_classes"))


@bp.route("/structure/hours", methods=["GET", "POST"])
@staff_page("admin")
def structure_hours():  # type: ignore[no-untyped-def]
    """Opening hours and weekly closed days (holidays are listed below them)."""
    hub = current_hub()
    if request.method == "POST":
        hours = [part.strip() for part in re.split(r"[,;\n]", request.form.get("opening_hours", "")) if part.strip()]
        closed = [day for day in request.form.getlist("closed_weekdays") if day]
        if _save({"opening_hours": hours, "closed_weekdays": closed}, None, "Đã lưu giờ làm việc.",
                 "Opening hours saved."):
            return redirect(url_for("admin.structure_hours"))
    holidays = SECTIONS["holidays"]
    return render_template("admin_structure_hours.html", site=hub.config.site, version=hub.config.version,
                           weekdays=weekday_options(), holidays=_items(holidays), section=holidays,
                           sections=SECTIONS, today=hub.queue.today())
