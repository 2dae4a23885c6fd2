"""The demo's insurance cards: the child's card is valid on any day the demo runs, the others as filed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from hub.demo import CHILD_AGE_YEARS, redate_child_cards
from hub.domain.insurance.gateway import CardQuery, SimulatedGateway
from tests.conftest import CONFIG_DIR

CHAU = "TE1010555000111"


@pytest.mark.parametrize("today", [date(2026, 12, 7), date(2028, 5, 20), date(2028, 2, 29), date(2031, 1, 1),
                                   date(2045, 12, 31), date(2099, 6, 30)])
def test_the_demo_child_is_always_under_six_with_a_valid_card(today: date) -> None:
    gateway = SimulatedGateway(CONFIG_DIR / "insurance_cards.toml", slow_s=0.0)
    filed = {card["card_code"]: dict(card) for card in gateway.cards}
    redate_child_cards(gateway.cards, today)
    child = gateway.check(CardQuery(CHAU, day=today), timeout_s=1)
    assert (child.status, child.reason) == ("eligible", None)
    assert child.date_of_birth is not None and child.valid_to is not None
    years = today.year - child.date_of_birth.year - ((today.month, today.day) < (child.date_of_birth.month,
                                                                                  child.date_of_birth.day))
    assert years == CHILD_AGE_YEARS
    # The card still ends the day before the sixth birthday, as a real child's card does.
    sixth_birthday = child.date_of_birth.replace(year=child.date_of_birth.year + 6)
    assert (child.valid_from, child.valid_to + timedelta(days=1)) == (child.date_of_birth, sixth_birthday)
    # The adults' cards are left as filed: the expired one stays expired.
    assert {code: card for code, card in ((c["card_code"], c) for c in gateway.cards) if code != CHAU} == {
        code: card for code, card in filed.items() if code != CHAU}
    assert gateway.check(CardQuery("GD4010444555666", day=today), timeout_s=1).reason == "expired"
