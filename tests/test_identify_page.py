"""The doctor's "identify this patient" step in Chromium: an anonymous kiosk ticket reaches the room, the
forms give way to the identify card, and the doctor finds or registers the patient and carries on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.test_doctor_page import PATIENT_CODE, PATIENT_NAME, api, open_page, start_clinical_hub

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_clinical_hub(tmp_path_factory.mktemp("hub-identify"))
    yield process
    process.stop()


def test_doctor_identifies_an_anonymous_patient_then_examines(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    first = api(hub, "POST", "/tickets", "kiosk", {"service": "kham-noi"}, status=201)
    second = api(hub, "POST", "/tickets", "kiosk", {"service": "kham-noi"}, status=201)
    page = open_page(browser, hub, "bs.an", "/doctor")
    try:
        expect(page.locator("#doctor")).to_have_attribute("data-connected", "yes")
        page.click("#keys button[data-action=next]")
        expect(page.locator("#cur-number")).to_have_text(first["number"])
        page.keyboard.press("s")
        expect(page.locator("#cur-status")).to_have_text("Đang khám")
        # No dead end: the identify card explains why, the clinical forms are not offered.
        identify = page.locator("#identify")
        expect(identify).to_be_visible()
        expect(identify).to_contain_text("chưa thể ghi bệnh án")
        expect(page.locator("#exam-form")).to_be_hidden()
        expect(page.locator("#order-form")).to_be_hidden()
        page.screenshot(path=str(artifact("doctor-identify.png")), full_page=True)

        # Search (by the code on her card; the fixture's row has no folded name), choose the record: her record
        # and history open, the forms return.
        identify.locator("#id-search input[name=q]").fill(PATIENT_CODE.lower())
        identify.locator("#id-search button[type=submit]").click()
        choice = identify.locator(f'#id-results button[data-patient="{PATIENT_CODE}"]')
        expect(choice).to_have_count(1)
        choice.click()
        expect(page.locator("#p-name")).to_have_text(PATIENT_NAME)
        expect(page.locator("#message")).to_contain_text("Đã xác định bệnh nhân")
        expect(identify).to_be_hidden()
        expect(page.locator("#history details")).to_have_count(1)
        form = page.locator("#exam-form")
        expect(form).to_be_visible()
        form.locator("input[name=diagnosis_code]").fill("J06.9")
        form.locator("button[type=submit]").click()
        expect(page.locator("#exam-saved")).to_have_text("Đã lưu bệnh án.")
        visit = api(hub, "GET", f"/visits/{first['visit_id']}", "nurse")
        assert visit["patient"]["code"] == PATIENT_CODE and visit["exam"]["diagnosis_code"] == "J06.9"

        # The next anonymous patient is new: registered on the spot, with the duplicate check.
        page.click("#keys button[data-action=finish]")
        page.click("#keys button[data-action=next]")
        expect(page.locator("#cur-number")).to_have_text(second["number"])
        expect(identify).to_be_visible()
        register = identify.locator("#id-register")
        register.locator("input[name=full_name]").fill("Đặng Văn Tú")
        register.locator("input[name=date_of_birth]").fill("2021-06-01")
        register.locator("select[name=sex]").select_option("Nam")
        register.locator("input[name=phone]").fill("0987000111")
        register.locator("button[type=submit]").click()
        expect(page.locator("#p-name")).to_have_text("Đặng Văn Tú")
        expect(page.locator("#p-facts")).to_contain_text("tuổi")
        expect(page.locator("#exam-form")).to_be_visible()
        visit = api(hub, "GET", f"/visits/{second['visit_id']}", "nurse")
        assert visit["patient"]["full_name"] == "Đặng Văn Tú"
        assert page.errors == []
    finally:
        page.context.close()


def test_clinical_prints_show_the_header_prescription_and_flagged_results(hub: HubProcess,
                                                                          browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    ticket = api(hub, "POST", "/tickets", "kiosk", {"service": "kham-noi", "patient_code": PATIENT_CODE}, status=201)
    api(hub, "POST", "/counters/p102/next", "nurse")
    api(hub, "POST", "/counters/p102/start", "nurse")
    visit = ticket["visit_id"]
    api(hub, "PUT", f"/visits/{visit}/exam", "doctor", {
        "diagnosis_code": "I10", "notes": "HA 150/90",
        "prescription": "1. Amlodipin 5 mg — 30 viên\n   Uống 1 viên/ngày buổi sáng"})
    placed = api(hub, "POST", f"/visits/{visit}/orders", "doctor", {"items": ["xn-ctm"], "counter": "p102"}, status=201)
    order = placed["orders"][0]["id"]
    api(hub, "POST", f"/orders/{order}/start", "lab", {})
    api(hub, "POST", f"/orders/{order}/result", "lab", {"values": {"WBC": 5.0, "RBC": 4.5, "HGB": 100, "PLT": 250}})
    page = open_page(browser, hub, "bs.an", f"/doctor/visits/{visit}/print/prescription", viewport=(560, 800))
    try:
        sheet = page.locator("#print")
        expect(sheet.locator("h1")).to_have_text("ĐƠN THUỐC")
        expect(sheet).to_contain_text("Bệnh viện Đa khoa Hòa Bình")
        expect(sheet).to_contain_text("Sở Y tế tỉnh Hòa Bình")
        expect(page.locator("#p-name")).to_contain_text(PATIENT_NAME)
        expect(page.locator("#diagnosis")).to_contain_text("(I10)")
        expect(page.locator("#rx")).to_contain_text("Amlodipin 5 mg — 30 viên")
        page.screenshot(path=str(artifact("print-prescription.png")), full_page=True)
        page.set_viewport_size({"width": 800, "height": 1100})
        page.goto(hub.url + f"/doctor/visits/{visit}/print/results")
        expect(page.locator("#print h1")).to_have_text("PHIẾU KẾT QUẢ XÉT NGHIỆM")
        hgb = page.locator('tr[data-code="HGB"]')
        expect(hgb.locator("td.flag")).to_have_text("L")
        expect(hgb).to_contain_text("120 – 160")  # Vietnamese numbers: no ".0"
        page.screenshot(path=str(artifact("print-results.png")), full_page=True)
        page.goto(hub.url + f"/doctor/visits/{visit}/print/summary")
        expect(page.locator("#print h1")).to_have_text("TÓM TẮT LƯỢT KHÁM")
        expect(page.locator("#print")).to_contain_text("HA 150/90")
        page.screenshot(path=str(artifact("print-summary.png")), full_page=True)
        assert page.goto(hub.url + f"/doctor/visits/{visit}/print/nothing").status == 404
        assert page.errors == []
    finally:
        page.context.close()
