"""The demo's payers: a realistic share of the simulated fleet's anonymous patients come on a BHYT card.

Most outpatients of a public hospital are insured (roughly three in four; UNSURE: varies by hospital).
For each new exam visit without a decision, the demo draws insured or fee-paying; an insured one has a
card from the simulated gateway's file checked for the visit, so refusals (an expired card) and a portal
that does not answer show up too. Runs on its own thread: the check must not hold up the ticket.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

from hub.domain.common.events import EventBus, TicketIssued
from hub.domain.insurance.service import InsuranceService

log = logging.getLogger(__name__)
INSURED_SHARE = 0.75


def install_demo_payers(bus: EventBus, insurance: InsuranceService, exam_services: set[str], *,
                        share: float = INSURED_SHARE, seed: int | None = None) -> None:
    draw = random.Random(seed)
    cards: list[str] = [card["card_code"] for card in getattr(insurance.gateway, "cards", [])
                        if card.get("card_code") and card.get("behaviour") != "slow"]
    if not cards:
        return

    def decide(visit_id: int, insured: bool, card: str) -> None:
        try:
            if insured:
                insurance.check_visit(visit_id, card_code=card, actor="demo")
            else:
                insurance.fee_paying(visit_id, actor="demo")
        except Exception:  # the demo's payer is a nicety; the visit goes on without it
            log.exception("demo payer for visit %s", visit_id)

    def on_issued(event: Any) -> None:
        ticket = event.ticket
        if ticket.get("service") not in exam_services or not ticket.get("visit_id"):
            return
        if insurance.visit_coverage(ticket["visit_id"])["recorded"]:
            return
        threading.Thread(target=decide, args=(ticket["visit_id"], draw.random() < share, draw.choice(cards)),
                         name="demo-payer", daemon=True).start()

    bus.subscribe(TicketIssued, on_issued)
