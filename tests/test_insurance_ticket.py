"""The printed ticket says who pays (BHYT / dịch vụ), from the hub's answer to POST /tickets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from kiosk.outbox import KioskTicket
from kiosk.printing import ticket_print
from kiosk.ticket_image import draw_ticket
from tests.browser import artifact
from tests.test_ticket_image import SAMPLE, black_fraction


def kiosk_ticket(reply: dict) -> KioskTicket:
    return KioskTicket(key="k" * 16, created_at=datetime(2026, 11, 23, 1, 5, tzinfo=UTC), service="kham-noi",
                       priority="normal", patient_code="BN00000001", state="issued", offline=False, day="2026-11-23",
                       seq=1, number="A001", hub_id=1, reply=reply, print_state="printed", attempts=1,
                       last_error=None)


def test_the_hubs_payer_label_reaches_the_print() -> None:
    setup = {"site": {"name": "BV", "timezone": "Asia/Ho_Chi_Minh"}, "priorities": []}
    reply = {"service_name": "Khám Nội", "issued_at": "2026-11-23T01:05:00+00:00", "status_url": "http://x/t/1",
             "insurance": {"status": "eligible", "payer": "bhyt", "label": "BHYT", "label_en": "Health insurance"}}
    slip = ticket_print(kiosk_ticket(reply), setup, None)
    assert (slip.payer, slip.payer_en) == ("BHYT", "Health insurance")
    assert ticket_print(kiosk_ticket({**reply, "insurance": None}), setup, None).payer is None


def test_a_payer_band_is_drawn() -> None:
    plain = replace(SAMPLE, priority=None, offline=False)
    insured = replace(plain, payer="BHYT", payer_en="Health insurance")
    with_band, without = draw_ticket(insured), draw_ticket(plain)
    assert with_band.height > without.height
    assert black_fraction(with_band) != black_fraction(without)
    with_band.save(artifact("ticket-bhyt.png"))


def test_the_kiosk_screen_gets_the_payer_too() -> None:
    from types import SimpleNamespace

    from kiosk.agent import KioskAgent

    agent = SimpleNamespace(link=SimpleNamespace(setup={"priorities": []}, counters=[]), _service=lambda code: None)
    reply = {"service_name": "Khám Nội", "ahead": 2,
             "insurance": {"status": "refused", "payer": "dich_vu", "label": "Dịch vụ", "label_en": "Fee-paying"}}
    view = KioskAgent.ticket_view(agent, kiosk_ticket(reply))  # type: ignore[arg-type]
    assert (view["payer"], view["payer_en"]) == ("Dịch vụ", "Fee-paying")
    assert KioskAgent.ticket_view(agent, kiosk_ticket({"service_name": "Khám Nội"}))["payer"] is None  # type: ignore[arg-type]
