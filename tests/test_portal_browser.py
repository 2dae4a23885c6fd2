"""The patient portal in Chromium on a phone-sized screen against a real hub: sign in, today's ticket live,
book and cancel, results, messages, English; self-registration. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from hub.config import load_config
from hub.core import build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.registry import PatientDetails
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.support import free_port

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
PATIENT_NAME = "Trần Thị Mai"


def start_portal_hub(var_dir: Path) -> tuple[HubProcess, str]:
    """A hub whose patient has an earlier visit (one result released, one not) and a message."""
    process = HubProcess(var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", port=free_port())
    process.create_tokens()
    earlier = VirtualClock(datetime(2026, 3, 9, 8, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    setup = build_hub(load_config(process.config_dir, env={}), var_dir=var_dir, db_url=process.db_url, clock=earlier)
    try:
        patient = setup.booking.patients.register(PatientDetails(
            full_name=PATIENT_NAME, date_of_birth=date(1958, 8, 20), phone="0912000111"), actor="setup")
        visit = setup.booking.register_visit(patient["code"], "kham-noi", actor="setup")["visit_id"]
        setup.queue.call_next("p101", actor="setup")
        setup.queue.start("p101", actor="setup")
        setup.clinical.save_exam(visit, actor="user:bs.an", doctor="bs-an", diagnosis_code="I10")
        placed = setup.clinical.orders.place(visit, ["xn-glucose", "xn-ctm"], actor="user:bs.an", counter="p101")
        glucose, blood = (o["id"] for o in placed["orders"])
        for order in (glucose, blood):
            setup.clinical.orders.start(order, actor="user:kt")
        setup.clinical.orders.record_result(glucose, actor="user:kt", values={"GLU": 7.2}, release=True)
        setup.clinical.orders.record_result(blood, actor="user:kt", values={"WBC": 12.5, "RBC": 4.5, "HGB": 110,
                                                                            "PLT": 250})
        setup.notifications.enqueue("reminder", patient_id=patient["id"], channels=["in_app"], params={
            "patient_name": PATIENT_NAME, "appointment_code": "TK7Q2M", "date": "30/11/2026", "time": "08:30",
            "weekday": "Thứ Hai", "doctor": "BS.CKI Nguyễn Văn An", "service": "Khám Nội tổng quát",
            "link": "/portal/bookings"})
        setup.scheduler.run_pending()
    finally:
        setup.close()
    process.start()
    return process, patient["code"]


@pytest.fixture(scope="module")
def portal_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, str]]:
    process, code = start_portal_hub(tmp_path_factory.mktemp("hub-portal"))
    yield process, code
    process.stop()


def phone_page(browser: Any, hub: HubProcess) -> Any:  # noqa: F811
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                  locale="vi-VN")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def fits_the_screen(page: Any) -> bool:
    """Nothing wider than the phone: no sideways scrolling."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def api(hub: HubProcess, method: str, path: str, role: str, body: Any = None) -> Any:
    response = requests.request(method, hub.api + path, json=body, headers=hub.headers(role), timeout=10)
    assert response.ok, response.text
    return response.json() if response.content else None


