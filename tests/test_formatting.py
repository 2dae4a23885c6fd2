"""hub.formatting: vi-VN and English numbers, money, percents, dates and times in the site's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.formatting import (
    NBSP,
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_percent,
    format_time,
    to_local,
    weekday_name,
)


@pytest.mark.parametrize(("value", "lang", "decimals", "expected"), [
    (1234567, "vi", None, "1.234.567"),
    (1234567, "en", None, "1,234,567"),
    (0, "vi", None, "0"),
    (999, "vi", None, "999"),
    (1000, "vi", None, "1.000"),
    (-1234, "vi", None, "-1.234"),
    (1234.5, "vi", None, "1.234,5"),
    (1234.5, "en", None, "1,234.5"),
    (2.345, "vi", None, "2,35"),  # half up, as people round (not banker's)
    (2.5, "vi", 0, "3"),
    (5.2, "vi", 2, "5,20"),
    (Decimal("1000000.125"), "en", 2, "1,000,000.13"),
    (None, "vi", None, "—"),
])
def test_numbers(value, lang, decimals, expected):
    assert format_number(value, lang, decimals) == expected


def test_money_in_both_languages():
    assert format_money(1234567, "vi") == f"1.234.567{NBSP}₫"
    assert format_money(1234567, "en") == "₫1,234,567"
    assert format_money(-50000, "en") == "-₫50,000"
    assert format_money(0, "vi") == f"0{NBSP}₫"
    assert format_money(None) == "—"
    with pytest.raises(TypeError):
        format_money(12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_number(True)  # type: ignore[arg-type]


def test_percents():
    assert format_percent(5.2, "vi") == f"5,2{NBSP}%"
    assert format_percent(5.2, "en") == "5.2%"
    assert format_percent(0.052, "vi", ratio=True) == f"5,2{NBSP}%"
    assert format_percent(100, "en", 0) == "100%"
    assert format_percent(None) == "—"


def test_instants_are_shown_in_the_site_time_zone():
    # The example: 12:18 UTC is 19:18 in Hồ Chí Minh City.
    instant = "2026-12-07T12:18:07+00:00"
    assert format_time(instant, "vi") == "19:18"
    assert format_time(instant, "vi", seconds=True) == "19:18:07"
    assert format_datetime(instant, "vi") == "19:18 07/12/2026"
    assert format_datetime(instant, "en") == "7 Dec 2026, 19:18"
    # 20:00 UTC is already the next day locally.
    late = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    assert format_date(late, "vi") == "08/12/2026"
    assert format_date(late, "en", "UTC") == "7 Dec 2026"
    # A naive value is UTC (what older rows hold).
    assert to_local(datetime(2026, 1, 1, 0, 0)).hour == 7
    assert format_time(time(7, 5)) == "07:05"
    assert format_datetime(None) == "—"


def test_dates_and_weekdays():
    assert format_date(date(2026, 12, 7), "vi", weekday=True) == "Thứ Hai, 07/12/2026"
    assert format_date(date(2026, 12, 13), "en", weekday=True) == "Sunday 13 Dec 2026"
    assert format_date("2026-02-01", "vi") == "01/02/2026"
    assert weekday_name(6, "vi") == "Chủ nhật"
    assert weekday_name(0, "en") == "Monday"


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_grouping_reads_back_to_the_same_integer(value):
    vi, en = format_number(value, "vi"), format_number(value, "en")
    assert int(vi.replace(".", "")) == value
    assert int(en.replace(",", "")) == value
    # Groups of three after the first, in both languages.
    for text, sep in ((vi, "."), (en, ",")):
        groups = text.lstrip("-").split(sep)
        assert 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False))
def test_decimals_keep_their_value(value):
    text = format_number(value, "vi", 2)
    assert Decimal(text.replace(".", "").replace(",", ".")) == value
