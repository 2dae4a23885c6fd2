"""Examination records and lab/imaging orders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


class ExamRecord(Base):
    """The doctor's record of an examination."""

    __tablename__ = "exam_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    notes: Mapped[str | None] = mapped_column(Text)
    diagnosis_code: Mapped[str | None] = mapped_column(String(10))  # ICD-10
    diagnosis_text: Mapped[str | None] = mapped_column(String(300))
    prescription: Mapped[str | None] = mapped_column(Text)  # free text: advice, drugs not in the catalogue
    # Structured lines (hub.domain.clinical.prescriptions.PrescriptionLine as dicts), catalogue fields copied in.
    prescription_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    weight_kg: Mapped[float | None] = mapped_column(Float)  # measured at the exam (required < 72 months)
    height_cm: Mapped[float | None] = mapped_column(Float)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClinicalOrder(Base):
    """A lab or imaging order (chỉ định cận lâm sàng) from the catalogue in config/catalogue.toml."""

    __tablename__ = "clinical_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))  # lab or imaging
    service: Mapped[str] = mapped_column(String(32))  # the service that performs it
    price: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))  # ordered, in_progress, resulted, cancelled
    ordered_by: Mapped[str] = mapped_column(String(64))
    ordering_service: Mapped[str] = mapped_column(String(32))  # where the patient returns
    ordering_counter: Mapped[str | None] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resulted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A lab result: [{"code", "name", "value", "unit", "low", "high", "flag"}]; imaging: a report text.
    result_values: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    result_report: Mapped[str | None] = mapped_column(Text)
    resulted_by: Mapped[str | None] = mapped_column(String(64))
    released: Mapped[bool] = mapped_column(Boolean, default=False)  # visible to the patient on the portal


class PrintedSlip(Base):
    """A slip for the patient (order slip, "return to the doctor"), saved before it is printed.

    Saved first, so a printer fault never loses it: the row stays `failed` with the error and can be
    reprinted; `content` is everything printed, so a reprint shows what the patient got the first time.
    """

    __tablename__ = "printed_slips"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # order, return, walk_in
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    counter: Mapped[str | None] = mapped_column(String(32))
    printer: Mapped[str | None] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))  # pending, printed, failed, no_printer
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
