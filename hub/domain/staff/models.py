"""Staff accounts and API tokens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    String,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, UTCDateTime


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    # SHA-256 of a 256-bit random token: a slow hash adds nothing for secrets this long.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffUser(Base):
    """A member of staff who logs in to the pages: reception, nurse, doctor, lab, cashier, admin."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    counter: Mapped[str | None] = mapped_column(String(32))  # the counter or room they usually work at
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by an admin's reset: the next login must choose a new password before any page opens.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # never deleted: the audit trail names them
