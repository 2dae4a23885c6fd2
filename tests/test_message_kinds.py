"""Every message kind really sent, end to end: a real hub, the simulated Zalo ZNS server (a real HTTP
server) and a real local SMTP server (aiosmtpd). Each kind shows on the admin notifications page with
its state and attempts, and in the patient's inbox. Zalo first; a patient not on Zalo, a refused
template or a used-up quota fall back to email; Zalo down costs retries, never the message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub
from hub.domain.common.clock import VirtualClock
from hub.domain.notifications.settings import EmailSettings, ZaloSettings
from hub.domain.portal.auth import PortalAuth, PortalPatient
from hub.domain.portal.otp import OneTimeCodes
from hub.notify.zalo_sim import TOKEN, SimState, ZaloSimulator
from tests.follow_up_support import MONDAY, at, hub_on, patient_with_visit, register
from tests.notifications_support import clinic_with
from tests.support import free_port
from tests.test_notifications_channels import MailSink, start_smtp
from tests.test_staff_auth import log_in

SLOT = "2026-11-24T07:30:00+07:00"  # Tuesday, BS An
LATER = "2026-11-24T08:00:00+07:00"
ZNS = {"booking_confirmation": "1001", "booking_rescheduled": "1002", "booking_cancelled": "1003",
       "confirmation": "1004", "reminder": "1005", "result_ready": "1006", "otp": "1007",
       "booking_reminder": "1008"}


@dataclass
class World:
    hub: Hub
    sim: ZaloSimulator
    mail: MailSink

    def deliver(self) -> None:
        """The sending job's next turns (a fallback row goes out on the turn after)."""
        for _ in range(3):
            self.hub.clock.advance(self.hub.config.notifications.poll_seconds)  # type: ignore[attr-defined]
            self.hub.scheduler.run_pending()

    def rows(self, template: str) -> dict[str, dict[str, Any]]:
        return {r["channel"]: r for r in self.hub.notifications.list() if r["template"] == template}


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(at(MONDAY, "08:00"))


