"""The follow-up form on the doctor's page, in Chromium: the nearest free slot is suggested, the doctor
picks another one, and a series is booked for the patient on screen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
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
def site(tmp_path_factory: pytest.TempPathFactory, clinic: ClinicConfig) -> Iterator[tuple[str, Hub, int]]:
    var_dir: Path = tmp_path_factory.mktemp("doctor-form")
    hub = hub_on(var_dir, clinic, VirtualClock(at(MONDAY, "08:00")))
    hub.staff.add("bs.an", "BS Nguyễn Văn An", "doctor", PASSWORD)
    _, visit = patient_with_visit(hub, name="Trần Thị Mai")
    hub.queue.call_next("p101", actor="user:bs.an")
    hub.queue.start("p101", actor="user:bs.an")
    server = make_server("127.0.0.1", free_port(), create_app(hub, async_mode="threading"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", hub, visit
    server.shutdown()
    thread.join(timeout=10)
    hub.close()


def test_the_doctor_books_a_series_from_the_exam_page(browser, site: tuple[str, Hub, int]) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    url, hub, visit = site
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(url + "/login?next=/doctor")
        page.fill("input[name=username]", "bs.an")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/doctor")
        page.wait_for_selector(f'#visit[data-visit="{visit}"]')
        form = page.locator("#follow-up-form")
        form.locator("input[name=after]").fill("2")  # in 2 weeks: Monday 7 December
        form.locator("input[name=reason]").fill("Kiểm tra lại huyết áp")
        form.locator("#fu-find").click()
        suggested = form.locator("#fu-options input[name=slot_start]").first
        suggested.wait_for()
        assert suggested.get_attribute("value") == "2026-12-07T07:30:00+07:00" and suggested.is_checked()
        form.locator('#fu-options input[value="2026-12-08T09:00:00+07:00"]').check()  # another time, the next day
        form.locator("input[name=series]").check()
        form.locator("input[name=count]").fill("3")
        form.locator("input[name=every_weeks]").fill("4")
        form.locator("#fu-book").click()
        page.wait_for_selector("#fu-booked li")
        page.locator("#follow-up-form").screenshot(path=str(artifact("doctor-follow-up-form.png")))
        assert "08/12/2026" in form.locator("#fu-booked").inner_text()
    finally:
        context.close()
    [series] = hub.follow_ups.of_visit(visit)["series"]
    assert (series["planned"], series["interval_days"], series["mode"]) == (3, 28, "next")
    [first] = series["appointments"]
    assert first["slot_start"] == "2026-12-08T09:00:00+07:00" and first["reason"] == "Kiểm tra lại huyết áp"
