"""The lab and imaging page in Chromium: start, enter results with flags, and the doctor's page sees them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.test_doctor_page import PATIENT_NAME, api, open_page, start_clinical_hub, take_ticket

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_clinical_hub(tmp_path_factory.mktemp("hub-lab"))
    yield process
    process.stop()


def serve_and_finish(hub: HubProcess, counter: str, number: str) -> None:
    """The nurse of a lab or imaging room calls the patient, takes the sample or the image, finishes."""
    assert api(hub, "POST", f"/counters/{counter}/next", "lab")["number"] == number
    api(hub, "POST", f"/counters/{counter}/start", "lab")
    api(hub, "POST", f"/counters/{counter}/finish", "lab")


def test_lab_enters_results_and_the_patient_returns(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    # The doctor's page is open on the patient while the doctor orders (through the API, as the page does).
    ticket = take_ticket(hub)
    doctor = open_page(browser, hub, "bs.an", "/doctor")
    lab = None
    try:
        expect(doctor.locator("#doctor")).to_have_attribute("data-connected", "yes")
        api(hub, "POST", "/counters/p101/next", "doctor")
        api(hub, "POST", "/counters/p101/start", "doctor")
        expect(doctor.locator("#p-name")).to_have_text(PATIENT_NAME)
        placed = api(hub, "POST", f"/visits/{ticket['visit_id']}/orders", "doctor", status=201,
                     body={"items": ["xn-ctm", "xq-nguc"], "counter": "p101", "note": "Sốt chưa rõ nguyên nhân"})
        lab_ticket = placed["tickets"][0]
        expect(doctor.locator("#orders tbody tr")).to_have_count(2)

        lab = open_page(browser, hub, "kt.lan", "/lab")
        expect(lab.locator("#filters select[name=service]")).to_have_value("xet-nghiem")  # her room's service
        block = lab.locator(f'.visit-block[data-visit="{ticket["visit_id"]}"]')
        expect(block.locator("header")).to_contain_text(PATIENT_NAME)
        expect(block.locator("header")).to_contain_text(f"Số {lab_ticket['number']}")
        row = block.locator('tr[data-item="xn-ctm"]')
        expect(row.locator(".note")).to_have_text("Sốt chưa rõ nguyên nhân")
        expect(block.locator('tr[data-item="xq-nguc"]')).to_have_count(0)  # imaging is another service

        # Sampling: the lab room calls the patient; the X-ray ticket follows when the sample is taken.
        serve_and_finish(hub, "p201", lab_ticket["number"])
        row.locator("button.act-start").click()
        expect(row.locator(".status")).to_have_text("Đang thực hiện")
        expect(doctor.locator('#orders tr[data-item="xn-ctm"] .status')).to_have_text("Đang thực hiện")

        row.locator("button.act-result").click()
        dialog = lab.locator("#dlg-result")
        expect(dialog).to_be_visible()
        expect(dialog.locator("#result-values tbody tr")).to_have_count(4)
        for code, typed in (("WBC", "12,5"), ("RBC", "4.6"), ("HGB", "105"), ("PLT", "250")):
            dialog.locator(f'input[name="value-{code}"]').fill(typed)
        wbc = dialog.locator("#result-values tbody tr").nth(0)
        expect(wbc.locator(".flag")).to_have_text("H")
        expect(wbc).to_have_class("flag-H")
        expect(dialog.locator("#result-values tbody tr").nth(2).locator(".flag")).to_have_text("L")
        expect(wbc.locator("td").nth(3)).to_have_text("4 – 10")
        lab.screenshot(path=str(artifact("lab-result-entry.png")))
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
        expect(lab.locator("#message")).to_have_text("Đã lưu kết quả Tổng phân tích tế bào máu ngoại vi.")
        lab.locator("#filters select[name=status]").select_option("")
        expect(row.locator(".status")).to_have_text("Có kết quả")
        expect(row.locator(".flagged")).to_have_text("2 chỉ số bất thường")
        expect(row.locator("tr.flag-H")).to_contain_text("12,5 G/L")
        lab.screenshot(path=str(artifact("lab-resulted.png")), full_page=True)
        # The lab prints the result sheet of the visit: Vietnamese decimals, the range, the flag.
        link = block.locator("a.print-results")
        expect(link).to_have_text("In phiếu kết quả (A4)")
        sheet = lab.context.new_page()
        sheet.goto(hub.url + link.get_attribute("href"))
        expect(sheet.locator('tr[data-code="WBC"] td.value')).to_have_text("12,5")
        expect(sheet.locator('tr[data-code="WBC"]')).to_contain_text("4 – 10")
        expect(sheet.locator('tr[data-code="HGB"]')).to_have_class("flag")
        expect(sheet.locator(".sign")).to_contain_text("Người thực hiện")  # the lab signs its sheet
        expect(sheet.locator("#performers")).to_have_text("Lê Thị Lan")
        sheet.screenshot(path=str(artifact("lab-result-sheet.png")), full_page=True)
        sheet.close()

        # The doctor sees the results at once, flags included; no return yet (the X-ray is pending).
        result_row = doctor.locator('#orders tr[data-item="xn-ctm"]')
        expect(result_row.locator(".status")).to_have_text("Có kết quả")
        expect(result_row.locator("tr.flag-L")).to_contain_text("Huyết sắc tố")
        expect(doctor.locator('#queue li[data-priority="returning"]')).to_have_count(0)

        # Imaging: the patient has an X-ray ticket now; the radiographer writes the report and releases it.
        visit = api(hub, "GET", f"/visits/{ticket['visit_id']}", "nurse")
        xray_ticket = next(t for t in visit["tickets"] if t["service"] == "cdha")
        serve_and_finish(hub, "p203", xray_ticket["number"])
        lab.locator("#filters select[name=service]").select_option("cdha")
        lab.locator("#filters select[name=status]").select_option("open")
        xray = lab.locator('tr[data-item="xq-nguc"]')
        xray.locator("button.act-start").click()
        expect(xray.locator(".status")).to_have_text("Đang thực hiện")
        xray.locator("button.act-result").click()
        expect(dialog.locator("#result-values")).to_be_hidden()
        dialog.locator("textarea[name=report]").fill("Tim không to. Hai phế trường sáng, không thấy tổn thương.")
        dialog.locator("input[name=release]").check()
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
        expect(lab.locator("#worklist .empty")).to_have_text("Không có chỉ định nào.")  # nothing open in imaging

        # All resulted: the patient waits again for room 101, as a returning patient.
        returning = doctor.locator('#queue li[data-priority="returning"]')
        expect(returning).to_have_count(1)
        expect(returning.locator(".prio")).to_have_text("★ Quay lại sau cận lâm sàng")
        expect(doctor.locator('#orders tr[data-item="xq-nguc"] .report')).to_contain_text("Hai phế trường sáng")
        expect(doctor.locator('#orders tr[data-item="xq-nguc"] .released')).to_have_text("Đã công bố")
        # The doctor releases the blood count too.
        doctor.locator('#orders tr[data-item="xn-ctm"] button[data-act="release"]').click()
        expect(doctor.locator('#orders tr[data-item="xn-ctm"] .released')).to_have_text("Đã công bố")
        doctor.screenshot(path=str(artifact("doctor-results-back.png")), full_page=True)

        # Calling the returning patient brings the visit back with everything on it.
        doctor.click("#keys button[data-action=next]")
        expect(doctor.locator("#cur-priority")).to_have_text("★ Quay lại sau cận lâm sàng")
        expect(doctor.locator("#p-tickets")).to_contain_text(re.compile(r"B\d{3} Khám Nội tổng quát \(đang gọi\)$"))
        assert doctor.errors == [] and lab.errors == []
    finally:
        doctor.context.close()
        if lab is not None:
            lab.context.close()
