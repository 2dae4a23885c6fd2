"""Message templates: pick the language, fill `{name}` placeholders, shape the text for a channel.

Templates come from config/notifications.toml and were checked at load (plain `{name}` placeholders
only), so rendering is `str.format_map` over the message's parameters plus a few site-wide ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.domain.notifications.settings import MessageTemplate, TemplateSet

WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class TemplateError(Exception):
    """A template is unknown or a placeholder has no value."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms: str


class _Strict(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        raise TemplateError(f"no value for the placeholder {{{key}}}")


class TemplateBook:
    """The configured templates, with the values every message may use ({site_name}, {hotline})."""

    def __init__(self, templates: Mapping[str, TemplateSet], site_values: Mapping[str, Mapping[str, str]]) -> None:
        self.templates = templates
        self.site_values = site_values  # per language

    def template(self, name: str, language: str) -> MessageTemplate:
        """The template in `language`, or in Vietnamese when it has no such translation."""
        found = self.templates.get(name)
        if found is None:
            raise TemplateError(f"unknown template {name!r} (expected one of {sorted(self.templates)})")
        return (found.en if language == "en" else None) or found.vi

    def missing(self, name: str, language: str, params: Mapping[str, Any]) -> set[str]:
        """Placeholders of the template that neither the parameters nor the site fill."""
        fields = self.template(name, language).fields()
        return fields - set(params) - set(self.site_values.get(language, {}))

    def render(self, name: str, language: str, params: Mapping[str, Any]) -> Rendered:
        template = self.template(name, language)
        values = _Strict({**self.site_values.get(language, {}), **{k: _text(v) for k, v in params.items()}})
        body = template.body.format_map(values)
        return Rendered(subject=" ".join(template.subject.format_map(values).split()), body=body,
                        sms=template.sms.format_map(values) if template.sms else body)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def when_params(instant: datetime, tz: ZoneInfo, language: str = "vi") -> dict[str, str]:
    """{date}, {time} and {weekday} of an instant in site time, for appointment messages."""
    local = instant.astimezone(tz)
    weekdays = WEEKDAYS_EN if language == "en" else WEEKDAYS_VI
    return {"date": local.strftime("%d/%m/%Y"), "time": local.strftime("%H:%M"), "weekday": weekdays[local.weekday()]}


def to_ascii(text: str) -> str:
    """Vietnamese without diacritics ("Bệnh viện Đa khoa" -> "Benh vien Da khoa"), for ASCII-only SMS."""
    text = unicodedata.normalize("NFC", text).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
