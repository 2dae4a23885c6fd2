"""The outbox, consents and the patient inbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


class Notification(Base):
    """One message on one channel; states pending -> sending -> sent | failed, or cancelled / skipped.

    A worker claims a row by moving it to 'sending' with a lease: if the worker dies, the row is taken
    again only after `lease_until`, so a slow worker and its successor never both hold it.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        # The same reminder is never enqueued twice, whoever asks and however often.
        UniqueConstraint("dedupe_key", "channel", name="uq_notifications_dedupe_key_channel"),
        Index("ix_notifications_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, sms, in_app, file_log
    recipient: Mapped[str] = mapped_column(String(200))  # address, phone, or patient code for in_app
    template: Mapped[str] = mapped_column(String(48))
    language: Mapped[str] = mapped_column(String(2))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(80))  # the worker's claim token while 'sending'
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_ref: Mapped[str | None] = mapped_column(String(120))  # the gateway's or SMTP's message id
    subject: Mapped[str | None] = mapped_column(String(300))  # as rendered when sent, for the record
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotificationConsent(Base):
    """Whether a patient agreed to be contacted on a channel, who recorded it and when."""

    __tablename__ = "notification_consents"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(32))  # reception, portal, kiosk, paper form...
    actor: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatientMessage(Base):
    """An in-app message for the portal; one per outbox row, so a resend stores it once."""

    __tablename__ = "patient_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
