"""The patient portal in Chromium on a phone-sized screen against a real hub: sign in, today's ticket live,
book and cancel, results, messages, English; self-registration. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from hub.domain.common.clock import VirtualClock
from hub.domain.patients.registry import PatientDetails
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess, new_hub

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
PATIENT_NAME = "Trần Thị Mai"


def start_portal_hub(var_dir: Path) -> tuple[HubProcess, str]:
    """A hub whose patient has an earlier visit (one result released, one not) and a message."""
    process = new_hub(var_dir)
    earlier = VirtualClock(datetime(2026, 3, 9, 8, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    with process.offline(clock=earlier) as setup:
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


def code_sent(hub: HubProcess, patient_code: str, after: int = 0, timeout: float = 20.0) -> str:
    """The one-time code as the demo's file channel wrote it (the hub's sending job runs every few seconds)."""
    path = hub.var_dir / "notifications.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        codes = [json.loads(line) for line in lines]
        found = [c for c in codes if c["template"] == "otp" and c["to"] == patient_code]
        if len(found) > after:
            return re.search(r"\b(\d{6})\b", found[-1]["body"]).group(1)
        time.sleep(0.3)
    raise AssertionError(f"no sign-in code for {patient_code} in {path}")


def codes_sent(hub: HubProcess, patient_code: str) -> int:
    path = hub.var_dir / "notifications.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return sum(1 for line in lines if '"otp"' in line and patient_code in line)


def enter_the_code(page: Any, hub: HubProcess, patient_code: str, before: int) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(r"/portal/login/code"))
    page.fill("input[name=otp]", code_sent(hub, patient_code, before))
    page.click("#code-form button[type=submit]")


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
        before = codes_sent(hub, code)
        page.click("#login-form button[type=submit]")
        # The card's details only send a code to the phone on record; the code signs in.
        expect(page.locator("#sent-to")).to_have_text("09••••••11")
        page.screenshot(path=str(artifact("portal-code.png")))
        assert fits_the_screen(page)
        enter_the_code(page, hub, code, before)

        # Today: the ticket with its place in line, then called live at Room 101.
        card = page.locator(f'article.ticket[data-ticket="{ticket["id"]}"]')
        expect(card.locator(".number")).to_have_text(ticket["number"])
        expect(card.locator(".line")).to_contain_text(re.compile(r"Bạn là người tiếp theo|người trước bạn"))
        # The reminder, the result's notice, and (a moment later) the in-app copy of the sign-in code.
        expect(page.locator("#unread")).to_have_text(re.compile(r"^[23]$"))
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
        # The reminder, the result's notice, the sign-in code's copy, the booking's confirmation and cancellation.
        expect(page.locator("#inbox .message", has_text="Đã có kết quả")).to_have_count(1)
        expect(page.locator("#inbox .message", has_text="Xác nhận lịch khám")).to_have_count(1)
        expect(page.locator("#inbox .message", has_text="Đã hủy lịch khám")).to_have_count(1)
        expect(page.locator("#inbox .message", has_text="Mã đăng nhập")).to_have_count(1)
        expect(page.locator("#inbox")).not_to_contain_text(re.compile(r"là \d{6}"))
        assert fits_the_screen(page)  # the confirmation carries a long signed link: it wraps
        while page.locator("#inbox .message.unread").count():
            unread = page.locator("#inbox .message.unread").count()
            page.locator("#inbox .message.unread button").first.click()
            expect(page.locator("#inbox .message.unread")).to_have_count(unread - 1)
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
        page.check("input[name=consent]")
        page.click("#register-form button[type=submit]")
        alert = page.locator("[role=alert]")
        expect(alert).to_contain_text(re.compile(r"Mã bệnh nhân của bạn là BN\d{8}"))
        new_code = re.search(r"BN\d{8}", alert.inner_text()).group(0)
        enter_the_code(page, hub, new_code, 0)  # the phone is confirmed with a code, as at sign-in
        expect(page.locator(".who")).to_contain_text("Lê Văn Sơn")
        assert fits_the_screen(page)
        page.screenshot(path=str(artifact("portal-registered.png")), full_page=True)
        assert page.errors == []
    finally:
        page.context.close()


PORTAL_PAGES = ("/portal", "/portal/bookings", "/portal/book", "/portal/book?service=kham-noi",
                "/portal/book?service=kham-noi&doctor=any", "/portal/history", "/portal/messages",
                "/portal/messages?lang=en", "/portal/history?lang=en")


def test_every_portal_page_fits_a_360_px_phone(portal_hub: tuple[HubProcess, str], browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    hub, code = portal_hub
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, locale="vi-VN")
    page = context.new_page()
    widths: dict[str, int] = {}

    def measure(name: str) -> None:
        page.wait_for_load_state()
        page.locator("h1").first.wait_for()
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(artifact(f"portal-360-{name.strip('/').replace('/', '-') or 'home'}.png")),
                        full_page=True)

    try:
        for path in ("/portal/login", "/portal/register"):
            page.goto(hub.url + path)
            measure(path)
        page.goto(hub.url + "/portal/login")
        page.fill("input[name=code]", code)
        page.fill("input[name=birth_date]", "20/08/1958")
        before = codes_sent(hub, code)
        page.click("#login-form button[type=submit]")
        measure("/portal/login/code")
        enter_the_code(page, hub, code, before)
        expect(page.locator(".who")).to_contain_text(PATIENT_NAME)
        # A booking's confirmation: its body holds a long signed link, the widest thing on any page.
        page.goto(hub.url + "/portal/book?service=kham-noi&doctor=any")
        page.locator("#days a[data-day]").first.click()
        measure("/portal/book-slots")
        page.locator("#slots a[data-start]").first.click()
        measure("/portal/book-confirm")
        page.click("#confirm-form button[type=submit]")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            page.goto(hub.url + "/portal/messages")
            if page.locator("#inbox .message", has_text="/portal/link/").count():
                break
            page.wait_for_timeout(500)
        for path in PORTAL_PAGES:
            page.goto(hub.url + path)
            measure(path)
    finally:
        context.close()
    too_wide = {name: width for name, width in widths.items() if width > 360}
    assert not too_wide, too_wide
    assert len(widths) == len(PORTAL_PAGES) + 5
