"""Helpers of the follow-up tests: a hub on a virtual clock, patients with a visit, walking through days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.registry import PatientDetails
from tests.conftest import SITE_TZ, RecordingBus

MONDAY = date(2026, 11, 23)  # the clock starts here at 08:00


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=SITE_TZ)


def hub_on(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock, db_url: str | None = None) -> Hub:
    """A hub on a database file in tmp_path (or `db_url`); called again, it is the same hub restarted."""
    return build_hub(clinic, var_dir=tmp_path, db_url=db_url or f"sqlite:///{tmp_path / 'fu.db'}", clock=clock,
                     bus=RecordingBus())


def register(hub: Hub, name: str = "Nguyễn Văn Bình", phone: str = "0912345678") -> str:
    details = PatientDetails(full_name=name, date_of_birth=date(1970, 3, 8), sex="Nam", phone=phone,
                             email="benhnhan@example.vn")
    return hub.booking.patients.register(details, actor="user:le.tan", confirm_new=True)["code"]


def patient_with_visit(hub: Hub, name: str = "Nguyễn Văn Bình", doctor: str = "bs-an",
                       phone: str = "0912345678") -> tuple[str, int]:
    """A registered patient seen today by `doctor` (a walk-in): (patient code, visit id)."""
    code = register(hub, name, phone)
    service = hub.booking.schedules.doctor(doctor)["service"]
    visit = hub.booking.register_visit(code, service, actor="user:le.tan", doctor=doctor, reason="Khám bệnh")
    return code, visit["visit_id"]


def walk(hub: Hub, clock: VirtualClock, until: datetime, step: timedelta = timedelta(hours=3)) -> None:
    """Move the clock to `until` a step at a time, running the scheduler's due jobs at each step."""
    while clock.now() < until:
        clock.set(min(clock.now() + step, until))
        hub.scheduler.run_pending()


def messages(hub: Hub, appointment_id: int, template: str | None = None,
             states: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    rows = hub.notifications.list(appointment_id=appointment_id, states=list(states) if states else None)
    return sorted((r for r in rows if template is None or r["template"] == template), key=lambda r: r["id"])


def attend(hub: Hub, code: str, counter: str) -> None:
    """The patient checks in and the doctor calls, starts and finishes the exam (the appointment is fulfilled)."""
    ticket = hub.booking.check_in(code, actor="user:le.tan", source="reception")["ticket"]
    called = hub.queue.call_next(counter, actor="user:bs")
    assert called is not None and called["id"] == ticket["id"]
    hub.queue.start(counter, actor="user:bs")
    hub.queue.finish(counter, actor="user:bs")
