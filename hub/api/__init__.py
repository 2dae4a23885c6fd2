"""REST API v1: thin blueprints that parse, call a domain service and shape the reply."""

from __future__ import annotations

from flask import Flask

from hub.api import (
    billing,
    booking,
    clinical,
    devices,
    follow_ups,
    health,
    insurance,
    openapi,
    patients,
    reports,
    staffing,
)
from hub.api.queue import counters, kiosk, services, tickets
from hub.protocol import API_PREFIX

BLUEPRINTS = (health.bp, services.bp, tickets.bp, counters.bp, devices.bp, booking.bp, clinical.bp, billing.bp,
              kiosk.bp, patients.bp, reports.bp, follow_ups.bp, insurance.bp, openapi.bp, staffing.bp)


def register_api(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
