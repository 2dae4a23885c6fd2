"""The SMS channel: one HTTP request per message to the site's SMS gateway, described in config.

Vietnamese gateways differ in everything (GET with a query string, form posts, JSON bodies, a result
code inside a 200 reply), so the request is a template: the URL, headers and body values may contain
{to}, {text}, {api_key} and {id}, and success is a status code and optionally a JSON field's value.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import requests

from hub.domain.notifications.settings import SmsSettings
from hub.domain.notifications.templates import to_ascii
from hub.notify.base import Outgoing, SendError

# The gateway is busy or down: worth trying again later. Any other 4xx means the request itself is wrong.
RETRY_STATUSES = {408, 425, 429}
TOKENS = ("{to}", "{text}", "{api_key}", "{id}")


def format_phone(phone: str, style: str) -> str:
    """A Vietnamese mobile number in the gateway's format: local 0912345678, 84912345678 or +84912345678."""
    digits = re.sub(r"\D", "", phone)
    foreign = phone.strip().startswith("+") and not digits.startswith("84")
    if foreign:
        return ("+" if style == "+84" else "") + digits
    if digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    if not digits.startswith("0") or not 10 <= len(digits) <= 11:
        raise SendError(f"not a Vietnamese phone number: {phone!r}", permanent=True)
    if style == "local":
        return digits
    return ("+84" if style == "+84" else "84") + digits[1:]


def _fill(template: str, values: dict[str, str], *, in_url: bool = False) -> str:
    # Plain replacement, not str.format: gateway bodies may hold other braces of their own.
    for token in TOKENS:
        if token in template:
            value = values[token[1:-1]]
            template = template.replace(token, quote(value, safe="") if in_url else value)
    return template


def _field(document: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document


class HttpSmsChannel:
    name = "sms"

    def __init__(self, settings: SmsSettings, *, api_key: str = "", session: requests.Session | None = None) -> None:
        self.settings = settings
        self.api_key = api_key or settings.api_key
        self.session = session or requests.Session()

    def request_for(self, message: Outgoing) -> dict[str, Any]:
        """The keyword arguments of `requests.request` for one message."""
        settings = self.settings
        text = to_ascii(message.sms) if settings.ascii_only else message.sms
        values = {"to": format_phone(message.recipient, settings.phone_format), "text": text,
                  "api_key": self.api_key, "id": str(message.id)}
        request: dict[str, Any] = {
            "method": settings.method, "url": _fill(settings.url, values, in_url=True),
            "headers": {name: _fill(value, values) for name, value in settings.headers.items()},
            "timeout": settings.timeout_s,
        }
        body = {key: _fill(value, values) if isinstance(value, str) else value for key, value in settings.body.items()}
        if settings.body_format == "json":
            request["json"] = body
        elif settings.body_format == "form":
            request["data"] = body
        return request

    def send(self, message: Outgoing) -> str | None:
        settings = self.settings
        try:
            reply = self.session.request(**self.request_for(message))
        except requests.RequestException as exc:
            raise SendError(f"SMS gateway unreachable: {type(exc).__name__}: {exc}") from None
        ok_status = reply.status_code in settings.success_status if settings.success_status \
            else 200 <= reply.status_code < 300
        if not ok_status:
            retry = reply.status_code >= 500 or reply.status_code in RETRY_STATUSES
            raise SendError(f"SMS gateway replied {reply.status_code}: {reply.text[:200]}", permanent=not retry)
        document = None
        if settings.success_field or settings.message_id_field:
            try:
                document = reply.json()
            except ValueError:
                raise SendError(f"SMS gateway reply is not JSON: {reply.text[:200]}") from None
        if settings.success_field:
            value = _field(document, settings.success_field)
            wanted = settings.success_values or ["true", "True", "ok", "OK", "success"]
            if str(value) not in wanted:
                # The gateway understood and refused (unregistered brand name, bad number): not retried.
                raise SendError(f"SMS gateway refused: {settings.success_field}={value!r}", permanent=True)
        if settings.message_id_field:
            found = _field(document, settings.message_id_field)
            return None if found is None else str(found)[:120]
        return None
