"""API tokens: random secrets that carry one role, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import insert, select, update

from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Invalid, NotFound
from hub.domain.staff.models import ApiToken
from hub.protocol import ROLES

TOKEN_PREFIX = "cq_"
# Verified tokens are remembered briefly so a busy kiosk does not cost a query per request;
# a revoked token therefore stops working within this many seconds.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class TokenIdentity:
    id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"token:{self.name}"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class TokenService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self._cache: dict[str, tuple[TokenIdentity, float]] = {}

    def create(self, role: str, name: str) -> str:
        """Create a token and return it; it is shown once and never stored in clear."""
        if role not in ROLES:
            raise Invalid("unknown_role", f"unknown role {role!r}; expected one of {list(ROLES)}")
        if not name or len(name) > 64:
            raise Invalid("bad_name", "a token needs a name of 1 to 64 characters")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.write() as connection:
            connection.execute(insert(ApiToken).values(name=name, role=role, token_hash=_digest(raw),
                                                       created_at=self.clock.now()))
        return raw

    def verify(self, raw: str) -> TokenIdentity | None:
        if not raw or len(raw) > 200:
            return None
        digest = _digest(raw)
        cached = self._cache.get(digest)
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        with self.db.read() as connection:
            row = connection.execute(select(ApiToken.id, ApiToken.name, ApiToken.role).where(
                ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))).first()
        if row is None:
            self._cache.pop(digest, None)
            return None
        identity = TokenIdentity(row.id, row.name, row.role)
        self._cache[digest] = (identity, time.monotonic())
        return identity

    def revoke(self, name: str) -> int:
        with self.db.write() as connection:
            count = connection.execute(update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
                                       .values(revoked_at=self.clock.now())).rowcount
        if not count:
            raise NotFound("unknown_token", f"no active token named {name!r}")
        self._cache.clear()
        return count

    def list(self) -> list[dict[str, object]]:
        with self.db.read() as connection:
            rows = connection.execute(select(ApiToken).order_by(ApiToken.id)).all()
        return [{"id": r.ApiToken.id, "name": r.ApiToken.name, "role": r.ApiToken.role,
                 "created_at": r.ApiToken.created_at.isoformat(),
                 "revoked": r.ApiToken.revoked_at is not None} for r in rows]
