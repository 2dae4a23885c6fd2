"""The doctor writes a structured prescription in Chromium at 1366×768: drug search, lines, a free-text
drug, removal, the weight; the lines survive a reload and are stored as the API shows them. The A5
prescription print shows the lines, a child's weight and the re-exam date of the booked follow-up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.test_doctor_page import api, open_page, start_clinical_hub, take_ticket

pytestmark = pytest.mark.browser
STAFF_SCREEN = (1366, 768)
A5_SCREEN = (560, 800)  # A5 is 148 mm wide: about 560 CSS pixels


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_clinical_hub(tmp_path_factory.mktemp("hub-rx"))
    yield process
    process.stop()


def test_doctor_prescribes_from_the_catalogue_and_free_text(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    ticket = take_ticket(hub)
    page = open_page(browser, hub, "bs.an", "/doctor", viewport=STAFF_SCREEN)
    try:
        expect(page.locator("#doctor")).to_have_attribute("data-connected", "yes")
        page.click("#keys button[data-action=next]")
        expect(page.locator("#cur-number")).to_have_text(ticket["number"])
        page.keyboard.press("s")
        expect(page.locator("#cur-status")).to_have_text("Đang khám")
        form = page.locator("#exam-form")
        expect(page.locator("#rx-empty")).to_have_text("Chưa kê thuốc.")
        expect(page.locator("#weight-hint")).to_be_hidden()  # an adult: no weight needed

        # "para" finds Paracetamol in the catalogue; picking it adds a line with the catalogue's unit.
        search = page.locator("#drug-search")
        search.press_sequentially("para")
        suggestion = page.locator('#drug-suggestions li[data-code="para-500"]')
        expect(suggestion).to_contain_text("Paracetamol 500 mg")
        page.screenshot(path=str(artifact("doctor-drug-search.png")))
        suggestion.click()
        expect(search).to_have_value("")
        rows = page.locator("#rx-lines tr")
        expect(rows).to_have_count(1)
        first = rows.nth(0)
        expect(first.locator(".drug-name")).to_have_text("Paracetamol 500 mg")
        expect(first.locator(".unit")).to_have_text("viên")
        expect(first.locator("input[name=dose]")).to_be_focused()
        first.locator("input[name=dose]").fill("1 viên x 3 lần/ngày")
        first.locator("input[name=days]").fill("3")
        first.locator("input[name=instructions]").fill("uống sau ăn, khi sốt trên 38,5 độ")

        # A second catalogue drug by keyboard, then removed: the numbering follows.
        search.press_sequentially("amox 250")
        expect(page.locator('#drug-suggestions li[data-code="amox-250-siro"]')).to_be_visible()
        search.press("Enter")
        expect(rows).to_have_count(2)
        expect(rows.nth(1).locator(".drug-name")).to_contain_text("Amoxicilin 250 mg/5 ml")

        # A drug that is not in the catalogue, as a free-text line.
        page.click("#rx-add-free")
        expect(rows).to_have_count(3)
        free = rows.nth(2)
        expect(free.locator("input[name=name]")).to_be_focused()
        free.locator("input[name=name]").fill("Bio-acimin Gold")
        free.locator("input[name=strength]").fill("4 g")
        free.locator("input[name=unit]").fill("gói")
        free.locator("input[name=dose]").fill("1 gói x 2 lần/ngày")
        free.locator("input[name=quantity]").fill("4")
        rows.nth(1).locator("button.remove").click()
        expect(rows).to_have_count(2)
        expect(rows.nth(1).locator("td.n")).to_have_text("2")

        # A line without a quantity is stopped on the page, naming the line.
        form.locator("button[type=submit]").click()
        expect(form.locator(".form-error")).to_have_text("Dòng thuốc 1: số lượng phải là số nguyên dương.")
        first.locator("input[name=quantity]").fill("9")
        form.locator("input[name=weight_kg]").fill("55.5")
        form.locator("textarea[name=prescription]").fill("Uống nhiều nước; tái khám nếu sốt quá 3 ngày.")
        form.locator("button[type=submit]").click()
        expect(page.locator("#exam-saved")).to_have_text("Đã lưu bệnh án.")
        expect(form.locator(".form-error")).to_be_hidden()
        page.locator("#rx").scroll_into_view_if_needed()
        page.screenshot(path=str(artifact("doctor-prescription.png")))

        exam = api(hub, "GET", f"/visits/{ticket['visit_id']}/exam", "nurse")["exam"]
        assert [(line["drug_code"], line["name"], line["quantity"], line["unit"]) for line in
                exam["prescription_lines"]] == [("para-500", "Paracetamol 500 mg", 9, "viên"),
                                                (None, "Bio-acimin Gold", 4, "gói")]
        assert exam["prescription_lines"][0]["days"] == 3 and exam["prescription_lines"][1]["strength"] == "4 g"
        assert exam["prescription_lines"][0]["instructions"] == "uống sau ăn, khi sốt trên 38,5 độ"
        assert exam["weight_kg"] == 55.5 and exam["prescription"].startswith("Uống nhiều nước")

        # A reload shows the saved lines, not an empty form.
        page.reload()
        expect(page.locator("#cur-number")).to_have_text(ticket["number"])
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator(".drug-name")).to_have_text("Paracetamol 500 mg")
        expect(rows.nth(0).locator("input[name=quantity]")).to_have_value("9")
        expect(rows.nth(0).locator("input[name=dose]")).to_have_value("1 viên x 3 lần/ngày")
        expect(rows.nth(1).locator("input[name=name]")).to_have_value("Bio-acimin Gold")
        expect(form.locator("input[name=weight_kg]")).to_have_value("55.5")
        # The prints of the saved record open from the form.
        link = page.locator('#prints a[data-print="prescription"]')
        expect(link).to_have_attribute("href", f"/doctor/visits/{ticket['visit_id']}/print/prescription")
        with page.context.expect_page() as opened:
            link.click()
        sheet = opened.value
        sheet.wait_for_load_state()
        expect(sheet.locator("#rx-lines li")).to_have_count(2)
        expect(sheet.locator("#weight")).to_have_text("55,5 kg")  # measured, so shown for an adult too
        sheet.close()
        assert page.errors == []
    finally:
        page.context.close()


def test_the_a5_prescription_of_a_child_prints_lines_weight_and_the_re_exam_date(hub: HubProcess,
                                                                                browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    child = api(hub, "POST", "/patients", "reception", {
        "full_name": "Lê Gia Bảo", "date_of_birth": date(today.year - 4, 1, 15).isoformat(), "sex": "Nam",
        "phone": "0912000333"}, status=201)
    ticket = api(hub, "POST", "/tickets", "kiosk", {"service": "kham-noi", "patient_code": child["code"]}, status=201)
    api(hub, "POST", "/counters/p102/next", "nurse")
    api(hub, "POST", "/counters/p102/start", "nurse")
    visit = ticket["visit_id"]
    syrup = {"drug_code": "amox-250-siro", "dose": "5 ml x 2 lần/ngày", "days": 7, "quantity": 1,
             "instructions": "uống sau ăn, lắc kỹ trước khi dùng"}
    # Oresol from the catalogue; a probiotic that is not in it, as a free-text line.
    oresol = {"drug_code": "ors", "dose": "1 gói pha 200 ml nước, uống dần trong ngày", "quantity": 4}
    probiotic = {"name": "Bio-acimin Gold", "strength": "4 g", "form": "cốm", "unit": "gói", "route": "uống",
                 "dose": "1 gói x 2 lần/ngày", "days": 5, "quantity": 10}
    exam = {"diagnosis_code": "J06.9", "prescription_lines": [syrup, oresol, probiotic],
            "prescription": "Cho trẻ uống nhiều nước, ăn lỏng. Khám lại ngay nếu sốt cao, khó thở."}
    # Under 72 months the weight is required: the doctor's page says so before and when saving.
    doctor = open_page(browser, hub, "bs.an", "/doctor?counter=p102", viewport=STAFF_SCREEN)
    try:
        expect(doctor.locator("#p-name")).to_have_text("Lê Gia Bảo")
        expect(doctor.locator("#weight-hint")).to_be_visible()
        doctor.locator("#drug-search").press_sequentially("amox 250")
        doctor.locator('#drug-suggestions li[data-code="amox-250-siro"]').click()
        doctor.locator("#rx-lines input[name=quantity]").fill("1")
        form = doctor.locator("#exam-form")
        form.locator("button[type=submit]").click()
        expect(form.locator(".form-error")).to_contain_text("Cần cân nặng")
        expect(form.locator(".form-error")).to_contain_text("72 tháng")
        expect(form.locator("input[name=weight_kg]")).to_be_focused()
        doctor.locator("#rx").scroll_into_view_if_needed()
        doctor.screenshot(path=str(artifact("doctor-child-weight.png")))
        assert doctor.errors == []
    finally:
        doctor.context.close()
    refused = requests.put(hub.api + f"/visits/{visit}/exam", json=exam, headers=hub.headers("doctor"), timeout=10)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "weight_required"
    api(hub, "PUT", f"/visits/{visit}/exam", "doctor", {**exam, "weight_kg": 16.5, "height_cm": 102})

    page = open_page(browser, hub, "bs.an", f"/doctor/visits/{visit}/print/prescription", viewport=A5_SCREEN)
    try:
        sheet = page.locator("#print")
        expect(sheet.locator("h1")).to_have_text("ĐƠN THUỐC")
        expect(page.locator("#weight")).to_have_text("16,5 kg · chiều cao 102 cm")
        expect(page.locator("#months")).to_contain_text("tháng")
        expect(page.locator("#re-exam")).to_contain_text("theo chỉ định của bác sĩ")  # nothing booked yet

        # The doctor books the follow-up: the print now gives its date and time.
        booked = api(hub, "POST", f"/visits/{visit}/follow-ups", "doctor", {"doctor": "bs-an", "after_days": 7},
                     status=201)["appointments"][0]
        page.reload()
        day = date.fromisoformat(booked["day"])
        expect(page.locator("#re-exam")).to_contain_text(f"ngày {day:%d/%m/%Y} lúc {booked['time']}")
        drugs = page.locator("#rx-lines li")
        expect(drugs).to_have_count(3)
        expect(drugs.nth(0)).to_contain_text("Amoxicilin 250 mg/5 ml (siro trẻ em)")
        expect(drugs.nth(0).locator(".qty")).to_have_text("SL: 01 chai")  # a leading zero under ten
        expect(drugs.nth(0).locator(".how")).to_have_text("Uống · 5 ml x 2 lần/ngày · 7 ngày · uống sau ăn, lắc kỹ "
                                                          "trước khi dùng")
        expect(drugs.nth(1)).to_contain_text("Oresol 245")
        expect(drugs.nth(1).locator(".qty")).to_have_text("SL: 04 gói")
        expect(drugs.nth(2)).to_contain_text("Bio-acimin Gold 4 g (cốm)")
        expect(drugs.nth(2).locator(".qty")).to_have_text("SL: 10 gói")
        expect(drugs.nth(2).locator(".how")).to_have_text("Uống · 1 gói x 2 lần/ngày · 5 ngày")
        expect(page.locator("#rx-text")).to_contain_text("Cho trẻ uống nhiều nước")
        expect(page.locator("#diagnosis")).to_contain_text("(J06.9)")
        page.screenshot(path=str(artifact("print-prescription-child.png")), full_page=True)
        # As printed: the whole prescription fits one A5 sheet inside the 10 mm margins (190 mm ≈ 718 px).
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 483, "height": 718})  # 128 mm × 190 mm, the printable area
        box = sheet.bounding_box()
        assert box is not None and box["height"] <= 718, box
        page.screenshot(path=str(artifact("print-prescription-child-a5.png")))
        page.emulate_media(media="screen")
        html = page.content()
        assert "16,5 kg" in html and f"{day:%d/%m/%Y}" in html and "Amoxicilin" in html
        # The visit summary carries the same drugs and re-exam date.
        page.goto(hub.url + f"/doctor/visits/{visit}/print/summary")
        expect(page.locator("#print h1")).to_have_text("TÓM TẮT LƯỢT KHÁM")
        expect(page.locator("#rx-lines li")).to_have_count(3)
        expect(page.locator("#re-exam")).to_contain_text(f"{day:%d/%m/%Y}")
        assert page.errors == []
    finally:
        page.context.close()
