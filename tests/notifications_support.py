"""Helpers of the notification tests: a clinic with chosen outbox settings, patients, recording channels."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.notifications.outbox import NotificationService
from hub.domain.patients.models import Patient
from hub.notify.base import Outgoing, SendError
from hub.notify.dispatch import Dispatcher
from tests.conftest import RecordingBus

APPOINTMENT = {"patient_name": "Nguyễn Thị Hoa", "appointment_code": "TK7Q2M", "date": "30/11/2026",
               "time": "08:30", "weekday": "Thứ Hai", "doctor": "Trần Văn Minh", "service": "Nội tổng quát",
               "link": "http://127.0.0.1:8000/f/TK7Q2M?k=signed"}


def clinic_with(clinic: ClinicConfig, **changes: Any) -> ClinicConfig:
    """The sample clinic with some [notifications] keys replaced (nested settings as model objects)."""
    settings = clinic.notifications.model_copy(update=changes)
    return clinic.model_copy(update={"notifications": settings})


def add_patient(db: Database, code: str = "BN2026000001", *, phone: str | None = "0912345678",
                email: str | None = "hoa.nguyen@example.vn", name: str = "Nguyễn Thị Hoa") -> int:
    with db.write() as connection:
        return connection.execute(insert(Patient).values(
            code=code, full_name=name, phone=phone, email=email, created_at=datetime(2026, 1, 1, tzinfo=UTC),
        ).returning(Patient.id)).scalar_one()


def outbox_on(db: Database, config: ClinicConfig, clock: VirtualClock) -> tuple[NotificationService, RecordingBus]:
    bus = RecordingBus()
    return NotificationService(db, config, bus, clock), bus


class RecordingChannel:
    """A channel that keeps what it was given, and fails while told to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Outgoing] = []
        self.failures: list[SendError] = []  # raised one by one before anything is delivered
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> str | None:
        with self._lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append(message)
        return f"ref-{message.id}"


def dispatcher(outbox: NotificationService, *channels: Any, worker: str = "test-worker") -> Dispatcher:
    return Dispatcher(outbox, {channel.name: channel for channel in channels}, worker=worker)
