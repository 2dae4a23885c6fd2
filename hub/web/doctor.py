"""Staff pages: doctor."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("doctor", __name__, url_prefix="/doctor")
