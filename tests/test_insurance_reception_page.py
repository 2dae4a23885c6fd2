"""Reception in Chromium: a walk-in's BHYT check result under the ticket, a typed card refused, then
reception's override with a reason (audited)."""

from __future__ import annotations

from sqlalchemy import select

from hub.domain.common.models import AuditEntry
from tests.browser import artifact, browser  # noqa: F401 - the fixture
from tests.test_reception_page import page, pytestmark, site  # noqa: F401 - the fixtures


def test_check_refused_then_override(page, site) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _url, hub = site
    form = page.locator("#register-form")
    form.locator("input[name=full_name]").fill("Phạm Quốc Dũng")
    form.locator("input[name=date_of_birth]").fill("1990-11-11")
    form.locator("select[name=sex]").select_option("Nam")
    form.locator("input[name=phone]").fill("0988 111 222")
    page.click("#register-btn")
    page.wait_for_selector("#patient:not([hidden])")
    page.select_option("#walkin-service", "kham-noi")
    page.click("#walkin-btn")
    page.locator("#issued-number").wait_for(state="visible")
    page.wait_for_function("document.getElementById('bhyt').dataset.status === 'fee_paying'")

    page.fill("#bhyt-card", "GD4 01 0444555666")  # typed with spaces; the card expired on 2025-12-31
    page.click("#bhyt-check button[type=submit]")
    page.wait_for_function("document.getElementById('bhyt').dataset.status === 'refused'")
    assert "hết hạn" in page.text_content("#bhyt-detail")
    page.screenshot(path=str(artifact("reception-bhyt-refused.png")), full_page=True)

    page.select_option("#bhyt-override-status", "eligible")
    page.select_option("#bhyt-override-level", "4")
    page.fill("#bhyt-override-reason", "Thẻ đã gia hạn, bệnh nhân xuất trình biên lai")
    page.click("#bhyt-override button[type=submit]")
    page.wait_for_function("document.getElementById('bhyt').dataset.status === 'eligible'")
    assert "Thẻ đã gia hạn" in page.text_content("#bhyt-detail")
    page.screenshot(path=str(artifact("reception-bhyt-override.png")), full_page=True)
    with hub.db.read() as connection:
        entries = connection.execute(select(AuditEntry.__table__).where(
            AuditEntry.action == "insurance.override")).all()
    assert len(entries) == 1 and entries[0].actor.endswith("thu.ha")
    assert entries[0].detail["from"] == "refused" and entries[0].detail["to"] == "eligible"
