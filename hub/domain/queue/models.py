"""Tables of the queue: services, counters and the services they serve, visits, tickets, their
transitions (the period log), number sequences, kiosk leases, learned service times.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


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
