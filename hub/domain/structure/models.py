"""The structure document in force, with the version every hub process compares against its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, UTCDateTime


class ClinicStructure(Base):
    """One row (id 1): the editable sections of the configuration, as JSON, and their version."""

    __tablename__ = "clinic_structure"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64))
