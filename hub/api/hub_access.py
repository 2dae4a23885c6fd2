"""Access to the running Hub from request handlers."""

from __future__ import annotations

import json
from typing import TypeVar

from flask import current_app, request
from pydantic import BaseModel

from hub.api.errors import ApiError
from hub.core import Hub

Body = TypeVar("Body", bound=BaseModel)


def current_hub() -> Hub:
    return current_app.extensions["clinicq"]


def parse_body(model: type[Body]) -> Body:
    """Parse the JSON body into `model`: 400 for broken JSON, 415 for forms, 422 for wrong content."""
    raw = request.get_data(cache=True)
    content_type = request.mimetype or ""
    if raw.strip() and content_type and content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    if not raw.strip():
        data: object = {}
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "malformed_json", f"the body is not valid UTF-8 JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    return model.model_validate(data)