@pytest.fixture
def world(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[World]:
    templates = {"1001": {"customer_name", "booking_code"}, "1002": {"booking_code"}, "1003": {"booking_code"},
                 "1004": {"booking_code"}, "1005": {"booking_code"}, "1006": {"test_name"}, "1007": {"otp"},
                 "1008": {"booking_code"}}
    sim = ZaloSimulator(SimState(templates=templates)).start()
    mail = MailSink()
    port = free_port()
    controller = start_smtp(mail, port)
    zalo = ZaloSettings(enabled=True, url=sim.url, access_token=TOKEN, timeout_s=5,
                        templates=clinic.notifications.zalo.templates)
    email = EmailSettings(enabled=True, host="127.0.0.1", port=port, from_address="lichhen@bvhoabinh.vn", timeout_s=5)
    config = clinic_with(clinic, channels=["zalo", "sms", "email", "in_app"], quiet_hours="", zalo=zalo, email=email,
                         require_consent=["sms", "email", "zalo"])
    hub = hub_on(tmp_path, config, clock)
    hub.staff.add("admin", "Quản Trị", "admin", "mat-khau-123")
    try:
        yield World(hub, sim, mail)
    finally:
        hub.close()
        controller.stop()
        sim.stop()


def consenting(world: World, phone: str = "0912345678", name: str = "Nguyễn Văn Bình") -> str:
    code = register(world.hub, name, phone)
    patient_id = world.hub.booking.patients.get(code)["id"]
    for channel in ("zalo", "email"):
        world.hub.notifications.set_consent(patient_id, channel, True, actor="user:le.tan")
    return code


def assert_delivered(world: World, template: str, patient: str) -> None:
    """Sent on Zalo (with its ZNS template), stored in the inbox, listed on the admin page."""
    rows = world.rows(template)
    assert rows["zalo"]["state"] == "sent" and rows["zalo"]["attempts"] == 1, rows["zalo"]
    assert rows["in_app"]["state"] == "sent"
    assert "email" not in rows  # Zalo reached the patient: no email as well
    assert any(m["template_id"] == ZNS[template] and m["phone"] == "84912345678" for m in world.sim.sent)
    patient_id = world.hub.booking.patients.get(patient)["id"]
    assert any(m["title"] == rows["in_app"]["subject"] for m in world.hub.notifications.inbox(patient_id))
    client = create_app(world.hub, testing=True).test_client()
    assert log_in(client, "admin", "mat-khau-123") == 302
    page = client.get("/admin/notifications?state=sent").text
    for channel in ("zalo", "in_app"):
        row = re.search(rf'<tr data-notification="{rows[channel]["id"]}" data-state="sent">(.*?)</tr>', page, re.S)
        assert row is not None, (template, channel)
        assert f"<td>{template} (vi)" in row.group(1) and f"<td>{rows[channel]['attempts']}</td>" in row.group(1)


def test_desk_and_portal_bookings_rescheduling_and_cancelling(world: World) -> None:
    patient = consenting(world)
    desk = world.hub.booking.book(patient_code=patient, slot_start=_at(SLOT), doctor="bs-an", channel="reception",
                                  actor="user:le.tan")
    world.deliver()
    assert_delivered(world, "booking_confirmation", patient)
    assert desk["code"] in world.rows("booking_confirmation")["zalo"]["body"]

    world.hub.booking.reschedule(desk["code"], _at(LATER), actor="user:le.tan")
    world.deliver()
    assert_delivered(world, "booking_rescheduled", patient)

    world.hub.booking.cancel(desk["code"], actor="user:le.tan")
    world.deliver()
    assert_delivered(world, "booking_cancelled", patient)

    # A booking made on the portal is told the same way (it used to be logged only).
    portal = world.hub.booking.book(patient_code=patient, slot_start=_at(SLOT), doctor="bs-an", channel="portal",
                                    actor=f"patient:{patient}")
    world.deliver()
    confirmations = [r for r in world.hub.notifications.list(appointment_id=portal["id"])
                     if r["template"] == "booking_confirmation"]
    assert {r["channel"]: r["state"] for r in confirmations} == {"zalo": "sent", "in_app": "sent"}


def test_follow_up_confirmation_and_reminder(world: World) -> None:
    patient, visit = patient_with_visit(world.hub)
    patient_id = world.hub.booking.patients.get(patient)["id"]
    for channel in ("zalo", "email"):
        world.hub.notifications.set_consent(patient_id, channel, True, actor="user:le.tan")
    [follow_up] = world.hub.follow_ups.order(visit, actor="user:bs.an", after_days=2, reason="Kiểm tra")["appointments"]
    world.deliver()
    assert_delivered(world, "confirmation", patient)
    # The day before: the planner queues the reminder, the sending job sends it.
    start = date.fromisoformat(follow_up["slot_start"][:10])
    world.hub.clock.set(at(start - timedelta(days=1), "08:00"))  # type: ignore[attr-defined]
    world.hub.scheduler.run_pending()
    world.deliver()
    assert_delivered(world, "reminder", patient)


def test_result_ready_and_otp(world: World) -> None:
    patient = consenting(world)
    visit = world.hub.booking.register_visit(patient, "kham-noi", actor="test")["visit_id"]
    world.hub.queue.call_next("p101", actor="test")
    world.hub.queue.start("p101", actor="test")
    order = world.hub.clinical.orders.place(visit, ["xn-glucose"], actor="user:bs.an", counter="p101")["orders"][0]
    world.hub.clinical.orders.start(order["id"], actor="user:kt")
    world.hub.clinical.orders.record_result(order["id"], actor="user:kt", values={"GLU": 7.2})
    world.deliver()
    assert not world.rows("result_ready")  # not released yet: nothing to tell
    world.hub.clinical.orders.release(order["id"], actor="user:bs.an")
    world.deliver()
    assert_delivered(world, "result_ready", patient)

    record = world.hub.booking.patients.get(patient)
    codes = OneTimeCodes(world.hub.db, world.hub.clock, world.hub.secret_key,
                         PortalAuth(world.hub.db, world.hub.clock, world.hub.secret_key), world.hub.notifications)
    codes.issue(PortalPatient(record["id"], patient, record["full_name"]), "10.0.0.1")
    world.deliver()
    assert_delivered(world, "otp", patient)
    otp = next(m for m in world.sim.sent if m["template_id"] == "1007")["template_data"]["otp"]
    assert len(otp) == 6 and otp not in world.rows("otp")["zalo"]["body"]  # wiped from the outbox once sent


def test_not_on_zalo_refused_template_and_quota_fall_back_to_email(world: World) -> None:
    patient = consenting(world)
    world.sim.state.not_on_zalo.add("84912345678")
    world.hub.booking.book(patient_code=patient, slot_start=_at(SLOT), doctor="bs-an", channel="reception",
                           actor="user:le.tan")
    world.deliver()
    rows = world.rows("booking_confirmation")
    assert rows["zalo"]["state"] == "failed" and rows["zalo"]["last_error"].startswith("not_on_zalo: -118")
    assert rows["email"]["state"] == "sent" and rows["email"]["created_by"] == "fallback:zalo"
    [mail] = world.mail.messages
    assert mail["To"] == "benhnhan@example.vn" and mail["Subject"].startswith("Xác nhận lịch khám")
    body = mail.get_content()
    assert "Đường dây nóng: 0218 3852 115" in body and "xxxx" not in body

    # A template Zalo refuses (unknown id) and a used-up quota: the same fallback.
    world.sim.state.not_on_zalo.clear()
    del world.sim.state.templates["1003"]
    world.hub.booking.cancel(world.hub.booking.appointments_of(patient)[0]["code"], actor="user:le.tan")
    world.deliver()
    rows = world.rows("booking_cancelled")
    assert rows["zalo"]["last_error"].startswith("template_refused: -109") and rows["email"]["state"] == "sent"
    world.sim.state.quota = 0
    world.hub.booking.book(patient_code=patient, slot_start=_at(LATER), doctor="bs-an", channel="reception",
                           actor="user:le.tan")
    world.deliver()
    quota = [r for r in world.hub.notifications.list() if r["template"] == "booking_confirmation"
             and r["last_error"] and r["last_error"].startswith("quota_exceeded")]
    assert len(quota) == 1 and len(world.mail.messages) == 3


def test_zalo_down_or_rate_limited_is_retried_and_nothing_is_lost(world: World) -> None:
    patient = consenting(world)
    world.sim.state.down = True
    world.hub.booking.book(patient_code=patient, slot_start=_at(SLOT), doctor="bs-an", channel="reception",
                           actor="user:le.tan")
    world.deliver()
    row = world.rows("booking_confirmation")["zalo"]
    assert row["state"] == "pending" and row["attempts"] >= 1 and row["last_error"].startswith("zalo_down")
    world.sim.state.down = False
    world.sim.state.rate_limit_next = 1
    world.hub.clock.advance(3600)  # type: ignore[attr-defined]  # past the backoff
    world.hub.scheduler.run_pending()
    row = world.rows("booking_confirmation")["zalo"]
    assert row["state"] == "pending" and row["last_error"].startswith("rate_limited")
    world.hub.clock.advance(3600)  # type: ignore[attr-defined]
    world.hub.scheduler.run_pending()
    row = world.rows("booking_confirmation")["zalo"]
    assert row["state"] == "sent" and row["attempts"] == 3
    assert "email" not in world.rows("booking_confirmation")  # delivered late on Zalo, not twice
    assert sum(1 for m in world.sim.sent if m["template_id"] == "1001") == 1


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_visit_booking_reminder_once(world: World) -> None:
    patient = consenting(world)
    # Booked on Monday 08:00 for Wednesday 07:30: the 24-hour reminder is due Tuesday 07:30.
    booked = world.hub.booking.book(patient_code=patient, slot_start=_at("2026-11-25T07:30:00+07:00"), doctor="bs-an",
                                    channel="reception", actor="user:le.tan")
    world.deliver()
    world.hub.clock.set(at(date(2026, 11, 24), "07:31"))  # type: ignore[attr-defined]
    world.hub.scheduler.run_pending()
    world.deliver()
    assert_delivered(world, "booking_reminder", patient)
    reminder = world.rows("booking_reminder")["zalo"]
    assert reminder["dedupe_key"].endswith(":reminder:24h") and reminder["appointment_id"] == booked["id"]
    world.hub.scheduler.run_pending()  # the planner again: nothing twice
    assert sum(1 for r in world.hub.notifications.list() if r["template"] == "booking_reminder") == 2


def test_a_moved_booking_drops_its_pending_reminder(world: World) -> None:
    patient = consenting(world)
    booked = world.hub.booking.book(patient_code=patient, slot_start=_at("2026-11-25T07:30:00+07:00"), doctor="bs-an",
                                    channel="reception", actor="user:le.tan")
    world.hub.clock.set(at(date(2026, 11, 24), "07:00"))  # type: ignore[attr-defined]
    world.hub.scheduler.run_pending()  # queued, due at 07:30
    assert world.rows("booking_reminder")["zalo"]["state"] == "pending"
    world.hub.booking.reschedule(booked["code"], _at("2026-11-25T08:00:00+07:00"), actor="user:le.tan")
    assert {r["state"] for r in world.rows("booking_reminder").values()} == {"cancelled"}
