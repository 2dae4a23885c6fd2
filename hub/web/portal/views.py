"""How the portal words things for patients: ticket lines, dates, lab values and ranges, safe links.

The ticket phrases are kept here once; the page script gets the same phrases (`ticket_phrases`) to
rewrite a ticket's line when a live update arrives.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain.notifications.templates import WEEKDAYS_EN, WEEKDAYS_VI
from hub.web.i18n import current_lang, tr

PHRASES: dict[str, tuple[str, str]] = {
    "ahead": ("{ahead} người trước bạn", "{ahead} ahead of you"),
    "next": ("Bạn là người tiếp theo", "You are next"),
    "estimate": ("khoảng {p50}–{p90} phút", "about {p50}–{p90} min"),
    "go": ("đến {place}", "go to {place}"),
    "called": ("Mời bạn đến {place}", "Please go to {place} now"),
    "called_here": ("Mời bạn vào", "Please come in now"),
    "serving": ("Đang được phục vụ tại {place}", "Being seen at {place}"),
    "on_hold": ("Tạm dừng, vui lòng chờ tại chỗ", "On hold: please wait nearby"),
    "done": ("Đã xong", "Done"),
    "no_show": ("Bạn đã được gọi nhưng vắng mặt: vui lòng đến quầy", "You were called but missed it: please see "
                                                                     "the counter"),
    "cancelled": ("Đã huỷ", "Cancelled"),
    "transferred": ("Đã chuyển sang bước tiếp theo", "Moved on to the next step"),
}


def ticket_phrases() -> dict[str, str]:
    """The phrases in the page's language, for the page script."""
    return {key: tr(vi, en) for key, (vi, en) in PHRASES.items()}


def ticket_line(ticket: dict[str, Any]) -> str:
    """"3 người trước bạn, khoảng 12–20 phút, đến Phòng 12" and the like, in the page's language."""
    say = ticket_phrases()
    english = current_lang() == "en"
    status = ticket["status"]
    if status == "waiting":
        parts = [say["ahead"].format(ahead=ticket["ahead"]) if ticket["ahead"] else say["next"]]
        if ticket.get("estimate"):
            # Whole minutes, as the boards and the kiosk say them (never "12.5").
            parts.append(say["estimate"].format(p50=round(ticket["estimate"]["p50_minutes"]),
                                                p90=round(ticket["estimate"]["p90_minutes"])))
        place = ticket.get("place_en") if english else ticket.get("place")
        if place:
            parts.append(say["go"].format(place=place))
        return ", ".join(parts)
    counter = (ticket.get("counter_name_en") if english else None) or ticket.get("counter_name")
    if status in ("called", "serving"):
        return say[status].format(place=counter) if counter else say["called_here"]
    return say.get(status, status)


def long_day(value: str | date) -> str:
    """"Thứ Hai, 23/11/2026" (or "Monday, 23/11/2026")."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    weekdays = WEEKDAYS_EN if current_lang() == "en" else WEEKDAYS_VI
    return f"{weekdays[day.weekday()]}, {day:%d/%m/%Y}"


def short_day(value: str | date) -> str:
    """"T2 23/11" for the day buttons of the booking steps (English "Mon 23/11")."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    english = current_lang() == "en"
    name = WEEKDAYS_EN[day.weekday()][:3] if english else ("CN" if day.weekday() == 6 else f"T{day.weekday() + 2}")
    return f"{name} {day:%d/%m}"


def local_moment(value: str, tz: ZoneInfo) -> str:
    """An ISO instant as "23/11/2026 08:15" in site time."""
    return f"{datetime.fromisoformat(value).astimezone(tz):%d/%m/%Y %H:%M}"


def number(value: float | int | None) -> str:
    """A lab value as the lab wrote it: no trailing ".0"."""
    if value is None:
        return ""
    return f"{value:g}"


def reference_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{number(low)}–{number(high)}"
    if high is not None:
        return f"≤ {number(high)}"
    if low is not None:
        return f"≥ {number(low)}"
    return ""


def safe_link(link: str | None) -> str | None:
    """A message's link if it is a web address or a path of this site (never javascript: and the like)."""
    if not link:
        return None
    lowered = link.strip().lower()
    if lowered.startswith(("https://", "http://")) or (link.startswith("/") and not link.startswith("//")):
        return link.strip()
    return None


def bilingual(message: str) -> str:
    """The page's half of a domain message written "Vietnamese / English"."""
    vi, sep, en = message.partition(" / ")
    return tr(vi, en) if sep else message


HELPERS = {"ticket_line": ticket_line, "long_day": long_day, "short_day": short_day, "lab_number": number,
           "reference_range": reference_range, "safe_link": safe_link}
