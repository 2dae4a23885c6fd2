"""The pages' live formatter (hub/web/static/formatting.js) writes exactly what hub/formatting.py writes,
in both languages, so a bill drawn by the cashier's script reads like the printed receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub import formatting
from tests.browser import browser  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.browser
SCRIPT = Path(__file__).resolve().parents[1] / "hub" / "web" / "static" / "formatting.js"
MONEY = [0, 5, 999, 1000, 12_345, 240_000, 1_234_567, -50_000, 2_000_000_000]
NUMBERS = [(0, None), (12, None), (12.5, None), (1234.56, 1), (1234.5, None), (-0.04, 1), (0.125, 2), (99.95, 1),
           (1_000_000, 0)]
PERCENTS = [(5.2, 1), (100, 1), (0, 1), (66.666, 1), (12.25, 2)]


@pytest.fixture(scope="module")
def page(browser: Any) -> Any:  # noqa: F811
    context = browser.new_context()
    opened = context.new_page()
    opened.set_content("<!doctype html><title>f</title>")
    opened.add_script_tag(path=str(SCRIPT))
    yield opened
    context.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_money_matches_the_server(page: Any, lang: str) -> None:
    shown = page.evaluate("([values, lang]) => values.map(v => clinicqFormat.money(v, lang))", [MONEY, lang])
    assert shown == [formatting.format_money(v, lang) for v in MONEY]
    assert all(text.count("₫") == 1 and "đ" not in text for text in shown)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_numbers_and_percents_match_the_server(page: Any, lang: str) -> None:
    numbers = page.evaluate("([rows, lang]) => rows.map(([v, d]) => clinicqFormat.number(v, lang, d ?? undefined))",
                            [NUMBERS, lang])
    assert numbers == [formatting.format_number(v, lang, d) for v, d in NUMBERS]
    percents = page.evaluate("([rows, lang]) => rows.map(([v, d]) => clinicqFormat.percent(v, lang, d))",
                             [PERCENTS, lang])
    assert percents == [formatting.format_percent(v, lang, d) for v, d in PERCENTS]


def test_examples_a_reader_expects(page: Any) -> None:
    assert page.evaluate("clinicqFormat.percent(5.2, 'vi')") == "5,2\u00a0%"
    assert page.evaluate("clinicqFormat.percent(100, 'en')") == "100.0%"
    assert page.evaluate("clinicqFormat.number(12.5, 'vi')") == "12,5"
    assert page.evaluate("clinicqFormat.number(12.5, 'en')") == "12.5"
    assert page.evaluate("clinicqFormat.minutes(12.5)") == "13"
