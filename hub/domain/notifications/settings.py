"""The settings of config/notifications.toml: the outbox, its channels, message templates, the scheduler.

Kept apart from hub/config.py (which only adds them to ClinicConfig) because they are many; the
checks are the same kind: a wrong key or value names the key and what was expected.
"""

from __future__ import annotations

import re
from datetime import time
from string import Formatter
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ChannelName = Literal["email", "sms", "in_app", "file_log", "zalo"]
CHANNELS: tuple[str, ...] = ("email", "sms", "in_app", "file_log", "zalo")
PLACEHOLDER = re.compile(r"^[a-z_][a-z0-9_]*$")
TemplateName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
# "1900 xxxx", "xxx Đường ABC": text left from a sample file, which must never reach a patient.
SAMPLE_TEXT = re.compile(r"x{3,}|\bTODO\b|\bCHANGEME\b", re.IGNORECASE)


def refuse_sample_text(value: str, what: str) -> str:
    if SAMPLE_TEXT.search(value):
        raise ValueError(f"{what} still holds sample text {value[:60]!r}: write the hospital's real one here "
                         "before the hub starts (patients would read it in every message)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a template; anything fancier (attributes, indexes, formats) is refused."""
    names: set[str] = set()
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"bad braces in {text[:40]!r}: {exc} (write {{{{ for a literal brace)") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not PLACEHOLDER.match(name) or spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must be a plain lower-case name like {{patient_name}}")
        names.add(name)
    return names


