"""Payments (deposits, payments, refunds) and invoices.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


class Payment(Base):
    """Money in or out for a visit, in whole VND: deposits, payments, refunds; voids keep the row."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # deposit, payment, refund
    method: Mapped[str] = mapped_column(String(12))  # cash, card, ewallet, bank_qr
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))  # pending, approved, declined, timeout, voided
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    receipt_no: Mapped[str | None] = mapped_column(String(24), unique=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    note: Mapped[str | None] = mapped_column(String(200))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(64))


class Invoice(Base):
    """A final bill with a gap-free number (per series and year)."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(BigInteger)
    deposits: Mapped[int] = mapped_column(BigInteger)
    due: Mapped[int] = mapped_column(BigInteger)  # negative: refunded to the patient
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(64))
