"""The kiosk sends insured and fee-paying patients to their own lines: a site whose config/insurance.toml
`[lines]` separates them (Tiếp đón BHYT / Tiếp đón dịch vụ), Debian's Chromium on the `clinicq kiosk`
page, a real hub with the simulated insurance gateway and the ESC/POS printer emulator.

A CCCD scan (the scanner in keyboard mode types into the page's box) or a typed CCCD number: the hub checks
the card, the page puts the payer's line first and marked, says who pays, and the ticket says it on paper.
A portal that is down gives "chưa kiểm tra" and the patient still gets a number. At the small landscape
panel and the tall portrait one; screenshots and the printed slips go to test-artifacts/ (kiosk-payer-*).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import zxingcpp
from PIL import Image

from firmware_sim.printer_emulator import PrinterEmulator
from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import ROOT, HubProcess, start_hub
from tests.layout_support import visit
from tests.support import free_port
from tests.test_kiosk_page import wait_for
from tests.test_layout import KIOSK_UNREACHABLE_JS

pytestmark = [pytest.mark.browser]

CLINICQ = Path(sys.executable).with_name("clinicq")
# config/insurance_cards.toml: An's card is valid and registered here; Khách has no card at all.
AN = "001085012345||Nguyễn Văn An|14031985|Nam|12 Phố Huế, Hà Nội|01012021"
KHACH = "001099000001||Đỗ Văn Khách|01021999|Nam|Số 3 Hàng Bài, Hà Nội|01012022"
# Bình's card, typed on the keypad: CCCD 001050067890, born 02/07/1950 (a patient already on file).
BINH = "001050067890||Trần Thị Bình|02071950|Nữ|Số 8 Lý Thường Kiệt, Hà Nội|05052021"
PAYER_LINES = """
[[services]]
code = "tiep-don-bhyt"
name = "Tiếp đón BHYT"
name_en = "Reception: health insurance"
kind = "reception"
prefix = "K"
fee = 0
service_minutes = { mean = 3.0, sd = 1.5 }

[[services]]
code = "tiep-don-dv"
name = "Tiếp đón dịch vụ"
name_en = "Reception: fee-paying"
kind = "reception"
prefix = "V"
fee = 0
service_minutes = { mean = 3.0, sd = 1.5 }

[[counters]]
code = "q8"
name = "Quầy 8"
name_en = "Counter 8"
zone = "sanh-a"
services = ["tiep-don-bhyt"]
floor = "Tầng 1"
floor_en = "Floor 1"

