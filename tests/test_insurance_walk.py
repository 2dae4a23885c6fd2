"""The insured patient's day end to end, in Chromium against a real hub: CCCD scanned on the kiosk's page
(a `clinicq kiosk` agent) -> the card checked -> the insured line -> the doctor orders a lab test and
prescribes -> the cashier collects only the patient's part -> the claim exported on the claims page and
parsed back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.config import load_config
from hub.core import build_hub
from hub.domain.insurance.claims import parse_claim
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess, dummy_printer_kiosk
from tests.support import free_port
from tests.test_kiosk_payer_page import scan

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
        # The examining doctor signs in: the claim names them (MA_BAC_SI, their licence in doctors.toml).
        setup.staff.add("bs.an", "BS.CKI Nguyễn Văn An", "doctor", PASSWORD)
    finally:
        setup.close()
    process.start()
    opened = requests.post(f"{process.api}/counters/p101/open", headers=process.headers("admin"), timeout=10)
    assert opened.status_code == 200, opened.text
    yield process
    process.stop()


@pytest.fixture(scope="module")
def kiosk_url(hub: HubProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dummy_printer_kiosk(hub, tmp_path_factory.mktemp("walk-kiosk"), until="online") as url:
        yield url


def kiosk_ticket(browser: Any, kiosk_url: str) -> dict[str, str]:  # noqa: F811
    """The patient scans the chip ID card on the kiosk's page and takes a number for Khám Nội."""
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, locale="vi-VN")
    try:
        page = context.new_page()
        page.goto(kiosk_url)
        scan(page, CCCD)
        assert page.inner_text("#payer-banner") == "Thẻ BHYT hợp lệ — Khám BHYT"
        page.click("#service-list [data-code=kham-noi]")
        page.click("[data-priority=normal]")
        page.wait_for_selector("[data-screen=result]:not([hidden])")
        page.screenshot(path=str(artifact("insurance-walk-kiosk.png")))
        return {name: page.inner_text(f"#result-{name}") for name in ("number", "service", "payer")}
    finally:
        context.close()


def call(hub: HubProcess, role: str, method: str, path: str, body: dict | None = None) -> Any:
    response = requests.request(method, hub.api + path, json=body, headers=hub.headers(role), timeout=15)
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response.json()


def as_doctor(browser: Any, hub: HubProcess, calls: list[tuple[str, str, dict]]) -> None:  # noqa: F811
    """REST calls made from the signed-in doctor's page (session cookie + the page's CSRF token)."""
    from tests.test_cashier_page import log_in

    page = log_in(browser, hub, "bs.an", "/account/password")  # any signed-in page carries the CSRF token
    try:
        for method, path, body in calls:
            status = page.evaluate("""async ([method, url, body]) => {
                const token = document.querySelector("meta[name=csrf-token]").getAttribute("content");
                const answer = await fetch(url, {method, body: JSON.stringify(body),
                    headers: {"Content-Type": "application/json", "X-CSRFToken": token}});
                return answer.status; }""", [method, hub.api + path, body])
            assert status < 300, (path, status)
    finally:
        page.context.close()


def test_cccd_to_claim(hub: HubProcess, kiosk_url: str, browser: Any) -> None:  # noqa: F811
    from tests.test_cashier_page import log_in

    ticket = kiosk_ticket(browser, kiosk_url)
    assert ticket["service"] == "Khám Nội tổng quát" and ticket["payer"] == "Khám BHYT"
    with sqlite3.connect(Path(hub.var_dir) / "hub.db") as db:
        [(visit,)] = db.execute("SELECT visit_id FROM tickets WHERE number = ?", (ticket["number"],)).fetchall()
    assert call(hub, "reception", "GET", f"/visits/{visit}/insurance")["benefit_level"] == 4
    # The prescription: one catalogue drug (claimed in XML2) and one written by hand (left out, with why).
    as_doctor(browser, hub, [("PUT", f"/visits/{visit}/exam", {
        "diagnosis_code": "J06.9", "notes": "Viêm họng cấp", "prescription_lines": [
            {"drug_code": "para-500", "dose": "1 viên x 3 lần/ngày", "days": 3, "quantity": 9},
            {"name": "Vitamin C 500 mg", "unit": "viên", "dose": "1 viên/ngày", "quantity": 10}]}),
        ("POST", f"/visits/{visit}/orders", {"items": ["xn-ctm"], "keep_patient": True})])

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
    # Signed by the doctor who examined and ordered (demo licence of bs-an), in Khoa Khám bệnh (demo K01).
    assert {(line["MA_BAC_SI"], line["MA_KHOA"]) for line in claim["XML2"] + claim["XML3"]} == {
        ("000101/HNO-CCHN", "K01")}
    assert claim["XML1"]["MA_KHOA"] == "K01" and claim["XML2"][0]["TT_THAU"] == "125/QĐ-BV;G1;N4;2025"
    paid = call(hub, "cashier", "GET", f"/visits/{visit}/bill")
    assert [p["amount"] for p in paid["payments"] if p["kind"] == "payment"] == [151_700]
