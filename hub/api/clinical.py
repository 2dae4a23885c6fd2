"""REST endpoints: examination records, lab and imaging orders, results and the return to the doctor."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("clinical", __name__)
