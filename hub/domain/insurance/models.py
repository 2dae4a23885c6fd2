"""Coverage periods per patient, and each visit's insurance decision (check result, override, route).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


class Coverage(Base):
    """One coverage period of a patient's card; a new card for the same dates supersedes (history kept)."""

    __tablename__ = "insurance_coverages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    card_code: Mapped[str | None] = mapped_column(String(15), index=True)
    national_id: Mapped[str | None] = mapped_column(String(12), index=True)
    benefit_level: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    facility_code: Mapped[str] = mapped_column(String(5))
    five_years_from: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))  # staff, gateway
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VisitCoverage(Base):
    """How a visit is paid: insured (card accepted), fee-paying, or not yet checked (gateway down).

    `status`: eligible, refused, unchecked, fee_paying. An override by reception keeps the gateway's
    answer in `check` and says who and why; the audit log has the same.
    """

    __tablename__ = "visit_coverages"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    card_code: Mapped[str | None] = mapped_column(String(15))
    national_id: Mapped[str | None] = mapped_column(String(12))
    benefit_level: Mapped[int | None] = mapped_column(Integer)
    route_reason: Mapped[str | None] = mapped_column(String(20))  # registered_here, referral, emergency, None
    reason: Mapped[str | None] = mapped_column(String(32))  # refusal reason: expired, not_found, ...
    check: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the gateway's last answer
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    override_by: Mapped[str | None] = mapped_column(String(64))
    override_reason: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Claim(Base):
    """A visit's claim to the insurer: draft (built, not sent), exported (file written), rejected (+ why)."""

    __tablename__ = "insurance_claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), unique=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(10), index=True)  # draft, exported, rejected
    reason: Mapped[str | None] = mapped_column(String(300))  # the insurer's rejection, or why it cannot go
    file_name: Mapped[str | None] = mapped_column(String(200))
    insurance_pays: Mapped[int] = mapped_column(BigInteger, default=0)
    # Prescription lines not claimed in XML2, each {"name", "reason", "message"} (not in the catalogue...).
    lines_left_out: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    exports: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64))
