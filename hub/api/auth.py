"""Who is calling: a bearer token (devices, kiosks, scripts) or, later, a staff login session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import current_app, g, request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from hub.api.errors import ApiError
from hub.api.hub_access import current_hub

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Key in app.extensions of a callable returning the logged-in staff member's Identity, or None.
SESSION_RESOLVER = "clinicq_session_identity"


@dataclass(frozen=True)
class Identity:
    actor: str  # what the audit trail records: "token:kiosk-1", "user:lan.nguyen"
    role: str


def identify() -> Identity | None:
    """The caller's identity from the Authorization header; None when anonymous."""
    if "identity" in g:
        return g.identity
    identity = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Authorization must be 'Bearer <token>'")
        found = current_hub().tokens.verify(token.strip())
        if found is None:
            raise ApiError(401, "unauthorized", "unknown or revoked token")
        identity = Identity(found.actor, found.role)
    else:
        identity = session_identity()
        if identity is not None and request.method not in SAFE_METHODS:
            # A cookie rides along with any cross-site request: pages must prove it is them.
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except ValidationError:
                raise ApiError(403, "csrf_failed", "missing or invalid X-CSRFToken header") from None
    g.identity = identity
    return identity


def session_identity() -> Identity | None:
    """A logged-in staff member, when the staff pages have installed their session resolver."""
    resolver = current_app.extensions.get(SESSION_RESOLVER)
    return resolver() if resolver else None


def require_roles(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Allow callers with one of `roles` (admin always); 401 when anonymous, 403 for other roles."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = identify()
            if identity is None:
                raise ApiError(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <token>'")
            if identity.role != "admin" and identity.role not in roles:
                raise ApiError(403, "forbidden", f"role '{identity.role}' may not do this (needs {', '.join(roles)})")
            return view(*args, **kwargs)

        wrapper.required_roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI builder
        return wrapper

    return decorator


def actor() -> str:
    identity = identify()
    return identity.actor if identity else "anonymous"
