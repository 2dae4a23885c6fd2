"""The staff page of the outbox: failed messages are listed, and retry and cancel work (with CSRF)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from tests.conftest import SITE_TZ
from tests.notifications_support import APPOINTMENT, add_patient
from tests.test_staff_auth import csrf_from, log_in


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig) -> Iterator[Hub]:
    clock = VirtualClock(datetime(2026, 11, 23, 8, 0, tzinfo=SITE_TZ))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'admin.db'}", clock=clock)
    hub.staff.add("quan.tri", "Trần Văn Quản", "admin", "quan-tri-456")
    hub.staff.add("lan.nguyen", "Nguyễn Thị Lan", "nurse", "dieu-duong-123")
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


def failed_message(hub: Hub) -> int:
    """A file-log message whose sending failed for good."""
    patient = add_patient(hub.db)
    [row] = hub.notifications.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["file_log"])
    [claim] = hub.notifications.claim("test")
    hub.notifications.mark_unsent(claim, "disk full: cannot write var/notifications.jsonl", permanent=True)
    return row["id"]


def test_failed_message_is_listed_and_retry_sends_it(hub: Hub, client: FlaskClient) -> None:
    message = failed_message(hub)
    assert log_in(client, "quan.tri", "quan-tri-456") == 302
    page = client.get("/admin/notifications")
    assert page.status_code == 200
    assert f'data-notification="{message}" data-state="failed"' in page.text
    assert "disk full" in page.text and "Gửi lại" in page.text
    assert "Tin nhắn gửi bệnh nhân" in client.get("/staff").text  # linked from the staff start page
    token = csrf_from(page.text)
    assert client.post(f"/admin/notifications/{message}/retry").status_code == 400  # no CSRF token
    reply = client.post(f"/admin/notifications/{message}/retry", data={"csrf_token": token})
    assert reply.status_code == 302
    assert hub.notifications.get(message)["state"] == "pending"
    ran = hub.scheduler.run_pending()
    assert ran[0] == "notifications.send" and "followups.plan" in ran  # and the reminder planner
    assert hub.notifications.get(message)["state"] == "sent"
    assert (hub.var_dir / "notifications.jsonl").is_file()
    sent_page = client.get("/admin/notifications?state=sent")
    assert f'data-notification="{message}" data-state="sent"' in sent_page.text


def test_cancel_from_the_page_and_refusals(hub: Hub, client: FlaskClient) -> None:
    message = failed_message(hub)
    log_in(client, "quan.tri", "quan-tri-456")
    token = csrf_from(client.get("/admin/notifications").text)
    client.post(f"/admin/notifications/{message}/cancel", data={"csrf_token": token})
    assert hub.notifications.get(message)["state"] == "cancelled"
    page = client.post(f"/admin/notifications/{message}/cancel", data={"csrf_token": token}, follow_redirects=True)
    assert "cannot be cancelled" in page.text


def test_nurses_do_not_see_the_outbox(hub: Hub, client: FlaskClient) -> None:
    assert client.get("/admin/notifications").status_code == 302  # to the login page
    log_in(client, "lan.nguyen", "dieu-duong-123")
    assert client.get("/admin/notifications").status_code == 403


def test_a_portal_page_receives_in_app_messages_live(hub: Hub) -> None:
    from hub.app import socketio_of
    from hub.notify.in_app import inbox_token

    app = create_app(hub, testing=True)
    patient = add_patient(hub.db, code="BN2026000007")
    page = socketio_of(app).test_client(app, flask_test_client=app.test_client())
    page.emit("subscribe", {"patient": "BN2026000007", "token": inbox_token(hub.secret_key, "BN2026000008")})
    assert [m["name"] for m in page.get_received()] == ["error"]
    page.emit("subscribe", {"patient": "BN2026000007", "token": inbox_token(hub.secret_key, "BN2026000007")})
    [snapshot] = page.get_received()
    assert snapshot["name"] == "snapshot" and snapshot["args"][0] == {"kind": "patient", "messages": []}
    [row] = hub.notifications.enqueue("reminder", patient_id=patient, params=APPOINTMENT, channels=["in_app"])
    hub.scheduler.run_pending()
    [event] = page.get_received()
    assert event["name"] == "inbox" and event["args"][0]["message"]["title"].startswith("Nhắc lịch tái khám")
    assert hub.notifications.get(row["id"])["state"] == "sent"
    page.disconnect()
