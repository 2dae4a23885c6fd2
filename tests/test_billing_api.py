"""Billing over REST: roles, 422 on bad amounts, deposits, cash / card / bank-QR payments, voids, OpenAPI."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import insert

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.clinical.models import ClinicalOrder
from hub.domain.common.clock import VirtualClock
from tests.conftest import SITE_TZ

ROLES = ("reception", "cashier", "nurse", "admin")


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig) -> Iterator[Hub]:
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SITE_TZ))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'billing.db'}", clock=clock)
    hub.billing.poll_s = 0.005
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def auth(hub: Hub) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {hub.tokens.create(role, f'test-{role}')}"} for role in ROLES}


def new_visit(hub: Hub, order_price: int | None = None) -> int:
    visit = hub.queue.issue("kham-noi")["visit_id"]
    if order_price is not None:
        with hub.db.write() as connection:
            connection.execute(insert(ClinicalOrder).values(
                visit_id=visit, item_code="xn-ctm", kind="lab", service="xet-nghiem", price=order_price,
                status="ordered", ordered_by="user:bs", ordering_service="kham-noi", created_at=hub.clock.now()))
    return visit


def error_code(response: Any) -> str:
    return response.json["error"]["code"]


def test_bill_needs_a_billing_role(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = new_visit(hub, 90_000)
    assert client.get(f"/api/v1/visits/{visit}/bill").status_code == 401
    assert client.get(f"/api/v1/visits/{visit}/bill", headers=auth["nurse"]).status_code == 403
    bill = client.get(f"/api/v1/visits/{visit}/bill", headers=auth["reception"])
    assert bill.status_code == 200
    assert (bill.json["total"], bill.json["deposits"], bill.json["paid"], bill.json["due"]) == (240_000, 0, 0, 240_000)
    assert [item["code"] for item in bill.json["items"]] == ["kham-noi", "xn-ctm"]
    assert client.get("/api/v1/visits/999/bill", headers=auth["cashier"]).status_code == 404


@pytest.mark.parametrize("body", [
    {"amount": 100000.0, "method": "cash"},
    {"amount": 1.5, "method": "cash"},
    {"amount": -100000, "method": "cash"},
    {"amount": 0, "method": "cash"},
    {"amount": 10**12, "method": "cash"},
    {"amount": "100000", "method": "cash"},
    {"amount": True, "method": "cash"},
    {"amount": 100000, "method": "cheque"},
    {"amount": 100000},
    {"amount": 100000, "method": "cash", "currency": "USD"},
])
def test_bad_deposits_are_422(client: FlaskClient, hub: Hub, auth: dict, body: dict) -> None:
    visit = new_visit(hub)
    response = client.post(f"/api/v1/visits/{visit}/deposits", json=body, headers=auth["reception"])
    assert response.status_code == 422 and error_code(response) == "invalid_request"
    assert hub.billing.bill(visit)["payments"] == []


def test_deposit_at_reception_then_cash_payment_at_the_cashier(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = new_visit(hub, 90_000)
    deposit = client.post(f"/api/v1/visits/{visit}/deposits", json={"amount": 300_000, "method": "cash"},
                          headers=auth["reception"])
    assert deposit.status_code == 201
    assert deposit.json["payment"]["receipt_no"] == "PT-2026-000001" and deposit.json["bill"]["due"] == -60_000
    refused = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash"}, headers=auth["reception"])
    assert refused.status_code == 403
    stale = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": 240_000},
                        headers=auth["cashier"])
    assert stale.status_code == 409 and error_code(stale) == "amount_mismatch"
    paid = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": 0},
                       headers=auth["cashier"])
    assert paid.status_code == 201
    assert paid.json["invoice"]["number"] == "HB-2026-000001" and paid.json["invoice"]["deposits"] == 300_000
    assert paid.json["refund"]["amount"] == 60_000 and paid.json["bill"]["settled"]
    invoice = client.get(f"/api/v1/invoices/{paid.json['invoice']['id']}", headers=auth["reception"])
    assert invoice.json["status"] == "issued" and invoice.json["total"] == 240_000
    again = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash"}, headers=auth["cashier"])
    assert again.status_code == 409 and error_code(again) == "nothing_due"


@pytest.mark.parametrize("amount", [1.0, -1, 10**10, "5"])
def test_bad_payment_amounts_are_422(client: FlaskClient, hub: Hub, auth: dict, amount: object) -> None:
    visit = new_visit(hub)
    response = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": amount},
                           headers=auth["cashier"])
    assert response.status_code == 422


def test_card_declined_then_approved(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = new_visit(hub, 90_001)  # a bill ending in 001 VND: the simulated terminal declines it
    declined = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "card"}, headers=auth["cashier"])
    assert declined.status_code == 201 and declined.json["payment"]["status"] == "declined"
    assert declined.json["invoice"] is None and declined.json["bill"]["due"] == 240_001
    hub.billing.providers["card"].outcome = "approve"  # type: ignore[attr-defined]
    approved = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "card", "amount": 240_001},
                           headers=auth["cashier"])
    assert approved.json["payment"]["status"] == "approved"
    assert approved.json["invoice"]["number"] == "HB-2026-000001"


def test_bank_qr_payment_shows_a_scannable_code(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = new_visit(hub)
    started = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "bank_qr"}, headers=auth["cashier"])
    payment = started.json["payment"]
    assert started.status_code == 201 and payment["status"] == "pending"
    image = client.get(f"/api/v1/payments/{payment['id']}/qr.png", headers=auth["cashier"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)).convert("L"))
    assert [code.text for code in decoded] == [payment["qr"]["payload"]]
    assert client.get(f"/api/v1/payments/{payment['id']}", headers=auth["cashier"]).json["status"] == "pending"
    blocked = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash"}, headers=auth["cashier"])
    assert blocked.status_code == 409 and error_code(blocked) == "payment_in_progress"
    assert client.post(f"/api/v1/payments/{payment['id']}/confirm", headers=auth["reception"]).status_code == 403
    confirmed = client.post(f"/api/v1/payments/{payment['id']}/confirm", headers=auth["cashier"])
    assert confirmed.status_code == 200 and confirmed.json["invoice"]["number"] == "HB-2026-000001"


def test_reception_may_cancel_its_own_qr_deposit(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = new_visit(hub)
    started = client.post(f"/api/v1/visits/{visit}/deposits", json={"amount": 200_000, "method": "bank_qr"},
                          headers=auth["reception"])
    payment_id = started.json["payment"]["id"]
    cancelled = client.post(f"/api/v1/payments/{payment_id}/cancel", json={"reason": "khách trả tiền mặt"},
                            headers=auth["reception"])
    assert cancelled.status_code == 200 and cancelled.json["payment"]["status"] == "declined"


def test_void_needs_a_reason_and_the_cashier(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = new_visit(hub)
    paid = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash"}, headers=auth["cashier"]).json
    url = f"/api/v1/payments/{paid['payment']['id']}/void"
    assert client.post(url, json={"reason": "nhầm"}, headers=auth["reception"]).status_code == 403
    assert client.post(url, json={}, headers=auth["cashier"]).status_code == 422
    voided = client.post(url, json={"reason": "thu nhầm"}, headers=auth["admin"])
    assert voided.status_code == 200 and voided.json["payment"]["status"] == "voided"
    assert voided.json["bill"]["invoices"][0]["status"] == "cancelled" and voided.json["bill"]["due"] == 150_000
    again = client.post(url, json={"reason": "thu nhầm"}, headers=auth["cashier"])
    assert again.status_code == 409 and error_code(again) == "not_approved"


def test_find_bills(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = new_visit(hub)
    number = hub.billing.bill(visit)["visit"]["tickets"][0]["number"]
    found = client.get(f"/api/v1/bills?q={number}", headers=auth["cashier"])
    assert [bill["visit"]["id"] for bill in found.json["bills"]] == [visit]
    assert client.get("/api/v1/bills?q=", headers=auth["cashier"]).status_code == 422


def test_openapi_describes_billing(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "post" in paths["/visits/{visit_id}/payments"] and "post" in paths["/visits/{visit_id}/deposits"]
    body = paths["/visits/{visit_id}/deposits"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("DepositRequest")
    for path in ("/visits/{visit_id}/bill", "/bills", "/payments/{payment_id}/void", "/payments/{payment_id}/qr.png",
                 "/payments/{payment_id}/confirm", "/payments/{payment_id}/cancel", "/invoices/{invoice_id}"):
        assert path in paths


def test_deposits_are_bounded_by_the_limits_and_what_is_due(client: FlaskClient, hub: Hub, auth: dict) -> None:
    # The issue's attack: 3 x 999,999,999 VND in cash on a bill of nothing.
    visit = new_visit(hub)
    limits = hub.config.payments
    for _ in range(3):
        response = client.post(f"/api/v1/visits/{visit}/deposits", json={"amount": 999_999_999, "method": "cash"},
                               headers=auth["reception"])
        assert response.status_code == 422 and response.json["error"]["code"] == "deposit_too_large"
    bill = hub.billing.bill(visit)
    assert bill["deposits"] == 0
    headroom = limits.max_advance_vnd + max(bill["total"], 0)
    step = min(limits.max_deposit_vnd, headroom)
    taken = 0
    while taken + step <= headroom:
        ok = client.post(f"/api/v1/visits/{visit}/deposits", json={"amount": step, "method": "cash"},
                         headers=auth["reception"])
        assert ok.status_code == 201, ok.json
        taken += step
    over = client.post(f"/api/v1/visits/{visit}/deposits", json={"amount": headroom - taken + 1, "method": "cash"},
                       headers=auth["reception"])
    assert over.status_code == 409 and over.json["error"]["code"] == "deposit_exceeds_due"
    assert hub.billing.bill(visit)["deposits"] == taken
