"""Load and validate config/voice.toml: templates, number reading, volume, quiet hours, engines.

Errors name the file and the key, because the people who edit this file are a hospital's IT staff.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from display.announcement import DEFAULT_TEMPLATES, LANGUAGES, check_template
from display.vietnamese_numbers import LETTER_NAMES

DEFAULT_VOICE_CONFIG = Path("config") / "voice.toml"
ENGINE_NAMES = ("clips", "espeak", "gtts")
Percent = Annotated[int, Field(ge=0, le=100)]


class VoiceConfigError(Exception):
    """config/voice.toml cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_hours(value: str) -> tuple[time, time]:
    """'21:00-06:00' -> (21:00, 06:00); a range may cross midnight but not be empty."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value.strip())
    if not match:
        raise ValueError(f"expected a range like '11:30-13:30', got {value!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"not a time of day in {value!r}")
    if (h1, m1) == (h2, m2):
        raise ValueError(f"the range {value!r} is empty")
    return time(h1, m1), time(h2, m2)


class QuietHours(_Strict):
    """A time range when calls are softer."""

    hours: str
    volume: Percent

    @field_validator("hours")
    @classmethod
    def _valid_range(cls, value: str) -> str:
        parse_hours(value)
        return value

    def contains(self, moment: time) -> bool:
        """True when `moment` falls in the range (start included, end excluded)."""
        start, end = parse_hours(self.hours)
        if start < end:
            return start <= moment < end
        return moment >= start or moment < end


class AnnounceSettings(_Strict):
    """[announce]: how calls are worded and repeated."""

    style: Literal["north", "south"] = "north"
    number_reading: Literal["number", "digits"] = "number"
    repeat: int = Field(2, ge=1, le=5)
    gap_ms: int = Field(700, ge=0, le=5000)
    templates: dict[str, str] = dict(DEFAULT_TEMPLATES)
    letters: dict[str, str] = {}

    @field_validator("templates")
    @classmethod
    def _known_templates(cls, value: dict[str, str]) -> dict[str, str]:
        for lang, template in value.items():
            if lang not in LANGUAGES:
                raise ValueError(f"unknown language {lang!r} (expected one of {LANGUAGES})")
            check_template(template)
        return {**DEFAULT_TEMPLATES, **value}

    @field_validator("letters")
    @classmethod
    def _known_letters(cls, value: dict[str, str]) -> dict[str, str]:
        for letter, name in value.items():
            if letter.upper() not in LETTER_NAMES:
                raise ValueError(f"{letter!r} is not a letter of the table (expected one of {''.join(LETTER_NAMES)})")
            if not name.strip() or any(ch.isdigit() for ch in name):
                raise ValueError(f"the name of {letter!r} must be words, got {name!r}")
        return {k.upper(): v.strip() for k, v in value.items()}


class AudioSettings(_Strict):
    """[audio]: volume, chime and quiet hours."""

    volume: Percent = 80
    chime: str = "generated"
    timezone: str = "Asia/Ho_Chi_Minh"
    quiet_hours: list[QuietHours] = []

    @field_validator("chime")
    @classmethod
    def _chime_exists(cls, value: str) -> str:
        if value not in ("generated", "none") and not Path(value).is_file():
            raise ValueError(f"expected \"generated\", \"none\" or an existing WAV file, got {value!r} "
                             f"(relative paths start from {Path.cwd()})")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as 'Asia/Ho_Chi_Minh', got {value!r}") from None
        return value

    def volume_at(self, moment: datetime, base_volume: int | None = None) -> int:
        """Volume in percent at `moment`: the base (device config or file), lowered during quiet hours."""
        volume = self.volume if base_volume is None else base_volume
        local = moment.astimezone(ZoneInfo(self.timezone)).time()
        for window in self.quiet_hours:
            if window.contains(local):
                volume = min(volume, window.volume)
        return volume


class EngineSettings(_Strict):
    """[engines]: which speech engines, in which order, with their options."""

    order: list[Literal["clips", "espeak", "gtts"]] = Field(default=list(ENGINE_NAMES), min_length=1)
    clip_pack: str = "var/voice/clips"
    cache_dir: str = "var/voice/cache"
    speech_rate: int = Field(150, ge=80, le=300)
    voice_vi: str = ""
    voice_en: str = "en"
    gtts_timeout_s: float = Field(2.0, gt=0, le=30)
    gtts_retry_after_s: float = Field(60, ge=0, le=3600)
    gtts_tld: str = "com.vn"
    extra_phrases: list[str] = []

    @field_validator("order")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"an engine appears twice in {value}")
        return value


class VoiceSettings(_Strict):
    """Everything config/voice.toml holds: validated, immutable."""

    announce: AnnounceSettings = AnnounceSettings()
    audio: AudioSettings = AudioSettings()
    engines: EngineSettings = EngineSettings()


def _describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path} is not valid:"]
    for error in exc.errors():
        location = [str(part) for part in error["loc"]]
        table = f"[{location[0]}]" if location else ""
        key = ".".join(location[1:]) or "(table)"
        message = error["msg"].removeprefix("Value error, ")
        got = f" (got {error['input']!r})" if error["type"] not in ("missing", "extra_forbidden") else ""
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {table} {key}: {message}{got}")
    return "\n".join(lines)


def load_voice_settings(path: Path | str | None = None) -> VoiceSettings:
    """Read voice.toml (by default ./config/voice.toml when it exists, else built-in defaults)."""
    if path is None:
        if not DEFAULT_VOICE_CONFIG.is_file():
            return VoiceSettings()
        path = DEFAULT_VOICE_CONFIG
    source = Path(path)
    try:
        with source.open("rb") as handle:
            content = tomllib.load(handle)
    except FileNotFoundError:
        raise VoiceConfigError(f"{source}: missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise VoiceConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return VoiceSettings.model_validate(content)
    except ValidationError as exc:
        raise VoiceConfigError(_describe(source, exc)) from None
