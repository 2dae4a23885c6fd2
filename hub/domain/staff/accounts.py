"""Staff accounts: roles, argon2id password hashes, the counter each person works at."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.staff.models import StaffUser

STAFF_ROLES = ("reception", "nurse", "doctor", "lab", "cashier", "admin")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps both answers equally slow.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

S = StaffUser.__table__


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    full_name: str
    role: str
    counter: str | None

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "full_name": self.full_name, "role": self.role,
                "counter": self.counter}


def _staff(row: Any) -> Staff:
    return Staff(row.id, row.username, row.full_name, row.role, row.counter)


class StaffService:
    def __init__(self, db: Database, clinic: ClinicConfig, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.clock = clock

    def add(self, username: str, full_name: str, role: str, password: str, counter: str | None = None) -> Staff:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise Invalid("bad_username", "a username is 2-64 characters: a-z, 0-9, '.', '_' or '-'")
        if role not in STAFF_ROLES:
            raise Invalid("unknown_role", f"role must be one of {list(STAFF_ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise Invalid("weak_password", f"a password needs at least {MIN_PASSWORD} characters")
        if not full_name.strip() or len(full_name) > 120:
            raise Invalid("bad_name", "a full name of 1 to 120 characters is needed")
        self._check_counter(counter)
        try:
            with self.db.write() as connection:
                user_id = connection.execute(insert(S).values(
                    username=username, full_name=full_name.strip(), role=role, password_hash=_hasher.hash(password),
                    counter=counter, active=True, created_at=self.clock.now()).returning(S.c.id)).scalar_one()
        except IntegrityError:
            raise Conflict("user_exists", f"a user {username!r} already exists") from None
        return Staff(user_id, username, full_name.strip(), role, counter)

    def authenticate(self, username: str, password: str) -> Staff | None:
        """The user if the password is right and the account active; None otherwise (same time either way)."""
        username = (username or "").strip().lower()[:64]
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.username == username)).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        try:
            _hasher.verify(stored, password or "")
        except (VerificationError, InvalidHashError):
            return None
        if row is None or not row.active:
            return None
        values: dict[str, Any] = {"last_login_at": self.clock.now()}
        if _hasher.check_needs_rehash(stored):
            values["password_hash"] = _hasher.hash(password)
        with self.db.write() as connection:
            connection.execute(update(S).where(S.c.id == row.id).values(**values))
        return _staff(row)

    def get(self, user_id: int) -> Staff | None:
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.id == user_id, S.c.active.is_(True))).first()
        return _staff(row) if row else None

    def by_username(self, username: str) -> Staff | None:
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.username == username, S.c.active.is_(True))).first()
        return _staff(row) if row else None

    def list(self) -> list[Staff]:
        with self.db.read() as connection:
            rows = connection.execute(select(S).where(S.c.active.is_(True)).order_by(S.c.role, S.c.username)).all()
        return [_staff(row) for row in rows]

    def assign_counter(self, username: str, counter: str | None) -> Staff:
        self._check_counter(counter)
        with self.db.write() as connection:
            if not connection.execute(update(S).where(S.c.username == username).values(counter=counter)).rowcount:
                raise NotFound("unknown_user", f"no user {username!r}")
        staff = self.by_username(username)
        assert staff is not None
        return staff

    def set_password(self, username: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise Invalid("weak_password", f"a password needs at least {MIN_PASSWORD} characters")
        with self.db.write() as connection:
            if not connection.execute(update(S).where(S.c.username == username)
                                      .values(password_hash=_hasher.hash(password))).rowcount:
                raise NotFound("unknown_user", f"no user {username!r}")

    def deactivate(self, username: str) -> None:
        with self.db.write() as connection:
            if not connection.execute(update(S).where(S.c.username == username).values(active=False)).rowcount:
                raise NotFound("unknown_user", f"no user {username!r}")

    def _check_counter(self, counter: str | None) -> None:
        if counter is not None and self.clinic.counter(counter) is None:
            raise NotFound("unknown_counter", f"unknown counter {counter!r}")