def parse_clock_range(value: str) -> tuple[time, time] | None:
    """'21:00-07:00' (may cross midnight) as two times; '' means no range."""
    if not value:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value)
    if not match:
        raise ValueError(f"expected a range like '21:00-07:00' (or empty), got {value!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"not a time of day in {value!r}")
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise ValueError(f"the range {value!r} is empty")
    return start, end


def parse_clock(value: str) -> time:
    """'HH:MM' as a time of day."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"expected a time of day like '18:00', got {value!r}")
    return time(int(match[1]), int(match[2]))


class MessageTemplate(_Strict):
    """One language of a message: a subject (email, app), a body, and a shorter SMS text."""

    subject: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=4000)]
    sms: Annotated[str, Field(min_length=1, max_length=640)] | None = None  # None: the SMS carries the body

    @field_validator("subject", "body", "sms")
    @classmethod
    def _plain_placeholders(cls, value: str | None) -> str | None:
        if value is not None:
            placeholders(value)
            refuse_sample_text(value, "this template")
        return value

    def fields(self) -> set[str]:
        return placeholders(self.subject) | placeholders(self.body) | placeholders(self.sms or "")


class TemplateSet(_Strict):
    """A message in Vietnamese (required: the default language) and English."""

    vi: MessageTemplate
    en: MessageTemplate | None = None


class EmailSettings(_Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str = ""
    password: str = ""  # better: environment CLINICQ_SMTP_PASSWORD
    from_address: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] = "noreply@clinicq.invalid"
    from_name: str = ""  # empty: the site's name
    timeout_s: float = Field(15, gt=0, le=120)


class SmsSettings(_Strict):
    """An HTTP SMS gateway described by a request template: {to}, {text} and {api_key} are filled in."""

    enabled: bool = False
    url: str = "http://127.0.0.1:9999/send"
    method: Literal["GET", "POST", "PUT"] = "POST"
    headers: dict[str, str] = {}
    body_format: Literal["json", "form", "none"] = "json"
    body: dict[str, str | int | bool] = {"to": "{to}", "text": "{text}"}
    api_key: str = ""  # better: environment CLINICQ_SMS_API_KEY
    phone_format: Literal["local", "84", "+84"] = "84"  # 0912345678 / 84912345678 / +84912345678
    ascii_only: bool = False  # many brand-name SMS contracts require text without diacritics
    success_status: list[int] = []  # empty: any 2xx
    success_field: str = ""  # a dotted path in the JSON reply, e.g. "CodeResult" or "data.status"
    success_values: list[str] = []  # what that field must equal (compared as text)
    message_id_field: str = ""  # the gateway's message id in the reply, kept on the outbox row
    timeout_s: float = Field(15, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @model_validator(mode="after")
    def _field_pairs(self) -> SmsSettings:
        if self.success_values and not self.success_field:
            raise ValueError("sms.success_values needs sms.success_field (where to find the value)")
        return self


class ZaloTemplate(_Strict):
    """One message kind as a ZNS template: its id (approved by Zalo for the OA) and its parameters,
    each a text with our {placeholders} (e.g. customer_name = "{patient_name}")."""

    template_id: Annotated[str, Field(min_length=1, max_length=40)]
    params: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")], str] = {}

    @field_validator("params")
    @classmethod
    def _plain(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            placeholders(text)
        return value


class ZaloSettings(_Strict):
    """Zalo Notification Service (template messages of the hospital's Official Account)."""

    enabled: bool = False
    url: str = "https://business.openapi.zalo.me/message/template"
    access_token: str = ""  # better: environment CLINICQ_ZALO_ACCESS_TOKEN (it expires: refresh it there)
    timeout_s: float = Field(15, gt=0, le=120)
    templates: dict[TemplateName, ZaloTemplate] = {}  # message kind -> ZNS template; a kind without one falls back

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value


class InAppSettings(_Strict):
    enabled: bool = True


class FileLogSettings(_Strict):
    enabled: bool = True
    path: str = "notifications.jsonl"  # relative paths are under the hub's var/ folder


class NotificationSettings(_Strict):
    """The outbox: which channels, when not to disturb, how to retry, and the message templates."""

    channels: list[ChannelName] = ["in_app", "file_log"]  # a patient's messages go out on each of these
    quiet_hours: str = "21:00-07:00"  # site time; empty: none
    quiet_channels: list[ChannelName] = ["sms", "email"]  # deferred to the end of quiet hours
    require_consent: list[ChannelName] = ["sms", "email"]  # sent only with the patient's recorded consent
    hotline: str = ""  # the {hotline} placeholder
    address: str = ""  # the {address} placeholder: the hospital's street address
    sender_name: str = ""  # the {sender_name} placeholder and the email's From name (empty: the site's name)
    # The one-time sign-in code goes out on each of these that is on (in_app: a copy in the inbox).
    otp_channels: list[ChannelName] = ["zalo", "sms", "email", "in_app", "file_log"]
    # Of these, a message goes out on the first that reaches the patient (address, consent, channel on);
    # the next one is used when it fails for good (not on Zalo, template refused, quota, retries used up).
    fallback: list[Literal["zalo", "sms", "email"]] = ["zalo", "sms", "email"]
    poll_seconds: float = Field(5, gt=0, le=3600)
    batch_size: int = Field(20, ge=1, le=1000)
    lease_seconds: float = Field(300, ge=10, le=86400)  # a row left 'sending' by a dead worker waits this long
    max_attempts: int = Field(8, ge=1, le=100)
    retry_base_seconds: float = Field(60, ge=0, le=86400)
    retry_factor: float = Field(2, ge=1, le=10)
    retry_max_seconds: float = Field(3600, ge=0, le=7 * 86400)
    email: EmailSettings = EmailSettings()
    sms: SmsSettings = SmsSettings()
    zalo: ZaloSettings = ZaloSettings()
    in_app: InAppSettings = InAppSettings()
    file_log: FileLogSettings = FileLogSettings()
    templates: dict[TemplateName, TemplateSet] = {}

    @field_validator("hotline", "address", "sender_name")
    @classmethod
    def _real_text(cls, value: str) -> str:
        return refuse_sample_text(value, "this text")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        parse_clock_range(value)
        return value

    def quiet_range(self) -> tuple[time, time] | None:
        return parse_clock_range(self.quiet_hours)

    def channel_enabled(self, channel: str) -> bool:
        settings = getattr(self, channel, None)
        return bool(settings is not None and settings.enabled)

    def retry_delay(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`: exponential, capped."""
        return min(self.retry_base_seconds * self.retry_factor ** max(attempts - 1, 0), self.retry_max_seconds)


class SchedulerSettings(_Strict):
    """The background scheduler: where it runs, and its leader lease."""

    in_hub: bool = True  # false: run `clinicq worker` as its own process
    tick_seconds: float = Field(1, gt=0, le=60)
    lease_seconds: float = Field(30, ge=2, le=3600)  # another process takes over this long after a leader dies
