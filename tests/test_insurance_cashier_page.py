"""The cashier page in Chromium with an insured patient: both parts shown, only the patient's part taken,
and the receipt shows what insurance pays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hub.config import load_config
from hub.core import build_hub
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.support import free_port

pytestmark = pytest.mark.browser
PASSWORD = "thu-ngan-123"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    var_dir = tmp_path_factory.mktemp("hub-insured-cashier")
    process = HubProcess(var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", port=free_port())
    process.create_tokens()
    setup = build_hub(load_config(process.config_dir, env={}), var_dir=var_dir, db_url=process.db_url)
    try:
        setup.staff.add("thu.ngan", "Phạm Thu Ngân", "cashier", PASSWORD, counter="q5")
    finally:
        setup.close()
    process.start()
    yield process
    process.stop()


def test_insured_patient_pays_only_their_part(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from tests.test_cashier_page import issue, log_in, order_then_send_to_cashier

    ticket = issue(hub, "kham-noi")
    visit = ticket["visit_id"]
    checked = requests.post(f"{hub.api}/visits/{visit}/insurance", json={"national_id": "001085012345"},
                            headers=hub.headers("kiosk"), timeout=10)
    assert checked.status_code == 200 and checked.json()["status"] == "eligible", checked.text
    order_then_send_to_cashier(hub, visit, "xn-ctm", 90_000)
    page = log_in(browser, hub, "thu.ngan", f"/cashier?visit={visit}")
    try:
        page.wait_for_selector("#bill:not([hidden])")
        page.wait_for_function("document.getElementById('insurance-pays').textContent !== ''")
        assert page.text_content("#total") == "240.000\u00a0₫"
        # A small bill (insured cost under 15 % of the base salary): insurance pays the insurance prices in full.
        assert page.text_content("#insurance-pays") == "88.300\u00a0₫"
        assert page.text_content("#patient-pays") == "151.700\u00a0₫"
        assert page.text_content("#due") == "151.700\u00a0₫"
        assert "DN4010123456789" in page.text_content("#insurance-card")
        assert page.get_attribute("#insurance-status", "data-status") == "eligible"
        rows = page.locator("#items tr")
        assert "42.100\u00a0₫" in rows.nth(0).text_content() and "107.900\u00a0₫" in rows.nth(0).text_content()
        page.screenshot(path=str(artifact("cashier-insured-bill.png")), full_page=True)
        page.fill("#tendered", "200.000")
        assert "48.300\u00a0₫" in page.text_content("#change")
        page.click("#pay")
        page.wait_for_selector("#result:not([hidden])")
        assert page.text_content("#due") == "0\u00a0₫"
        receipt_url = page.get_attribute("#print-link", "href").replace("?print=1", "")
        receipt = page.context.new_page()
        receipt.goto(hub.url + receipt_url)
        assert receipt.text_content("#receipt-insurance") == "88.300\u00a0₫"
        assert receipt.text_content("#receipt-patient-part") == "151.700\u00a0₫"
        assert "Một trăm năm mươi mốt nghìn bảy trăm đồng" in receipt.text_content("#receipt")
        receipt.screenshot(path=str(artifact("cashier-insured-receipt.png")), full_page=True)
        receipt.close()
    finally:
        page.context.close()
    payments = requests.get(f"{hub.api}/visits/{visit}/bill", headers=hub.headers("cashier"), timeout=10).json()
    assert [p["amount"] for p in payments["payments"] if p["kind"] == "payment"] == [151_700]
