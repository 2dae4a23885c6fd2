"""The insured patient's day end to end, in Chromium against a real hub: CCCD scanned at the kiosk (the
agent's call to the hub) -> the card checked -> the insured line -> the doctor orders a lab test -> the
cashier collects only the patient's part -> the claim exported on the claims page and parsed back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hub.config import load_config
from hub.core import build_hub
from hub.domain.insurance.claims import parse_claim
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.support import free_port

pytestmark = pytest.mark.browser
PASSWORD = "thu-ngan-123"
CCCD = "001085012345||Nguyễn Văn An|14031985|Nam|12 Phố Huế, Hà Nội|01012021"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    var_dir = tmp_path_factory.mktemp("hub-insured-walk")
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


def call(hub: HubProcess, role: str, method: str, path: str, body: dict | None = None) -> Any:
    response = requests.request(method, hub.api + path, json=body, headers=hub.headers(role), timeout=15)
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response.json()


def test_cccd_to_claim(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from tests.test_cashier_page import log_in

    scan = call(hub, "kiosk", "POST", "/patients/identify", {"cccd": CCCD})
    assert scan["insurance"]["status"] == "eligible" and scan["insurance"]["benefit_level"] == 4
    ticket = call(hub, "kiosk", "POST", "/tickets", {"service": scan["insurance"]["service"] or "kham-noi",
                                                     "patient_code": scan["patient"]["code"]})
    assert ticket["insurance"]["label"] == "Khám BHYT"
    visit = ticket["visit_id"]
    # The prescription: one catalogue drug (claimed in XML2) and one written by hand (left out, with why).
    call(hub, "doctor", "PUT", f"/visits/{visit}/exam", {
        "diagnosis_code": "J06.9", "notes": "Viêm họng cấp", "prescription_lines": [
            {"drug_code": "para-500", "dose": "1 viên x 3 lần/ngày", "days": 3, "quantity": 9},
            {"name": "Vitamin C 500 mg", "unit": "viên", "dose": "1 viên/ngày", "quantity": 10}]})
    call(hub, "doctor", "POST", f"/visits/{visit}/orders", {"items": ["xn-ctm"], "keep_patient": True})

    page = log_in(browser, hub, "thu.ngan", f"/cashier?visit={visit}")
    try:
        page.wait_for_selector("#bill:not([hidden])")
        page.wait_for_function("document.getElementById('insurance-pays').textContent !== ''")
        assert page.text_content("#insurance-pays") == "88.300\u00a0₫"
        assert page.text_content("#due") == "151.700\u00a0₫"
        page.click("#pay")
        page.wait_for_selector("#result:not([hidden])")
        assert page.text_content("#due") == "0\u00a0₫"

        page.goto(hub.url + "/insurance/claims")
        page.click("#export-day")
        page.wait_for_selector(f"#claims tr[data-visit='{visit}'][data-state=exported]")
        assert page.text_content("#insured-total") == "90.280\u00a0₫"  # 88,300 + the drug's 9 × 220
        left_out = page.locator(f"#claims tr[data-visit='{visit}'] .claim-left-out li")
        assert left_out.count() == 1 and left_out.get_attribute("data-reason") == "not_in_catalogue"
        assert "Vitamin C 500 mg" in left_out.inner_text() and "không có trong danh mục" in left_out.inner_text()
        page.screenshot(path=str(artifact("insurance-claims.png")), full_page=True)
        href = page.get_attribute(f"#claims tr[data-visit='{visit}'] a", "href")
        xml = page.request.get(hub.url + href)
        assert xml.ok
        claim = parse_claim(xml.body())
    finally:
        page.context.close()
    assert claim["XML1"]["MA_THE_BHYT"] == "DN4010123456789" and claim["XML1"]["T_BHTT"] == "90280"
    assert [(d["TEN_THUOC"], d["SO_LUONG"], d["T_BHTT"]) for d in claim["XML2"]] == [("Paracetamol 500 mg", "9",
                                                                                     "1980")]
    assert claim["XML1"]["T_BNTT"] == "151700" and claim["XML1"]["MA_BENH_CHINH"] == "J06.9"
    assert [line["MA_DICH_VU"] for line in claim["XML3"]] == ["kham-noi", "xn-ctm"]
    paid = call(hub, "cashier", "GET", f"/visits/{visit}/bill")
    assert [p["amount"] for p in paid["payments"] if p["kind"] == "payment"] == [151_700]
