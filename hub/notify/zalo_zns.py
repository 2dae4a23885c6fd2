"""The Zalo channel: template messages (ZNS) of the hospital's Zalo Official Account.

ZNS sends only templates that Zalo approved for the OA: each message kind has a template id and its
parameters in config ([notifications.zalo.templates.<kind>]), filled from the message's values. One
HTTP POST per message, `access_token` in a header; the reply is JSON with `error` (0 = sent) and
`data.msg_id`. The error codes below decide what happens next:

- not on Zalo / phone invalid / the user blocks ZNS, template refused or not approved, the OA's quota
  used up: permanent here, so the dispatcher falls back to the next channel (SMS, then email) now;
- rate limited, token expired, Zalo down, network trouble: retried with backoff, nothing is lost.

Check the codes against Zalo's current ZNS documentation when connecting a real OA (docs/notifications.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import requests

from hub.domain.notifications.settings import ZaloSettings
from hub.notify.base import Outgoing, SendError

# error code -> (kind, permanent); a code not listed is retried (a new code must not lose messages).
NOT_ON_ZALO = {-108: "phone number invalid", -118: "no Zalo account for this phone, or it is disabled",
               -119: "this Zalo account cannot receive ZNS", -139: "the user refused ZNS from this OA"}
TEMPLATE_REFUSED = {-109: "template id unknown", -111: "template data empty", -112: "template data invalid",
                    -131: "template not approved or disabled", -1124: "template refused"}
QUOTA = {-115: "not enough ZNS balance", -144: "the OA's daily ZNS quota is used up"}
RATE_LIMITED = {-32: "rate limited"}
TOKEN = {-124: "access token invalid or expired", -216: "access token invalid"}


def zalo_phone(phone: str) -> str:
    """0912345678 / +84 912 345 678 -> 84912345678 (what ZNS expects)."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits


class _Values(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        raise SendError(f"template_refused: no value for {{{key}}} in the ZNS parameters", permanent=True)


class ZaloZnsChannel:
    name = "zalo"

    def __init__(self, settings: ZaloSettings, *, access_token: str = "",
                 site_values: Mapping[str, Mapping[str, str]] | None = None,
                 session: requests.Session | None = None) -> None:
        self.settings = settings
        self.access_token = access_token or settings.access_token
        self.site_values = site_values or {}
        self.session = session or requests.Session()

    def request_body(self, message: Outgoing) -> dict[str, Any]:
        template = self.settings.templates.get(message.template)
        if template is None:
            raise SendError(f"template_refused: no ZNS template configured for {message.template!r}", permanent=True)
        values = _Values({**self.site_values.get(message.language, {}),
                          **{k: "" if v is None else str(v) for k, v in message.params.items()}})
        data = {name: text.format_map(values) for name, text in template.params.items()}
        return {"phone": zalo_phone(message.recipient), "template_id": template.template_id, "template_data": data,
                "tracking_id": f"clinicq-{message.id}"}

    def send(self, message: Outgoing) -> str | None:
        body = self.request_body(message)
        try:
            reply = self.session.post(self.settings.url, json=body, timeout=self.settings.timeout_s,
                                      headers={"access_token": self.access_token})
        except requests.RequestException as exc:
            raise SendError(f"zalo_down: {self.settings.url} unreachable: {type(exc).__name__}") from None
        if reply.status_code == 429:
            raise SendError("rate_limited: Zalo answered HTTP 429")
        if reply.status_code >= 500:
            raise SendError(f"zalo_down: Zalo answered HTTP {reply.status_code}")
        try:
            answer = reply.json()
            code = int(answer.get("error", -1))
        except (ValueError, TypeError, AttributeError):
            raise SendError(f"zalo_down: Zalo answered HTTP {reply.status_code} without JSON") from None
        if code == 0:
            return str((answer.get("data") or {}).get("msg_id") or "") or None
        text = str(answer.get("message", ""))[:120]
        for kind, table in (("not_on_zalo", NOT_ON_ZALO), ("template_refused", TEMPLATE_REFUSED),
                            ("quota_exceeded", QUOTA)):
            if code in table:
                raise SendError(f"{kind}: {code} {table[code]} ({text})", permanent=True)
        if code in RATE_LIMITED:
            raise SendError(f"rate_limited: {code} {text}")
        if code in TOKEN:
            raise SendError(f"token: {code} {TOKEN[code]}: refresh CLINICQ_ZALO_ACCESS_TOKEN ({text})")
        raise SendError(f"zalo_error: {code} {text}")
