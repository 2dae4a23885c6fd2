"""The TV board page in Debian's Chromium against a real hub: calls, recalls, restarts, layouts, privacy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import HubProcess, start_hub
from tests.support import require_service

pytestmark = pytest.mark.browser

SITE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
PATIENT_NOTE = "Nguyễn Văn An đau bụng"
SNAPSHOT_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-board"))
    try:
        served = requests.get(process.url + "/static/vendor/socket.io.min.js", timeout=5).status_code == 200
        require_service("socket.io client", served, "run `make setup` (npm ci copies it to hub/web/static/vendor)")
        yield process
    finally:
        process.stop()


def api_post(hub: HubProcess, path: str, body: dict | None = None, role: str = "nurse") -> requests.Response:
    response = requests.post(hub.api + path, json=body, headers=hub.headers(role), timeout=10)
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response


def issue(hub: HubProcess, service: str, **extra: Any) -> str:
    return api_post(hub, "/tickets", {"service": service, **extra}, role="kiosk").json()["number"]


def call_next(hub: HubProcess, counter: str, role: str = "nurse") -> str:
    response = api_post(hub, f"/counters/{counter}/next", role=role)
    assert response.status_code == 200, f"nobody waits at {counter}"
    return response.json()["number"]


def call_until(hub: HubProcess, counter: str, number: str, role: str) -> None:
    """Press "next" until `number` is called (tickets of earlier tests may wait ahead of it)."""
    for _ in range(30):
        if call_next(hub, counter, role=role) == number:
            return
    raise AssertionError(f"{number} was never called at {counter}")


@dataclass
class Board:
    """An open board page and what it asked the network for."""

    page: Any
    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def rows(self) -> list[str]:
        return self.page.eval_on_selector_all("#calls .call:not(.empty)", "rows => rows.map(r => r.dataset.ticket)")

    def wait_rows(self, expected: list[str], timeout: float = 10_000) -> None:
        self.page.wait_for_function(
            "want => Array.from(document.querySelectorAll('#calls .call:not(.empty)'))"
            ".slice(0, want.length).map(r => r.dataset.ticket).join() === want.join()",
            arg=expected, timeout=timeout)

    def row_classes(self, index: int) -> set[str]:
        return set(self.page.eval_on_selector_all(
            "#calls .call", "(rows, i) => Array.from(rows[i].classList)", index))

    def flashing(self, selector: str) -> bool:
        return self.page.eval_on_selector(
            selector, "el => el.getAnimations().some(a => a.animationName === 'flash' && a.playState === 'running')")

    def node_count(self) -> int:
        return self.page.evaluate("document.getElementsByTagName('*').length")


@contextmanager
def open_board(browser: Any, hub: HubProcess, board_id: str, width: int = 1920, height: int = 1080,  # noqa: F811
               before: Any = None) -> Iterator[Board]:
    """Open /board/<id>, wait for its first snapshot; afterwards check it spoke to the hub only."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    board = Board(page)
    page.on("request", lambda request: board.urls.append(request.url))
    page.on("pageerror", lambda error: board.errors.append(str(error)))
    if before:
        before(page)
    try:
        page.goto(f"{hub.url}/board/{board_id}")
        page.wait_for_function("Number(document.body.dataset.snapshots) >= 1", timeout=SNAPSHOT_TIMEOUT_MS)
        yield board
        hub_host = urlsplit(hub.url).netloc
        foreign = [u for u in board.urls if urlsplit(u).scheme not in ("data", "blob")
                   and urlsplit(u).netloc != hub_host]
        assert not foreign, f"the board asked hosts other than the hub: {foreign}"
        assert not board.errors, f"script errors on the board: {board.errors}"
    finally:
        context.close()


