"""The calling console page in Chromium against a real hub: keys, live updates, access, concurrency."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess, start_hub
from tests.sio_client import Listener

pytestmark = pytest.mark.browser
PASSWORD = "mat-khau-123"
STAFF = (  # username, full name, role, counter
    ("lan.nguyen", "Nguyễn Thị Lan", "nurse", "p101"),
    ("minh.tran", "Trần Văn Minh", "nurse", "p102"),
    ("thu.ha", "Lê Thu Hà", "reception", "q1"),
    ("bao.an", "Phạm Bảo An", "reception", "q2"),
    ("hoa.le", "Lê Thị Hoa", "doctor", "p105"),
    ("ngoc.thu", "Đỗ Ngọc Thư", "cashier", None),
)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub process whose database has the staff accounts before it starts."""
    var_dir = tmp_path_factory.mktemp("hub-console")
    process = start_hub(var_dir, staff=tuple((username, full_name, role, PASSWORD, counter)
                                             for username, full_name, role, counter in STAFF))
    yield process
    process.stop()


def issue(hub: HubProcess, service: str, priority: str = "normal") -> dict[str, Any]:
    response = requests.post(hub.api + "/tickets", json={"service": service, "priority": priority},
                             headers=hub.headers("kiosk"), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def rows(hub: HubProcess, query: str, *args: object) -> list[tuple]:
    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        return db.execute(query, args).fetchall()


def clear_service(hub: HubProcess, service: str, counters: tuple[str, ...]) -> None:
    """No waiting tickets in `service` and no current ticket at `counters`: what earlier tests left."""
    headers = hub.headers("admin")
    for ticket in requests.get(f"{hub.api}/services/{service}/queue", headers=headers, timeout=10).json()["tickets"]:
        requests.post(f"{hub.api}/tickets/{ticket['id']}/cancel", headers=headers, timeout=10)
    for code in counters:
        current = requests.get(f"{hub.api}/counters/{code}", timeout=10).json()["ticket"]
        if current is not None:
            action = "no-show" if current["status"] == "called" else "finish"
            requests.post(f"{hub.api}/counters/{code}/{action}", headers=headers, timeout=10)


class StaffSession:
    """A staff member logged in with requests: what the page's script does, without the page."""

    def __init__(self, hub: HubProcess, username: str) -> None:
        self.hub = hub
        self.http = requests.Session()
        login = self.http.get(hub.url + "/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        response = self.http.post(hub.url + "/login", data={"username": username, "password": PASSWORD,
                                                            "csrf_token": token}, timeout=10)
        assert response.status_code == 200 and response.url.endswith("/staff"), response.status_code
        page = self.http.get(hub.url + "/console", timeout=10).text
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def post(self, path: str, body: dict | None = None, csrf: str | None = "page") -> requests.Response:
        headers = {} if csrf is None else {"X-CSRFToken": self.csrf if csrf == "page" else csrf}
        return self.http.post(self.hub.api + path, json=body, headers=headers, timeout=10)

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.hub.url + path, timeout=10)


