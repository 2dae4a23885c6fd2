"""The doctor writes a structured prescription in Chromium at 1366×768: drug search, lines, a free-text
drug, removal, the weight; the lines survive a reload and are stored as the API shows them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.test_doctor_page import api, open_page, start_clinical_hub, take_ticket

pytestmark = pytest.mark.browser
STAFF_SCREEN = (1366, 768)


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
        free.locator("input[name=name]").fill("Oresol 245")
        free.locator("input[name=strength]").fill("4,1 g")
        free.locator("input[name=unit]").fill("gói")
        free.locator("input[name=dose]").fill("1 gói pha 200 ml nước")
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
                                                (None, "Oresol 245", 4, "gói")]
        assert exam["prescription_lines"][0]["days"] == 3 and exam["prescription_lines"][1]["strength"] == "4,1 g"
        assert exam["prescription_lines"][0]["instructions"] == "uống sau ăn, khi sốt trên 38,5 độ"
        assert exam["weight_kg"] == 55.5 and exam["prescription"].startswith("Uống nhiều nước")

        # A reload shows the saved lines, not an empty form.
        page.reload()
        expect(page.locator("#cur-number")).to_have_text(ticket["number"])
        expect(rows).to_have_count(2)
        expect(rows.nth(0).locator(".drug-name")).to_have_text("Paracetamol 500 mg")
        expect(rows.nth(0).locator("input[name=quantity]")).to_have_value("9")
        expect(rows.nth(0).locator("input[name=dose]")).to_have_value("1 viên x 3 lần/ngày")
        expect(rows.nth(1).locator("input[name=name]")).to_have_value("Oresol 245")
        expect(form.locator("input[name=weight_kg]")).to_have_value("55.5")
        assert page.errors == []
    finally:
        page.context.close()
