"""The reception page in Chromium: register a patient, catch a duplicate, book a slot, check in, walk in.

The hub runs in this process on a virtual clock (Monday 08:00), so today's slots and the check-in
window do not depend on when the test runs; the page talks to it over real HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.conftest import SITE_TZ
from tests.support import free_port

pytestmark = pytest.mark.browser
PASSWORD = "mat-khau-123"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, clinic: ClinicConfig) -> Iterator[tuple[str, Hub]]:
    var_dir: Path = tmp_path_factory.mktemp("reception")
    clock = VirtualClock(datetime(2026, 11, 23, 8, 0, tzinfo=SITE_TZ))
    hub = build_hub(clinic, var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", clock=clock)
    hub.staff.add("thu.ha", "Lê Thu Hà", "reception", PASSWORD, counter="q1")
    server = make_server("127.0.0.1", free_port(), create_app(hub, async_mode="threading"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hub
    server.shutdown()
    thread.join(timeout=10)
    hub.close()


@pytest.fixture
def page(browser, site: tuple[str, Hub]):  # type: ignore[no-untyped-def]  # noqa: F811 - the fixture
    url, _ = site
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url + "/login?next=/reception")
    page.fill("input[name=username]", "thu.ha")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/reception")
    yield page
    context.close()


def test_register_book_and_check_in(page, site: tuple[str, Hub]) -> None:  # type: ignore[no-untyped-def]
    url, hub = site
    # Nobody yet: the search says so.
    page.fill("#search-q", "Nguyễn Thị Mai")
    page.click("#search-btn")
    page.wait_for_selector("#message:not([hidden])")
    assert not page.locator("#issued").is_visible() and not page.locator("#patient").is_visible()

    form = page.locator("#register-form")
    form.locator("input[name=full_name]").fill("Nguyễn Thị Mai")
    form.locator("input[name=date_of_birth]").fill("1985-06-15")
    form.locator("select[name=sex]").select_option("Nữ")
    form.locator("input[name=phone]").fill("0912 345 678")
    form.locator("input[name=national_id]").fill("001185012345")
    page.check("#consent-sms")
    page.click("#register-btn")
    page.wait_for_selector("#patient:not([hidden])")
    code = page.text_content("#patient-code")
    assert code == "BN26000001" and page.text_content("#patient-name") == "Nguyễn Thị Mai"
    patient_id = hub.booking.patients.get(code)["id"]
    assert hub.notifications.consents(patient_id) == {"sms": True, "email": False, "zalo": False}  # as ticked
    page.screenshot(path=str(artifact("reception-registered.png")), full_page=True)

    # The same person again, typed without diacritics and without the CCCD: the page offers her record.
    form.locator("input[name=full_name]").fill("nguyen thi mai")
    form.locator("input[name=date_of_birth]").fill("1985-06-15")
    form.locator("input[name=phone]").fill("+84912345678")
    page.click("#register-btn")
    page.wait_for_selector("#duplicates:not([hidden])")
    assert page.text_content("#duplicates-text").startswith("Có thể bệnh nhân đã có hồ sơ")
    assert " / " not in page.text_content("#duplicates-text")  # the page's language only
    page.screenshot(path=str(artifact("reception-duplicate.png")), full_page=True)
    page.click(f"#duplicates-list button[data-code='{code}']")
    page.wait_for_selector("#duplicates", state="hidden")
    assert page.text_content("#patient-code") == code

    # Book 08:30 today with bs-an (the call-centre flow: service, doctor, day, free time).
    page.select_option("#book-service", "kham-noi")
    page.select_option("#book-doctor", "bs-an")
    page.fill("#book-day", "2026-11-23")
    page.click("#slots-btn")
    page.click("#slots button[data-start='2026-11-23T08:30:00+07:00']")
    page.locator("#book-form select[name=channel]").select_option("callcenter")
    page.locator("#book-form input[name=reason]").fill("Khám sức khoẻ định kỳ")
    page.click("#book-btn")
    page.wait_for_selector("#booked:not([hidden])")
    booking_code = page.get_attribute("#booked", "data-code")
    assert booking_code and hub.booking.get(booking_code)["channel"] == "callcenter"
    row = page.locator(f"#today tr[data-code='{booking_code}']")
    row.wait_for()
    page.screenshot(path=str(artifact("reception-booked.png")), full_page=True)

    # Check her in from today's list, with her symptoms: a booked-priority ticket number appears.
    row.locator("button.checkin").click()
    dialog = page.locator("#checkin-dialog")
    dialog.locator("textarea[name=symptoms]").fill("Mệt mỏi, khó ngủ")
    page.click("#checkin-confirm")
    page.locator("#issued-number").wait_for(state="visible")
    assert page.text_content("#issued-number") == "B001"
    page.wait_for_function(f"document.querySelector(\"#today tr[data-code='{booking_code}']\").textContent"
                           ".includes('B001')")
    page.screenshot(path=str(artifact("reception-checked-in.png")), full_page=True)
    appointment = hub.booking.get(booking_code)
    assert appointment["status"] == "arrived" and appointment["ticket"]["number"] == "B001"
    intake = hub.booking.intake(appointment["visit_id"])
    assert intake["symptoms"] == "Mệt mỏi, khó ngủ" and intake["reason"] == "Khám sức khoẻ định kỳ"
    assert page.get_attribute("#deposit-link", "href") == f"/cashier?visit={appointment['visit_id']}"

    # A walk-in to ENT for the same patient.
    page.select_option("#walkin-service", "kham-tmh")
    page.locator("#walkin-form input[name=reason]").fill("Đau họng")
    page.click("#walkin-btn")
    page.wait_for_function("document.querySelector('#issued-number').textContent === 'G001'")
    # The walk-in ticket is saved for paper; no desk of this clinic has a printer, and the page says so.
    page.locator("#issued-slip").wait_for(state="visible")
    assert page.get_attribute("#issued-slip", "data-status") == "no_printer"
    assert "không có máy in" in page.text_content("#issued-slip") and page.locator("#slip-reprint").is_visible()
    [slip] = [s for s in hub.clinical.slips.of_visit(appointment["visit_id"]) if s["kind"] == "walk_in"]
    assert slip["content"]["stations"][0]["number"] == "G001"
    page.screenshot(path=str(artifact("reception-walk-in-slip.png")), full_page=True)

    # The printable card carries the code as text and as a QR code.
    card = page.context.new_page()
    card.goto(f"{url}/reception/patients/{code}/card")
    assert card.text_content("#card .code") == code and card.locator("#card .qr svg").count() == 1
    card.screenshot(path=str(artifact("reception-patient-card.png")))
    card.close()
