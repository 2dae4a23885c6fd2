"""One patient's whole day against one real `clinicq hub` process, through its pages and its REST API.

Reception registers her and books a slot with BS An for today, checks her in and takes a deposit; the
doctor's page calls her, records the exam and orders a blood count and a chest X-ray; the lab page enters
both results; she comes back to the doctor as a returning patient, who sees the results, books her
follow-up and sends her to the cashier, who settles the bill with the deposit deducted and issues the
invoice. Then the visit, the bill, the booking and the ticket period log are checked as a whole. A second
test checks a booking in at the touchscreen kiosk (a `clinicq kiosk` agent and its printer emulator).

The hub runs on the real clock. So that a slot exists now whatever the hour or weekday (night, Sunday,
lunch), the hub's database gets a schedule exception for today before the hub starts: BS An and BS Bình
work from the current minute for two hours (the admin page's "other hours" for a date, through the
domain API). Within a few minutes of local midnight the module first waits for the new day, so that the
day never changes in the middle of a visit.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import zxingcpp
from PIL import Image

from firmware_sim.printer_emulator import PrinterEmulator
from hub.formatting import format_money
from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import HubProcess, new_hub
from tests.support import free_port
from tests.test_doctor_page import PASSWORD, open_page

# The module may first wait (up to the margin) for local midnight to pass: allow for it.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

SITE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CLINICQ = Path(sys.executable).with_name("clinicq")
MIDNIGHT_MARGIN_S = 600  # the module needs about a minute; never start this close to the end of the day
STAFF = (  # username, full name, role, counter
    ("le.tan", "Lê Thị Tân", "reception", "q1"),
    ("bs.an", "BS.CKI Nguyễn Văn An", "doctor", None),  # room p101 from config/doctors.toml
    ("kt.lan", "Lê Thị Lan", "lab", "p201"),
    ("thu.ngan", "Phạm Thu Ngân", "cashier", "q5"),
)
DOCTORS = ("bs-an", "bs-binh")  # Khám Nội, rooms p101 and p102
EXAM_FEE, CTM_PRICE, XRAY_PRICE = 150_000, 90_000, 120_000
DEPOSIT = 300_000
RECEIPT = re.compile(r"^PT-(\d{4})-(\d{6})$")
INVOICE = re.compile(r"^HB-(\d{4})-(\d{6})$")
RETURNING = "★ Quay lại sau cận lâm sàng"


def site_now() -> datetime:
    return datetime.now(SITE_TZ)


def wait_out_midnight(margin_s: float = MIDNIGHT_MARGIN_S) -> None:
    """Tickets, visits and slots belong to a local day: never run a patient's day across midnight."""
    now = site_now()
    midnight = datetime.combine(now.date() + timedelta(days=1), clock_time(0), tzinfo=SITE_TZ)
    left = (midnight - now).total_seconds()
    if left < margin_s:
        time.sleep(left + 5)


def working_hours_now() -> tuple[clock_time, clock_time]:
    """Today's "other hours" for the doctors: from this minute for two hours, inside the day.

    Clamped so that the first slot (15 or 20 minutes) still fits before 23:59 and, with the midnight
    margin above, is never over before the test books it.
    """
    now = site_now().replace(second=0, microsecond=0)
    start = min(now.time(), clock_time(23, 39))
    end = min((datetime.combine(now.date(), start) + timedelta(hours=2)).time(), clock_time(23, 59))
    if end <= start:  # start + 2 h wrapped past midnight
        end = clock_time(23, 59)
    return start, end


@dataclass
class Day:
    """The running hub and what the module set up on it."""

    hub: HubProcess
    today: date
    opens: datetime  # the doctors' first slot today (site time)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    wait_out_midnight()
    var_dir = tmp_path_factory.mktemp("hub-patient-day")
    process = new_hub(var_dir)
    today = site_now().date()
    start, end = working_hours_now()
    process.add_staff(*((username, full_name, role, PASSWORD, counter) for username, full_name, role, counter in STAFF))
    with process.offline() as setup:
        for doctor in DOCTORS:
            setup.booking.schedules.set_exception(doctor, today, closed=False, start=start, end=end,
                                                  note="Ca kiểm thử", actor="user:admin")
    process.start()
    yield Day(process, today, datetime.combine(today, start, tzinfo=SITE_TZ))
    process.stop()


