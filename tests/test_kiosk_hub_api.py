"""The hub's side of the kiosks: ID-card check-in, number leases, offline tickets, reprint commands."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.common.events import DeviceCommand
from tests.conftest import SITE_TZ

CARD_ID = "001088012345"
CARD_NAME = "Nguyễn Thị Hồng Nhung"
CARD_ADDRESS = "Số 12, Ngõ 34 Phố Huế, Phường Hàng Bài, Quận Hoàn Kiếm, Hà Nội"
CARD = f"{CARD_ID}|012345678|{CARD_NAME}|15081988|Nữ|{CARD_ADDRESS}|20042021"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(datetime(2026, 11, 23, 8, 0, tzinfo=SITE_TZ))


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'kiosk.db'}", clock=clock)
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def tokens(hub: Hub) -> dict[str, str]:
    names = {"kiosk": "kiosk-sanh-a", "kiosk2": "kiosk-sanh-b", "reception": "le-tan", "nurse": "dieu-duong"}
    return {who: hub.tokens.create("kiosk" if who.startswith("kiosk") else who, name) for who, name in names.items()}


def call(client: FlaskClient, tokens: dict[str, str], who: str, path: str, body: Any = None) -> Any:
    return client.post("/api/v1" + path, json=body, headers={"Authorization": f"Bearer {tokens[who]}"})


def offline_ticket(seq: int, issued_at: datetime, service: str = "kham-noi", key: str | None = None) -> dict:
    return {"service": service, "idempotency_key": key or uuid.uuid4().hex, "device": "kiosk-sanh-a",
            "offline": {"seq": seq, "issued_at": issued_at.isoformat()}}


# ------------------------------------------------------------------------------------- identify
def test_card_registers_then_finds_the_same_patient(client: FlaskClient, tokens: dict[str, str]) -> None:
    first = call(client, tokens, "kiosk", "/patients/identify", {"cccd": CARD + "\r\n"})
    assert first.status_code == 201, first.text
    patient = first.json["patient"]
    assert first.json["created"] is True
    assert patient["full_name"] == CARD_NAME and patient["birth_year"] == 1988 and patient["sex"] == "Nữ"
    assert patient["code"].startswith("BN") and len(patient["code"]) == 10
    assert CARD_ID not in first.text and "Phố Huế" not in first.text  # no ID number or address in the reply

    again = call(client, tokens, "reception", "/patients/identify", {"cccd": CARD})
    assert again.status_code == 200
    assert {k: again.json[k] for k in ("patient", "created")} == {"patient": patient, "created": False}
    assert CARD_ID not in again.text  # the BHYT check beside it (issue 14) does not echo the number either

    ticket = call(client, tokens, "kiosk", "/tickets", {"service": "kham-noi", "patient_code": patient["code"]})
    assert ticket.status_code == 201, ticket.text


def test_card_updates_the_record_and_matches_the_old_id(hub: Hub, client: FlaskClient,
                                                        tokens: dict[str, str]) -> None:
    from sqlalchemy import insert, select

    from hub.domain.common.models import AuditEntry
    from hub.domain.patients.models import Patient

    with hub.db.write() as connection:  # registered years ago under the 9-digit CMND, at an old address
        connection.execute(insert(Patient).values(code="BN00000001", full_name="Nguyen Thi Hong Nhung",
                                                  national_id="012345678", address="Cũ",
                                                  created_at=hub.clock.now()))
    response = call(client, tokens, "kiosk", "/patients/identify", {"cccd": CARD})
    assert response.status_code == 200 and response.json["patient"]["code"] == "BN00000001"
    with hub.db.read() as connection:
        row = connection.execute(select(Patient).where(Patient.code == "BN00000001")).one()
        audit = connection.execute(select(AuditEntry.detail).where(AuditEntry.subject == "BN00000001")).scalar()
    assert (row.national_id, row.full_name, row.address) == (CARD_ID, CARD_NAME, CARD_ADDRESS)
    assert CARD_ID not in str(audit) and "Phố Huế" not in str(audit)


@pytest.mark.parametrize("payload", [
    "001088012345|012345678|Nguyễn Văn A|31021990|Nam|Hà Nội|20042021",  # 31 February
    "00108801234|012345678|Nguyễn Văn A|15081988|Nam|Hà Nội|20042021",  # 11 digits
    "001088012345|Nguyễn Văn A|15081988",
    "B023",
])
def test_unreadable_card_is_refused_without_echoing_it(client: FlaskClient, tokens: dict[str, str],
                                                       payload: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        response = call(client, tokens, "kiosk", "/patients/identify", {"cccd": payload})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_cccd"
    for part in ("001088", "Nguyễn", "Hà Nội", "B023"):
        assert part not in response.text
        assert part not in caplog.text


def test_identify_needs_a_kiosk_or_reception(client: FlaskClient, tokens: dict[str, str]) -> None:
    assert call(client, tokens, "nurse", "/patients/identify", {"cccd": CARD}).status_code == 403
    assert client.post("/api/v1/patients/identify", json={"cccd": CARD}).status_code == 401
    too_long = call(client, tokens, "kiosk", "/patients/identify", {"cccd": "1" * 2000})
    assert too_long.status_code == 422 and "1111" not in too_long.text


# ------------------------------------------------------------------------------------- leases
def test_lease_reserves_numbers_nobody_else_gets(client: FlaskClient, tokens: dict[str, str]) -> None:
    lease = call(client, tokens, "kiosk", "/leases", {"service": "kham-noi", "size": 5})
    assert lease.status_code == 201, lease.text
    assert lease.json == {"day": "2026-11-23", "service": "kham-noi", "first": 1, "last": 5,
                          "first_number": "B001", "last_number": "B005"}
    online = call(client, tokens, "reception", "/tickets", {"service": "kham-noi"})
    assert online.json["number"] == "B006"
    assert call(client, tokens, "nurse", "/leases", {"service": "kham-noi"}).status_code == 403
    assert call(client, tokens, "kiosk", "/leases", {"service": "kham-noi", "size": 0}).status_code == 422
    assert call(client, tokens, "kiosk", "/leases", {"service": "khong-co"}).status_code == 404


def test_offline_tickets_are_filed_in_issue_order_once(hub: Hub, client: FlaskClient, tokens: dict[str, str],
                                                       clock: VirtualClock) -> None:
    call(client, tokens, "kiosk", "/leases", {"service": "kham-noi", "size": 3})
    early = clock.now()
    clock.advance(600)
    online = call(client, tokens, "reception", "/tickets", {"service": "kham-noi"}).json
    clock.advance(60)
    body = offline_ticket(1, early)
    filed = call(client, tokens, "kiosk", "/tickets", body)
    assert filed.status_code == 201, filed.text
    assert filed.json["number"] == "B001" and filed.json["offline"] is True
    assert filed.json["ahead"] == 0  # it was issued before the online ticket: it goes ahead of it
    assert call(client, tokens, "kiosk", "/tickets", body).json["id"] == filed.json["id"]  # resent: same ticket
    queue = hub.queue.waiting_tickets("kham-noi")
    assert [t["number"] for t in queue] == ["B001", online["number"]]


@pytest.mark.parametrize(("who", "seq", "minutes", "status", "code"), [
    ("kiosk", 4, 0, 403, "not_leased"),  # outside the block
    ("kiosk2", 2, 0, 403, "not_leased"),  # another kiosk's block
    ("reception", 2, 0, 403, "forbidden"),  # only kiosks file offline tickets
    ("kiosk", 2, 30, 422, "bad_issued_at"),  # "issued" half an hour from now
    ("kiosk", 2, -24 * 60, 403, "not_leased"),  # yesterday: leases are per day
])
def test_offline_numbers_outside_a_lease_are_refused(client: FlaskClient, tokens: dict[str, str],
                                                     clock: VirtualClock, who: str, seq: int, minutes: int,
                                                     status: int, code: str) -> None:
    call(client, tokens, "kiosk", "/leases", {"service": "kham-noi", "size": 3})
    response = call(client, tokens, who, "/tickets", offline_ticket(seq, clock.now() + timedelta(minutes=minutes)))
    assert response.status_code == status, response.text
    assert response.json["error"]["code"] == code


def test_an_offline_number_is_issued_once(client: FlaskClient, tokens: dict[str, str], clock: VirtualClock) -> None:
    call(client, tokens, "kiosk", "/leases", {"service": "kham-noi", "size": 3})
    assert call(client, tokens, "kiosk", "/tickets", offline_ticket(2, clock.now())).status_code == 201
    twice = call(client, tokens, "kiosk", "/tickets", offline_ticket(2, clock.now()))  # another key, same number
    assert twice.status_code == 409 and twice.json["error"]["code"] == "number_taken"
    no_key = offline_ticket(3, clock.now())
    del no_key["idempotency_key"]
    assert call(client, tokens, "kiosk", "/tickets", no_key).status_code == 422


def test_lease_day_follows_hanoi_midnight(client: FlaskClient, tokens: dict[str, str], clock: VirtualClock) -> None:
    clock.set(datetime(2026, 11, 23, 23, 59, tzinfo=SITE_TZ))
    assert call(client, tokens, "kiosk", "/leases", {"service": "kham-nhi", "size": 2}).json["day"] == "2026-11-23"
    clock.set(datetime(2026, 11, 24, 0, 1, tzinfo=SITE_TZ))  # 17:01 UTC: already tomorrow in Hanoi
    fresh = call(client, tokens, "kiosk", "/leases", {"service": "kham-nhi", "size": 2}).json
    assert (fresh["day"], fresh["first"]) == ("2026-11-24", 1)


# ------------------------------------------------------------------------------------- booking, device
def test_booking_code_alone_is_understood(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = call(client, tokens, "kiosk", "/tickets", {"appointment_code": "HK7Q2M"})
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_appointment"
    missing = call(client, tokens, "kiosk", "/tickets", {"priority": "elderly"})
    assert missing.status_code == 422 and missing.json["error"]["details"][0]["field"] == "service"


def test_ticket_names_a_registered_kiosk(client: FlaskClient, tokens: dict[str, str]) -> None:
    unknown = call(client, tokens, "kiosk", "/tickets", {"service": "kham-noi", "device": "kiosk-khong-co"})
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "unknown_device"
    keypad = call(client, tokens, "kiosk", "/tickets", {"service": "kham-noi", "device": "kp-p101"})
    assert keypad.status_code == 422


# ------------------------------------------------------------------------------------- reprint
def test_reprint_sends_an_expiring_command_to_the_kiosk(hub: Hub, client: FlaskClient,
                                                        tokens: dict[str, str]) -> None:
    sent: list[DeviceCommand] = []
    hub.bus.subscribe(DeviceCommand, sent.append)
    ticket = call(client, tokens, "kiosk", "/tickets", {"service": "kham-noi", "device": "kiosk-sanh-a"}).json
    hub.mqtt_status = lambda: "disabled"
    assert call(client, tokens, "reception", f"/tickets/{ticket['id']}/reprint").status_code == 503
    hub.mqtt_status = lambda: "ok"
    response = call(client, tokens, "reception", f"/tickets/{ticket['id']}/reprint")
    assert response.status_code == 202, response.text
    [command] = sent
    assert (command.device_type, command.device_id, command.name) == ("kiosk", "kiosk-sanh-a", "reprint")
    assert command.payload["ticket_id"] == ticket["id"] and command.payload["ttl_s"] > 0
    assert command.payload["ts"] == pytest.approx(hub.clock.now().timestamp())
    assert response.json["req_id"] == command.payload["req_id"] and response.json["device"] == "kiosk-sanh-a"

    plain = call(client, tokens, "reception", "/tickets", {"service": "kham-noi"}).json
    refused = call(client, tokens, "reception", f"/tickets/{plain['id']}/reprint")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "not_from_kiosk"
    assert call(client, tokens, "kiosk", f"/tickets/{ticket['id']}/reprint").status_code == 403
    assert call(client, tokens, "reception", "/tickets/999999/reprint").status_code == 404


def test_offline_qr_leads_to_the_status_page_once_filed(client: FlaskClient, tokens: dict[str, str],
                                                        clock: VirtualClock) -> None:
    key = uuid.uuid4().hex
    early = client.get(f"/api/v1/tickets/by-key/{key}")
    assert early.status_code == 404 and early.json["error"]["code"] == "not_synced_yet"
    call(client, tokens, "kiosk", "/leases", {"service": "kham-noi", "size": 2})
    filed = call(client, tokens, "kiosk", "/tickets", offline_ticket(1, clock.now(), key=key)).json
    found = client.get(f"/api/v1/tickets/by-key/{key}")
    assert found.status_code == 302 and found.headers["Location"] == filed["status_url"]


def test_kiosk_setup_lists_the_priority_classes(client: FlaskClient, tokens: dict[str, str]) -> None:
    response = client.get("/api/v1/kiosk/setup", headers={"Authorization": f"Bearer {tokens['kiosk']}"})
    assert response.status_code == 200
    kiosk_classes = [c["code"] for c in response.json["priorities"] if c["kiosk"]]
    assert kiosk_classes == ["elderly", "child", "pregnant", "disabled"]
    assert response.json["site"]["timezone"] == "Asia/Ho_Chi_Minh"


def test_openapi_describes_the_kiosk_endpoints(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/leases", "/patients/identify", "/tickets/{ticket_id}/reprint", "/kiosk/setup"):
        assert path in paths
