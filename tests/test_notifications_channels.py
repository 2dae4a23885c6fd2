"""The email and SMS channels against real local servers: aiosmtpd for SMTP, http.server for the gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from aiosmtpd.controller import Controller

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.notifications.settings import EmailSettings, SmsSettings
from hub.notify.email_smtp import SmtpChannel
from hub.notify.sms_http import HttpSmsChannel
from tests.notifications_support import APPOINTMENT, add_patient, clinic_with, dispatcher, outbox_on
from tests.support import free_port


# ---------------------------------------------------------------- a local SMTP server
class MailSink:
    """aiosmtpd handler: keeps every accepted message; refuses the addresses in `refuse` with 550."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def start_smtp(sink: MailSink, port: int) -> Controller:
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp_port() -> int:
    return free_port()


def email_clinic(clinic: ClinicConfig, port: int, **changes: Any) -> ClinicConfig:
    email = EmailSettings(enabled=True, host="127.0.0.1", port=port, from_address="lichhen@bvhoabinh.vn",
                          timeout_s=5)
    return clinic_with(clinic, channels=["email"], quiet_hours="", email=email, **changes)


def email_setup(db: Database, config: ClinicConfig, clock: VirtualClock) -> tuple[Any, SmtpChannel, int]:
    outbox, _ = outbox_on(db, config, clock)
    patient = add_patient(db)
    outbox.set_consent(patient, "email", True, actor="staff:lan")
    channel = SmtpChannel(config.notifications.email, from_name=config.site.name, site_id=config.site.id)
    return outbox, channel, patient


def test_email_is_sent_once_with_a_vietnamese_subject(sqlite_db: Database, clinic: ClinicConfig,
                                                      clock: VirtualClock, smtp_port: int) -> None:
    sink = MailSink()
    controller = start_smtp(sink, smtp_port)
    try:
        config = email_clinic(clinic, smtp_port)
        outbox, channel, patient = email_setup(sqlite_db, config, clock)
        [row] = outbox.enqueue("confirmation", patient_id=patient, params=APPOINTMENT)
        assert dispatcher(outbox, channel).send_due().sent == [row["id"]]
        assert dispatcher(outbox, channel).send_due().sent == []
    finally:
        controller.stop()
    [mail] = sink.messages
    assert mail["Subject"] == "Xác nhận lịch tái khám 30/11/2026 lúc 08:30"
    assert mail["From"].addresses[0].display_name == "Bệnh viện Đa khoa Hòa Bình"
    assert mail["To"] == "hoa.nguyen@example.vn"
    body = mail.get_content()
    assert "Kính gửi Nguyễn Thị Hoa" in body and "Bác sĩ: Trần Văn Minh" in body
    assert sink.envelopes == [("lichhen@bvhoabinh.vn", ["hoa.nguyen@example.vn"])]
    sent = outbox.get(row["id"])
    assert sent["state"] == "sent" and sent["provider_ref"] == mail["Message-ID"]
    assert sent["subject"] == mail["Subject"] and sent["attempts"] == 1


def test_smtp_down_retries_with_backoff_then_sends_once_it_is_back(sqlite_db: Database, clinic: ClinicConfig,
                                                                   clock: VirtualClock, smtp_port: int) -> None:
    config = email_clinic(clinic, smtp_port, retry_base_seconds=60, retry_factor=2)
    outbox, channel, patient = email_setup(sqlite_db, config, clock)
    [row] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT)
    send = dispatcher(outbox, channel)
    assert send.send_due().retrying == [row["id"]]  # nobody listens on the port
    assert "unreachable" in outbox.get(row["id"])["last_error"]
    clock.advance(59)
    assert send.send_due().retrying == []  # backing off
    clock.advance(1)
    assert send.send_due().retrying == [row["id"]]  # second attempt, still down; next wait is 120 s
    sink = MailSink()
    controller = start_smtp(sink, smtp_port)
    try:
        clock.advance(60)
        assert send.send_due().sent == []
        clock.advance(60)
        assert send.send_due().sent == [row["id"]]
        clock.advance(3600)
        assert send.send_due().sent == []
    finally:
        controller.stop()
    assert len(sink.messages) == 1
    assert sink.messages[0]["Subject"].startswith("Nhắc lịch tái khám")
    assert outbox.get(row["id"])["attempts"] == 3


