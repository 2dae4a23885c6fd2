"""The call-back list in Chromium: the desk logs an unanswered call, then rebooks the patient from the list.

The hub runs in this process on a virtual clock (the day after a missed follow-up); the page talks to
it over real HTTP, and its slot picker reads the free slots from the REST API.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub
from hub.domain.common.clock import VirtualClock
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.follow_up_support import MONDAY, at, hub_on, patient_with_visit
from tests.support import free_port

pytestmark = pytest.mark.browser
PASSWORD = "mat-khau-123"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, clinic: ClinicConfig) -> Iterator[tuple[str, Hub]]:
    var_dir: Path = tmp_path_factory.mktemp("callbacks")
    clock = VirtualClock(at(MONDAY, "08:00"))
    hub = hub_on(var_dir, clinic, clock)
    hub.staff.add("thu.ha", "Lê Thu Hà", "reception", PASSWORD)
    for name, phone in (("Nguyễn Thị Hoa", "0912345678"), ("Phạm Văn Đức", "0987111222")):
        _, visit = patient_with_visit(hub, name=name, phone=phone)
        hub.follow_ups.order(visit, actor="user:bs.an", on=date(2026, 11, 30), reason="Kiểm tra huyết áp")
    clock.set(at(date(2026, 11, 30), "18:00"))
    hub.follow_ups.close_day(clock.now())
    clock.set(at(date(2026, 12, 1), "09:00"))
    server = make_server("127.0.0.1", free_port(), create_app(hub, async_mode="threading"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hub
    server.shutdown()
    thread.join(timeout=10)
    hub.close()


def test_log_a_call_and_rebook_from_the_list(browser, site: tuple[str, Hub]) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    url, hub = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(url + "/login?next=/admin/callbacks")
        page.fill("input[name=username]", "thu.ha")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/callbacks")
        rows = page.locator("#callbacks tbody tr")
        assert rows.count() == 2
        hoa = page.locator("#callbacks tbody tr", has_text="Nguyễn Thị Hoa")
        assert hoa.locator("a.phone").inner_text() == "0912345678"
        assert hoa.locator("td.attempts").inner_text() == "0"
        page.screenshot(path=str(artifact("callbacks-list.png")), full_page=True)

        # Nobody answers.
        hoa.locator("button.log-call").click()
        dialog = page.locator("#call-dialog")
        dialog.locator("input[name=outcome][value=unreachable]").check()
        dialog.locator("textarea[name=note]").fill("Thuê bao không liên lạc được")
        dialog.locator("#call-save").click()
        page.wait_for_selector("p.flash.ok")
        hoa = page.locator("#callbacks tbody tr", has_text="Nguyễn Thị Hoa")
        assert hoa.locator("td.attempts").inner_text() == "1"
        assert "Không liên lạc được" in hoa.locator("td.last").inner_text()

        # She calls back: rebooked for tomorrow, the first free time of her doctor.
        hoa.locator("button.log-call").click()
        dialog.locator("input[name=outcome][value=rebooked]").check()
        first_slot = dialog.locator("#rebook-slots input[name=slot_start]").first
        first_slot.wait_for()
        assert dialog.locator("#rebook-doctor").input_value() == "bs-an"
        chosen = first_slot.get_attribute("value")
        first_slot.check()
        page.screenshot(path=str(artifact("callbacks-rebook-dialog.png")))
        dialog.locator("#call-save").click()
        page.wait_for_selector("p.flash.ok")
        assert "Đã đặt lại lịch cho Nguyễn Thị Hoa" in page.locator("p.flash.ok").inner_text()
        assert page.locator("#callbacks tbody tr").count() == 1  # she left the list
        page.screenshot(path=str(artifact("callbacks.png")), full_page=True)
    finally:
        context.close()
    [resolved] = hub.follow_ups.callbacks.items("resolved")
    assert resolved["rebooked"]["slot_start"] == chosen and resolved["attempts"] == 2
    assert [c["outcome"] for c in resolved["calls"]] == ["unreachable", "rebooked"]
