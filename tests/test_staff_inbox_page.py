"""The staff inbox in Chromium against a real hub: an admin who opted in gets the ops page's new advice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from hub.config import load_config
from hub.core import build_hub
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess
from tests.support import free_port

pytestmark = pytest.mark.browser
PASSWORD = "quan-ly-12345"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    var_dir = tmp_path_factory.mktemp("hub-inbox")
    process = HubProcess(var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", port=free_port())
    process.create_tokens()
    setup = build_hub(load_config(process.config_dir, env={}), var_dir=var_dir, db_url=process.db_url)
    try:
        manager = setup.staff.add("quan.ly", "Phạm Thị Quản", "admin", PASSWORD)
        assert setup.staff_messages is not None
        setup.staff_messages.set_preference(manager.id, advice=True, zalo_phone=None, actor="cli")
    finally:
        setup.close()
    process.start()
    yield process
    process.stop()


def test_an_opted_in_admin_finds_the_advice_in_the_inbox(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    for _ in range(40):  # a rush at reception, one counter open
        reply = requests.post(hub.api + "/tickets", json={"service": "tiep-don"}, headers=hub.headers("kiosk"),
                              timeout=10)
        assert reply.status_code == 201, reply.text
    assert requests.post(hub.api + "/counters/q1/next", headers=hub.headers("reception"), timeout=10).status_code == 200
    for width, height, name in ((1366, 768, "staff-inbox.png"), (360, 740, "staff-inbox-phone.png")):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            page.goto(hub.url + "/ops")
            page.fill("input[name=username]", "quan.ly")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/ops*")
            page.wait_for_selector('#advice li[data-kind="open_counter"]')  # the advisor ran: the advice fired
            page.goto(hub.url + "/admin/messages")
            item = page.wait_for_selector("#inbox li")
            assert "Mở thêm một quầy Tiếp đón" in item.text_content()
            # Sent once: the ops page asked again meanwhile, and the inbox still has one such message.
            assert page.locator("#inbox li").count() == 1
            page.screenshot(path=str(artifact(name)), full_page=True)
            if width == 1366:
                page.goto(hub.url + "/admin/staff/quan.ly")
                page.wait_for_selector("#advice-form")
                assert page.is_checked("#advice")
                page.screenshot(path=str(artifact("staff-advice-preference.png")), full_page=True)
        finally:
            context.close()
