"""Every screen at the sizes a hospital really has, on a busy morning (40 counters, long names, long
queues): nothing visible overflows its box or the screen, board texts are readable from a chair
(≥ 28 px at 1080p, English ≥ 60 % of the Vietnamese), and no page asks a host other than the hub.

One hub, one kiosk agent and one Chromium serve every page; screenshots go to test-artifacts/layout/
for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import HubProcess, dummy_printer_kiosk
from tests.layout_support import STAFF, busy_morning, staff_session, start_busy_hub, visit

pytestmark = pytest.mark.browser
KIOSK_SIZES = ((1080, 1920), (1280, 800), (1024, 600), (800, 480))
STAFF_SIZES = ((1366, 768), (1920, 1080))
PHONE = (360, 740)
A4_PORTRAIT = (718, 1047)  # 210 × 297 mm less the 10 mm print margins, at 96 px per inch
MIN_BOARD_FONT_1080P = 28


TILE_OVERLAPS_JS = """() => {
    const found = [];
    for (const tile of document.querySelectorAll('.counter, .svc, .call')) {
        if (!tile.getClientRects().length || tile.hidden) continue;
        const boxes = Array.from(tile.children).filter(c => c.getClientRects().length && c.textContent.trim()
                                                        && getComputedStyle(c).visibility !== 'hidden')
            .map(c => [c.className, c.getBoundingClientRect()]);
        boxes.forEach(([name, a], i) => boxes.slice(i + 1).forEach(([other, b]) => {
            if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
                && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1)
                found.push(tile.className + ': ' + name + ' over ' + other);
        }));
    }
    return found;
}"""


def shot_path(name: str) -> Path:
    path = artifact("layout") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_busy_hub(tmp_path_factory.mktemp("layout"))
    try:
        process.morning = busy_morning(process)  # type: ignore[attr-defined]
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def sessions(hub: HubProcess, browser: Any) -> dict[str, Any]:  # noqa: F811
    return {role: staff_session(browser, hub.url, username, password)
            for username, _, role, _, password in STAFF}


def check(seen: Any, name: str, **limits: Any) -> None:
    seen.page.screenshot(path=shot_path(name + ".png"), full_page=not limits.get("fixed_height"))
    if limits.get("print_media"):
        seen.page.pdf(path=str(shot_path(name + ".pdf")), format="A4")
    problems = seen.problems(**limits)
    assert not seen.foreign_requests(), f"{name} asked hosts other than the hub: {seen.foreign_requests()}"
    assert not seen.errors, f"{name}: script errors {seen.errors}"
    assert not problems, f"{name}:\n" + "\n".join(problems[:25])


# ------------------------------------------------------------------ boards
# Each board at the orientation it is configured for (tang-2 hangs portrait), in HD and in 4K.
BOARDS = [(board, *size) for board in ("sanh-a", "tang-1", "tong-hop") for size in ((1920, 1080), (3840, 2160))] + [
    ("tang-2", 1080, 1920), ("tang-2", 2160, 3840), ("tong-hop-goi", 1920, 1080)]


@pytest.mark.parametrize(("board_id", "width", "height"), BOARDS)
def test_board(hub: HubProcess, browser: Any, board_id: str, width: int, height: int) -> None:  # noqa: F811
    with visit(browser, hub.url, width, height) as seen:
        seen.page.goto(f"{hub.url}/board/{board_id}")
        try:
            seen.page.wait_for_function("Number(document.body.dataset.snapshots) >= 1", timeout=20_000)
        except Exception as error:
            raise AssertionError(f"no snapshot drawn; script errors: {seen.errors}") from error
        seen.page.wait_for_timeout(400)  # the grids settle after the first snapshot
        # 28 px on a 1080-line screen; the same share of a 4K or portrait screen's short side.
        min_font = MIN_BOARD_FONT_1080P * min(width, height) / 1080
        check(seen, f"board-{board_id}-{width}x{height}", fixed_height=True, min_font=min_font)
        # Every panel says something: an empty one shows a placeholder, not a blank box.
        blank = seen.page.evaluate("""() => Array.from(document.querySelectorAll('.panel'))
            .filter(p => getComputedStyle(p).display !== 'none' && !p.innerText.replace(/\\s/g, '')
                         .replace(p.querySelector('h2').innerText.replace(/\\s/g, ''), ''))
            .map(p => p.className)""")
        assert not blank, f"empty panels without a placeholder: {blank}"
        # Inside a tile the name, the number and the state never sit on top of each other.
        overlaps = seen.page.evaluate(TILE_OVERLAPS_JS)
        assert not overlaps, f"parts of a tile drawn over each other: {overlaps}"


def test_many_counters_calls_drops_the_tiles_and_small_boards_keep_them(hub: HubProcess,
                                                                        browser: Any) -> None:  # noqa: F811
    for board_id, dropped in (("tong-hop-goi", True), ("tang-1", False)):
        with visit(browser, hub.url, 1920, 1080) as seen:
            seen.page.goto(f"{hub.url}/board/{board_id}")
            seen.page.wait_for_function("Number(document.body.dataset.snapshots) >= 1", timeout=20_000)
            seen.page.wait_for_timeout(300)
            assert seen.page.evaluate("document.body.classList.contains('no-serving')") is dropped, board_id
            assert seen.page.is_visible("#calls") and seen.page.is_visible("#services")


def test_board_header_clock_is_whole(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    with visit(browser, hub.url, 1080, 1920) as seen:
        seen.page.goto(f"{hub.url}/board/tang-2")
        seen.page.wait_for_function("Number(document.body.dataset.snapshots) >= 1", timeout=20_000)
        cut = seen.page.evaluate("""() => ['clock-time', 'clock-date-vi', 'clock-date-en'].filter(id => {
            const el = document.getElementById(id), bar = el.closest('.bar').getBoundingClientRect();
            const r = el.getBoundingClientRect();
            return !el.textContent.trim() || r.top < bar.top - 1 || r.bottom > bar.bottom + 1
                   || r.right > bar.right + 1;
        })""")
        assert not cut, f"clock parts cut or empty in the header: {cut}"


# ------------------------------------------------------------------ kiosk
@pytest.fixture(scope="module")
def kiosk_url(hub: HubProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dummy_printer_kiosk(hub, tmp_path_factory.mktemp("layout-kiosk"), until="ready") as url:
        yield url


KIOSK_UNREACHABLE_JS = """() => Array.from(document.querySelectorAll('.screen:not([hidden]) button'))
    .filter(b => b.getClientRects().length && getComputedStyle(b).visibility !== 'hidden')
    .filter(b => { const r = b.getBoundingClientRect();
                   // Inside a scrolling list with a visible "more below" cue, a button may be further down.
                   const list = b.closest('.scroll-cue');
                   if (list && !list.querySelector('.more[hidden]')) return false;
                   return r.bottom > innerHeight + 1 || r.right > innerWidth + 1 || r.top < 0; })
    .map(b => b.textContent.trim().slice(0, 30) + ' @y' + Math.round(b.getBoundingClientRect().top))"""


def kiosk_screen(seen: Any, name: str) -> None:
    seen.page.wait_for_timeout(250)
    check(seen, name, fixed_height=True)
    unreachable = seen.page.evaluate(KIOSK_UNREACHABLE_JS)
    assert not unreachable, f"{name}: actions out of reach without a scroll cue: {unreachable}"


@pytest.mark.parametrize(("width", "height"), KIOSK_SIZES)
def test_kiosk(kiosk_url: str, browser: Any, width: int, height: int) -> None:  # noqa: F811
    """Each screen a patient meets: start, services, priority, the ticket, booking code, ID card."""
    with visit(browser, kiosk_url, width, height) as seen:
        page = seen.page
        page.goto(kiosk_url)
        page.wait_for_selector("#service-list .service", state="attached")
        kiosk_screen(seen, f"kiosk-{width}x{height}-1-home")
        page.click("#go-ticket")
        kiosk_screen(seen, f"kiosk-{width}x{height}-2-services")
        page.click("#service-list .service >> nth=0")
        kiosk_screen(seen, f"kiosk-{width}x{height}-3-priority")
        page.click("[data-priority=normal]")
        page.wait_for_selector("section[data-screen=result]:not([hidden])", timeout=15_000)
        kiosk_screen(seen, f"kiosk-{width}x{height}-4-ticket")
        page.click("#done")
        page.click("#go-booking")
        kiosk_screen(seen, f"kiosk-{width}x{height}-5-booking")
        page.click("section[data-screen=booking] .back")
        page.click("#go-cccd")
        kiosk_screen(seen, f"kiosk-{width}x{height}-6-cccd")


def test_kiosk_double_tap_takes_one_ticket(kiosk_url: str, browser: Any, hub: HubProcess) -> None:  # noqa: F811
    def waiting() -> int:
        reply = requests.get(f"{hub.api}/services/kham-tmh/queue", headers=hub.headers("admin"), timeout=10)
        assert reply.status_code == 200, reply.text
        return len(reply.json()["tickets"])

    with visit(browser, kiosk_url, 1280, 800) as seen:
        page = seen.page
        page.goto(kiosk_url)
        page.wait_for_selector("#service-list .service", state="attached")
        before = waiting()
        page.click("#go-ticket")
        page.click("#service-list .service[data-code=kham-tmh]")
        page.dblclick("[data-priority=normal]")
        page.wait_for_selector("section[data-screen=result]:not([hidden])", timeout=15_000)
        page.wait_for_timeout(1500)
        assert waiting() == before + 1, "a double tap took more (or fewer) than one ticket"


# ------------------------------------------------------------------ staff pages
STAFF_PAGES = (
    ("admin", "/staff"), ("admin", "/"), ("admin", "/admin/staff"), ("admin", "/admin/structure/services"),
    ("admin", "/admin/structure/counters"), ("admin", "/admin/audit"), ("admin", "/admin/devices"),
    ("admin", "/admin/counters"), ("admin", "/admin/schedules"), ("admin", "/admin/notifications"),
    ("admin", "/admin/callbacks"), ("admin", "/ops"), ("admin", "/reports"), ("admin", "/reports/daily"),
    ("admin", "/reports/follow-ups"), ("reception", "/reception"), ("doctor", "/doctor"), ("lab", "/lab"),
    ("cashier", "/cashier"), ("nurse", "/console"), ("admin", "/admin/messages"), ("admin", "/insurance/claims"),
)


@pytest.mark.parametrize(("width", "height"), STAFF_SIZES)
@pytest.mark.parametrize(("role", "path"), STAFF_PAGES)
def test_staff_page(hub: HubProcess, browser: Any, sessions: dict[str, Any], role: str, path: str,  # noqa: F811
                    width: int, height: int) -> None:
    with visit(browser, hub.url, width, height, storage_state=sessions[role]) as seen:
        response = seen.page.goto(hub.url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        seen.page.wait_for_load_state("networkidle")
        check(seen, f"staff{path.replace('/', '-') or '-home'}-{width}x{height}")


# ------------------------------------------------------------------ print views
@pytest.mark.parametrize("path", ["/reports/daily"])
def test_print_view_fits_a4(hub: HubProcess, browser: Any, sessions: dict[str, Any], path: str) -> None:  # noqa: F811
    with visit(browser, hub.url, *A4_PORTRAIT, storage_state=sessions["admin"]) as seen:
        seen.page.emulate_media(media="print")
        seen.page.goto(hub.url + path)
        seen.page.wait_for_load_state("networkidle")
        check(seen, f"print{path.replace('/', '-')}-a4", print_media=True)


# ------------------------------------------------------------------ patients' phones
def test_ticket_status_page_on_a_phone(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    ticket = hub.morning["tickets"][-1]  # type: ignore[attr-defined]
    target = urlsplit(ticket["status_url"])
    for locale in ("vi-VN", "en-US"):
        with visit(browser, hub.url, *PHONE, locale=locale) as seen:
            seen.page.goto(f"{hub.url}{target.path}?{target.query}")
            seen.page.wait_for_load_state("networkidle")
            seen.page.wait_for_timeout(500)
            check(seen, f"status-{locale}-360")


def test_a_bad_status_key_gives_a_404_with_useful_links(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    ticket = hub.morning["tickets"][0]  # type: ignore[attr-defined]
    with visit(browser, hub.url, *PHONE) as seen:
        response = seen.page.goto(f"{hub.url}/t/{ticket['id']}?k=wrong")
        assert response is not None and response.status == 404
        check(seen, "status-404-360")
        links = seen.page.eval_on_selector_all("main a[href]", "els => els.map(a => a.getAttribute('href'))")
        assert "/portal/login" in links, links
        assert any(link.startswith("/board/") or link == "/" for link in links if link != "/staff"), links


@pytest.mark.parametrize("path", ["/portal/login", "/portal/register"])
def test_portal_page_on_a_phone(hub: HubProcess, browser: Any, path: str) -> None:  # noqa: F811
    with visit(browser, hub.url, *PHONE) as seen:
        seen.page.goto(hub.url + path)
        seen.page.wait_for_load_state("networkidle")
        check(seen, f"portal{path.replace('/', '-')}-360")
