"""Devices on the bus and the requests they sent (each acted on once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


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
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # kept, not deleted: logs and audit name it


class DeviceRequest(Base):
    """A device request id seen once: a resent or doubled key press acts only once."""

    __tablename__ = "device_requests"
    __table_args__ = (UniqueConstraint("device_id", "req_id", name="uq_device_requests_device_req"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    req_id: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
