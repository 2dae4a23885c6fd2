"""The notification outbox: enqueue rules (consent, addresses, dedupe, quiet hours), claiming exactly once,
retries with backoff, the lease after a crash, staff retry/cancel, the in-app inbox and the file channel."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.config import ClinicConfig, ConfigError, load_config
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict, Invalid
from hub.domain.notifications.models import Notification, PatientMessage
from hub.domain.notifications.outbox import PatientMessageCreated
from hub.domain.notifications.templates import to_ascii, when_params
from hub.notify.base import Outgoing, SendError
from hub.notify.file_log import FileLogChannel
from hub.notify.in_app import InAppChannel, check_inbox_token, inbox_token
from hub.notify.sms_http import format_phone
from tests.conftest import CONFIG_DIR, SITE_TZ
from tests.notifications_support import (
    APPOINTMENT,
    RecordingChannel,
    add_patient,
    clinic_with,
    dispatcher,
    outbox_on,
)


@pytest.fixture
def config(clinic: ClinicConfig) -> ClinicConfig:
    """Email and SMS turned on (their channels are stubs here), no quiet hours unless a test sets them;
    every channel gets its copy (no fallback chain: test_message_kinds covers it)."""
    settings = clinic.notifications
    return clinic_with(clinic, channels=["email", "sms", "in_app"], quiet_hours="", fallback=[],
                       email=settings.email.model_copy(update={"enabled": True}),
                       sms=settings.sms.model_copy(update={"enabled": True}))


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SITE_TZ)


# ---------------------------------------------------------------- enqueue
def test_enqueue_one_row_per_channel_and_no_consent_is_skipped(sqlite_db: Database, config: ClinicConfig,
                                                               clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    outbox.set_consent(patient, "email", True, actor="staff:lan", source="reception")
    rows = {r["channel"]: r for r in outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT,
                                                     appointment_id=41)}
    assert rows["email"]["state"] == "pending" and rows["email"]["recipient"] == "hoa.nguyen@example.vn"
    assert rows["in_app"]["state"] == "pending" and rows["in_app"]["recipient"] == "BN2026000001"
    assert rows["sms"]["state"] == "skipped" and rows["sms"]["last_error"].startswith("no_consent")
    assert all(r["created"] and r["appointment_id"] == 41 for r in rows.values())
    assert outbox.consents(patient) == {"email": True}


def test_missing_address_and_disabled_channel_are_skipped_with_a_reason(sqlite_db: Database, clinic: ClinicConfig,
                                                                        clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, clinic_with(clinic, quiet_hours=""), clock)  # sample: email and SMS off
    patient = add_patient(sqlite_db, phone=None)
    outbox.set_consent(patient, "sms", True, actor="staff:lan")
    rows = {r["channel"]: r for r in outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT,
                                                     channels=["sms", "email", "file_log"])}
    assert rows["sms"]["last_error"].startswith("channel_disabled")
    assert rows["email"]["last_error"].startswith("channel_disabled")
    assert rows["file_log"]["state"] == "pending"
    on = clinic.notifications.sms.model_copy(update={"enabled": True})
    outbox, _ = outbox_on(sqlite_db, clinic_with(clinic, sms=on), clock)
    [sms] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["sms"])
    assert sms["state"] == "skipped" and sms["last_error"].startswith("no_address")


def test_bad_requests_are_refused(sqlite_db: Database, config: ClinicConfig, clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    cases = [
        ({"template": "birthday"}, "unknown_template"),
        ({"template": "reminder", "params": {"patient_name": "Hoa"}}, "missing_params"),
        ({"template": "reminder", "channels": ["fax"]}, "unknown_channel"),
        ({"template": "reminder", "language": "fr"}, "bad_language"),
    ]
    for arguments, code in cases:
        arguments.setdefault("params", APPOINTMENT)
        with pytest.raises(Invalid) as refused:
            outbox.enqueue(patient_id=patient, **arguments)
        assert refused.value.code == code
    with sqlite_db.read() as connection:
        assert connection.execute(select(func.count()).select_from(Notification)).scalar() == 0


def test_dedupe_key_queues_once(any_db: Database, config: ClinicConfig, clock: VirtualClock) -> None:
    outbox, _ = outbox_on(any_db, config, clock)
    patient = add_patient(any_db)
    first = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["in_app"],
                           dedupe_key="appt:41:reminder:24h")
    again = outbox.enqueue("reminder", patient_id=patient, params={**APPOINTMENT, "time": "09:00"},
                           channels=["in_app"], dedupe_key="appt:41:reminder:24h")
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert first[0]["created"] and not again[0]["created"]
    assert again[0]["params"]["time"] == "08:30"  # the first request stands
    other = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["in_app"],
                           dedupe_key="appt:41:reminder:3d")
    assert other[0]["created"]
    with any_db.read() as connection:
        assert connection.execute(select(func.count()).select_from(Notification)).scalar() == 2


def test_enqueue_inside_the_callers_transaction_rolls_back_with_it(sqlite_db: Database, config: ClinicConfig,
                                                                   clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    with pytest.raises(RuntimeError), sqlite_db.write() as connection:
        outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT, connection=connection)
        raise RuntimeError("the booking failed after the message was queued")
    assert outbox.list() == []


# ---------------------------------------------------------------- quiet hours
def test_quiet_hours_defer_sms_and_email_but_not_in_app(sqlite_db: Database, config: ClinicConfig) -> None:
    clock = VirtualClock(local(23, 22, 30))
    outbox, _ = outbox_on(sqlite_db, clinic_with(config, quiet_hours="21:00-07:00"), clock)
    patient = add_patient(sqlite_db)
    for channel in ("email", "sms"):
        outbox.set_consent(patient, channel, True, actor="portal", source="portal")
    rows = {r["channel"]: r for r in outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT)}
    assert datetime.fromisoformat(rows["email"]["due_at"]) == local(24, 7, 0)
    assert datetime.fromisoformat(rows["sms"]["due_at"]) == local(24, 7, 0)
    assert datetime.fromisoformat(rows["in_app"]["due_at"]) == local(23, 22, 30)
    channels = [RecordingChannel(name) for name in ("email", "sms", "in_app")]
    assert dispatcher(outbox, *channels).send_due().sent == [rows["in_app"]["id"]]
    clock.set(local(24, 6, 59))
    assert dispatcher(outbox, *channels).send_due().sent == []
    clock.set(local(24, 7, 0))
    assert sorted(dispatcher(outbox, *channels).send_due().sent) == sorted([rows["email"]["id"], rows["sms"]["id"]])


def test_a_message_overdue_when_quiet_hours_begin_waits_for_morning(sqlite_db: Database,
                                                                     config: ClinicConfig) -> None:
    clock = VirtualClock(local(23, 20, 50))
    outbox, _ = outbox_on(sqlite_db, clinic_with(config, quiet_hours="21:00-07:00"), clock)
    patient = add_patient(sqlite_db)
    outbox.set_consent(patient, "sms", True, actor="portal")
    [row] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["sms"])
    clock.set(local(23, 21, 15))  # the worker was busy or down until after 21:00
    sms = RecordingChannel("sms")
    assert outbox.claim("w1") == []
    clock.set(local(24, 7, 0))
    assert dispatcher(outbox, sms).send_due().sent == [row["id"]]


# ---------------------------------------------------------------- retries
def test_transient_failures_back_off_then_fail_and_show_for_staff(sqlite_db: Database, config: ClinicConfig,
                                                                  clock: VirtualClock) -> None:
    config = clinic_with(config, max_attempts=4, retry_base_seconds=60, retry_factor=2, retry_max_seconds=200)
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    [row] = outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT, channels=["in_app"])
    channel = RecordingChannel("in_app")
    channel.failures = [SendError("gateway busy") for _ in range(4)]
    waits = []
    for _attempt in range(4):
        start = clock.now()
        dispatcher(outbox, channel).send_due()
        current = outbox.get(row["id"])
        if current["state"] == "pending":
            waits.append((datetime.fromisoformat(current["due_at"]) - start).total_seconds())
            clock.set(datetime.fromisoformat(current["due_at"]) - timedelta(seconds=1))
            assert dispatcher(outbox, channel).send_due().sent == []  # not a second early
            clock.advance(1)
    assert waits == [60, 120, 200]  # doubled, capped
    failed = outbox.get(row["id"])
    assert failed["state"] == "failed" and failed["attempts"] == 4 and failed["last_error"] == "gateway busy"
    assert [r["id"] for r in outbox.list(states=["failed"])] == [row["id"]]
    assert channel.sent == []


def test_permanent_failure_is_not_retried(sqlite_db: Database, config: ClinicConfig, clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    [row] = outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT, channels=["in_app"])
    channel = RecordingChannel("in_app")
    channel.failures = [SendError("550 no such user", permanent=True)]
    assert dispatcher(outbox, channel).send_due().failed == [row["id"]]
    assert outbox.get(row["id"])["attempts"] == 1


def test_consent_withdrawn_after_enqueue_skips_the_message(sqlite_db: Database, config: ClinicConfig,
                                                           clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    outbox.set_consent(patient, "sms", True, actor="reception")
    [row] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["sms"])
    outbox.set_consent(patient, "sms", False, actor="portal", source="portal")
    sms = RecordingChannel("sms")
    assert dispatcher(outbox, sms).send_due().skipped == [row["id"]]
    assert outbox.get(row["id"])["last_error"].startswith("no_consent") and sms.sent == []


# ---------------------------------------------------------------- exactly once
def test_a_row_left_sending_by_a_crash_is_retried_only_after_the_lease(any_db: Database, config: ClinicConfig,
                                                                       clock: VirtualClock) -> None:
    outbox, _ = outbox_on(any_db, clinic_with(config, lease_seconds=300), clock)
    patient = add_patient(any_db)
    [row] = outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT, channels=["in_app"])
    [crashed] = outbox.claim("worker-that-dies")  # claimed, then the process died before recording anything
    assert outbox.get(row["id"])["state"] == "sending"
    clock.advance(299)
    assert outbox.claim("worker-2") == []
    clock.advance(1)
    [again] = outbox.claim("worker-2")
    assert again.id == row["id"] and again.attempts == 2 and again.token != crashed.token
    assert not outbox.mark_sent(crashed)  # a late answer from the old claim changes nothing
    assert outbox.mark_sent(again, provider_ref="ok")
    assert outbox.get(row["id"])["state"] == "sent"


def test_concurrent_workers_never_send_a_message_twice(any_db: Database, config: ClinicConfig,
                                                       clock: VirtualClock) -> None:
    outbox, _ = outbox_on(any_db, clinic_with(config, batch_size=3), clock)
    patient = add_patient(any_db)
    for index in range(40):
        outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT, channels=["in_app"],
                       dedupe_key=f"load:{index}")
    channel = RecordingChannel("in_app")
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            start.wait()
            worker = dispatcher(outbox, channel, worker=name)
            while worker.send_due().sent:
                pass
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    ids = [message.id for message in channel.sent]
    assert len(ids) == len(set(ids)) == 40
    assert outbox.counts()["sent"] == 40


# ---------------------------------------------------------------- staff actions
def test_staff_retry_and_cancel(sqlite_db: Database, config: ClinicConfig, clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    [row] = outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT, channels=["in_app"])
    with pytest.raises(Conflict):
        outbox.retry(row["id"], actor="staff:lan")  # pending: nothing to retry
    [claim] = outbox.claim("w1")
    outbox.mark_unsent(claim, "down", permanent=True)
    retried = outbox.retry(row["id"], actor="staff:lan")
    assert retried["state"] == "pending" and retried["attempts"] == 0
    assert outbox.cancel(row["id"], actor="staff:lan")["state"] == "cancelled"
    with pytest.raises(Conflict):
        outbox.cancel(row["id"], actor="staff:lan")


def test_cancel_pending_of_an_appointment(sqlite_db: Database, config: ClinicConfig, clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT, channels=["in_app"], appointment_id=7)
    for key in ("24h", "3d"):
        outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["in_app"], appointment_id=7,
                       due_at=clock.now() + timedelta(days=2), dedupe_key=f"appt:7:reminder:{key}")
    assert outbox.cancel_pending(appointment_id=7, templates=["reminder"], actor="booking") == 2
    states = {(r["template"], r["state"]) for r in outbox.list(appointment_id=7)}
    assert states == {("confirmation", "pending"), ("reminder", "cancelled")}


# ---------------------------------------------------------------- channels without a server
def test_in_app_message_is_stored_once_and_announced(sqlite_db: Database, config: ClinicConfig,
                                                     clock: VirtualClock, tmp_path: Path) -> None:
    outbox, bus = outbox_on(sqlite_db, config, clock)
    patient = add_patient(sqlite_db)
    [row] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["in_app"])
    channel = InAppChannel(sqlite_db, bus, clock)
    [claim] = outbox.claim("w1")
    rendered = outbox.templates.render("reminder", "vi", APPOINTMENT)
    channel.send(Outgoing(id=claim.id, channel="in_app", recipient=claim.recipient, template="reminder",
                          language="vi", subject=rendered.subject, body=rendered.body, sms=rendered.sms,
                          params=claim.params, patient_id=patient))  # delivered, then the worker died
    clock.advance(config.notifications.lease_seconds)
    assert dispatcher(outbox, channel).send_due().sent == [row["id"]]  # retried after the lease: stored once
    with sqlite_db.read() as connection:
        assert connection.execute(select(func.count()).select_from(PatientMessage)).scalar() == 1
    [message] = outbox.inbox_of("BN2026000001")
    assert message["title"].startswith("Nhắc lịch tái khám Thứ Hai 30/11/2026")
    assert message["link"] == APPOINTMENT["link"] and not message["read"]
    [event] = bus.of(PatientMessageCreated)
    assert event.patient_code == "BN2026000001" and event.message["id"] == message["id"]
    assert outbox.mark_read(patient, message["id"]) and outbox.inbox(patient)[0]["read"]
    assert outbox.get(row["id"])["state"] == "sent"
    assert check_inbox_token("secret", "BN2026000001", inbox_token("secret", "BN2026000001"))
    assert not check_inbox_token("secret", "BN2026000002", inbox_token("secret", "BN2026000001"))


def test_file_log_channel_writes_one_json_line_per_message(sqlite_db: Database, clinic: ClinicConfig,
                                                           clock: VirtualClock, tmp_path: Path) -> None:
    outbox, _ = outbox_on(sqlite_db, clinic, clock)
    patient = add_patient(sqlite_db)
    outbox.enqueue("no_show_callback", patient_id=patient, params=APPOINTMENT, channels=["file_log"], language="en")
    path = tmp_path / "var" / "notifications.jsonl"
    report = dispatcher(outbox, FileLogChannel(path, clock)).send_due()
    [line] = path.read_text(encoding="utf-8").splitlines()
    entry = json.loads(line)
    assert report.sent == [entry["id"]] and entry["to"] == "BN2026000001" and entry["language"] == "en"
    assert entry["subject"] == "You missed your follow-up on 30/11/2026"
    assert "Hoa Binh General Hospital" in entry["body"] and "0218 3852 115" in entry["body"]  # hotline from config


# ---------------------------------------------------------------- templates and formats
def test_templates_render_in_both_languages_and_fall_back_to_vietnamese(sqlite_db: Database, config: ClinicConfig,
                                                                         clock: VirtualClock) -> None:
    outbox, _ = outbox_on(sqlite_db, config, clock)
    vi = outbox.templates.render("confirmation", "vi", APPOINTMENT)
    assert vi.subject == "Xác nhận lịch tái khám 30/11/2026 lúc 08:30"
    assert "Bệnh viện Đa khoa Hòa Bình xác nhận" in vi.body and APPOINTMENT["link"] in vi.sms
    assert outbox.templates.render("confirmation", "en", APPOINTMENT).subject.startswith("Follow-up appointment")
    assert when_params(local(30, 8, 30), SITE_TZ) == {"date": "30/11/2026", "time": "08:30", "weekday": "Thứ Hai"}
    assert when_params(local(30, 8, 30), SITE_TZ, "en")["weekday"] == "Monday"


def test_template_placeholders_are_checked_when_the_config_loads(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    path = target / "notifications.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("{patient_name},", "{patient.name},", 1),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(target, env={})
    assert "notifications.toml" in str(caught.value) and "plain lower-case name" in str(caught.value)


@pytest.mark.parametrize(("phone", "style", "expected"), [
    ("0912 345 678", "84", "84912345678"),
    ("+84 912 345 678", "local", "0912345678"),
    ("84912345678", "+84", "+84912345678"),
    ("0912.345.678", "local", "0912345678"),
])
def test_phone_formats(phone: str, style: str, expected: str) -> None:
    assert format_phone(phone, style) == expected


def test_bad_phone_is_a_permanent_error() -> None:
    with pytest.raises(SendError) as caught:
        format_phone("12345", "84")
    assert caught.value.permanent


def test_ascii_sms_text() -> None:
    assert to_ascii("Bệnh viện Đa khoa Hòa Bình: lịch tái khám") == "Benh vien Da khoa Hoa Binh: lich tai kham"
