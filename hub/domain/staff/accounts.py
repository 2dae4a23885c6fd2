"""Staff accounts: roles, argon2id password hashes, the counter each person works at.

Admins create, edit, disable (never delete: the audit trail names people) and reset accounts on the
admin pages; a reset or a new account makes the person choose their own password at the next login.
Every admin action is audited with its before and after.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, DomainError, Invalid, NotFound
from hub.domain.common.models import AuditEntry
from hub.domain.staff.models import StaffUser

STAFF_ROLES = ("reception", "nurse", "doctor", "lab", "cashier", "admin")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 128
# Passwords people pick first, in both languages; a hospital's staff pages are worth more than these.
COMMON_PASSWORDS = frozenset({
    "1234567890", "0123456789", "12345678910", "1111111111", "0000000000", "qwertyuiop", "password12",
    "password123", "matkhau123", "matkhau1234", "abc1234567", "abcd123456", "admin12345", "admin123456",
    "benhvien123", "iloveyou12", "1234567890a", "a123456789", "bacsi12345", "dieuduong1",
})
ROLE_NAMES = {"reception": ("Tiếp đón", "Reception"), "nurse": ("Điều dưỡng", "Nurse"),
              "doctor": ("Bác sĩ", "Doctor"), "lab": ("Xét nghiệm / CĐHA", "Lab / imaging"),
              "cashier": ("Thu ngân", "Cashier"), "admin": ("Quản trị", "Administrator")}
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps both answers equally slow.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

S = StaffUser.__table__
A = AuditEntry.__table__
# Brute-force protection, as the portal has: failed logins are counted per account and per client
# address over LOGIN_WINDOW in the audit log (shared by every hub process, kept across restarts).
# Past the limit, even the right password is refused until the window has moved on.
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILED = "staff.login_failed"


class LoginLocked(DomainError):
    status = 429

    def __init__(self) -> None:
        minutes = int(LOGIN_WINDOW.total_seconds() // 60)
        super().__init__("too_many_attempts",
                         f"Quá nhiều lần đăng nhập sai: hãy thử lại sau {minutes} phút hoặc nhờ quản trị đặt lại "
                         f"mật khẩu / too many failed logins: try again in {minutes} minutes or ask an admin")


def _address_tag(address: str) -> str:
    """The client address as the audit log keeps it (hashed: the log is not a list of IPs)."""
    return "addr:" + hashlib.sha256(address.encode("utf-8")).hexdigest()[:32]


def _verifies(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _run_here(work: Callable[[], Any]) -> Any:
    return work()


@dataclass(frozen=True)
class Staff:
    id: int
    username: str
    full_name: str
    role: str
    counter: str | None
    must_change_password: bool = False
    active: bool = True
    last_login_at: datetime | None = None

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "full_name": self.full_name, "role": self.role,
                "counter": self.counter, "must_change_password": self.must_change_password, "active": self.active,
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None}


def _staff(row: Any) -> Staff:
    return Staff(row.id, row.username, row.full_name, row.role, row.counter, bool(row.must_change_password),
                 bool(row.active), row.last_login_at)


def check_password(password: str, username: str = "") -> None:
    """The password rules, one message per broken rule (Vietnamese / English)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise Invalid("weak_password", f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự / a password needs at least "
                                       f"{MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise Invalid("weak_password", f"Mật khẩu tối đa {MAX_PASSWORD} ký tự / at most {MAX_PASSWORD} characters")
    kinds = sum((any(c.isalpha() for c in password), any(c.isdigit() for c in password),
                 any(not c.isalnum() for c in password)))
    if kinds < 2:
        raise Invalid("weak_password", "Mật khẩu cần có ít nhất hai loại: chữ, số, ký hiệu / use at least two of "
                                       "letters, digits and symbols")
    lowered = password.lower()
    if username and len(username) >= 3 and username.lower() in lowered:
        raise Invalid("weak_password", "Mật khẩu không được chứa tên đăng nhập / the password must not contain "
                                       "the username")
    if lowered in COMMON_PASSWORDS or len(set(lowered)) <= 2:
        raise Invalid("weak_password", "Mật khẩu này quá dễ đoán / this password is too easy to guess")


def temporary_password() -> str:
    """A one-time password an admin reads out or hands over; the person replaces it at login."""
    return f"{secrets.token_urlsafe(6)}-{secrets.randbelow(900) + 100}"


class StaffService:
    def __init__(self, db: Database, clinic: ClinicConfig, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.clock = clock
        # Runs argon2 (tens of ms of CPU). The server replaces it with gevent's OS thread pool so a
        # login flood never stalls the event loop that serves tickets and calls (hub/server.py).
        self.run_cpu_bound: Callable[[Callable[[], Any]], Any] = _run_here

    def add(self, username: str, full_name: str, role: str, password: str, counter: str | None = None, *,
            must_change: bool = False, actor: str = "cli") -> Staff:
        """A new account; one an admin creates on the pages (`must_change`) gets a new password at first login."""
        username = (username or "").strip().lower()
        if not USERNAME.match(username):
            raise Invalid("bad_username", "Tên đăng nhập 2-64 ký tự: a-z, 0-9, '.', '_' hoặc '-' / a username is "
                                          "2-64 characters: a-z, 0-9, '.', '_' or '-'")
        self._check_role(role)
        check_password(password, username)
        full_name = self._check_name(full_name)
        self._check_counter(counter)
        now = self.clock.now()
        try:
            with self.db.write() as connection:
                user_id = connection.execute(insert(S).values(
                    username=username, full_name=full_name, role=role, password_hash=_hasher.hash(password),
                    counter=counter, active=True, created_at=now, must_change_password=must_change,
                    password_changed_at=now).returning(S.c.id)).scalar_one()
                self._audit(connection, actor, "staff.create", username, {
                    "after": {"full_name": full_name, "role": role, "counter": counter}})
        except IntegrityError:
            raise Conflict("user_exists",
                           f"Đã có tài khoản {username!r} / a user {username!r} already exists") from None
        return Staff(user_id, username, full_name, role, counter, must_change, True, None)

    def authenticate(self, username: str, password: str, address: str = "") -> Staff | None:
        """The user if the password is right and the account active; None otherwise (same time either way).

        Raises LoginLocked (429) while the account or the client address has too many recent failures."""
        username = (username or "").strip().lower()[:64]
        client = _address_tag(address)
        if self._locked(username, client):
            raise LoginLocked()
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.username == username)).first()
        stored = row.password_hash if row is not None else _DUMMY_HASH
        if not self.run_cpu_bound(lambda: _verifies(stored, password or "")):
            self._record_failure(username, client)
            return None
        if row is None or not row.active:
            self._record_failure(username, client)
            return None
        values: dict[str, Any] = {"last_login_at": self.clock.now()}
        if _hasher.check_needs_rehash(stored):
            values["password_hash"] = self.run_cpu_bound(lambda: _hasher.hash(password))
        with self.db.write() as connection:
            connection.execute(update(S).where(S.c.id == row.id).values(**values))
        return _staff(row)

    def _locked(self, username: str, client: str) -> bool:
        since = self.clock.now() - LOGIN_WINDOW
        recent = (A.c.action == LOGIN_FAILED) & (A.c.at >= since)
        with self.db.read() as connection:
            by_account = connection.execute(select(func.count()).select_from(A).where(
                recent, A.c.subject == username[:64])).scalar_one()
            by_address = connection.execute(select(func.count()).select_from(A).where(
                recent, A.c.actor == client)).scalar_one()
        return by_account >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS

    def _record_failure(self, username: str, client: str) -> None:
        with self.db.write() as connection:
            self._audit(connection, client, LOGIN_FAILED, username, {})

    def get(self, user_id: int) -> Staff | None:
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.id == user_id, S.c.active.is_(True))).first()
        return _staff(row) if row else None

    def by_username(self, username: str) -> Staff | None:
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.username == username, S.c.active.is_(True))).first()
        return _staff(row) if row else None

    def list(self, *, include_disabled: bool = False) -> list[Staff]:
        query = select(S).order_by(S.c.active.desc(), S.c.role, S.c.username)
        if not include_disabled:
            query = query.where(S.c.active.is_(True))
        with self.db.read() as connection:
            rows = connection.execute(query).all()
        return [_staff(row) for row in rows]

    def account(self, username: str) -> Staff:
        """Any account, disabled ones too (the admin pages edit and re-enable them)."""
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.username == username)).first()
        if row is None:
            raise NotFound("unknown_user", f"Không có tài khoản {username!r} / no user {username!r}")
        return _staff(row)

    def update(self, username: str, *, full_name: str, role: str, counter: str | None, actor: str) -> Staff:
        self._check_role(role)
        full_name = self._check_name(full_name)
        self._check_counter(counter)
        with self.db.write() as connection:
            row = self._row(connection, username)
            if row.role == "admin" and role != "admin" and row.active:
                self._keep_an_admin(connection, row.id)
            before = {"full_name": row.full_name, "role": row.role, "counter": row.counter}
            after = {"full_name": full_name, "role": role, "counter": counter}
            if before != after:
                connection.execute(update(S).where(S.c.id == row.id).values(**after))
                self._audit(connection, actor, "staff.update", username, {"before": before, "after": after})
        return self.account(username)

    def disable(self, username: str, *, actor: str) -> Staff:
        """The person can no longer log in; the account stays, named by the audit trail."""
        with self.db.write() as connection:
            row = self._row(connection, username)
            if not row.active:
                return _staff(row)
            if actor == f"user:{username}":
                raise Conflict("cannot_disable_self", "Không thể tự khoá tài khoản của mình / you cannot disable "
                                                      "your own account")
            if row.role == "admin":
                self._keep_an_admin(connection, row.id)
            connection.execute(update(S).where(S.c.id == row.id).values(active=False, disabled_at=self.clock.now()))
            self._audit(connection, actor, "staff.disable", username, {"before": {"active": True},
                                                                       "after": {"active": False}})
        return self.account(username)

    def enable(self, username: str, *, actor: str) -> Staff:
        with self.db.write() as connection:
            row = self._row(connection, username)
            if not row.active:
                connection.execute(update(S).where(S.c.id == row.id).values(active=True, disabled_at=None))
                self._audit(connection, actor, "staff.enable", username, {"before": {"active": False},
                                                                          "after": {"active": True}})
        return self.account(username)

    def reset_password(self, username: str, *, actor: str) -> str:
        """A temporary password (shown once to the admin); the person must choose a new one at login."""
        password = temporary_password()
        with self.db.write() as connection:
            row = self._row(connection, username)
            connection.execute(update(S).where(S.c.id == row.id).values(
                password_hash=_hasher.hash(password), must_change_password=True, password_changed_at=self.clock.now()))
            self._audit(connection, actor, "staff.reset_password", username, {"after": {"must_change_password": True}})
        return password

    def change_password(self, user_id: int, current: str, new: str) -> Staff:
        """The person's own change: the current password first, then the rules; clears a pending reset."""
        with self.db.read() as connection:
            row = connection.execute(select(S).where(S.c.id == user_id, S.c.active.is_(True))).first()
        if row is None:
            raise NotFound("unknown_user", "no such user")
        if not self.run_cpu_bound(lambda: _verifies(row.password_hash, current or "")):
            raise Invalid("wrong_password", "Mật khẩu hiện tại không đúng / the current password is wrong")
        check_password(new, row.username)
        if new == current:
            raise Invalid("same_password", "Hãy chọn mật khẩu khác mật khẩu cũ / choose a password other than the "
                                           "old one")
        with self.db.write() as connection:
            connection.execute(update(S).where(S.c.id == row.id).values(
                password_hash=self.run_cpu_bound(lambda: _hasher.hash(new)), must_change_password=False,
                password_changed_at=self.clock.now()))
            self._audit(connection, f"user:{row.username}", "staff.change_password", row.username, {})
        staff = self.get(user_id)
        assert staff is not None
        return staff

    def history(self, username: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Audit entries of staff accounts, newest first."""
        query = select(AuditEntry.__table__).where(AuditEntry.action.like("staff.%"))
        if username:
            query = query.where(AuditEntry.subject == username)
        with self.db.read() as connection:
            rows = connection.execute(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
        return [{"at": row.at.isoformat(), "actor": row.actor, "action": row.action, "subject": row.subject,
                 "detail": row.detail or {}} for row in rows]

    # ------------------------------------------------------------------ checks
    def _row(self, connection: Connection, username: str) -> Any:
        row = connection.execute(select(S).where(S.c.username == username)).first()
        if row is None:
            raise NotFound("unknown_user", f"Không có tài khoản {username!r} / no user {username!r}")
        return row

    def _keep_an_admin(self, connection: Connection, user_id: int) -> None:
        others = connection.execute(select(func.count()).select_from(S).where(
            S.c.role == "admin", S.c.active.is_(True), S.c.id != user_id)).scalar_one()
        if not others:
            raise Conflict("last_admin", "Phải còn ít nhất một quản trị viên / at least one active admin must remain")

    @staticmethod
    def _check_role(role: str) -> None:
        if role not in STAFF_ROLES:
            raise Invalid("unknown_role", f"role must be one of {list(STAFF_ROLES)}")

    @staticmethod
    def _check_name(full_name: str) -> str:
        name = (full_name or "").strip()
        if not name or len(name) > 120 or "\x00" in name:
            raise Invalid("bad_name", "Cần họ tên 1-120 ký tự / a full name of 1 to 120 characters is needed")
        return name

    def _audit(self, connection: Connection, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        connection.execute(insert(AuditEntry).values(at=self.clock.now(), actor=actor[:64], action=action,
                                                     subject=subject[:64], detail=detail))

    def assign_counter(self, username: str, counter: str | None) -> Staff:
        self._check_counter(counter)
        with self.db.write() as connection:
            if not connection.execute(update(S).where(S.c.username == username).values(counter=counter)).rowcount:
                raise NotFound("unknown_user", f"no user {username!r}")
        staff = self.by_username(username)
        assert staff is not None
        return staff

    def set_password(self, username: str, password: str) -> None:
        check_password(password, username)
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
            raise NotFound("unknown_counter", f"Không có quầy/phòng {counter!r} / unknown counter {counter!r}")