def test_refused_recipient_fails_without_retry(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock,
                                               smtp_port: int) -> None:
    sink = MailSink()
    sink.refuse.add("hoa.nguyen@example.vn")
    controller = start_smtp(sink, smtp_port)
    try:
        config = email_clinic(clinic, smtp_port)
        outbox, channel, patient = email_setup(sqlite_db, config, clock)
        [row] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT)
        assert dispatcher(outbox, channel).send_due().failed == [row["id"]]
    finally:
        controller.stop()
    failed = outbox.get(row["id"])
    assert failed["state"] == "failed" and "550" in failed["last_error"] and sink.messages == []


# ---------------------------------------------------------------- a local SMS gateway
class Gateway:
    """An HTTP server answering from a script of (status, JSON) replies and keeping the requests."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                gateway.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": self.rfile.read(length).decode("utf-8")})
                status, reply = gateway.replies.pop(0) if gateway.replies else (200, {"CodeResult": "100"})
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    yield server
    server.close()


def sms_setup(db: Database, clinic: ClinicConfig, clock: VirtualClock, sms: SmsSettings) -> tuple[Any, Any, int]:
    config = clinic_with(clinic, channels=["sms"], quiet_hours="", sms=sms)
    outbox, _ = outbox_on(db, config, clock)
    patient = add_patient(db)
    outbox.set_consent(patient, "sms", True, actor="staff:lan")
    return outbox, HttpSmsChannel(sms, api_key="k-123"), patient


def test_sms_gateway_template_500_then_success(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock,
                                               gateway: Gateway) -> None:
    sms = SmsSettings(enabled=True, url=f"http://127.0.0.1:{gateway.port}/api/send?key={{api_key}}",
                      headers={"X-Brand": "BV-HOABINH"}, body={"Phone": "{to}", "Content": "{text}", "SmsType": 2},
                      ascii_only=True, success_field="CodeResult", success_values=["100"], message_id_field="SMSID")
    outbox, channel, patient = sms_setup(sqlite_db, clinic, clock, sms)
    gateway.replies = [(500, {"error": "maintenance"}), (200, {"CodeResult": "100", "SMSID": "a1b2"})]
    [row] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT)
    send = dispatcher(outbox, channel)
    assert send.send_due().retrying == [row["id"]]
    assert "500" in outbox.get(row["id"])["last_error"]
    clock.advance(clinic.notifications.retry_base_seconds)  # the first wait
    assert send.send_due().sent == [row["id"]]
    assert len(gateway.requests) == 2
    request = gateway.requests[-1]
    assert parse_qs(urlparse(request["path"]).query) == {"key": ["k-123"]}
    assert request["headers"]["X-Brand"] == "BV-HOABINH"
    body = json.loads(request["body"])
    assert body["Phone"] == "84912345678" and body["SmsType"] == 2
    assert body["Content"].startswith("Benh vien Da khoa Hoa Binh nhac lich tai kham 08:30 30/11/2026")
    sent = outbox.get(row["id"])
    assert sent["state"] == "sent" and sent["provider_ref"] == "a1b2" and sent["body"].startswith("Bệnh viện")


@pytest.mark.parametrize(("reply", "state"), [
    ((400, {"error": "bad phone"}), "failed"),            # the request is wrong: not retried
    ((429, {"error": "slow down"}), "pending"),           # rate limited: retried
    ((200, {"CodeResult": "104"}), "failed"),             # understood and refused (e.g. brand name not registered)
])
def test_sms_gateway_replies_decide_retry_or_failure(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock,
                                                     gateway: Gateway, reply: tuple[int, dict[str, Any]],
                                                     state: str) -> None:
    sms = SmsSettings(enabled=True, url=f"http://127.0.0.1:{gateway.port}/send", body_format="form",
                      body={"to": "{to}", "msg": "{text}"}, phone_format="local", success_field="CodeResult",
                      success_values=["100"])
    outbox, channel, patient = sms_setup(sqlite_db, clinic, clock, sms)
    gateway.replies = [reply]
    [row] = outbox.enqueue("reminder", patient_id=patient, params=APPOINTMENT)
    dispatcher(outbox, channel).send_due()
    assert outbox.get(row["id"])["state"] == state
    form = parse_qs(gateway.requests[0]["body"])
    assert form["to"] == ["0912345678"] and form["msg"][0].startswith("Bệnh viện Đa khoa Hòa Bình nhắc")
