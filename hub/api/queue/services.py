"""Services with their waiting lines and estimates."""

from __future__ import annotations

from flask import Blueprint, jsonify

from hub.api.auth import require_roles
from hub.api.hub_access import current_hub

bp = Blueprint("services", __name__)
STAFF = ("nurse", "reception", "doctor", "lab", "cashier", "kiosk", "device")


@bp.get("/services")
def list_services():  # type: ignore[no-untyped-def]
    """Public: counts and estimates only, never patient data (boards and kiosks read it)."""
    hub = current_hub()
    # structure_version: a kiosk that sees it change reads /kiosk/setup again (priority classes, names).
    return jsonify({"services": hub.queue.services_overview(), "structure_version": hub.config.version})


@bp.get("/services/<code>/queue")
@require_roles(*STAFF)
def service_queue(code: str):  # type: ignore[no-untyped-def]
    return jsonify({"service": code, "tickets": current_hub().queue.waiting_tickets(code)})
