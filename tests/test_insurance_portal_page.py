"""The patient portal's visit history shows what the visit cost, what BHYT pays and the patient's part."""

# ruff: noqa: F811

from __future__ import annotations

import re

from flask.testing import FlaskClient

from hub.core import Hub
from tests.test_portal_auth import client, hub, patient, sign_in  # noqa: F401 - fixtures


def test_history_shows_the_patients_part(client: FlaskClient, hub: Hub, patient: str) -> None:
    visit = hub.booking.register_visit(patient, "kham-noi", actor="test")["visit_id"]
    hub.insurance.override(visit, status="eligible", reason="thẻ giấy", actor="user:tiep.don",  # type: ignore[union-attr]
                           benefit_level=4, route_reason="registered_here")
    assert sign_in(client, patient, "14/03/1985") == 302
    page = client.get("/portal/history").text
    money = re.search(rf'<p class="money" data-visit="{visit}">.*?</p>', page, re.S).group(0)
    # Exam 150,000 ₫; insured price 42,100 paid in full (a small bill); the patient's part is the rest.
    assert "150.000\u00a0₫" in money and "42.100\u00a0₫" in money
    assert '<span class="patient-part">107.900\u00a0₫</span>' in money and "còn nợ" in money
