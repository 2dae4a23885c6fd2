"""The kiosk's on-screen keypad for a patient whose ID card the scanner cannot read: Chromium types the CCCD
number and the date of birth through the `clinicq kiosk` agent to a real hub, at the small landscape panel
and the tall portrait one. Screenshots go to test-artifacts/ (kiosk-typed-*.png)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import HubProcess, dummy_printer_kiosk, start_hub
from tests.layout_support import visit
from tests.test_layout import KIOSK_UNREACHABLE_JS

pytestmark = [pytest.mark.browser]

CARD = "001088012345|012345678|Nguyễn Thị Hồng Nhung|15081988|Nữ|Số 12 Phố Huế, Hà Nội|20042021"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-typed"))
    opened = requests.post(f"{process.api}/counters/p101/open", headers=process.headers("admin"), timeout=10)
    assert opened.status_code == 200, opened.text
    # The patient is known: she scanned her card on an earlier visit.
    known = requests.post(f"{process.api}/patients/identify", json={"cccd": CARD}, headers=process.headers("kiosk"),
                          timeout=10)
    assert known.status_code == 201, known.text
    yield process
    process.stop()


@pytest.fixture(scope="module")
def kiosk_url(hub: HubProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("kiosk-typed")
    with dummy_printer_kiosk(hub, data_dir, until="online") as url:
        yield url
    text = (data_dir / "kiosk.log").read_text(errors="replace")
    assert "001088012345" not in text and "15/08/1988" not in text  # nothing typed is logged


def fits(seen: Any, name: str) -> None:
    """The screen as a patient sees it: screenshot, no overflow, every button reachable without scrolling."""
    seen.page.wait_for_timeout(250)
    seen.page.screenshot(path=str(artifact(f"kiosk-typed-{name}.png")))
    problems = seen.problems(fixed_height=True)
    assert not problems, f"{name}:\n" + "\n".join(problems[:25])
    assert not seen.errors, f"{name}: script errors {seen.errors}"
    unreachable = seen.page.evaluate(KIOSK_UNREACHABLE_JS)
    assert not unreachable, f"{name}: actions out of reach: {unreachable}"


def tap(page: Any, pad: str, text: str) -> None:
    for key in text:
        page.click(f"#{pad} .key:text-is('{key}')")


@pytest.mark.parametrize(("width", "height"), [(800, 480), (1080, 1920)])
def test_typed_cccd_number_and_birth_date_on_the_keypad(kiosk_url: str, browser: Any,  # noqa: F811
                                                        width: int, height: int) -> None:
    size = f"{width}x{height}"
    with visit(browser, kiosk_url, width, height) as seen:
        page = seen.page
        page.goto(kiosk_url)
        page.wait_for_selector("#service-list .service", state="attached")
        page.click("#go-cccd")
        fits(seen, f"{size}-1-cccd")
        page.click("#go-typed")
        fits(seen, f"{size}-2-number")
        tap(page, "typed-keypad", "00108801234")
        page.click("#typed-submit")  # 11 digits: the page says what is wrong, no request yet
        assert "12 chữ số" in page.inner_text("#typed-hint")
        tap(page, "typed-keypad", "5")
        assert page.input_value("#typed-number") == "001088012345"
        page.click("#typed-submit")
        assert page.is_visible("#birth-keypad") and not page.is_visible("#typed-keypad")
        tap(page, "birth-keypad", "15081989")  # a wrong year
        assert page.input_value("#typed-birth") == "15/08/1989"
        fits(seen, f"{size}-3-birth")
        page.click("#typed-submit")
        page.wait_for_selector("[data-screen=message]:not([hidden])")
        message = page.inner_text("#message-text")
        assert "quầy tiếp đón" in message and "ngày sinh" not in message.lower()  # never which part was wrong
        fits(seen, f"{size}-4-no-match")

        page.click("#message-back")  # back to the keypad, nothing left on screen
        assert page.input_value("#typed-number") == "" and page.is_visible("#typed-keypad")
        tap(page, "typed-keypad", "001088012345")
        page.click("#typed-submit")
        tap(page, "birth-keypad", "150819888")  # a ninth digit is ignored
        page.click("#birth-keypad .key:text-is('⌫')")
        tap(page, "birth-keypad", "8")
        assert page.input_value("#typed-birth") == "15/08/1988"
        page.click("#typed-submit")
        page.wait_for_selector("#patient-banner:not([hidden])")
        assert page.inner_text("#patient-banner") == "Xin chào Nguyễn Thị Hồng Nhung"
        assert page.input_value("#typed-number") == "" and page.input_value("#typed-birth") == ""
        fits(seen, f"{size}-5-greeted")