def test_patient_on_a_phone(portal_hub: tuple[HubProcess, str], browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    hub, code = portal_hub
    ticket = api(hub, "POST", "/visits", "reception", {"patient_code": code, "service": "kham-noi"})["ticket"]
    page = phone_page(browser, hub)
    try:
        page.goto(hub.url + "/portal")
        expect(page).to_have_url(re.compile(r"/portal/login"))
        page.fill("input[name=code]", code.lower())
        page.fill("input[name=birth_date]", "21/08/1958")
        page.screenshot(path=str(artifact("portal-login.png")))
        page.click("#login-form button[type=submit]")
        expect(page.locator("[role=alert]")).to_contain_text("Mã bệnh nhân hoặc ngày sinh không đúng")
        page.fill("input[name=birth_date]", "20/08/1958")
        page.click("#login-form button[type=submit]")

        # Today: the ticket with its place in line, then called live at Room 101.
        card = page.locator(f'article.ticket[data-ticket="{ticket["id"]}"]')
        expect(card.locator(".number")).to_have_text(ticket["number"])
        expect(card.locator(".line")).to_contain_text(re.compile(r"Bạn là người tiếp theo|người trước bạn"))
        expect(page.locator("#unread")).to_have_text("1")
        assert fits_the_screen(page)
        page.screenshot(path=str(artifact("portal-today.png")), full_page=True)
        page.wait_for_timeout(300)  # the page's subscription is in place before the call
        called = api(hub, "POST", "/counters/p101/next", "nurse")
        assert called["id"] == ticket["id"]
        expect(card.locator(".line")).to_have_text("Mời bạn đến Phòng 101")
        expect(card).to_have_attribute("data-status", "called")
        page.screenshot(path=str(artifact("portal-called.png")))

        # Book: clinic, any doctor, the first day with room, its first time, confirm.
        page.click("text=Đặt lịch khám")
        page.click('a[data-service="kham-noi"]')
        page.click('a[data-doctor="any"]')
        page.locator("#days a[data-day]").first.click()
        assert fits_the_screen(page)
        page.screenshot(path=str(artifact("portal-book-slots.png")), full_page=True)
        page.locator("#slots a[data-start]").first.click()
        page.fill("textarea[name=reason]", "Khám sức khoẻ định kỳ")
        page.screenshot(path=str(artifact("portal-book-confirm.png")))
        page.click("#confirm-form button[type=submit]")
        expect(page.locator("[role=alert]")).to_contain_text("Mã lịch hẹn")
        booking = page.locator("article.booking[data-status=booked]")
        expect(booking).to_have_count(1)
        booking_code = booking.get_attribute("data-booking")
        assert api(hub, "GET", f"/appointments/{booking_code}", "reception")["channel"] == "portal"
        page.screenshot(path=str(artifact("portal-bookings.png")), full_page=True)
        page.once("dialog", lambda dialog: dialog.accept())
        booking.locator("button.danger").click()
        expect(page.locator("[role=alert]")).to_contain_text(f"Đã huỷ lịch hẹn {booking_code}")
        assert api(hub, "GET", f"/appointments/{booking_code}", "reception")["status"] == "cancelled"

        # History: the released glucose with its flag; the blood count waits for the doctor.
        page.click(".portal-nav >> text=Lịch sử khám")
        released = page.locator('section.result[data-state="released"]')
        expect(released).to_contain_text("7.2")
        expect(released.locator(".flag")).to_have_text("H")
        expect(page.locator('section.result[data-state="awaiting_release"]')).to_contain_text("chờ bác sĩ duyệt")
        expect(page.locator("body")).not_to_contain_text("12.5")
        assert fits_the_screen(page)
        page.screenshot(path=str(artifact("portal-history.png")), full_page=True)

        page.click(".portal-nav >> text=Tin nhắn")
        expect(page.locator("#inbox .message.unread")).to_have_count(1)
        page.click("#inbox .message button")
        expect(page.locator("#inbox .message.unread")).to_have_count(0)
        expect(page.locator("#unread")).to_be_hidden()
        page.screenshot(path=str(artifact("portal-messages.png")), full_page=True)

        page.click("text=English")
        expect(page.locator("h1")).to_have_text("Messages")
        page.click(".portal-nav >> text=Bookings")
        expect(page.locator("h1")).to_have_text("Upcoming bookings")
        assert page.errors == []
    finally:
        page.context.close()


def test_registration_on_a_phone(portal_hub: tuple[HubProcess, str], browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    hub, _ = portal_hub
    page = phone_page(browser, hub)
    try:
        page.goto(hub.url + "/portal/login?lang=vi")
        page.click("text=Đăng ký hồ sơ mới")
        page.fill("input[name=full_name]", "Trần Thị Mai")
        page.fill("input[name=birth_date]", "20/08/1958")
        page.fill("input[name=phone]", "0912 000 111")
        page.click("#register-form button[type=submit]")
        # The same person on file: asked for the CCCD, shown nothing of the record.
        expect(page.locator("[role=alert]")).to_contain_text("nhập số CCCD")
        expect(page.locator("#national-id")).to_be_focused()
        page.screenshot(path=str(artifact("portal-register-cccd.png")), full_page=True)
        page.fill("input[name=full_name]", "Lê Văn Sơn")
        page.fill("input[name=birth_date]", "05/01/1992")
        page.fill("input[name=phone]", "0987 654 321")
        page.check("input[name=sex][value=Nam]")
        page.click("#register-form button[type=submit]")
        expect(page.locator("[role=alert]")).to_contain_text(re.compile(r"Mã bệnh nhân của bạn là BN\d{8}"))
        expect(page.locator(".who")).to_contain_text("Lê Văn Sơn")
        assert fits_the_screen(page)
        page.screenshot(path=str(artifact("portal-registered.png")), full_page=True)
        assert page.errors == []
    finally:
        page.context.close()
