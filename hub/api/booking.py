"""REST endpoints: registration of visits, doctors' schedules, slots, appointments and check-in."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("booking", __name__)