def open_console(browser: Any, hub: HubProcess, username: str,  # noqa: F811
                 viewport: tuple[int, int] = (1280, 900)) -> Any:
    """A fresh browser context (own cookies) logged in as `username`, on /console, connected."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale="vi-VN")
    page = context.new_page()
    page.goto(hub.url + "/console")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console")
    page.wait_for_selector("#keys button[data-action=next]:not([disabled])")
    return page


# ---------------------------------------------------------------------------------------- the page
def test_two_consoles_and_the_board_follow_each_step(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    board = Listener(hub.url, {"board": "tang-1"})
    board.next("snapshot")
    first, second, third = (issue(hub, "kham-noi") for _ in range(3))
    elderly = issue(hub, "kham-noi", "elderly")
    a = open_console(browser, hub, "lan.nguyen")  # p101, her assigned room
    b = open_console(browser, hub, "minh.tran", viewport=(820, 1180))  # p102, same service, on a tablet
    try:
        expect(a.locator("h1")).to_contain_text("Phòng 101")
        expect(b.locator("h1")).to_contain_text("Phòng 102")
        expect(a.locator("#queue li")).to_have_count(4)
        # The elderly patient's head start puts the ticket first, with its mark.
        expect(a.locator("#queue li").first).to_have_attribute("data-number", elderly["number"])
        expect(a.locator(f'#queue li[data-number="{elderly["number"]}"] .prio')).to_have_text("★ Người cao tuổi")
        expect(a.locator("#keys button[data-action=next] kbd")).to_have_text("N")

        # Next, with the mouse: A calls the elderly patient; B's line and the board see it at once.
        a.click("#keys button[data-action=next]")
        expect(a.locator("#cur-number")).to_have_text(elderly["number"])
        expect(a.locator("#cur-status")).to_have_text("Đang gọi")
        expect(a.locator("#cur-calls")).to_have_text("1")
        expect(a.locator("#cur-waited")).to_have_text(re.compile(r"^\d+ phút$"))
        expect(a.locator("#counter-state")).to_have_text("Đang mở")
        call = board.next("call", where=lambda m: m["ticket"]["number"] == elderly["number"])
        assert call["counter"]["code"] == "p101" and not call["recall"]
        expect(b.locator(f'#queue li[data-number="{elderly["number"]}"]')).to_have_count(0)
        a.screenshot(path=str(artifact("console-called.png")))

        # R recalls, X marks the no-show.
        a.keyboard.press("r")
        expect(a.locator("#message")).to_have_text(f"Đã gọi lại số {elderly['number']} (lần 2).")
        expect(a.locator("#cur-calls")).to_have_text("2")
        assert board.next("call", where=lambda m: m["recall"])["ticket"]["number"] == elderly["number"]
        a.keyboard.press("f")  # not possible while called: a hint, no request
        expect(a.locator("#message")).to_have_text("Phím F không dùng được lúc này.")
        a.keyboard.press("x")
        expect(a.locator("#message")).to_have_text(f"Số {elderly['number']} vắng mặt.")
        expect(a.locator("#cur-number")).to_have_text("—")
        expect(a.locator("#fig-no-show")).to_have_text("1")
        board.next("counter", where=lambda m: m["counter"]["code"] == "p101" and m["counter"]["ticket"] is None)

        # B presses N: A's line loses that ticket at once.
        b.keyboard.press("n")
        expect(b.locator("#cur-number")).to_have_text(first["number"])
        expect(a.locator(f'#queue li[data-number="{first["number"]}"]')).to_have_count(0)
        assert board.next("call", where=lambda m: m["counter"]["code"] == "p102")["ticket"]["id"] == first["id"]

        # A: N, S, then T sends the patient to the lab with a note.
        a.keyboard.press("n")
        expect(a.locator("#message")).to_have_text(f"Đã gọi số {second['number']}.")
        a.keyboard.press("s")
        expect(a.locator("#message")).to_have_text(f"Bắt đầu phục vụ số {second['number']}.")
        expect(a.locator("#cur-status")).to_have_text("Đang phục vụ")
        a.keyboard.press("t")
        dialog = a.locator("#dlg-transfer")
        expect(dialog).to_be_visible()
        expect(dialog.locator('option[value="kham-noi"]')).to_be_disabled()
        dialog.locator("select[name=service]").select_option("xet-nghiem")
        dialog.locator("input[name=note]").fill("Công thức máu")
        a.screenshot(path=str(artifact("console-transfer.png")))
        dialog.locator("button[type=submit]").click()
        expect(dialog).to_be_hidden()
        transferred = re.compile(r"^Đã chuyển sang Xét nghiệm - Lấy mẫu: số mới X\d{3}\.$")
        expect(a.locator("#message")).to_have_text(transferred)
        expect(a.locator("#fig-served")).to_have_text("1")
        board.next("counter", where=lambda m: m["counter"]["code"] == "p101" and m["counter"]["ticket"] is None)
        lab = requests.get(hub.api + "/services/xet-nghiem/queue", headers=hub.headers("lab"), timeout=10).json()
        assert [t["transferred_from"] for t in lab["tickets"]] == [second["id"]]

        # P pauses with a reason (the board sees the state), U resumes.
        a.keyboard.press("p")
        a.locator("#dlg-pause").get_by_label("Họp giao ban").check()
        a.locator("#dlg-pause button[type=submit]").click()
        expect(a.locator("#counter-state")).to_have_text("Tạm nghỉ: Họp giao ban")
        expect(a.locator("#keys button[data-action=resume]")).to_be_enabled()
        expect(a.locator("#keys button[data-action=pause]")).to_be_disabled()
        board.next("counter", where=lambda m: m["counter"]["code"] == "p101" and m["counter"]["state"] == "paused")
        a.screenshot(path=str(artifact("console-paused.png")))
        a.keyboard.press("u")
        expect(a.locator("#message")).to_have_text("Quầy làm việc trở lại.")
        expect(a.locator("#counter-state")).to_have_text("Đang mở")
        board.next("counter", where=lambda m: m["counter"]["code"] == "p101" and m["counter"]["state"] == "open")

        # L: the late no-show is listed and goes back in line, on both consoles.
        a.keyboard.press("l")
        late = a.locator(f'#no-shows button[data-number="{elderly["number"]}"]')
        expect(late).to_be_visible()
        a.screenshot(path=str(artifact("console-late-return.png")))
        late.click()
        expect(a.locator("#message")).to_have_text(f"Số {elderly['number']} đã trở lại hàng chờ.")
        expect(b.locator(f'#queue li[data-number="{elderly["number"]}"]')).to_have_count(1)

        # C: a number that is not waiting is refused with the hub's 409 message, in the dialog.
        a.keyboard.press("c")
        a.locator("#dlg-call input[name=number]").fill(second["number"].lower())
        a.keyboard.press("Enter")
        refusal = a.locator("#dlg-call .dlg-error")
        expect(refusal).to_contain_text("Không thể làm việc này ở trạng thái hiện tại")
        expect(refusal).to_contain_text("transferred")
        expect(a.locator("#message")).to_have_class(re.compile("error"))
        a.screenshot(path=str(artifact("console-refused.png")))
        a.locator("#dlg-call input[name=number]").fill(third["number"])
        a.keyboard.press("Enter")
        expect(a.locator("#dlg-call")).to_be_hidden()
        expect(a.locator("#cur-number")).to_have_text(third["number"])
        assert board.next("call", where=lambda m: m["ticket"]["id"] == third["id"])["counter"]["code"] == "p101"
        expect(b.locator(f'#queue li[data-number="{third["number"]}"]')).to_have_count(0)
        b.screenshot(path=str(artifact("console-tablet.png")), full_page=True)
    finally:
        board.close()
        a.context.close()
        b.context.close()

    # Everything the page did is on record as the nurse's own act.
    actors = rows(hub, "SELECT DISTINCT actor FROM ticket_transitions WHERE ticket_id IN (?, ?, ?) "
                  "AND from_status IS NOT NULL", elderly["id"], second["id"], third["id"])
    assert actors == [("user:lan.nguyen",)]
    audit = rows(hub, "SELECT action, actor FROM audit_log WHERE subject IN ('p101', ?) ORDER BY id",
                 third["number"])
    assert ("counter_paused", "user:lan.nguyen") in audit and ("call_out_of_turn", "user:lan.nguyen") in audit


def test_console_marks_a_lost_hub_and_recovers(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    page = open_console(browser, hub, "thu.ha")
    try:
        expect(page.locator("#conn")).to_be_hidden()
        hub.stop()
        expect(page.locator("#conn")).to_be_visible()
        expect(page.locator("#conn")).to_contain_text("đang kết nối lại")
        for button in page.locator("#keys button").all():
            expect(button).to_be_disabled()
        page.keyboard.press("n")
        expect(page.locator("#message")).to_have_text("Phím N không dùng được lúc này.")
        page.screenshot(path=str(artifact("console-reconnecting.png")))
        hub.start()
        ticket = issue(hub, "tiep-don")
        expect(page.locator("#conn")).to_be_hidden(timeout=15_000)
        expect(page.locator(f'#queue li[data-number="{ticket["number"]}"]')).to_have_count(1)  # a fresh snapshot
        page.keyboard.press("n")
        expect(page.locator("#cur-number")).to_have_text(ticket["number"])
    finally:
        page.context.close()


def test_page_in_english(hub: HubProcess) -> None:
    staff = StaffSession(hub, "lan.nguyen")
    page = staff.get("/console?lang=en").text
    assert "Call next" in page and "Room 101" in page and '"Called {number}."' in page


# ---------------------------------------------------------------------------------------- one set of operations
def test_session_actions_are_recorded_as_the_staff_member(hub: HubProcess) -> None:
    doctor = StaffSession(hub, "hoa.le")
    ticket = issue(hub, "kham-san")
    for path, body in (("next", None), ("start", None), ("pause", {"reason": "Hội chẩn"}), ("resume", None),
                       ("finish", None)):
        response = doctor.post(f"/counters/p105/{path}", body)
        assert response.status_code == 200, response.text
    transitions = rows(hub, "SELECT to_status, actor FROM ticket_transitions WHERE ticket_id = ? ORDER BY id",
                       ticket["id"])
    assert transitions == [("waiting", "token:test-kiosk"), ("called", "user:hoa.le"), ("serving", "user:hoa.le"),
                           ("on_hold", "user:hoa.le"), ("serving", "user:hoa.le"), ("done", "user:hoa.le")]
    audit = [(action, actor, json.loads(detail)) for action, actor, detail in
             rows(hub, "SELECT action, actor, detail FROM audit_log WHERE subject = 'p105' ORDER BY id")]
    assert ("counter_paused", "user:hoa.le", {"reason": "Hội chẩn"}) in audit
    figures = doctor.http.get(hub.api + "/counters/p105/figures", timeout=10).json()["figures"]
    assert figures["served"] == 1 and figures["mean_service_minutes"] is not None


def test_consoles_and_a_keypad_never_call_the_same_ticket(hub: HubProcess) -> None:
    """Two console sessions (q1, q2) and a keypad's device token (q3) press next together, round after round."""
    consoles = [StaffSession(hub, "thu.ha"), StaffSession(hub, "bao.an")]
    clear_service(hub, "tiep-don", ("q1", "q2", "q3"))
    rounds, pressers = 8, 3
    issued = {issue(hub, "tiep-don")["id"] for _ in range(rounds * pressers)}
    barrier = threading.Barrier(pressers)
    called: list[tuple[str, int]] = []
    failures: list[str] = []

    def press(counter: str, send: Any) -> None:
        try:
            for _ in range(rounds):
                barrier.wait(timeout=20)
                response = send(f"/counters/{counter}/next")
                if response.status_code != 200:
                    failures.append(f"{counter}: {response.status_code} {response.text}")
                    continue
                called.append((counter, response.json()["id"]))
                send(f"/counters/{counter}/start")
        except Exception as exc:  # a thread's exception would otherwise vanish
            failures.append(f"{counter}: {exc!r}")

    def keypad(path: str) -> requests.Response:
        # A REST client beside the two pages (a device token would be bound to its own keypad's counter).
        return requests.post(hub.api + path, headers=hub.headers("nurse"), timeout=10)

    threads = [threading.Thread(target=press, args=("q1", consoles[0].post)),
               threading.Thread(target=press, args=("q2", consoles[1].post)),
               threading.Thread(target=press, args=("q3", keypad))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    ids = [ticket_id for _, ticket_id in called]
    assert len(ids) == rounds * pressers and len(set(ids)) == len(ids)
    assert set(ids) <= issued
    placeholders = ",".join("?" * len(ids))
    calls = rows(hub, f"SELECT ticket_id, COUNT(*) FROM ticket_transitions WHERE to_status = 'called' "
                      f"AND ticket_id IN ({placeholders}) GROUP BY ticket_id", *ids)
    assert all(count == 1 for _, count in calls) and len(calls) == len(ids)


# ---------------------------------------------------------------------------------------- access
def test_who_may_use_the_console(hub: HubProcess) -> None:
    anonymous = requests.get(hub.url + "/console", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 302 and "/login?next=/console" in anonymous.headers["Location"]
    for path in ("/counters/p101/figures", "/counters/p101/no-shows"):
        assert requests.get(hub.api + path, timeout=10).status_code == 401
        assert requests.get(hub.api + path, headers=hub.headers("kiosk"), timeout=10).status_code == 403
    nurse = StaffSession(hub, "lan.nguyen")
    assert nurse.get("/admin/counters").status_code == 403
    assert nurse.http.get(hub.api + "/counters/p101/no-shows", timeout=10).status_code == 200  # reads need no CSRF

    # A cashier without a counter chooses one; the choice stays for the session.
    cashier = StaffSession(hub, "ngoc.thu")
    assert "Bạn làm việc ở quầy hoặc phòng nào?" in cashier.get("/console").text
    assert "Quầy 5" in cashier.get("/console?counter=q5").text
    again = cashier.get("/console").text
    assert '<option value="q5" selected>' in again and '"counter": "q5"' in again
    unknown = cashier.get("/console?counter=khong-co").text
    assert "Không có quầy hoặc phòng" in unknown and '"counter": "q5"' in unknown


def test_console_api_calls_need_the_csrf_header(hub: HubProcess) -> None:
    nurse = StaffSession(hub, "minh.tran")
    for csrf in (None, "not-the-token"):
        refused = nurse.post("/counters/p102/pause", {"reason": "x"}, csrf=csrf)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    other = StaffSession(hub, "thu.ha")  # another person's token is no good either
    refused = nurse.post("/counters/p102/pause", {"reason": "x"}, csrf=other.csrf)
    assert refused.status_code == 403
    assert rows(hub, "SELECT COUNT(*) FROM audit_log WHERE actor = 'user:minh.tran' AND action = 'counter_paused'") \
        == [(0,)]