[[counters]]
code = "q9"
name = "Quầy 9"
name_en = "Counter 9"
zone = "sanh-a"
services = ["tiep-don-dv"]
floor = "Tầng 1"
floor_en = "Floor 1"
"""


def site_config(to: Path, *, down: bool = False) -> Path:
    """The shipped config plus the two payer lines, `[lines]` pointing at them; `down`: the portal fails."""
    shutil.copytree(ROOT / "config", to)
    with (to / "clinic.toml").open("a", encoding="utf-8") as clinic:
        clinic.write(PAYER_LINES)
    rules = (to / "insurance.toml").read_text(encoding="utf-8")
    rules, changed = re.subn(r'(?m)^insured = ""\nfee_paying = ""$',
                             'insured = "tiep-don-bhyt"\nfee_paying = "tiep-don-dv"', rules)
    assert changed == 1, "config/insurance.toml [lines] changed shape: update this test"
    (to / "insurance.toml").write_text(rules, encoding="utf-8")
    if down:
        cards = (to / "insurance_cards.toml").read_text(encoding="utf-8")
        (to / "insurance_cards.toml").write_text(cards.replace("down = false", "down = true", 1), encoding="utf-8")
    return to


@dataclass
class Site:
    hub: HubProcess
    kiosk: str
    emulator: PrinterEmulator


@contextmanager
def running_site(base: Path, *, down: bool = False) -> Iterator[Site]:
    """A hub on the payer-lines config, its payer counters open, and a kiosk printing to the emulator."""
    hub = start_hub(base / "hub", config_dir=site_config(base / "config", down=down))
    try:
        for counter in ("q8", "q9", "p101"):
            opened = requests.post(f"{hub.api}/counters/{counter}/open", headers=hub.headers("admin"), timeout=10)
            assert opened.status_code == 200, opened.text
        data_dir = base / "kiosk"
        data_dir.mkdir()
        port = free_port()
        with PrinterEmulator(data_dir / "printed", width_mm=80, port=0) as emulator, \
                open(data_dir / "kiosk.log", "ab") as log:
            process = subprocess.Popen(
                [str(CLINICQ), "kiosk", "--hub", hub.url, "--token", hub.tokens["kiosk"],
                 "--printer", f"network:127.0.0.1:{emulator.port}", "--port", str(port), "--data", str(data_dir),
                 "--poll", "0.5"], stdout=log, stderr=subprocess.STDOUT)
            url = f"http://127.0.0.1:{port}"
            try:
                wait_for(lambda: _online(url, process), 40, "the kiosk to be online")
                yield Site(hub, url, emulator)
            finally:
                process.terminate()
                assert process.wait(timeout=15) == 0
        text = (data_dir / "kiosk.log").read_text(errors="replace")
        assert "001085012345" not in text and "Nguyễn Văn An" not in text  # the card is never logged
    finally:
        hub.stop()


def _online(url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "the kiosk exited"
    try:
        state = requests.get(url + "/api/state", timeout=2).json()
    except (requests.RequestException, ValueError):
        return False
    return bool(state.get("online")) and {"tiep-don-bhyt", "tiep-don-dv"} <= {
        s["code"] for s in state.get("services", []) if s.get("open")}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("payer-lines")
    with running_site(base) as running:
        # Bình is already on file (an earlier visit): she can type her CCCD number instead of scanning.
        known = requests.post(f"{running.hub.api}/patients/identify", json={"cccd": BINH},
                              headers=running.hub.headers("kiosk"), timeout=10)
        assert known.status_code == 201, known.text
        yield running


# ---------------------------------------------------------------------------------------------- helpers
def fits(seen: Any, name: str) -> None:
    """The screen as the patient sees it: kept, nothing overflowing, every button reachable."""
    seen.page.wait_for_timeout(250)
    seen.page.screenshot(path=str(artifact(f"kiosk-payer-{name}.png")))
    problems = seen.problems(fixed_height=True)
    assert not problems, f"{name}:\n" + "\n".join(problems[:25])
    assert not seen.errors, f"{name}: script errors {seen.errors}"
    unreachable = seen.page.evaluate(KIOSK_UNREACHABLE_JS)
    assert not unreachable, f"{name}: actions out of reach: {unreachable}"


def scan(page: Any, card: str) -> None:
    """The scanner in keyboard mode types the card's QR text into the box and presses Enter."""
    page.goto(page.url)
    page.wait_for_selector("#service-list .service", state="attached")
    page.click("#go-cccd")
    page.fill("#cccd-input", card)
    page.press("#cccd-input", "Enter")
    page.wait_for_selector("[data-screen=services]:not([hidden]) #patient-banner:not([hidden])")


def offered(page: Any) -> list[str]:
    return [el.get_attribute("data-code") for el in page.query_selector_all("#service-list .service")]


def take_first(page: Any) -> dict[str, str]:
    """Tap the line offered first, then an ordinary number; what the result screen says."""
    page.click("#service-list .service >> nth=0")
    page.click("[data-priority=normal]")
    page.wait_for_selector("[data-screen=result]:not([hidden])")
    return {name: page.inner_text(f"#result-{name}") for name in ("number", "service", "payer", "print")}


def printed(site: Site, pages: int, name: str) -> Image.Image:
    """The `pages`-th slip off the emulator, kept in test-artifacts/ to look at."""
    path = site.emulator.wait_for_pages(pages)[pages - 1]
    image = Image.open(path)
    image.save(artifact(f"kiosk-payer-{name}-ticket.png"))
    assert image.width == 576 and zxingcpp.read_barcodes(image)  # a whole ticket, its QR readable
    return image


def hub_payer(site: Site, number: str) -> str:
    """Who pays for the visit of ticket `number`, as the hub recorded it."""
    with sqlite3.connect(site.hub.var_dir / "hub.db") as db:
        [(visit_id,)] = db.execute("SELECT visit_id FROM tickets WHERE number = ?", (number,)).fetchall()
    coverage = requests.get(f"{site.hub.api}/visits/{visit_id}/insurance",
                            headers=site.hub.headers("reception"), timeout=5).json()
    return str(coverage["status"])


SIZES = [(800, 480), (1080, 1920)]