def api(hub: HubProcess, method: str, path: str, role: str, body: Any = None, status: int = 200) -> Any:
    response = requests.request(method, hub.api + path, json=body, headers=hub.headers(role), timeout=10)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def shot(page: Any, step: str) -> None:
    page.screenshot(path=str(artifact(f"patient-day-{step}.png")), full_page=True)


def vnd(amount: int) -> str:
    """How the cashier page writes an amount (hub/formatting.py, vi-VN)."""
    return format_money(amount)


def serve_and_finish(hub: HubProcess, counter: str, number: str) -> None:
    """A lab or imaging room calls the patient, takes the sample or the image, and finishes."""
    assert api(hub, "POST", f"/counters/{counter}/next", "lab")["number"] == number
    api(hub, "POST", f"/counters/{counter}/start", "lab")
    api(hub, "POST", f"/counters/{counter}/finish", "lab")


def rows(hub: HubProcess, query: str, *args: object) -> list[sqlite3.Row]:
    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        db.row_factory = sqlite3.Row
        return db.execute(query, args).fetchall()


def utc(text: str) -> datetime:
    """A timestamp as the hub stores it in SQLite (UTC, naive) or writes it in JSON (with an offset)."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=ZoneInfo("UTC")) if value.tzinfo is None else value


# ---------------------------------------------------------------------------------------------- the day
def test_one_patient_through_the_whole_day(day: Day, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    hub = day.hub
    pages: list[Any] = []
    try:
        # ---- 1. Reception: register her, book BS An's first slot today, check her in, take a deposit.
        desk = open_page(browser, hub, "le.tan", "/reception", viewport=(1280, 1000))
        pages.append(desk)
        form = desk.locator("#register-form")
        form.locator("input[name=full_name]").fill("Đặng Thị Hương")
        form.locator("input[name=date_of_birth]").fill("1979-04-12")
        form.locator("select[name=sex]").select_option("Nữ")
        form.locator("input[name=phone]").fill("0987 654 321")
        form.locator("input[name=national_id]").fill("001179004321")
        desk.click("#register-btn")
        expect(desk.locator("#patient")).to_be_visible()
        patient_code = desk.text_content("#patient-code")
        assert re.fullmatch(rf"BN{day.today:%y}\d{{6}}", patient_code or ""), patient_code
        expect(desk.locator("#patient-name")).to_have_text("Đặng Thị Hương")

        desk.select_option("#book-service", "kham-noi")
        desk.select_option("#book-doctor", "bs-an")
        desk.fill("#book-day", day.today.isoformat())
        desk.click("#slots-btn")
        first_slot = desk.locator("#slots button.slot").first
        expect(first_slot).to_have_attribute("data-start", day.opens.isoformat())
        first_slot.click()
        desk.locator("#book-form input[name=reason]").fill("Ho, sốt 3 ngày")
        desk.click("#book-btn")
        expect(desk.locator("#booked")).to_be_visible()
        booking = desk.get_attribute("#booked", "data-code")
        assert booking and re.fullmatch(r"[ACEFGHJKMNPRTUVWXY34679]{6}", booking), booking
        row = desk.locator(f"#today tr[data-code='{booking}']")
        expect(row).to_contain_text(patient_code)
        shot(desk, "01-booked")

        row.locator("button.checkin").click()
        desk.locator("#checkin-dialog textarea[name=symptoms]").fill("Ho khan, sốt 38,5 độ về chiều")
        desk.click("#checkin-confirm")
        expect(desk.locator("#issued-number")).to_have_text("B001")
        expect(row).to_contain_text("B001")
        shot(desk, "02-checked-in")
        appointment = api(hub, "GET", f"/appointments/{booking}", "reception")
        visit_id = appointment["visit_id"]
        assert appointment["status"] == "arrived" and appointment["channel"] == "reception"
        assert appointment["ticket"]["number"] == "B001" and appointment["slot_start"] == day.opens.isoformat()

        # The deposit link of the check-in opens the visit's bill; reception takes deposits only.
        desk.click("#deposit-link")
        desk.wait_for_url(re.compile(rf"/cashier\?visit={visit_id}$"))
        expect(desk.locator("#bill")).to_be_visible()
        assert desk.locator("#pay-form").count() == 0
        expect(desk.locator("#total")).to_have_text(vnd(EXAM_FEE))
        desk.fill("#deposit-amount", "300.000")
        desk.click("#deposit")
        expect(desk.locator("#result")).to_be_visible()
        receipt = desk.text_content("#invoice-number") or ""
        assert RECEIPT.match(receipt) and RECEIPT.match(receipt).group(1) == str(day.today.year), receipt
        expect(desk.locator("#deposits")).to_have_text(vnd(DEPOSIT))
        expect(desk.locator("#due")).to_have_attribute("data-sign", "refund")  # more in hand than billed yet
        shot(desk, "03-deposit")

        # ---- 2. The doctor calls her (a booked patient, marked so), examines her and orders lab + imaging.
        doctor = open_page(browser, hub, "bs.an", "/doctor")
        pages.append(doctor)
        expect(doctor.locator("#doctor")).to_have_attribute("data-connected", "yes")
        waiting = doctor.locator('#queue li[data-number="B001"]')
        expect(waiting).to_have_attribute("data-priority", "booked")
        expect(waiting.locator(".prio")).to_have_text("★ Có lịch hẹn")
        doctor.click("#keys button[data-action=next]")
        expect(doctor.locator("#cur-number")).to_have_text("B001")
        expect(doctor.locator("#cur-priority")).to_have_text("★ Có lịch hẹn")
        expect(doctor.locator("#p-name")).to_have_text("Đặng Thị Hương")
        expect(doctor.locator("#p-facts")).to_contain_text(patient_code)
        expect(doctor.locator("#intake-text")).to_have_text("Ho, sốt 3 ngày — Ho khan, sốt 38,5 độ về chiều")
        doctor.keyboard.press("s")
        expect(doctor.locator("#cur-status")).to_have_text("Đang khám")
        shot(doctor, "04-doctor-called")

        exam = doctor.locator("#exam-form")
        exam.locator("textarea[name=notes]").fill("Ho khan 3 ngày, sốt chiều. Phổi ran nổ đáy phải.")
        code = exam.locator("input[name=diagnosis_code]")
        code.press_sequentially("viem hong")
        suggestion = doctor.locator('#icd-suggestions li[data-code="J02.9"]')
        suggestion.click()
        expect(code).to_have_value("J02.9")
        exam.locator("textarea[name=prescription]").fill("Paracetamol 500mg x 3 lần/ngày khi sốt")
        exam.locator("button[type=submit]").click()
        expect(doctor.locator("#exam-saved")).to_have_text("Đã lưu bệnh án.")

        orders = doctor.locator("#order-form")
        orders.locator('input[value="xn-ctm"]').check()
        orders.locator('input[value="xq-nguc"]').check()
        expect(doctor.locator("#order-total")).to_have_text("Tổng: 210.000 đ")
        orders.locator("input[name=note]").fill("Nghi viêm phổi")
        orders.locator("button[type=submit]").click()
        outcome = doctor.locator("#order-outcome")
        expect(outcome).to_contain_text("Bệnh nhân đến Xét nghiệm - Lấy mẫu, số X001.")
        expect(outcome).to_contain_text("Sau đó: Chẩn đoán hình ảnh")
        expect(doctor.locator("#cur-number")).to_have_text("—")  # her ticket moved on to the lab
        expect(doctor.locator("#p-tickets")).to_contain_text("B001 Khám Nội tổng quát (đã chuyển) → X001")
        shot(doctor, "05-exam-and-orders")

        # ---- 3. Lab: the sample is taken, then the X-ray; both results are entered on the lab page.
        lab = open_page(browser, hub, "kt.lan", "/lab")
        pages.append(lab)
        block = lab.locator(f'.visit-block[data-visit="{visit_id}"]')
        expect(block.locator("header")).to_contain_text("Số X001")
        serve_and_finish(hub, "p201", "X001")
        blood = block.locator('tr[data-item="xn-ctm"]')
        expect(blood.locator(".note")).to_have_text("Nghi viêm phổi")
        blood.locator("button.act-start").click()
        expect(blood.locator(".status")).to_have_text("Đang thực hiện")
        blood.locator("button.act-result").click()
        dialog = lab.locator("#dlg-result")
        for analyte, typed in (("WBC", "14,2"), ("RBC", "4.5"), ("HGB", "131"), ("PLT", "310")):
            dialog.locator(f'input[name="value-{analyte}"]').fill(typed)
        expect(dialog.locator("#result-values tbody tr").nth(0).locator(".flag")).to_have_text("H")
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
        expect(lab.locator("#message")).to_have_text("Đã lưu kết quả Tổng phân tích tế bào máu ngoại vi.")
        shot(lab, "06-lab-result")
        # No return to the doctor yet: the X-ray is still to do.
        expect(doctor.locator('#orders tr[data-item="xn-ctm"] .status')).to_have_text("Có kết quả")
        expect(doctor.locator('#queue li[data-priority="returning"]')).to_have_count(0)

        visit = api(hub, "GET", f"/visits/{visit_id}", "nurse")
        assert [t["number"] for t in visit["tickets"]] == ["B001", "X001", "H001"]
        serve_and_finish(hub, "p203", "H001")
        lab.locator("#filters select[name=service]").select_option("cdha")
        xray = lab.locator('tr[data-item="xq-nguc"]')
        xray.locator("button.act-start").click()
        expect(xray.locator(".status")).to_have_text("Đang thực hiện")
        xray.locator("button.act-result").click()
        dialog.locator("textarea[name=report]").fill("Đám mờ không đều đáy phổi phải. Bóng tim không to.")
        dialog.locator("input[name=release]").check()
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
        expect(lab.locator("#worklist .empty")).to_have_text("Không có chỉ định nào.")
        shot(lab, "07-imaging-report")

        # ---- 4. Back to the doctor as a returning patient, with both results on screen.
        returning = doctor.locator('#queue li[data-priority="returning"]')
        expect(returning).to_have_count(1)
        expect(returning.locator(".prio")).to_have_text(RETURNING)
        expect(doctor.locator('#orders tr[data-item="xn-ctm"] tr.flag-H')).to_contain_text("14,2 G/L")
        expect(doctor.locator('#orders tr[data-item="xq-nguc"] .report')).to_contain_text("Đám mờ không đều")
        expect(doctor.locator('#orders tr[data-item="xq-nguc"] .released')).to_have_text("Đã công bố")
        shot(doctor, "08-doctor-results-back")
        doctor.click("#keys button[data-action=next]")
        expect(doctor.locator("#cur-number")).to_have_text("B002")
        expect(doctor.locator("#cur-priority")).to_have_text(RETURNING)
        expect(doctor.locator("#p-tickets")).to_contain_text("X001 Xét nghiệm - Lấy mẫu (xong) → H001")
        doctor.keyboard.press("s")
        expect(doctor.locator("#cur-status")).to_have_text("Đang khám")
        # The results settle the diagnosis: pneumonia, and an antibiotic.
        code.fill("")
        code.press_sequentially("viem phoi")
        doctor.locator('#icd-suggestions li[data-code="J18.9"]').click()
        exam.locator("textarea[name=prescription]").fill("Amoxicilin 1g x 2 lần/ngày x 7 ngày; Paracetamol khi sốt")
        exam.locator("button[type=submit]").click()
        expect(doctor.locator("#exam-saved")).to_have_text("Đã lưu bệnh án.")

        # The follow-up in 2 weeks, at the nearest free time the hub suggests.
        follow_up = doctor.locator("#follow-up-form")
        follow_up.locator("input[name=after]").fill("2")
        follow_up.locator("input[name=reason]").fill("Chụp lại X-quang phổi sau điều trị")
        follow_up.locator("#fu-find").click()
        suggested = follow_up.locator("#fu-options input[name=slot_start]").first
        expect(suggested).to_be_checked()
        follow_up_start = suggested.get_attribute("value")
        assert follow_up_start and follow_up_start[:10] > day.today.isoformat(), follow_up_start
        follow_up.locator("#fu-book").click()
        expect(follow_up.locator("#fu-booked li")).to_contain_text("Đã hẹn tái khám")
        shot(doctor, "09-follow-up")

        # T: off to the cashier.
        doctor.keyboard.press("t")
        transfer = doctor.locator("#dlg-transfer")
        transfer.locator("select[name=service]").select_option("thu-ngan")
        transfer.locator("input[name=note]").fill("Thanh toán viện phí")
        transfer.locator("button[type=submit]").click()
        expect(transfer).to_be_hidden()
        expect(doctor.locator("#message")).to_contain_text("T001")

        # ---- 5. The cashier calls her, settles the bill with the deposit deducted, issues the invoice.
        cashier = open_page(browser, hub, "thu.ngan", "/cashier", viewport=(1280, 1000))
        pages.append(cashier)
        cashier.click("#counter-panel button[data-action=open]")
        expect(cashier.locator("#counter-state")).to_have_attribute("data-state", "open")
        cashier.click("#counter-panel button[data-action=next]")
        expect(cashier.locator("#current-number")).to_have_text("T001")
        expect(cashier.locator("#visit-code")).to_have_text(f"LK{visit_id:06d}")
        cashier.click("#counter-panel button[data-action=start]")
        expect(cashier.locator("#visit-tickets")).to_have_text("B001, X001, H001, B002, T001")
        total = EXAM_FEE + CTM_PRICE + XRAY_PRICE
        expect(cashier.locator("#total")).to_have_text(vnd(total))
        expect(cashier.locator("#deposits")).to_have_text(vnd(DEPOSIT))
        expect(cashier.locator("#due")).to_have_text(vnd(total - DEPOSIT))
        expect(cashier.locator("#items tr")).to_have_count(3)  # one exam fee, though she saw the doctor twice
        cashier.fill("#tendered", "100.000")
        expect(cashier.locator("#change")).to_contain_text(vnd(100_000 - (total - DEPOSIT)))
        cashier.click("#pay")
        expect(cashier.locator("#result")).to_be_visible()
        invoice_number = cashier.text_content("#invoice-number") or ""
        assert INVOICE.match(invoice_number), invoice_number
        assert INVOICE.match(invoice_number).groups() == (str(day.today.year), "000001")
        expect(cashier.locator("#due")).to_have_text(vnd(0))
        shot(cashier, "10-cashier-paid")
        cashier.click("#counter-panel button[data-action=finish]")
        expect(cashier.locator("#current-number")).to_have_text("—")
        for page in pages:
            assert page.errors == [], page.errors
    finally:
        for page in pages:
            page.context.close()

    # ---- 6. The day on record.
    check_visit(hub, visit_id, patient_code)
    check_bill(hub, visit_id, receipt, invoice_number)
    check_booking(hub, booking, visit_id, follow_up_start)
    check_period_log(hub, visit_id)


def check_visit(hub: HubProcess, visit_id: int, patient_code: str) -> None:
    visit = api(hub, "GET", f"/visits/{visit_id}", "doctor")
    assert visit["patient"]["code"] == patient_code and visit["today"] is True
    tickets = [(t["number"], t["service"], t["status"], t["counter"], t["source"]) for t in visit["tickets"]]
    assert tickets == [
        ("B001", "kham-noi", "transferred", "p101", "reception"),  # checked in at the desk
        ("X001", "xet-nghiem", "done", "p201", "transfer"),
        ("H001", "cdha", "done", "p203", "order"),
        ("B002", "kham-noi", "transferred", "p101", "order"),
        ("T001", "thu-ngan", "done", "q5", "transfer"),
    ]
    # The booking's and the return's head starts stay with their tickets; the lab and imaging lines get
    # the patient's own class. (A manual transfer copies the ticket's class: T001 is "returning" too,
    # see the report's open points.)
    assert [t["priority"] for t in visit["tickets"][:4]] == ["booked", "normal", "normal", "returning"]
    assert visit["exam"]["diagnosis_code"] == "J18.9"
    assert visit["exam"]["diagnosis_text"] == "Viêm phổi, không đặc hiệu"
    assert visit["exam"]["prescription"].startswith("Amoxicilin") and visit["exam"]["doctor"]["code"] == "bs-an"
    assert visit["intake"]["reason"] == "Ho, sốt 3 ngày"
    by_item = {o["item"]: o for o in visit["orders"]}
    assert set(by_item) == {"xn-ctm", "xq-nguc"}
    assert all(o["status"] == "resulted" and o["ordered_by"] == "user:bs.an" for o in by_item.values())
    assert all(o["resulted_by"] == "user:kt.lan" for o in by_item.values())
    values = {v["code"]: (v["value"], v["flag"]) for v in by_item["xn-ctm"]["values"]}
    assert values == {"WBC": (14.2, "H"), "RBC": (4.5, None), "HGB": (131.0, None), "PLT": (310.0, None)}
    assert by_item["xq-nguc"]["report"].startswith("Đám mờ") and by_item["xq-nguc"]["released"] is True
    assert by_item["xn-ctm"]["ticket"]["number"] == "X001" and by_item["xq-nguc"]["ticket"]["number"] == "H001"


def check_bill(hub: HubProcess, visit_id: int, receipt: str, invoice_number: str) -> None:
    bill = api(hub, "GET", f"/visits/{visit_id}/bill", "cashier")
    total = EXAM_FEE + CTM_PRICE + XRAY_PRICE
    assert (bill["total"], bill["deposits"], bill["paid"], bill["refunded"], bill["due"]) == \
        (total, DEPOSIT, total - DEPOSIT, 0, 0)
    assert bill["settled"] is True and bill["pending"] is None
    assert sorted((i["key"], i["amount"]) for i in bill["items"]) == sorted(
        [("exam:kham-noi", EXAM_FEE), *((f"order:{o['id']}", o["price"]) for o in
                                        api(hub, "GET", f"/visits/{visit_id}", "doctor")["orders"])])
    payments = [(p["kind"], p["method"], p["amount"], p["status"]) for p in bill["payments"]]
    assert payments == [("deposit", "cash", DEPOSIT, "approved"), ("payment", "cash", total - DEPOSIT, "approved")]
    assert bill["payments"][0]["receipt_no"] == receipt
    assert bill["payments"][1]["invoice_number"] == invoice_number
    # The settlement took money, so it has its receipt too: the next number of the same series.
    assert int(RECEIPT.match(bill["payments"][1]["receipt_no"]).group(2)) == int(RECEIPT.match(receipt).group(2)) + 1
    [invoice] = bill["invoices"]
    assert invoice["number"] == invoice_number and invoice["status"] == "issued"
    assert (invoice["total"], invoice["deposits"], invoice["due"]) == (total, DEPOSIT, total - DEPOSIT)


def check_booking(hub: HubProcess, booking: str, visit_id: int, follow_up_start: str | None) -> None:
    appointment = api(hub, "GET", f"/appointments/{booking}", "reception")
    moves = [(e["from"], e["to"], e["actor"]) for e in appointment["events"]]
    assert moves == [(None, "booked", "user:le.tan"), ("booked", "arrived", "user:le.tan"),
                     ("arrived", "fulfilled", "system")], moves
    assert appointment["status"] == "fulfilled"
    # Fulfilled when the doctor sent her on to the cashier, not when her first ticket went to the lab.
    [sent_on] = rows(hub, "SELECT x.at FROM ticket_transitions x JOIN tickets t ON t.id = x.ticket_id "
                          "WHERE t.visit_id = ? AND t.number = 'B002' AND x.to_status = 'transferred'", visit_id)
    assert utc(appointment["events"][-1]["at"]) >= utc(sent_on["at"])
    [series] = api(hub, "GET", f"/visits/{visit_id}/follow-ups", "doctor")["series"]
    [follow_up] = series["appointments"]
    assert follow_up["slot_start"] == follow_up_start and follow_up["status"] == "booked"
    assert follow_up["kind"] == "follow_up" and follow_up["doctor"] == "bs-an"
    assert follow_up["reason"] == "Chụp lại X-quang phổi sau điều trị"


def check_period_log(hub: HubProcess, visit_id: int) -> None:
    """Every ticket's transitions chain without a gap, and the patient held one live ticket at a time."""
    tickets = rows(hub, "SELECT * FROM tickets WHERE visit_id = ? ORDER BY id", visit_id)
    previous_end: datetime | None = None
    for ticket in tickets:
        log = rows(hub, "SELECT * FROM ticket_transitions WHERE ticket_id = ? ORDER BY id", ticket["id"])
        path = [row["to_status"] for row in log]
        last = "transferred" if ticket["status"] == "transferred" else "done"
        assert path == ["waiting", "called", "serving", last], (ticket["number"], path)
        assert log[0]["from_status"] is None and utc(log[0]["at"]) == utc(ticket["issued_at"])
        for before, after in pairwise(log):
            assert after["from_status"] == before["to_status"]
            assert after["started_at"] == before["at"]  # each row closes the period the previous one opened
            spent = (utc(after["at"]) - utc(after["started_at"])).total_seconds() * 1000
            assert abs(after["duration_ms"] - spent) <= 1 and after["duration_ms"] >= 0
        assert sum(row["duration_ms"] for row in log[1:]) == pytest.approx(
            (utc(log[-1]["at"]) - utc(ticket["issued_at"])).total_seconds() * 1000, abs=len(log))
        assert utc(ticket["finished_at"]) == utc(log[-1]["at"])
        if previous_end is not None:
            assert utc(ticket["issued_at"]) >= previous_end, ticket["number"]  # one step at a time
        previous_end = utc(log[-1]["at"])
    transferred = {t["number"]: t["transferred_from_id"] for t in tickets}
    ids = {t["number"]: t["id"] for t in tickets}
    assert transferred["X001"] == ids["B001"] and transferred["T001"] == ids["B002"]
    actors = {(t["number"], row["to_status"]): row["actor"] for t in tickets
              for row in rows(hub, "SELECT * FROM ticket_transitions WHERE ticket_id = ?", t["id"])}
    assert actors[("B001", "waiting")] == "user:le.tan"  # checked in at the desk
    assert actors[("B001", "called")] == actors[("B002", "transferred")] == "user:bs.an"
    assert actors[("T001", "done")] == "user:thu.ngan"


