"""REST endpoints: bills, deposits, payments through providers, refunds, voids and gap-free invoices."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("billing", __name__)
