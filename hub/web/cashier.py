"""Staff pages: cashier."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cashier", __name__, url_prefix="/cashier")