def test_calls_in_order_newest_highlighted_and_a_recall_flashes_again(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    with open_board(browser, hub, "tang-1") as board:
        issue(hub, "kham-noi")
        issue(hub, "kham-ngoai")
        issue(hub, "kham-nhi")
        first = call_next(hub, "p101")
        second = call_next(hub, "p103", role="doctor")
        third = call_next(hub, "p104")
        board.wait_rows([third, second, first])
        assert "newest" in board.row_classes(0) and "flash" in board.row_classes(0)
        assert "newest" not in board.row_classes(1) and "newest" not in board.row_classes(2)
        assert board.flashing("#calls .call.newest")
        tile = board.page.locator(".counter[data-code='p104']")
        assert tile.locator(".num").inner_text() == third and tile.get_attribute("data-status") == "called"

        # The flash lasts a few seconds, then the newest call stays highlighted without flashing.
        board.page.wait_for_function("!document.querySelector('#calls .call.newest').classList.contains('flash')",
                                     timeout=10_000)
        assert "newest" in board.row_classes(0)
        board.page.screenshot(path=artifact("board-tang-1-three-calls.png"))

        api_post(hub, "/counters/p101/recall")
        board.wait_rows([first, third, second])
        assert {"newest", "recall", "flash"} <= board.row_classes(0)
        assert board.flashing("#calls .call.newest") and board.flashing(".counter[data-code='p101']")
        assert board.page.locator("#calls .call.newest .tag").inner_text() == "Gọi lại"
        assert board.rows().count(first) == 1, "a recall moves the ticket up instead of repeating it"
        board.page.screenshot(path=artifact("board-tang-1-recall.png"))


def test_a_patient_note_never_reaches_the_page(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    frames: list[str] = []

    def listen(page: Any) -> None:
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))

    with open_board(browser, hub, "sanh-a", before=listen) as board:
        ticket = api_post(hub, "/tickets", {"service": "tiep-don", "note": PATIENT_NOTE}, role="reception").json()
        call_until(hub, "q1", ticket["number"], role="reception")
        board.wait_rows([ticket["number"]])
        html = board.page.content()
        for fragment in ("Nguyễn", "Văn An", "đau bụng"):
            assert fragment not in html
            assert not any(fragment in frame for frame in frames)
        assert frames, "the board should have received Socket.IO frames"


