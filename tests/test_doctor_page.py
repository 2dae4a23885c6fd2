"""The doctor's page in Chromium against a real hub: call, examine with ICD-10, order lab and imaging."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import insert

from hub.config import load_config
from hub.core import build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.models import Patient
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.support import free_port

pytestmark = pytest.mark.browser
PASSWORD = "mat-khau-123"
STAFF = (  # username, full name, role, counter
    ("bs.an", "BS Nguyễn Văn An", "doctor", None),  # his room p101 comes from config/doctors.toml
    ("kt.lan", "Lê Thị Lan", "lab", "p201"),
    ("dd.hoa", "Nguyễn Thị Hoa", "nurse", None),
)
PATIENT_CODE = "BN20261001"
PATIENT_NAME = "Trần Thị Mai"


def start_clinical_hub(var_dir: Path) -> HubProcess:
    """A hub whose database has the staff, a patient and an earlier visit of hers (for the history)."""
    process = HubProcess(var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", port=free_port())
    process.create_tokens()
    earlier = VirtualClock(datetime(2026, 3, 9, 8, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    setup = build_hub(load_config(process.config_dir, env={}), var_dir=var_dir, db_url=process.db_url, clock=earlier)
    try:
        for username, full_name, role, counter in STAFF:
            setup.staff.add(username, full_name, role, PASSWORD, counter=counter)
        with setup.db.write() as connection:
            patient_id = connection.execute(insert(Patient).values(
                code=PATIENT_CODE, full_name=PATIENT_NAME, date_of_birth=date(1958, 8, 20), sex="Nữ",
                insurance_no="HT2790123456789", created_at=earlier.now()).returning(Patient.id)).scalar_one()
        visit = setup.queue.issue("kham-noi", patient_id=patient_id)["visit_id"]
        setup.queue.call_next("p101", actor="setup")
        setup.queue.start("p101", actor="setup")
        setup.clinical.save_exam(visit, actor="user:bs.an", diagnosis_code="I10", notes="HA 160/95",
                                 prescription="Amlodipin 5mg x 1 viên/ngày")
        order = setup.clinical.orders.place(visit, ["xn-glucose"], actor="user:bs.an", counter="p101")
        order_id = order["orders"][0]["id"]
        setup.clinical.orders.start(order_id, actor="user:kt.lan")
        setup.clinical.orders.record_result(order_id, actor="user:kt.lan", values={"GLU": 7.2})
    finally:
        setup.close()
    process.start()
    return process


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_clinical_hub(tmp_path_factory.mktemp("hub-doctor"))
    yield process
    process.stop()


def api(hub: HubProcess, method: str, path: str, role: str, body: Any = None, status: int = 200) -> Any:
    response = requests.request(method, hub.api + path, json=body, headers=hub.headers(role), timeout=10)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def take_ticket(hub: HubProcess, service: str = "kham-noi") -> dict[str, Any]:
    return api(hub, "POST", "/tickets", "kiosk", {"service": service, "patient_code": PATIENT_CODE}, status=201)


def record_intake(hub: HubProcess, visit_id: int, reason: str, symptoms: str) -> None:
    """What reception writes at check-in (the booking side owns that page; the row is all we need)."""
    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        db.execute("INSERT INTO visit_intakes (visit_id, reason, symptoms, service, recorded_by, recorded_at) "
                   "VALUES (?, ?, ?, 'kham-noi', 'user:le.tan', ?)",
                   (visit_id, reason, symptoms, datetime.now(UTC).replace(tzinfo=None).isoformat(" ")))


def open_page(browser: Any, hub: HubProcess, username: str, path: str,  # noqa: F811
              viewport: tuple[int, int] = (1400, 1000)) -> Any:
    """A fresh browser context logged in as `username` on `path`; page errors are kept in page.errors."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="vi-VN")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(hub.url + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(path) + r"(\?.*)?$"))
    return page


