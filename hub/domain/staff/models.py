"""Staff accounts and API tokens; staff messages (the staffing advice for admins who want it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


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


class StaffMessagePreference(Base):
    """What a member of staff wants to be told outside the ops page: today, the staffing advice."""

    __tablename__ = "staff_message_preferences"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), primary_key=True)
    advice: Mapped[bool] = mapped_column(Boolean, default=False)  # opted in: advice in the staff inbox
    zalo_phone: Mapped[str | None] = mapped_column(String(20))  # and on Zalo, to this phone, when set
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64))


class StaffMessage(Base):
    """A message in a member of staff's in-app inbox; `cleared_at` ends the advice it carries, so the same
    advice is not sent again while it stands."""

    __tablename__ = "staff_messages"
    __table_args__ = (Index("ix_staff_messages_staff_key", "staff_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    kind: Mapped[str] = mapped_column(String(24))  # advice
    key: Mapped[str] = mapped_column(String(120))  # the advice's stable key (advisor.Advice.key)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