# ---------------------------------------------------------------------------------------------- the kiosk
@dataclass
class KioskAgent:
    url: str
    emulator: PrinterEmulator
    log: Path

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:]) if self.log.exists() else ""


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory, day: Day) -> Iterator[KioskAgent]:
    """`clinicq kiosk` printing to the ESC/POS printer emulator (no broker: bookings need only REST)."""
    data_dir = tmp_path_factory.mktemp("kiosk-patient-day")
    port = free_port()
    with PrinterEmulator(data_dir / "printed", width_mm=80, port=0) as emulator:
        log_path = data_dir / "kiosk.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [str(CLINICQ), "kiosk", "--hub", day.hub.url, "--token", day.hub.tokens["kiosk"],
                 "--printer", f"network:127.0.0.1:{emulator.port}", "--port", str(port), "--id", "kiosk-sanh-a",
                 "--data", str(data_dir), "--services", "kham-noi", "--lease-size", "2", "--poll", "0.5"],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        agent = KioskAgent(f"http://127.0.0.1:{port}", emulator, log_path)
        try:
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None, agent.log_tail()
                try:
                    state = requests.get(agent.url + "/api/state", timeout=2).json()
                    if state["ready"] and state["online"]:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "the kiosk did not come online: " + agent.log_tail()
                time.sleep(0.2)
            yield agent
        finally:
            process.terminate()
            assert process.wait(timeout=15) == 0, agent.log_tail()


