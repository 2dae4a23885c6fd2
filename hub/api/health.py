"""GET /health: is the hub, its database and its broker link working."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from sqlalchemy import text

from hub.api.hub_access import current_hub

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    hub = current_hub()
    try:
        with hub.db.read() as connection:
            connection.execute(text("SELECT 1"))
        db_state = "ok"
    except Exception as exc:  # the health check reports failures; it must not raise them
        log.warning("database check failed: %s", exc)
        db_state = "down"
    mqtt_state = hub.mqtt_status()
    status = "ok" if db_state == "ok" else "degraded"
    body = {"status": status, "db": db_state, "mqtt": mqtt_state}
    if hub.mqtt_broker:
        body["broker"] = hub.mqtt_broker
    return jsonify(body), (200 if db_state == "ok" else 503)
