"""Shape checks for what devices receive: anything unexpected raises PayloadError and is dropped."""

from __future__ import annotations

from typing import Any

from hub import protocol


class PayloadError(ValueError):
    """A message a device cannot use; the device logs it and carries on."""


def decode_object(raw: bytes) -> dict[str, Any]:
    """A UTF-8 JSON object of at most protocol.MAX_PAYLOAD_BYTES, or PayloadError."""
    try:
        body = protocol.decode(raw)
    except ValueError as exc:
        raise PayloadError(str(exc)) from None
    if not isinstance(body, dict):
        raise PayloadError(f"expected a JSON object, got {type(body).__name__}")
    return body


def decode_text(raw: bytes) -> str:
    """A short status word sent as plain text or as a JSON string ('online' or '"online"')."""
    if len(raw) > 64:
        raise PayloadError(f"status word of {len(raw)} bytes")
    try:
        return raw.decode("utf-8").strip().strip('"')
    except UnicodeDecodeError:
        raise PayloadError("status word is not UTF-8") from None


def optional_str(body: dict[str, Any], key: str, max_chars: int = 200) -> str | None:
    """The string at `key`, None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_chars:
        raise PayloadError(f"{key} must be a string of at most {max_chars} characters")
    return value


def required_str(body: dict[str, Any], key: str, max_chars: int = 200) -> str:
    """The non-empty string at `key`."""
    value = optional_str(body, key, max_chars)
    if not value:
        raise PayloadError(f"{key} is required")
    return value


def optional_id(body: dict[str, Any], key: str) -> str | None:
    """A counter, zone or service code: lowercase a-z, 0-9 and '-'."""
    value = optional_str(body, key, 64)
    if value is not None and not protocol.valid_id(value):
        raise PayloadError(f"{key} {value[:20]!r} is not a valid id")
    return value


def optional_int(body: dict[str, Any], key: str, low: int, high: int) -> int | None:
    """An integer within [low, high]; JSON booleans are not numbers here."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PayloadError(f"{key} must be an integer from {low} to {high}")
    return value


def optional_number(body: dict[str, Any], key: str) -> float | None:
    """A JSON number (not a boolean)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{key} must be a number")
    return float(value)


def optional_object(body: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A nested JSON object, None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PayloadError(f"{key} must be an object")
    return value
