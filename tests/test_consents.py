"""Consent to reminders by SMS and email: recorded at reception (REST and page), honoured by the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock

API = "/api/v1"
PARAMS = {"date": "30/11/2026", "time": "08:30", "weekday": "Thứ Hai", "doctor": "BS An", "service": "Khám Nội",
          "patient_name": "Trần Thị Lan", "link": "http://127.0.0.1:8000/f/x"}
LAN = {"full_name": "Trần Thị Lan", "date_of_birth": "1980-05-06", "phone": "0987 654 321",
       "email": "lan.tran@example.vn"}


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    # The sample sends in-app and to a file only; a site with an SMS gateway and SMTP turns these on.
    settings = clinic.notifications
    channels = settings.model_copy(update={
        "channels": ["sms", "email", "in_app", "file_log"],
        "sms": settings.sms.model_copy(update={"enabled": True}),
        "email": settings.email.model_copy(update={"enabled": True})})
    config = clinic.model_copy(update={"notifications": channels})
    hub = build_hub(config, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'consent.db'}", clock=clock)
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


def bearer(hub: Hub, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.tokens.create(role, f'test-{role}')}"}


def test_consent_is_recorded_and_changes_what_the_outbox_sends(hub: Hub, client: FlaskClient) -> None:
    reception = bearer(hub, "reception")
    patient = client.post(API + "/patients", json=LAN, headers=reception).json
    assert client.get(f"{API}/patients/{patient['code']}/consents", headers=reception).json["consents"] == {}
    first = hub.notifications.enqueue("confirmation", patient_id=patient["id"], channels=["sms"],
                                      params={**PARAMS, "appointment_code": "HB1"})
    assert first[0]["state"] == "skipped" and "no_consent" in first[0]["last_error"]  # nothing is sent
    saved = client.put(f"{API}/patients/{patient['code']}/consents", json={"sms": True, "email": False},
                       headers=reception)
    assert saved.status_code == 200 and saved.json["consents"] == {"sms": True, "email": False}
    again = hub.notifications.enqueue("confirmation", patient_id=patient["id"], channels=["sms", "email"],
                                      params={**PARAMS, "appointment_code": "HB2"})
    assert {m["channel"]: m["state"] for m in again} == {"sms": "pending", "email": "skipped"}


@pytest.mark.parametrize(("body", "status"), [({"sms": "yes"}, 422), ({"fax": True}, 422), ([True], 422)])
def test_bad_consent_bodies_are_refused(hub: Hub, client: FlaskClient, body: object, status: int) -> None:
    reception = bearer(hub, "reception")
    patient = client.post(API + "/patients", json=LAN, headers=reception).json
    assert client.put(f"{API}/patients/{patient['code']}/consents", json=body, headers=reception).status_code == status


def test_only_reception_records_consent(hub: Hub, client: FlaskClient) -> None:
    patient = client.post(API + "/patients", json=LAN, headers=bearer(hub, "reception")).json
    response = client.put(f"{API}/patients/{patient['code']}/consents", json={"sms": True},
                          headers=bearer(hub, "nurse"))
    assert response.status_code == 403
    assert client.put(f"{API}/patients/BN99999999/consents", json={"sms": True},
                      headers=bearer(hub, "reception")).status_code == 404
