"""GET /ops/staffing: predicted waits per service for the next two hours and the staffing advice."""

from __future__ import annotations

from flask import Blueprint, jsonify

from hub.api.auth import require_roles
from hub.api.hub_access import current_hub
from hub.api.reports import OPS_VIEWERS

bp = Blueprint("staffing", __name__)


@bp.get("/ops/staffing")
@require_roles(*OPS_VIEWERS)
def ops_staffing():  # type: ignore[no-untyped-def]
    """Each service's P50/P90 for a ticket taken now and every 15 min for two hours, and the advice now."""
    return jsonify(current_hub().queue.staffing())
