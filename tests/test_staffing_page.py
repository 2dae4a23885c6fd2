"""The ops page's staffing advice in Chromium against a real hub: the advice and the two-hour outlook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess, start_hub

pytestmark = pytest.mark.browser
PASSWORD = "dieu-duong-123"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    var_dir = tmp_path_factory.mktemp("hub-staffing")
    process = start_hub(var_dir, staff=(("dieu.duong", "Lê Điều Dưỡng", "nurse", PASSWORD, "p101"),))
    yield process
    process.stop()


def test_the_ops_page_shows_the_advice_and_the_outlook(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    for _ in range(40):  # a rush at reception
        reply = requests.post(hub.api + "/tickets", json={"service": "tiep-don"}, headers=hub.headers("kiosk"),
                              timeout=10)
        assert reply.status_code == 201, reply.text
    assert requests.post(hub.api + "/counters/q1/next", headers=hub.headers("reception"), timeout=10).status_code == 200
    context = browser.new_context(viewport={"width": 1366, "height": 1000}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(hub.url + "/ops")
        page.fill("input[name=username]", "dieu.duong")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/ops*")
        advice = page.wait_for_selector('#advice li[data-kind="open_counter"]')
        assert "Mở thêm một quầy Tiếp đón" in advice.text_content()
        page.wait_for_selector('#outlook tr[data-service="tiep-don"]')
        assert page.locator("#outlook thead th").count() == 10  # the service and 9 steps of 15 min
        assert page.locator('#outlook tr[data-service="tiep-don"] td[data-alert="yes"]').count() >= 1
        page.screenshot(path=str(artifact("ops-staffing.png")), full_page=True)
    finally:
        context.close()