def test_doctor_calls_examines_and_orders(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    ticket = take_ticket(hub)
    record_intake(hub, ticket["visit_id"], "Sốt, đau họng", "Sốt cao 2 ngày, nuốt đau")
    page = open_page(browser, hub, "bs.an", "/doctor")
    try:
        expect(page.locator("h1")).to_contain_text("Phòng 101")
        expect(page.locator("#doctor")).to_have_attribute("data-connected", "yes")
        expect(page.locator(f'#queue li[data-number="{ticket["number"]}"]')).to_have_count(1)

        # N calls the patient: her record opens with the earlier visit in the history.
        page.click("#keys button[data-action=next]")
        expect(page.locator("#cur-number")).to_have_text(ticket["number"])
        expect(page.locator("#p-name")).to_have_text(PATIENT_NAME)
        expect(page.locator("#p-facts")).to_contain_text(PATIENT_CODE)
        expect(page.locator("#p-facts")).to_contain_text("BHYT HT2790123456789")
        expect(page.locator("#intake-text")).to_have_text("Sốt, đau họng — Sốt cao 2 ngày, nuốt đau")
        expect(page.locator("#history details")).to_have_count(1)
        expect(page.locator("#history summary")).to_contain_text("09/03/2026")
        expect(page.locator("#history summary")).to_contain_text("I10")
        page.keyboard.press("s")
        expect(page.locator("#cur-status")).to_have_text("Đang khám")

        # The examination, with the ICD-10 code found by typing without diacritics.
        form = page.locator("#exam-form")
        form.locator("textarea[name=notes]").fill("Sốt 38,5 độ, đau họng 2 ngày. Họng đỏ, amidan không sưng.")
        form.locator("input[name=diagnosis_code]").fill("J6")
        form.locator("button[type=submit]").click()
        expect(form.locator(".form-error")).to_contain_text("Mã ICD-10 không hợp lệ")
        code = form.locator("input[name=diagnosis_code]")
        code.fill("")
        code.press_sequentially("viem hong")
        suggestion = page.locator("#icd-suggestions li").first
        expect(suggestion).to_have_attribute("data-code", "J02.9")
        page.screenshot(path=str(artifact("doctor-icd10.png")))
        suggestion.click()
        expect(code).to_have_value("J02.9")
        expect(form.locator("input[name=diagnosis_text]")).to_have_value("Viêm họng cấp, không đặc hiệu")
        form.locator("textarea[name=prescription]").fill("Paracetamol 500mg x 3 lần/ngày x 3 ngày")
        form.locator("button[type=submit]").click()
        expect(page.locator("#exam-saved")).to_have_text("Đã lưu bệnh án.")
        expect(form.locator(".form-error")).to_be_hidden()

        # Orders: a blood count and a chest X-ray; the patient goes to the lab first.
        orders = page.locator("#order-form")
        orders.locator('input[value="xn-ctm"]').check()
        orders.locator('input[value="xq-nguc"]').check()
        expect(page.locator("#order-total")).to_have_text("Tổng: 210.000 đ")
        orders.locator("button[type=submit]").click()
        outcome = page.locator("#order-outcome")
        expect(outcome).to_contain_text(re.compile(r"Bệnh nhân đến Xét nghiệm - Lấy mẫu, số X\d{3}\."))
        expect(outcome).to_contain_text("Sau đó: Chẩn đoán hình ảnh")
        expect(page.locator("#orders tbody tr")).to_have_count(2)
        expect(page.locator('#orders tr[data-item="xn-ctm"] .status')).to_have_text("Đã chỉ định")
        # The ticket moved on to the lab; the patient stays on screen until the next call.
        expect(page.locator("#cur-number")).to_have_text("—")
        expect(page.locator("#p-name")).to_have_text(PATIENT_NAME)
        expect(page.locator("#p-tickets")).to_contain_text(re.compile(r"\(đã chuyển\) → X\d{3} Xét nghiệm"))
        page.screenshot(path=str(artifact("doctor-ordered.png")), full_page=True)

        visit = api(hub, "GET", f"/visits/{ticket['visit_id']}", "nurse")
        assert visit["exam"]["diagnosis_code"] == "J02.9" and visit["exam"]["prescription"].startswith("Paracetamol")
        assert {o["item"] for o in visit["orders"]} == {"xn-ctm", "xq-nguc"}
        statuses = {t["service"]: t["status"] for t in visit["tickets"]}
        assert statuses == {"kham-noi": "transferred", "xet-nghiem": "waiting"}

        # The patient's own ticket page now says where to go, and follows the lab ticket.
        status_page = page.context.new_page()
        status_errors: list[str] = []
        status_page.on("pageerror", lambda error: status_errors.append(str(error)))
        status_page.goto(re.sub(r"^https?://[^/]+", hub.url, ticket["status_url"]))
        expect(status_page.locator("#next-link")).to_contain_text("Tiếp theo: Xét nghiệm - Lấy mẫu")
        status_page.screenshot(path=str(artifact("ticket-status-next.png")))
        status_page.wait_for_url(re.compile(r"/t/\d+\?k="), timeout=10_000)
        lab_ticket = next(t for t in visit["tickets"] if t["service"] == "xet-nghiem")
        expect(status_page.locator("#number")).to_have_text(lab_ticket["number"], timeout=10_000)
        assert page.errors == [] and status_errors == []
    finally:
        page.context.close()


def test_doctor_page_in_english_and_for_other_roles(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    nurse = open_page(browser, hub, "dd.hoa", "/staff")
    try:
        response = nurse.goto(hub.url + "/doctor")
        assert response is not None and response.status == 403
    finally:
        nurse.context.close()
    page = open_page(browser, hub, "bs.an", "/doctor")
    try:
        page.goto(hub.url + "/doctor?lang=en")
        expect(page.locator("#exam-form h3")).to_have_text("Examination")
        expect(page.locator("#keys button[data-action=next]")).to_contain_text("Call next")
        assert page.errors == []
    finally:
        page.context.close()
