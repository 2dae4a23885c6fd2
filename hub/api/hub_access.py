"""Access to the running Hub from request handlers."""

from __future__ import annotations

from typing import TypeVar

from flask import current_app
from pydantic import BaseModel

from hub.api.errors import ApiError
from hub.core import Hub

Body = TypeVar("Body", bound=BaseModel)


def current_hub() -> Hub:
    return current_app.extensions["clinicq"]


def parse_body(model: type[Body]) -> Body:
    """Parse the JSON body into `model`: 400 for broken JSON, 415 for forms, 422 for wrong content."""
    from hub.api.requests import parse_json_body  # the input guards (hub/api/requests.py)

    data = parse_json_body()
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object")
    return model.model_validate(data)
