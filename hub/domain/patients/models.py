"""The patient record.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, UTCDateTime


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
