"""The admin pages in Chromium against a real hub process: a new nurse calls at her counter, a new room
reaches the board and the kiosk without a restart, the audit trail names both; every admin page
is photographed at 1366×768 and 1920×1080 (test-artifacts/admin-*.png).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from hub.config import load_config
from hub.core import build_hub
from kiosk.catalogue import service_choices
from kiosk.hub_link import HubLink
from kiosk.lease_store import LeaseStore
from kiosk.outbox import Outbox
from kiosk.settings import KioskSettings
from kiosk.store import LocalStore
from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import HubProcess, start_hub
from tests.sio_client import Listener

pytestmark = pytest.mark.browser
ADMIN, ADMIN_PASSWORD = "quan.tri", "quan-tri-456"
ADMIN_PAGES = ("/admin/staff", "/admin/structure/services", "/admin/structure/counters",
               "/admin/structure/priority_classes", "/admin/structure/displays", "/admin/structure/hours",
               "/admin/structure/counters/p101/edit", "/admin/audit", "/admin/devices", "/admin/counters",
               "/admin/schedules", "/account/password", "/")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    var_dir = tmp_path_factory.mktemp("hub-admin")
    process = start_hub(var_dir, env={"CLINICQ_STRUCTURE_POLL_S": "0.5"},
                        staff=((ADMIN, "Trần Văn Quản", "admin", ADMIN_PASSWORD),))
    yield process
    process.stop()


def log_in(browser: Any, hub: HubProcess, username: str, password: str, path: str = "/staff",  # noqa: F811
           viewport: tuple[int, int] = (1366, 768)) -> Any:
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="vi-VN")
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(hub.url + "/login?next=" + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    return page


def audit_rows(hub: HubProcess, action: str) -> list[tuple]:
    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        return db.execute("SELECT actor, subject, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)
                          ).fetchall()


def test_admin_creates_a_nurse_who_sets_her_password_and_calls_at_her_counter(hub: HubProcess,
                                                                               browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    admin = log_in(browser, hub, ADMIN, ADMIN_PASSWORD, "/admin/staff")
    try:
        admin.wait_for_url("**/admin/staff")
        expect(admin.locator(".staff-bar .who")).to_contain_text("Quản trị")  # the role in Vietnamese
        admin.fill("#full_name", "Phạm Thị Mai")
        admin.fill("#username", "mai.pham")
        admin.select_option("#role", "nurse")
        admin.select_option("#counter", "p103")
        admin.click("#new-staff button[type=submit]")
        expect(admin.locator("#created")).to_contain_text("mai.pham")
        temporary = admin.locator("#created code.password").inner_text().strip()
        assert len(temporary) >= 10
        row = admin.locator('#staff tr[data-user="mai.pham"]')
        expect(row).to_contain_text("Điều dưỡng")
        expect(row).to_contain_text("Phòng 103")
        expect(row.locator(".status")).to_have_text("Chờ đổi mật khẩu")
    finally:
        admin.context.close()

    ticket = requests.post(hub.api + "/tickets", json={"service": "kham-ngoai"}, headers=hub.headers("kiosk"),
                           timeout=10).json()  # p103 serves kham-ngoai (config/clinic.toml)
    nurse = log_in(browser, hub, "mai.pham", temporary, "/console")
    try:
        # The temporary password opens nothing but the page to replace it.
        nurse.wait_for_url(re.compile(r"/account/password"))
        nurse.fill("input[name=current_password]", temporary)
        nurse.fill("input[name=new_password]", "mai-rat-an-toan-7")
        nurse.fill("input[name=new_password_again]", "mai-rat-an-toan-7")
        nurse.click("#password-form button[type=submit]")
        nurse.wait_for_url("**/console")
        expect(nurse.locator("h1")).to_contain_text("Phòng 103")
        expect(nurse.locator(".staff-bar .who")).to_contain_text("Phạm Thị Mai · Điều dưỡng")
        nurse.wait_for_selector("#keys button[data-action=next]:not([disabled])")
        nurse.click("#keys button[data-action=next]")
        expect(nurse.locator("#cur-number")).to_have_text(ticket["number"])
        assert not nurse.errors, nurse.errors
    finally:
        nurse.context.close()
    called = requests.get(f"{hub.api}/tickets/{ticket['id']}", headers=hub.headers("nurse"), timeout=5).json()
    assert called["status"] == "called" and called["counter"] == "p103"
    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        actor = db.execute("SELECT actor FROM ticket_transitions WHERE ticket_id = ? AND to_status = 'called'",
                           (ticket["id"],)).fetchone()[0]
    assert actor == "user:mai.pham"
    created = audit_rows(hub, "staff.create")
    assert any(r[0] == f"user:{ADMIN}" and r[1] == "mai.pham" for r in created)
    assert any(r[1] == "mai.pham" for r in audit_rows(hub, "staff.change_password"))
    # Temporary passwords work once: the old one no longer logs in.
    session = requests.Session()
    page = session.get(hub.url + "/login", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = session.post(hub.url + "/login", data={"username": "mai.pham", "password": temporary,
                                                     "csrf_token": token}, timeout=10)
    assert refused.status_code == 401


def test_a_new_room_reaches_the_board_and_the_kiosk_without_a_restart(hub: HubProcess, browser: Any,  # noqa: F811
                                                                     tmp_path: Path) -> None:
    from playwright.sync_api import expect

    board_page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    board_page.goto(hub.url + "/board/tang-1")
    board_page.wait_for_selector("#counters .counter")
    expect(board_page.locator('#counters .counter[data-code="p107"]')).to_have_count(0)
    listener = Listener(hub.url, {"board": "tang-1"})
    listener.next("snapshot")
    settings = KioskSettings(hub_url=hub.url, token=hub.tokens["kiosk"], printer="dummy", device_id="kiosk-sanh-a",
                             data_dir=tmp_path / "kiosk")
    store = LocalStore(tmp_path / "kiosk.db")
    link = HubLink(settings, store, Outbox(store), LeaseStore(store))
    link.cycle()
    version_before = link.setup["structure_version"]

    admin = log_in(browser, hub, ADMIN, ADMIN_PASSWORD, "/admin/structure/counters/new")
    try:
        admin.wait_for_url("**/admin/structure/counters/new")
        admin.fill("#f-code", "p107")
        admin.fill("#f-name", "Phòng 107")
        admin.fill("#f-name_en", "Room 107")
        admin.fill("#f-zone", "tang-1")
        admin.select_option('select[name="services.0"]', "kham-noi")
        admin.select_option('select[name="services.1"]', "kham-ngoai")
        admin.click("#item-form button[type=submit]")
        admin.wait_for_url("**/admin/structure/counters")
        expect(admin.locator('#items tr[data-key="p107"]')).to_contain_text("Phòng 107")
        # An invalid edit is refused with the field named as on the page, nothing saved.
        admin.goto(hub.url + "/admin/structure/counters/p107/edit")
        admin.fill("#f-zone", "Tầng 1")
        admin.click("#item-form button[type=submit]")
        expect(admin.locator(".flash.error").first).to_contain_text("Khu vực (bảng và loa)")
        assert not admin.errors, admin.errors
    finally:
        admin.context.close()

    # The open board redraws from a fresh snapshot: the new room is there, no reload.
    snapshot = listener.next("snapshot", where=lambda m: any(c["code"] == "p107" for c in m["counters"]))
    assert next(c for c in snapshot["counters"] if c["code"] == "p107")["name"] == "Phòng 107"
    expect(board_page.locator('#counters .counter[data-code="p107"]')).to_contain_text("Phòng 107")
    board_page.screenshot(path=str(artifact("admin-board-new-room.png")))
    board_page.context.close()
    listener.close()

    # Open the room: the kiosk's next read shows it among the rooms of Khám Nội, and re-reads its set-up.
    opened = requests.post(f"{hub.api}/counters/p107/open", headers=hub.headers("nurse"), timeout=5)
    assert opened.status_code == 200, opened.text
    link.cycle()
    assert link.setup["structure_version"] > version_before
    choices = {c["code"]: c for c in service_choices(link.services, link.counters, (), {})}
    assert any(room["name"] == "Phòng 107" for room in choices["kham-noi"]["rooms"])
    # The edit is in the audit trail with its before and after, and survives a restart of the hub.
    change = [r for r in audit_rows(hub, "structure.change") if '"p107"' in r[2]]
    assert change and change[0][0] == f"user:{ADMIN}"
    added = json.loads(change[0][2])["sections"]["counters"]["added"]
    assert [room["name"] for room in added] == ["Phòng 107"]
    hub.stop()
    hub.start()
    counters = requests.get(hub.api + "/counters", headers=hub.headers("nurse"), timeout=5).json()["counters"]
    assert any(c["code"] == "p107" and c["services"] == ["kham-noi", "kham-ngoai"] for c in counters)


def test_a_holiday_added_on_the_page_closes_the_day_for_bookings(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from datetime import date, datetime, timedelta

    from playwright.sync_api import expect

    from tests.conftest import SITE_TZ

    def slots(day: date) -> dict:
        return requests.get(hub.api + "/slots", params={"service": "kham-noi", "day": day.isoformat()},
                            timeout=5).json()

    # The hub's day is the site's: from 17:00 UTC the machine's date.today() is already yesterday there.
    today = datetime.now(SITE_TZ).date()
    day = next(d for d in (today + timedelta(days=n) for n in range(2, 12)) if slots(d)["slots"])
    page = log_in(browser, hub, ADMIN, ADMIN_PASSWORD, "/admin/structure/holidays/new")
    try:
        page.wait_for_url("**/admin/structure/holidays/new")
        page.fill("#f-day", day.isoformat())
        page.fill("#f-name", "Nghỉ bù Quốc khánh")
        page.fill("#f-name_en", "National Day (in lieu)")
        page.click("#item-form button[type=submit]")
        page.goto(hub.url + "/admin/structure/hours")
        row = page.locator(f'#holidays tr[data-key="{day.isoformat()}"]')
        expect(row).to_contain_text("Nghỉ bù Quốc khánh")
        expect(row).to_contain_text(f"{day.day:02d}/{day.month:02d}/{day.year}")  # vi-VN date, with its weekday
    finally:
        page.context.close()
    closed = slots(day)
    assert closed["slots"] == [] and closed["closed"]["name"] == "Nghỉ bù Quốc khánh"
    assert slots(day + timedelta(days=7))["closed"] is None
    assert any(r[0] == f"user:{ADMIN}" and "Nghỉ bù" in json.loads(r[2])["sections"]["holidays"]["added"][0]["name"]
               for r in audit_rows(hub, "structure.change") if '"holidays"' in r[2])


def test_a_running_hub_follows_a_change_saved_by_another_process(hub: HubProcess) -> None:
    """Another hub process (here: this test's own) saves a new version; the running one applies it by itself."""
    from hub.domain.structure.service import structure_of

    other = build_hub(load_config(hub.config_dir, env={}), var_dir=hub.var_dir, db_url=hub.db_url)
    try:
        room = {"code": "p108", "name": "Phòng 108", "name_en": "Room 108", "zone": "tang-1",
                "services": ["kham-nhi"], "hours": None, "printer": None, "speaker_zone": None}
        other.structure.change({"counters": [*structure_of(other.config.current)["counters"], room]},
                               actor="user:other-process")
        version = other.config.version
    finally:
        other.close()
    deadline = time.monotonic() + 10
    while True:
        counters = requests.get(hub.api + "/counters", headers=hub.headers("nurse"), timeout=5).json()["counters"]
        services = requests.get(hub.api + "/services", timeout=5).json()
        if any(c["code"] == "p108" for c in counters) and services["structure_version"] == version:
            break
        assert time.monotonic() < deadline, "the running hub did not apply the new structure"
        time.sleep(0.2)
    opened = requests.post(f"{hub.api}/counters/p108/open", headers=hub.headers("nurse"), timeout=5)
    assert opened.status_code == 200, opened.text


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_every_admin_page_renders_in_both_sizes(hub: HubProcess, browser: Any, size: tuple[int, int]) -> None:  # noqa: F811
    page = log_in(browser, hub, ADMIN, ADMIN_PASSWORD, "/admin/staff", viewport=size)
    try:
        page.wait_for_url("**/admin/staff")
        for path in ADMIN_PAGES:
            response = page.goto(hub.url + path)
            assert response is not None and response.status == 200, path
            text = page.locator("body").inner_text()
            # Times are local and nothing shows a raw UTC stamp or an English role in the header.
            assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text), path
            assert "· admin" not in text, path
            name = path.strip("/").replace("/", "-") or "start"
            page.screenshot(path=str(artifact(f"admin-{name}-{size[0]}x{size[1]}.png")), full_page=True)
        assert not page.errors, page.errors
    finally:
        page.context.close()


def test_start_page_links_staff_portal_kiosks_and_boards(hub: HubProcess) -> None:
    html = requests.get(hub.url + "/", timeout=5).text
    for href in ('href="/login"', 'href="/portal/login"', 'href="/board/tang-1"', 'rel="icon"'):
        assert href in html, href
    assert "Ki-ốt" in html
    icon = requests.get(hub.url + "/static/favicon.svg", timeout=5)
    assert icon.status_code == 200 and icon.text.startswith("<svg")


def test_admin_forms_refuse_other_roles_and_missing_csrf(hub: HubProcess) -> None:
    session = requests.Session()
    assert session.get(hub.url + "/admin/structure/counters", timeout=5).url.startswith(hub.url + "/login")
    page = session.get(hub.url + "/login", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(hub.url + "/login", data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token},
                 timeout=10)
    without_token = session.post(hub.url + "/admin/structure/counters/p101/remove", timeout=5)
    assert without_token.status_code == 400
    counters = requests.get(hub.api + "/counters", headers=hub.headers("nurse"), timeout=5).json()["counters"]
    assert any(c["code"] == "p101" for c in counters)
