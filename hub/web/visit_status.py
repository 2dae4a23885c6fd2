"""The visit status page /v/<code>?k=<signed token>: the QR on every slip opens it; it follows the whole
visit (every station, the number there, room, floor, status, estimate) by short polling, no login."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from hub.api.hub_access import current_hub
from hub.domain.clinical.slips import parse_visit_code

bp = Blueprint("visit_status", __name__)
POLL_SECONDS = 5  # short polling: the page has no ticket to subscribe to, it follows several lines


def _visit_id_or_none(code: str) -> int | None:
    hub = current_hub()
    visit_id = parse_visit_code(code)
    if visit_id is None or not hub.check_visit_token(visit_id, request.args.get("k", "")):
        return None
    return visit_id


@bp.get("/v/<code>")
def visit_page(code: str):  # type: ignore[no-untyped-def]
    hub = current_hub()
    visit_id = _visit_id_or_none(code)
    if visit_id is None:
        return render_template("ticket_not_found.html", site=hub.config.site, displays=hub.config.displays), 404
    return render_template("visit_status.html", site=hub.config.site, visit=hub.clinical.slips.visit_status(visit_id),
                           token=request.args.get("k", ""), poll_seconds=POLL_SECONDS)


@bp.get("/v/<code>/state")
def visit_state(code: str):  # type: ignore[no-untyped-def]
    """What the page polls: the same stations as JSON."""
    visit_id = _visit_id_or_none(code)
    if visit_id is None:
        return jsonify({"error": "not_found", "message": "Không tìm thấy lượt khám / visit not found"}), 404
    response = jsonify(current_hub().clinical.slips.visit_status(visit_id))
    response.headers["Cache-Control"] = "no-store"
    return response