def kiosk_rooms(kiosk: KioskAgent, service: str) -> list[str]:
    """The rooms the kiosk page would name for a service now."""
    services = requests.get(kiosk.url + "/api/state", timeout=5).json()["services"]
    return [room["code"] for s in services if s["code"] == service for room in s["rooms"]]


def test_kiosk_checks_a_booking_in_and_prints_a_booked_ticket(day: Day, kiosk: KioskAgent,
                                                              browser: Any) -> None:  # noqa: F811
    hub = day.hub
    patient = api(hub, "POST", "/patients", "reception", status=201, body={
        "full_name": "Vũ Minh Khôi", "date_of_birth": "1990-02-03", "sex": "Nam", "phone": "0903111222"})
    [slot, *_] = api(hub, "GET", f"/slots?day={day.today}&doctor=bs-binh", "reception")["slots"]
    assert slot["start"] == day.opens.isoformat()
    booking = api(hub, "POST", "/appointments", "reception", status=201, body={
        "patient_code": patient["code"], "doctor": "bs-binh", "slot_start": slot["start"], "channel": "callcenter"})
    assert booking["status"] == "booked"
    # BS Bình's room opens; the kiosk learns it on its next poll of the hub.
    api(hub, "POST", "/counters/p102/open", "nurse")
    deadline = time.monotonic() + 10
    while "p102" not in kiosk_rooms(kiosk, "kham-noi"):
        assert time.monotonic() < deadline, kiosk_rooms(kiosk, "kham-noi")
        time.sleep(0.2)

    context = browser.new_context(viewport={"width": 1080, "height": 1920}, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(kiosk.url)
        page.wait_for_selector("#go-booking")
        page.click("#go-booking")
        for key in booking["code"]:
            page.click(f"#keypad button:text-is('{key}')")
        assert page.input_value("#booking-code") == booking["code"]
        page.screenshot(path=str(artifact("patient-day-kiosk-booking.png")))
        printed_before = len(kiosk.emulator.pages)
        page.click("#booking-submit")
        page.wait_for_selector("[data-screen=result]:not([hidden])")
        page.wait_for_selector("#result-print[data-state=printed]")
        page.screenshot(path=str(artifact("patient-day-kiosk-result.png")))
        number = page.inner_text("#result-number")
        assert page.inner_text("#result-priority") == "Ưu tiên: Có lịch hẹn"
        assert page.inner_text("#result-service") == "Khám Nội tổng quát"
        assert "Phòng 102" in page.inner_text("#result-rooms")
        assert page.inner_text("#result-print") == "Mời lấy phiếu"
        # The same code again (a second tap, a relative with the same message): her number, not a new one.
        page.click("#done")
        page.click("#go-booking")
        page.fill("#booking-code", booking["code"].lower())
        page.click("#booking-submit")
        page.wait_for_selector("[data-screen=message]:not([hidden])")
        assert page.inner_text("#message-text") == \
            f"Lịch hẹn {booking['code']} đã check-in, số của bạn là {number}"
        assert errors == []
    finally:
        context.close()

    checked_in = api(hub, "GET", f"/appointments/{booking['code']}", "reception")
    assert checked_in["status"] == "arrived" and checked_in["ticket"]["number"] == number
    ticket = api(hub, "GET", f"/tickets/{checked_in['ticket']['id']}", "reception")
    assert (ticket["priority"], ticket["service"], ticket["status"]) == ("booked", "kham-noi", "waiting")
    [path] = kiosk.emulator.wait_for_pages(printed_before + 1)[printed_before:]
    image = Image.open(path)
    [qr] = [result.text for result in zxingcpp.read_barcodes(image)]
    assert qr == ticket["status_url"]
    assert len(kiosk.emulator.pages) == printed_before + 1  # the refused second try printed nothing
