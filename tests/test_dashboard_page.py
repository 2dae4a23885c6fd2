"""The report and operations pages in Chromium against a real hub: charts drawn, live lines, print layout."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.hub_server import HubProcess, new_hub
from tests.test_reports_history import LOCAL, write_week

pytestmark = pytest.mark.browser
PASSWORD = "quan-ly-123"
TODAY = datetime.now(LOCAL).date()
# Whole weeks that ended before this one began: every day of them is closed, whatever today is.
LAST_MONDAY = TODAY - timedelta(days=TODAY.weekday() + 7)
MONDAYS = [LAST_MONDAY - timedelta(days=7 * n) for n in range(3)]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A hub with three weeks of history, a manager and a nurse."""
    var_dir = tmp_path_factory.mktemp("hub-reports")
    process = new_hub(var_dir)
    process.add_staff(("quan.ly", "Trần Quản Lý", "admin", PASSWORD),
                      ("dieu.duong", "Lê Điều Dưỡng", "nurse", PASSWORD, "p101"))
    with process.offline() as setup:
        for monday in MONDAYS:
            write_week(setup, monday)
    process.start()
    yield process
    process.stop()


def log_in(browser: Any, hub: HubProcess, username: str, path: str) -> Any:  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 1000}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(hub.url + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**" + path.split("?")[0] + "*")
    return page


def painted(page: Any, canvas_id: str) -> bool:
    """Whether a chart's canvas has anything drawn on it."""
    return page.evaluate("""(id) => {
        const canvas = document.getElementById(id);
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { return true; } }
        return false;
    }""", canvas_id)


def test_month_report_draws_its_charts(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    path = f"/reports?period=month&date={LAST_MONDAY.isoformat()}&by=doctor"
    page = log_in(browser, hub, "quan.ly", path)
    try:
        page.wait_for_function("window.reportCharts && window.reportCharts.length >= 4")
        for chart in ("chart-hours", "chart-days", "chart-groups", "chart-targets", "chart-payments"):
            assert painted(page, chart), chart
        assert page.locator("#table-by_doctor tbody tr").count() >= 4
        assert page.locator("#table-heatmap td.num").count() >= 7
        assert "Bác sĩ" in page.text_content("#table-by_doctor")
        page.screenshot(path=str(artifact("reports-month.png")), full_page=True)
        page.click("header .lang")
        page.wait_for_function("window.reportCharts && window.reportCharts.length >= 4")
        assert "Slowest visits" in page.text_content("#table-slowest")
        page.screenshot(path=str(artifact("reports-month-en.png")), full_page=True)
    finally:
        page.context.close()


def test_daily_summary_prints_without_the_menus(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    page = log_in(browser, hub, "quan.ly", f"/reports/daily?date={LAST_MONDAY.isoformat()}&lang=vi")
    try:
        assert LAST_MONDAY.strftime("%d/%m/%Y") in page.text_content("h1")
        page.emulate_media(media="print")
        assert not page.is_visible(".staff-bar") and not page.is_visible(".rp-exports")
        page.screenshot(path=str(artifact("reports-daily-print.png")), full_page=True)
    finally:
        page.context.close()


def test_operations_page_is_live(hub: HubProcess, browser: Any) -> None:  # noqa: F811
    for service in ("kham-noi", "kham-noi", "kham-noi", "tiep-don", "tiep-don"):
        reply = requests.post(hub.api + "/tickets", json={"service": service}, headers=hub.headers("kiosk"), timeout=10)
        assert reply.status_code == 201, reply.text
    page = log_in(browser, hub, "dieu.duong", "/ops")
    try:
        page.wait_for_function("document.body.dataset.loaded === 'yes'")
        assert page.text_content('#services tr[data-service="kham-noi"] td.waiting') == "3"
        # Reception has people waiting and no counter open: a critical alert.
        page.wait_for_selector('#alerts li[data-kind="no_counter_open"]')
        reply = requests.post(hub.api + "/counters/p101/next", headers=hub.headers("nurse"), timeout=10)
        assert reply.status_code == 200
        page.wait_for_function(
            "document.querySelector('#services tr[data-service=\"kham-noi\"] td.waiting').textContent === '2'")
        page.wait_for_function(
            "document.querySelector('#counters tr[data-counter=\"p101\"] td.state').dataset.state === 'open'")
        assert page.evaluate("window.opsChart.data.datasets[0].data.length") >= 5
        page.screenshot(path=str(artifact("reports-ops.png")), full_page=True)
    finally:
        page.context.close()