# ---------------------------------------------------------------------------------------------- flows
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_an_insured_patient_is_offered_the_bhyt_line_first_and_the_ticket_says_so(
        site: Site, browser: Any, width: int, height: int) -> None:  # noqa: F811
    size = f"{width}x{height}"
    before = len(site.emulator.pages)
    with visit(browser, site.kiosk, width, height) as seen:
        page = seen.page
        page.goto(site.kiosk)
        scan(page, AN)
        assert offered(page)[0] == "tiep-don-bhyt" and "tiep-don-dv" in offered(page)
        first = page.locator("#service-list .service >> nth=0")
        assert "suggested" in (first.get_attribute("class") or "")
        assert first.locator(".service-badge").inner_text() == "Dành cho bạn: Khám BHYT"
        assert page.locator("#service-list .service.suggested").count() == 1
        assert page.inner_text("#payer-banner") == "Thẻ BHYT hợp lệ — Khám BHYT"
        fits(seen, f"{size}-insured-services")
        result = take_first(page)
        assert result["service"] == "Tiếp đón BHYT" and result["payer"] == "Khám BHYT"
        assert result["print"] == "Mời lấy phiếu"
        fits(seen, f"{size}-insured-result")
        assert hub_payer(site, result["number"]) == "eligible"
    insured = printed(site, before + 1, f"{size}-insured")
    # The same line's ticket for an anonymous patient has no payer band: the band is what makes it taller.
    anonymous = requests.post(site.kiosk + "/api/tickets", json={"service": "tiep-don-bhyt"}, timeout=10)
    assert anonymous.status_code == 201 and anonymous.json()["ticket"]["payer"] is None
    plain = printed(site, before + 2, f"{size}-anonymous")
    assert insured.height > plain.height


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_patient_without_a_card_is_offered_the_fee_paying_line_first(
        site: Site, browser: Any, width: int, height: int) -> None:  # noqa: F811
    size = f"{width}x{height}"
    before = len(site.emulator.pages)
    with visit(browser, site.kiosk, width, height) as seen:
        page = seen.page
        page.goto(site.kiosk)
        scan(page, KHACH)
        assert offered(page)[0] == "tiep-don-dv"
        assert page.locator("#service-list .service.suggested .service-badge").inner_text() == \
            "Dành cho bạn: Khám dịch vụ"
        banner = page.inner_text("#payer-banner")
        assert banner.startswith("Khám dịch vụ — không tìm thấy thẻ BHYT")
        fits(seen, f"{size}-fee-paying-services")
        page.click("#lang")  # English second: the same words in English
        assert page.inner_text("#payer-banner").startswith("Fee-paying visit — no insurance card was found")
        assert page.locator("#service-list .service.suggested .service-badge").inner_text() == \
            "For you: Fee-paying visit"
        fits(seen, f"{size}-fee-paying-services-en")
        page.click("#lang")
        result = take_first(page)
        assert result["service"] == "Tiếp đón dịch vụ" and result["payer"] == "Khám dịch vụ"
        fits(seen, f"{size}-fee-paying-result")
        assert hub_payer(site, result["number"]) == "refused"
        # Back at the start, the next patient sees no trace of this one's payer.
        page.click("#done")
        page.click("#go-ticket")
        assert page.is_hidden("#payer-banner") and page.locator(".service.suggested").count() == 0
    printed(site, before + 1, f"{size}-fee-paying")


def test_a_typed_cccd_number_gets_the_payer_line_too(site: Site, browser: Any) -> None:  # noqa: F811
    with visit(browser, site.kiosk, 800, 480) as seen:
        page = seen.page
        page.goto(site.kiosk)
        page.wait_for_selector("#service-list .service", state="attached")
        page.click("#go-cccd")
        page.click("#go-typed")
        for key in "001050067890":
            page.click(f"#typed-keypad .key:text-is('{key}')")
        page.click("#typed-submit")
        for key in "02071950":
            page.click(f"#birth-keypad .key:text-is('{key}')")
        page.click("#typed-submit")
        page.wait_for_selector("[data-screen=services]:not([hidden]) #payer-banner:not([hidden])")
        assert offered(page)[0] == "tiep-don-bhyt"
        assert page.inner_text("#payer-banner") == "Thẻ BHYT hợp lệ — Khám BHYT"
        fits(seen, "800x480-typed-services")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_a_portal_that_is_down_never_stops_the_patient(tmp_path: Path, browser: Any,  # noqa: F811
                                                        width: int, height: int) -> None:
    size = f"{width}x{height}"
    with running_site(tmp_path, down=True) as down, visit(browser, down.kiosk, width, height) as seen:
        page = seen.page
        page.goto(down.kiosk)
        scan(page, AN)
        # Not yet checked: the insured line first (the re-check settles the bill), and the patient goes on.
        assert offered(page)[0] == "tiep-don-bhyt"
        assert page.get_attribute("#payer-banner", "data-payer") == "unchecked"
        assert page.inner_text("#payer-banner").startswith("Khám BHYT — thẻ chưa kiểm tra được")
        fits(seen, f"{size}-unchecked-services")
        result = take_first(page)
        assert result["payer"] == "Khám BHYT (chưa kiểm tra)" and result["print"] == "Mời lấy phiếu"
        fits(seen, f"{size}-unchecked-result")
        assert hub_payer(down, result["number"]) == "unchecked"
        printed(down, 1, f"{size}-unchecked")
