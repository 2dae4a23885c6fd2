"""The cashier page in Chromium against a real hub: call from the queue, pay cash, pay by bank QR, print."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import zxingcpp
from PIL import Image
from sqlalchemy import insert

from hub.config import load_config
from hub.core import build_hub
from hub.domain.billing.vietqr import parse_payload
from hub.domain.clinical.models import ClinicalOrder
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess, start_hub

pytestmark = pytest.mark.browser
PASSWORD = "thu-ngan-123"
INVOICE = re.compile(r"^HB-\d{4}-(\d{6})$")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub process with a cashier at counter q5 and a receptionist."""
    var_dir = tmp_path_factory.mktemp("hub-cashier")
    process = start_hub(var_dir, staff=(("thu.ngan", "Phạm Thu Ngân", "cashier", PASSWORD, "q5"),
                                        ("tiep.don", "Lê Tiếp Đón", "reception", PASSWORD, "q1")))
    yield process
    process.stop()


def issue(hub: HubProcess, service: str) -> dict[str, Any]:
    response = requests.post(hub.api + "/tickets", json={"service": service}, headers=hub.headers("kiosk"),
                             timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def order_then_send_to_cashier(hub: HubProcess, visit_id: int, code: str, price: int) -> None:
    """What the doctor's and lab pages do (another part's job), straight in the database: a lab order on
    the visit, then the patient in the cashier's line with the same visit."""
    setup = build_hub(load_config(hub.config_dir, env={}), var_dir=hub.var_dir, db_url=hub.db_url, upgrade=False)
    try:
        with setup.db.write() as connection:
            connection.execute(insert(ClinicalOrder).values(
                visit_id=visit_id, item_code=code, kind="lab", service="xet-nghiem", price=price, status="ordered",
                ordered_by="user:bs.minh", ordering_service="kham-noi", created_at=setup.clock.now()))
        setup.queue.issue("thu-ngan", visit_id=visit_id, source="reception")
    finally:
        setup.close()


def log_in(browser: Any, hub: HubProcess, username: str, path: str = "/cashier") -> Any:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="vi-VN")
    page = context.new_page()
    page.goto(hub.url + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**" + path)
    return page


def test_cash_then_bank_qr(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    exam = issue(hub, "kham-noi")
    order_then_send_to_cashier(hub, exam["visit_id"], "xn-ctm", 90_000)
    page = log_in(browser, hub, "thu.ngan")
    try:
        # The counter's keys: open, then "call next" brings up the bill of the patient it called.
        page.click("#counter-panel button[data-action=open]")
        page.wait_for_function("document.getElementById('counter-state').dataset.state === 'open'")
        page.click("#counter-panel button[data-action=next]")
        page.wait_for_function("document.getElementById('current-number').textContent === 'T001'")
        page.wait_for_function(f"document.getElementById('visit-code').textContent === 'LK{exam['visit_id']:06d}'")
        page.click("#counter-panel button[data-action=start]")
        assert page.text_content("#total") == "240.000\u00a0₫"
        assert page.text_content("#due") == "240.000\u00a0₫"
        assert "Tổng phân tích tế bào máu ngoại vi" in page.text_content("#items")
        page.fill("#tendered", "300.000")
        assert "60.000\u00a0₫" in page.text_content("#change")
        page.click("#pay")
        page.wait_for_selector("#result:not([hidden])")
        number = page.text_content("#invoice-number")
        assert INVOICE.match(number), number
        assert page.text_content("#due") == "0\u00a0₫"
        page.screenshot(path=str(artifact("cashier-paid-cash.png")), full_page=True)

        receipt_url = page.get_attribute("#print-link", "href").replace("?print=1", "")
        receipt = page.context.new_page()
        receipt.goto(hub.url + receipt_url)
        assert receipt.text_content("#document-number") == number
        assert "Hai trăm bốn mươi nghìn đồng" in receipt.text_content("#receipt")
        receipt.screenshot(path=str(artifact("cashier-receipt.png")), full_page=True)
        receipt.close()

        second = issue(hub, "kham-ngoai")
        page.fill("#q", second["number"])
        page.click("#search button[type=submit]")
        page.wait_for_function(f"document.getElementById('visit-tickets').textContent === '{second['number']}'")
        page.check("input[name=method][value=bank_qr]")
        page.click("#pay")
        page.wait_for_selector("#qr-panel:not([hidden])")
        page.wait_for_function("document.getElementById('qr-image').naturalWidth > 0")
        shot = page.locator("#qr-image").screenshot()
        page.screenshot(path=str(artifact("cashier-bank-qr.png")), full_page=True)
        decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)).convert("L"))
        assert len(decoded) == 1
        transfer = parse_payload(decoded[0].text)
        assert transfer.amount == 150_000 and transfer.bill_number == f"LK{second['visit_id']:06d}"
        assert page.is_disabled("#pay")  # one attempt at a time
        page.click("#qr-received")
        page.wait_for_selector("#result:not([hidden])")
        second_number = page.text_content("#invoice-number")
        assert int(INVOICE.match(second_number).group(1)) == int(INVOICE.match(number).group(1)) + 1
        assert page.is_hidden("#qr-panel")
        page.screenshot(path=str(artifact("cashier-bank-qr-received.png")), full_page=True)
    finally:
        page.context.close()


def test_reception_takes_a_deposit_and_prints_its_receipt(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    ticket = issue(hub, "kham-nhi")
    page = log_in(browser, hub, "tiep.don", f"/cashier?visit={ticket['visit_id']}&lang=en")
    try:
        page.wait_for_selector("#bill:not([hidden])")
        assert page.locator("#pay-form").count() == 0 and page.locator("#counter-panel").count() == 0
        page.fill("#deposit-amount", "200.000")
        page.click("#deposit")
        page.wait_for_selector("#result:not([hidden])")
        assert re.match(r"^PT-\d{4}-\d{6}$", page.text_content("#invoice-number"))
        assert "Deposit taken" in page.text_content("#result-title")
        assert page.text_content("#due-label") == "To refund" and page.text_content("#due") == "₫50,000"
        page.screenshot(path=str(artifact("cashier-deposit-reception.png")), full_page=True)
    finally:
        page.context.close()


def test_a_search_that_finds_nothing_clears_the_previous_bill(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    exam = issue(hub, "kham-noi")
    order_then_send_to_cashier(hub, exam["visit_id"], "xn-ctm", 90_000)
    page = log_in(browser, hub, "thu.ngan")
    try:
        page.fill("#q", exam["number"])
        page.click("#search button[type=submit]")
        page.wait_for_function(f"document.getElementById('visit-code').textContent === 'LK{exam['visit_id']:06d}'")
        assert page.is_visible("#pay")
        page.fill("#q", "KHONG-CO-NGUOI-NAY")
        page.click("#search button[type=submit]")
        page.wait_for_selector("#message:not([hidden])")
        # The last patient's bill is gone: nothing on the screen can take their money for someone else.
        assert page.is_hidden("#bill")
        assert not page.is_visible("#pay")
        assert page.text_content("#items") == ""
    finally:
        page.context.close()
