"""Reception and schedule pages through the Flask test client: access, the patient card, schedule edits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.registry import PatientDetails
from tests.test_staff_auth import csrf_from, log_in

PASSWORD = "mat-khau-123"


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'pages.db'}", clock=clock)
    for username, role in (("le.tan", "reception"), ("dieu.duong", "nurse"), ("quan.tri", "admin")):
        hub.staff.add(username, username.replace(".", " ").title(), role, PASSWORD)
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


def test_reception_page_is_for_reception_and_admin(client: FlaskClient) -> None:
    response = client.get("/reception")
    assert response.status_code == 302 and "/login" in response.location
    log_in(client, "dieu.duong", PASSWORD)
    assert client.get("/reception").status_code == 403
    assert client.get("/admin/schedules").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/staff").text)})
    log_in(client, "le.tan", PASSWORD)
    page = client.get("/reception")
    assert page.status_code == 200 and "Tiếp đón bệnh nhân" in page.text and 'id="register-form"' in page.text
    assert "Patient reception" in client.get("/reception?lang=en").text


def test_patient_card_has_the_code_as_text_and_qr(client: FlaskClient, hub: Hub) -> None:
    code = hub.booking.patients.register(PatientDetails(full_name="Đặng Thị Thu", date_of_birth=date(1990, 2, 3)),
                                         actor="x")["code"]
    log_in(client, "le.tan", PASSWORD)
    card = client.get(f"/reception/patients/{code}/card")
    assert card.status_code == 200
    assert code in card.text and "Đặng Thị Thu" in card.text and "03/02/1990" in card.text
    assert re.search(r"<svg[^>]*viewBox", card.text)
    assert client.get("/reception/patients/BN99999999/card").status_code == 404


def test_admin_edits_blocks_and_exceptions(client: FlaskClient, hub: Hub) -> None:
    log_in(client, "quan.tri", PASSWORD)
    page = client.get("/admin/schedules?doctor=bs-hoa")
    assert page.status_code == 200 and "BS.CKI Võ Thị Hoa" in page.text
    token = csrf_from(page.text)
    added = client.post("/admin/schedules/bs-hoa/blocks", follow_redirects=True, data={
        "csrf_token": token, "weekday": ["0", "2"], "start": "13:30", "end": "16:30", "slot_minutes": "20",
        "capacity": "2"})
    assert added.status_code == 200 and "Đã thêm ca làm việc" in added.text
    blocks = hub.booking.schedules.schedule("bs-hoa")["blocks"]
    monday = [b for b in blocks if b["day"] == "mon"]
    assert monday == [{**monday[0], "start": "13:30", "end": "16:30", "slot_minutes": 20, "capacity": 2}]
    overlap = client.post("/admin/schedules/bs-hoa/blocks", follow_redirects=True, data={
        "csrf_token": token, "weekday": "0", "start": "14:00", "end": "15:00", "slot_minutes": "20", "capacity": "1"})
    assert "Trùng với ca 13:30-16:30" in overlap.text
    client.post(f"/admin/schedules/bs-hoa/blocks/{monday[0]['id']}/delete", data={"csrf_token": token})
    assert all(b["day"] != "mon" for b in hub.booking.schedules.schedule("bs-hoa")["blocks"])

    client.post("/admin/schedules/bs-hoa/exceptions", data={"csrf_token": token, "day": "2026-11-26",
                                                            "closed": "no", "start": "08:00", "end": "09:00"})
    slots = hub.booking.free_slots(date(2026, 11, 26), doctor="bs-hoa")
    assert [s["time"] for s in slots] == ["08:00", "08:20", "08:40"]
    exception = hub.booking.schedules.schedule("bs-hoa")["exceptions"][0]
    assert (exception["start"], exception["closed"]) == ("08:00", False)
    client.post(f"/admin/schedules/bs-hoa/exceptions/{exception['id']}/delete", data={"csrf_token": token})
    assert hub.booking.free_slots(date(2026, 11, 26), doctor="bs-hoa")[0]["time"] == "07:30"
    bad = client.post("/admin/schedules/bs-hoa/exceptions", follow_redirects=True,
                      data={"csrf_token": token, "day": "2026-11-27", "closed": "no", "start": "10:00"})
    assert "HH:MM" in bad.text
    assert hub.booking.schedules.schedule("bs-hoa")["exceptions"] == []
    assert client.post("/admin/schedules/bs-hoa/blocks", data={"weekday": "0"}).status_code == 400  # no CSRF
