"""Persistent model of the outpatient flow (SQLAlchemy 2, typed).

Timestamps are stored in UTC; "day" columns are the site's local date (Asia/Ho_Chi_Minh by default),
because ticket numbers restart at local midnight, not at UTC midnight.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Alembic and both databases agree on constraint names this way.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a real 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(2))
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Counter(Base):
    __tablename__ = "counters"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    zone: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(8), default="closed")
    pause_reason: Mapped[str | None] = mapped_column(String(200))
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", use_alter=True))
    # Consecutive priority calls, for the anti-starvation rule.
    priority_streak: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class CounterService(Base):
    """Which services a counter serves, in the order it takes them."""

    __tablename__ = "counter_services"

    counter_id: Mapped[int] = mapped_column(ForeignKey("counters.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(300))
    national_id: Mapped[str | None] = mapped_column(String(12), unique=True)
    insurance_no: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The name folded for search and duplicate checks (no diacritics, lower case): see patients.fold_name.
    search_name: Mapped[str | None] = mapped_column(String(120), index=True)


class Visit(Base):
    """One patient's day: tickets across services, and later notes, orders and payments."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # The last line of defence against duplicate numbers, whatever the code above does.
        UniqueConstraint("service_id", "day", "seq", name="uq_tickets_service_day_seq"),
        Index("ix_tickets_queue", "service_id", "day", "status", "queue_key_ms"),
        Index("ix_tickets_issued", "service_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    day: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(8))
    priority: Mapped[str] = mapped_column(String(32), default="normal")
    source: Mapped[str] = mapped_column(String(16), default="kiosk")
    source_device: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    # Calling order within a service: the arrival time in ms, minus the priority head start.
    queue_key_ms: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_count: Mapped[int] = mapped_column(Integer, default=0)
    # When the current status began (the open period of the log); saves reading the log on every change.
    status_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    appointment_id: Mapped[int | None] = mapped_column(BigInteger)
    transferred_from_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    # What the ticket said at issue, kept to measure the estimate's accuracy afterwards.
    estimate_p50_min: Mapped[float | None]
    estimate_p90_min: Mapped[float | None]


class TicketTransition(Base):
    """Append-only log: each row closes the period of `from_status` and opens `to_status`."""

    __tablename__ = "ticket_transitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the closed period began
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(200))


class TicketSequence(Base):
    """The last number handed out per service and local day; locked while a number is taken."""

    __tablename__ = "ticket_sequences"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)


class TicketLease(Base):
    """A block of numbers taken from a (service, day) sequence for one kiosk to issue while offline.

    The hub accepts an offline ticket only with a number inside a lease of its holder, so a number is
    never handed out twice: the block left the sequence when it was leased.
    """

    __tablename__ = "ticket_leases"
    __table_args__ = (Index("ix_ticket_leases_service_day", "service_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    day: Mapped[date] = mapped_column(Date)
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(64))  # the kiosk's actor, e.g. "token:kiosk-sanh-a"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ServiceTimeStat(Base):
    """Figures learned online (EWMA) per service and scope.

    scope "all", "counter:<code>" and "hour:<0-23>" hold service times in log-minutes;
    "no-show-rate" the share of calls that end as no-show; "no-show-minutes" what one costs.
    """

    __tablename__ = "service_time_stats"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(48), primary_key=True)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    mean: Mapped[float] = mapped_column(default=0.0)
    var: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


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


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


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


class Device(Base):
    """A kiosk, board, speaker, keypad, LED display or printer on the MQTT bus."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # the id in topics and the broker login
    type: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    zone: Mapped[str | None] = mapped_column(String(32))
    counter: Mapped[str | None] = mapped_column(String(32))
    display: Mapped[str | None] = mapped_column(String(32))
    # Mosquitto's own PBKDF2-SHA512 format ($7$...), so the broker's password file is written from it.
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    status_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    model: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    paper: Mapped[str | None] = mapped_column(String(8))
    info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    from_config: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeviceRequest(Base):
    """A device request id seen once: a resent or doubled key press acts only once."""

    __tablename__ = "device_requests"
    __table_args__ = (UniqueConstraint("device_id", "req_id", name="uq_device_requests_device_req"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    req_id: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)


__all__ = [
    "ApiToken", "AuditEntry", "Base", "Counter", "CounterService", "Device", "DeviceRequest", "Patient", "Service",
    "ServiceTimeStat", "StaffUser", "Ticket", "TicketLease", "TicketSequence", "TicketTransition", "UTCDateTime",
    "Visit",
]
