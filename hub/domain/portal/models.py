"""The portal's one-time sign-in codes (only their keyed hash is stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


class PortalCode(Base):
    """One code sent to a patient: short-lived, single-use, a few tries, counted for the rate limits."""

    __tablename__ = "portal_codes"
    __table_args__ = (Index("ix_portal_codes_patient_created", "patient_id", "created_at"),
                      Index("ix_portal_codes_client_created", "client", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    purpose: Mapped[str] = mapped_column(String(16))  # sign_in, register
    code_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 of the code, keyed by the hub's secret
    client: Mapped[str] = mapped_column(String(40))  # the keyed tag of the address that asked for it
    sent_to: Mapped[str] = mapped_column(String(120))  # masked destinations, as the page shows them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
