"""Input guards for every request, in one place: what no handler, service or database should see.

- integers in paths are bounded to 64 bits (a larger id is simply not found: 404);
- text in paths, query strings, forms and the Idempotency-Key header holds no control characters
  (NUL cannot be stored by PostgreSQL and is never meaningful): 422 on the API, 400 on pages;
- integers in query strings stay within 64 bits: 422;
- an API body is JSON, sent as application/json (415 otherwise), nested at most MAX_JSON_DEPTH deep,
  with bounded integers and clean text (400/422), checked by `parse_json_body` before any model sees it.

Refusals are logged as one line, never a traceback: bad input is the caller's fault, not the hub's.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

from hub import protocol as p
from hub.api.errors import ApiError
from hub.protocol import API_PREFIX

log = logging.getLogger(__name__)
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# The body field's own rule (hub/api/schemas.py IdempotencyKey), applied to the header too.
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,64}")
_INTEGER = re.compile(r"[+-]?\d+")


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that never matches past a 64-bit integer, so such an id is a 404, not an overflow."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", p.INT_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > 19:  # past 2**63 - 1 (and before int() meets Python's digit limit)
            from werkzeug.routing import ValidationError

            raise ValidationError()
        return super().to_python(value)


def install_converters(app: Flask) -> None:
    """Before any blueprint is registered: rules pick their converter when added."""
    app.url_map.converters["int"] = BoundedIntConverter


def is_api() -> bool:
    return request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX


def refuse(status: int, code: str, message: str) -> None:
    log.warning("refused %s %s: %s", request.method, request.path[:200], message)
    if is_api():
        raise ApiError(status, code, message)
    abort(400 if status == 422 else status)


def check_request() -> None:
    """before_request: path and query values, form text, the Idempotency-Key header, the content type."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and p.CONTROL_CHARACTERS.search(value):
            refuse(422, "invalid_request", f"{name}: control characters are not allowed")
    for name, value in request.args.items(multi=True):
        if p.CONTROL_CHARACTERS.search(name) or p.CONTROL_CHARACTERS.search(value):
            refuse(422, "invalid_request", f"{name[:40]}: control characters are not allowed")
        if _INTEGER.fullmatch(value.strip()) and (len(value.strip()) > 20
                                                  or not p.INT_MIN <= int(value) <= p.INT_MAX):
            refuse(422, "invalid_request", f"{name[:40]}: integer out of range")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        refuse(422, "invalid_request", "Idempotency-Key must be 8 to 64 characters of A-Z a-z 0-9 _ . : -")
    if request.method not in BODY_METHODS:
        return
    if is_api():
        has_body = bool(request.content_length or request.headers.get("Transfer-Encoding"))
        if has_body and request.mimetype != "application/json":
            refuse(415, "unsupported_media_type", "send the body as application/json")
        return
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if p.CONTROL_CHARACTERS.search(name) or p.CONTROL_CHARACTERS.search(value):
                refuse(422, "invalid_request", f"{name[:40]}: control characters are not allowed")


def parse_json_body() -> object:
    """The request's JSON body within the wire limits ({} when empty); ApiError otherwise."""
    raw = request.get_data(cache=True)
    content_type = request.mimetype or ""
    if raw.strip() and content_type != "application/json":
        refuse(415, "unsupported_media_type", "send the body as application/json")
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid UTF-8 JSON: {exc}") from None
    try:
        return p.parse_json(text)
    except ValueError as exc:
        status, code = (400, "malformed_json") if _is_syntax(exc) else (422, "invalid_request")
        log.warning("refused %s %s: %s", request.method, request.path[:200], str(exc)[:200])
        raise ApiError(status, code, f"the body is not acceptable JSON: {exc}") from None


def _is_syntax(exc: ValueError) -> bool:
    import json

    return isinstance(exc, json.JSONDecodeError)


def install_input_guards(app: Flask) -> None:
    app.before_request(check_request)
