"""Admin pages: staff accounts; the clinic's structure (services, counters and rooms, priority classes,
boards, opening hours and holidays) edited live; devices; the audit trail. One blueprint, `admin`;
each module adds the routes of one page.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from hub.web.admin import audit, counters, devices, staff, structure  # noqa: E402,F401  (routes on bp)
