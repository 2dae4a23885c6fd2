"""Numbers, money, percents, dates and times as Vietnamese (vi-VN) and English readers expect them.

Standard library only, so the domain, the pages (as Jinja filters), printed slips and exports all
format the same way: `1.234.567 ₫` and `5,2 %` in Vietnamese, `₫1,234,567` and `5.2%` in English.
Instants are stored in UTC; every function that shows one converts it to the site's time zone
first, so staff read 19:18 when it is 19:18 in the hospital, never 12:18+00:00.

A non-breaking space (U+00A0) joins a number to its unit, so "1.234.567 ₫" never wraps.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

LANGUAGES = ("vi", "en")
NBSP = "\u00a0"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

# Thousands and decimal separators (CLDR vi: "." and ","; en: "," and ".").
_SEPARATORS = {"vi": (".", ","), "en": (",", ".")}
WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _lang(lang: str | None) -> str:
    return lang if lang in LANGUAGES else "vi"


def format_number(value: float | int | Decimal | None, lang: str = "vi", decimals: int | None = None) -> str:
    """A number with the language's separators: 1.234.567,5 (vi) or 1,234,567.5 (en); '—' for None.

    `decimals` None keeps an integer whole and gives other numbers up to two decimals without
    trailing zeros; a number fixes the count (rounded half up, as people round).
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        raise TypeError("a yes/no value is not a number")
    thousands, point = _SEPARATORS[_lang(lang)]
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if decimals is None:
        if number == number.to_integral_value():
            places = 0
        else:
            number = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
            places = max(-number.as_tuple().exponent, 0)  # type: ignore[operator]
    else:
        places = max(decimals, 0)
    quantum = Decimal(1).scaleb(-places)
    number = number.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    whole, _, fraction = f"{abs(number):.{places}f}".partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = thousands.join(groups)
    if fraction:
        text += point + fraction
    return sign + text


def format_money(amount: int | None, lang: str = "vi") -> str:
    """Đồng, whole: '1.234.567 ₫' (vi) or '₫1,234,567' (en); money is kept as integer VND."""
    if amount is None:
        return "—"
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("money is an integer number of đồng")
    if _lang(lang) == "en":
        return ("-" if amount < 0 else "") + "₫" + format_number(abs(amount), "en")
    return format_number(amount, "vi") + NBSP + "₫"


def format_percent(value: float | None, lang: str = "vi", decimals: int = 1, *, ratio: bool = False) -> str:
    """'5,2 %' (vi) or '5.2%' (en). `value` is in percent, or a 0..1 share when `ratio` is True."""
    if value is None:
        return "—"
    percent = value * 100 if ratio else value
    text = format_number(percent, lang, decimals)
    return text + (NBSP + "%" if _lang(lang) == "vi" else "%")


def to_local(instant: datetime | str | None, tz: ZoneInfo | str | None = None) -> datetime | None:
    """An instant in the site's time zone; an ISO string is parsed and a naive value is taken as UTC."""
    if instant is None or instant == "":
        return None
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz or DEFAULT_TIMEZONE)
    return instant.astimezone(zone)


def format_date(value: date | datetime | str | None, lang: str = "vi", tz: ZoneInfo | str | None = None,
                *, weekday: bool = False) -> str:
    """07/12/2026 (vi) or 7 Dec 2026 (en); an instant is first moved to the site's zone."""
    if value is None or value == "":
        return "—"
    day = _as_day(value, tz)
    if _lang(lang) == "en":
        text = f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
        return f"{WEEKDAYS_EN[day.weekday()]} {text}" if weekday else text
    text = f"{day.day:02d}/{day.month:02d}/{day.year}"
    return f"{WEEKDAYS_VI[day.weekday()]}, {text}" if weekday else text


def format_time(value: datetime | time | str | None, lang: str = "vi", tz: ZoneInfo | str | None = None,
                *, seconds: bool = False) -> str:
    """19:18 (24-hour clock in both languages: what a hospital's rota uses), in the site's zone."""
    if value is None or value == "":
        return "—"
    if isinstance(value, time):
        moment = value
    else:
        local = to_local(value, tz)
        assert local is not None
        moment = local.time()
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def format_datetime(value: datetime | str | None, lang: str = "vi", tz: ZoneInfo | str | None = None,
                    *, seconds: bool = False) -> str:
    """'19:18 07/12/2026' (vi) or '7 Dec 2026, 19:18' (en), in the site's zone."""
    local = to_local(value, tz) if value not in (None, "") else None
    if local is None:
        return "—"
    clock = format_time(local, lang, local.tzinfo, seconds=seconds)  # type: ignore[arg-type]
    day = format_date(local.date(), lang)
    return f"{day}, {clock}" if _lang(lang) == "en" else f"{clock} {day}"


def weekday_name(index: int, lang: str = "vi") -> str:
    """Monday = 0, as `date.weekday()`."""
    return (WEEKDAYS_EN if _lang(lang) == "en" else WEEKDAYS_VI)[index]


def _as_day(value: date | datetime | str, tz: ZoneInfo | str | None) -> date:
    if isinstance(value, datetime):
        local = to_local(value, tz)
        assert local is not None
        return local.date()
    if isinstance(value, date):
        return value
    if len(value) == 10:
        return date.fromisoformat(value)
    local = to_local(value, tz)
    assert local is not None
    return local.date()