def test_reconnecting_mark_then_resync_after_a_hub_restart(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    with open_board(browser, hub, "tong-hop") as board:
        page = board.page
        conn = page.locator("#conn")
        assert not conn.is_visible()
        hub.stop()
        page.wait_for_function("document.body.classList.contains('offline')", timeout=10_000)
        assert conn.is_visible() and "Đang kết nối lại" in conn.inner_text()
        page.wait_for_function("parseFloat(getComputedStyle(document.getElementById('data')).opacity) < 0.5")
        page.screenshot(path=artifact("board-tong-hop-reconnecting.png"))

        hub.start()
        number = issue(hub, "thu-ngan")
        call_until(hub, "q5", number, role="cashier")
        board.wait_rows([number], timeout=30_000)
        page.wait_for_function("!document.body.classList.contains('offline')", timeout=10_000)
        assert not conn.is_visible()
        assert page.locator(".counter[data-code='q5'] .num").inner_text() == number


def test_dom_stays_bounded_over_200_calls(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    with open_board(browser, hub, "tang-1") as board:
        before = board.node_count()
        # Plain requests, not a Session: a kept-alive connection to the hub waits ~40 ms per request
        # (small writes meeting delayed ACKs), which would make this loop four times slower.
        for _ in range(75):  # each ticket takes three presses (call, recall, recall) before a no-show
            issue(hub, "kham-noi")
        last = ""
        for press in range(200):
            last = call_next(hub, "p101" if press % 2 else "p102")
        board.wait_rows([last], timeout=20_000)
        after = board.node_count()
        animations = board.page.evaluate("document.getAnimations().length")
        assert after == before, f"DOM grew from {before} to {after} nodes over 200 calls"
        assert len(board.rows()) <= 6
        assert animations <= 10, f"{animations} animations are alive: flashes are piling up"


@pytest.fixture(scope="module")
def busy_clinic(hub: HubProcess) -> None:
    """Tickets waiting in every service and a few called, so layout screenshots show real content."""
    for service in ("tiep-don", "thu-ngan", "nha-thuoc", "kham-noi", "kham-nhi", "xet-nghiem", "cdha"):
        for _ in range(4):
            issue(hub, service)
    for counter, role in (("q2", "reception"), ("q3", "reception"), ("nt1", "cashier"), ("p201", "lab"),
                          ("p203", "lab")):
        call_next(hub, counter, role=role)


@pytest.mark.parametrize(("board_id", "width", "height"), [
    ("sanh-a", 1920, 1080), ("tong-hop", 1920, 1080), ("tong-hop", 3840, 2160), ("tang-2", 1080, 1920)])
def test_layouts_render_without_overflow(hub: HubProcess, browser: Any, busy_clinic: None,  # noqa: F811
                                         board_id: str, width: int, height: int) -> None:
    with open_board(browser, hub, board_id, width, height) as board:
        board.page.wait_for_timeout(300)  # let the grids settle after the first snapshot
        board.page.screenshot(path=artifact(f"board-{board_id}-{width}x{height}.png"))
        report = board.page.evaluate("""() => {
            const root = document.documentElement;
            // Big text must be whole: not wider than its box, and inside the tile, row or card that holds it.
            const inside = (el, box) => { const r = el.getBoundingClientRect(), b = box.getBoundingClientRect();
                                           return r.left >= b.left - 1 && r.right <= b.right + 1
                                               && r.top >= b.top - 1 && r.bottom <= b.bottom + 1; };
            // Next numbers that do not fit wrap onto a hidden second line on purpose: they are not shown.
            const shown = el => el.getClientRects().length > 0 && (!el.parentElement.classList.contains('oneline')
                || el.getBoundingClientRect().top < el.parentElement.getBoundingClientRect().bottom);
            const clipped = Array.from(document.querySelectorAll(
                '.counter .num, .call:not(.empty) .num, .svc .next span, .clock .time, .panel h2'))
              .filter(shown)
              .filter(el => el.scrollWidth > el.clientWidth + 1
                            || !inside(el, el.closest('.counter, .call, .svc, .bar, .panel')))
              .map(el => el.className + ' ' + el.textContent);
            const outside = Array.from(document.querySelectorAll('.bar, .panel, .notice, .counter, .svc, .call'))
              .filter(el => { const r = el.getBoundingClientRect();
                              return r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5; })
              .map(el => el.className);
            return {scroll: [root.scrollWidth - innerWidth, root.scrollHeight - innerHeight], clipped, outside};
        }""")
        assert report["scroll"][0] <= 0 and report["scroll"][1] <= 0, report
        assert not report["clipped"], report
        assert not report["outside"], report
        layout = "portrait" if height > width else "landscape"
        assert board.page.evaluate(f"document.body.classList.contains('layout-{layout}')")


def test_4k_shows_the_same_board_twice_as_big(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    sizes = []
    for width, height in ((1920, 1080), (3840, 2160)):
        with open_board(browser, hub, "tang-1", width, height) as board:
            size = board.page.eval_on_selector(".counter .num", "el => parseFloat(getComputedStyle(el).fontSize)")
            sizes.append(size)
    assert sizes[0] >= 80, f"counter numbers are only {sizes[0]}px high at 1080p"
    assert 1.9 <= sizes[1] / sizes[0] <= 2.1


def test_clock_shows_the_hubs_time_on_a_tv_with_a_wrong_clock(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    def wrong_clock(page: Any) -> None:
        page.clock.install(time=datetime(2020, 1, 1, 3, 0))

    with open_board(browser, hub, "tang-1", before=wrong_clock) as board:
        assert board.page.evaluate("new Date().getFullYear()") == 2020  # the TV's own clock is off by years
        shown_date = board.page.locator("#clock-date-vi").inner_text()
        shown_time = board.page.locator("#clock-time").inner_text()
        now = datetime.now(SITE_TZ)
        expected = {f"{WEEKDAYS_VI[t.weekday()]}, {t:%d/%m/%Y}" for t in (now - timedelta(minutes=1), now)}
        assert shown_date in expected
        assert shown_time in {f"{t:%H:%M}" for t in (now - timedelta(minutes=1), now)}


def test_unknown_board_is_a_clear_404(hub: HubProcess) -> None:
    response = requests.get(hub.url + "/board/khong-co", timeout=5)
    assert response.status_code == 404
    assert "Không tìm thấy bảng" in response.text and "khong-co" in response.text
    assert "/board/tang-1" in response.text  # it lists the boards that do exist
