"""The device registry for staff: what is on the bus and whether it is well."""

from __future__ import annotations

from flask import Blueprint, jsonify

from hub.api.auth import require_roles
from hub.api.hub_access import current_hub
from hub.domain.common.errors import NotFound

bp = Blueprint("devices", __name__)
VIEWERS = ("nurse", "reception", "doctor", "lab", "cashier")


@bp.get("/devices")
@require_roles(*VIEWERS)
def list_devices():  # type: ignore[no-untyped-def]
    return jsonify({"devices": current_hub().devices.list()})


@bp.get("/devices/<code>")
@require_roles(*VIEWERS)
def get_device(code: str):  # type: ignore[no-untyped-def]
    device = current_hub().devices.get(code)
    if device is None:
        raise NotFound("unknown_device", f"no device {code!r}")
    return jsonify(device)
