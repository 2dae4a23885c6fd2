"""REST: patient registration with duplicate detection, slots, appointments, check-in at kiosk and reception."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from tests.test_booking import MONDAY, TUESDAY, RecordingNotifier, at

API = "/api/v1"
AN = {"full_name": "Nguyễn Văn An", "date_of_birth": "1975-03-02", "sex": "Nam", "phone": "0912 345 678",
      "national_id": "001075001234", "address": "12 Phố Huế, Hà Nội"}


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'booking.db'}", clock=clock)
    hub.booking.notifier = RecordingNotifier()
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def tokens(hub: Hub) -> dict[str, str]:
    return {role: hub.tokens.create(role, f"test-{role}") for role in ("reception", "kiosk", "doctor", "nurse", "lab")}


class Caller:
    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, query_string=params, headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(API + path, json=body if body is not None else {}, headers=self.headers)

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(API + path, json=body, headers=self.headers)


@pytest.fixture
def reception(client: FlaskClient, tokens: dict[str, str]) -> Caller:
    return Caller(client, tokens["reception"])


@pytest.fixture
def kiosk(client: FlaskClient, tokens: dict[str, str]) -> Caller:
    return Caller(client, tokens["kiosk"])


def register(reception: Caller, **fields: Any) -> dict[str, Any]:
    response = reception.post("/patients", {**AN, **fields})
    assert response.status_code == 201, response.json
    return response.json


def book(reception: Caller, patient_code: str, when: str, doctor: str = "bs-an", **extra: Any) -> dict[str, Any]:
    response = reception.post("/appointments", {"patient_code": patient_code, "slot_start": when, "doctor": doctor,
                                                **extra})
    assert response.status_code == 201, response.json
    return response.json


# ------------------------------------------------------------------------------------------ patients
def test_register_gives_a_sequential_code_and_normalises(reception: Caller) -> None:
    first = register(reception)
    assert first["code"] == "BN26000001" and first["phone"] == "0912345678"
    second = register(reception, full_name="Lê Thị Hoa", national_id=None, phone="+84 987 654 321")
    assert second["code"] == "BN26000002" and second["phone"] == "0987654321"
    assert reception.get(f"/patients/{first['code']}").json["full_name"] == "Nguyễn Văn An"


def test_same_cccd_is_refused_with_the_existing_record(reception: Caller) -> None:
    existing = register(reception)
    for confirm in (False, True):
        response = reception.post("/patients", {**AN, "full_name": "Người Khác", "confirm_new": confirm})
        assert response.status_code == 409
        error = response.json["error"]
        assert error["code"] == "national_id_taken"
        assert [c["code"] for c in error["details"]["candidates"]] == [existing["code"]]


def test_same_name_birth_date_and_phone_is_offered_until_confirmed(reception: Caller) -> None:
    existing = register(reception, national_id=None)
    # No diacritics, other case, other spacing, phone written another way: still the same person.
    twin = {**AN, "full_name": "  NGUYEN van  an ", "phone": "+84912345678", "national_id": None}
    response = reception.post("/patients", twin)
    assert response.status_code == 409 and response.json["error"]["code"] == "possible_duplicate"
    candidate = response.json["error"]["details"]["candidates"][0]
    assert candidate["code"] == existing["code"] and candidate["match"] == "name_dob_phone"
    created = reception.post("/patients", {**twin, "confirm_new": True})
    assert created.status_code == 201 and created.json["code"] != existing["code"]
    other_day = reception.post("/patients", {**twin, "date_of_birth": "1975-03-03"})
    assert other_day.status_code == 201


@pytest.mark.parametrize(("fields", "code"), [
    ({"full_name": "   "}, "name_required"),
    ({"phone": "12345"}, "bad_phone"),
    ({"national_id": "12345"}, "bad_national_id"),
    ({"date_of_birth": "2999-01-01"}, "bad_date_of_birth"),
    ({"email": "khong-phai-email"}, "bad_email"),
    ({"sex": "X"}, "invalid_request"),
    ({"date_of_birth": "02/03/1975"}, "invalid_request"),
    ({"colour": "đỏ"}, "invalid_request"),
])
def test_bad_patient_fields_are_422(reception: Caller, fields: dict[str, Any], code: str) -> None:
    response = reception.post("/patients", {**AN, **fields})
    assert response.status_code == 422 and response.json["error"]["code"] == code


def test_search_by_code_phone_cccd_and_name(reception: Caller) -> None:
    an = register(reception)
    register(reception, full_name="Trần Thị Ánh", national_id=None, phone="0977000111")
    assert [p["code"] for p in reception.get("/patients", q=an["code"].lower()).json["patients"]] == [an["code"]]
    assert [p["code"] for p in reception.get("/patients", q="0912.345.678").json["patients"]] == [an["code"]]
    assert [p["code"] for p in reception.get("/patients", q="001075001234").json["patients"]] == [an["code"]]
    names = [p["full_name"] for p in reception.get("/patients", q="anh").json["patients"]]
    assert names == ["Trần Thị Ánh"]
    assert len(reception.get("/patients", q="an").json["patients"]) == 2
    assert reception.get("/patients", q="nguyễn văn").json["patients"][0]["code"] == an["code"]
    assert reception.get("/patients", q="%").json["patients"] == []


def test_correcting_a_record(reception: Caller) -> None:
    an = register(reception)
    fixed = reception.patch(f"/patients/{an['code']}", {"full_name": "Nguyễn Văn Ân", "email": "an@example.vn"})
    assert fixed.status_code == 200 and fixed.json["full_name"] == "Nguyễn Văn Ân"
    assert fixed.json["phone"] == "0912345678"  # untouched
    other = register(reception, full_name="Phạm Văn Bảo", national_id="001075009999", phone="0900000009")
    clash = reception.patch(f"/patients/{other['code']}", {"national_id": "001075001234"})
    assert clash.status_code == 409 and clash.json["error"]["code"] == "national_id_taken"


def test_roles(client: FlaskClient, tokens: dict[str, str]) -> None:
    assert client.post(API + "/patients", json=AN).status_code == 401
    lab = Caller(client, tokens["lab"])
    assert lab.post("/patients", AN).status_code == 403
    assert lab.post("/appointments", {"patient_code": "BN26000001", "slot_start": "2026-11-24T09:00:00+07:00"}
                    ).status_code == 403
    assert Caller(client, tokens["kiosk"]).get("/appointments").status_code == 403
    assert client.get(API + "/slots", query_string={"service": "kham-noi", "day": "2026-11-24"}).status_code == 200


# ------------------------------------------------------------------------------------------ slots and booking
def test_slots_endpoint(client: FlaskClient) -> None:
    slots = client.get(API + "/slots", query_string={"doctor": "bs-cuong", "day": "2026-11-24"}).json["slots"]
    assert slots[0] == {"doctor": "bs-cuong", "doctor_name": "BS.CKII Lê Văn Cường", "service": "kham-ngoai",
                        "room": "p103", "start": "2026-11-24T07:30:00+07:00", "end": "2026-11-24T07:45:00+07:00",
                        "time": "07:30", "minutes": 15, "capacity": 1, "booked": 0, "free": 1}
    assert client.get(API + "/slots", query_string={"day": "2026-11-24"}).json["error"]["code"] == "service_or_doctor"
    assert client.get(API + "/slots", query_string={"service": "kham-noi", "day": "24/11"}).status_code == 422
    assert client.get(API + "/slots", query_string={"doctor": "bs-khong"}).status_code == 404
    doctors = client.get(API + "/doctors", query_string={"service": "kham-noi"}).json["doctors"]
    assert [d["code"] for d in doctors] == ["bs-an", "bs-binh"]


def test_book_cancel_and_forward_only(reception: Caller, hub: Hub) -> None:
    an = register(reception)
    appointment = book(reception, an["code"], "2026-11-24T09:00:00+07:00", channel="callcenter", reason="Ho kéo dài")
    assert appointment["channel"] == "callcenter" and appointment["status"] == "booked"
    assert hub.booking.notifier.sent == [("confirmation", appointment["code"])]
    code = appointment["code"]
    assert reception.post(f"/appointments/{code}/cancel", {"reason": "Bận"}).json["status"] == "cancelled"
    for action in ("confirm", "cancel", "no-show"):
        response = reception.post(f"/appointments/{code}/{action}")
        assert response.status_code == 409 and response.json["error"]["code"] == "illegal_transition"
    history = reception.get(f"/appointments/{code}").json["events"]
    assert [(e["from"], e["to"]) for e in history] == [(None, "booked"), ("booked", "cancelled")]
    assert history[1]["actor"] == "token:test-reception" and history[1]["detail"] == {"reason": "Bận"}
    again = reception.post("/appointments", {"patient_code": an["code"], "slot_start": "2026-11-24T09:00:00+07:00",
                                             "doctor": "bs-an"})
    assert again.status_code == 201
    assert reception.get("/appointments/KHONGCO").status_code == 404


def test_booking_errors_are_clear(reception: Caller) -> None:
    an = register(reception)
    cases = [
        ({"slot_start": "2026-11-24T09:07:00+07:00", "doctor": "bs-an"}, 409, "no_such_slot"),
        ({"slot_start": "2026-11-24T09:00:00", "doctor": "bs-an"}, 422, "invalid_request"),
        ({"slot_start": "2026-11-24T09:00:00+07:00"}, 422, "service_or_doctor"),
        ({"slot_start": "2026-11-24T09:00:00+07:00", "doctor": "bs-an", "service": "kham-nhi"}, 422, "wrong_service"),
        ({"slot_start": "2026-11-24T09:00:00+07:00", "doctor": "bs-an", "channel": "fax"}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        response = reception.post("/appointments", {"patient_code": an["code"], **body})
        assert (response.status_code, response.json["error"]["code"]) == (status, code), body
    response = reception.post("/appointments", {"patient_code": "BN99999999", "doctor": "bs-an",
                                                "slot_start": "2026-11-24T09:00:00+07:00"})
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_patient"


# ------------------------------------------------------------------------------------------ check-in
def test_kiosk_checks_a_booking_in_through_post_tickets(reception: Caller, kiosk: Caller) -> None:
    an = register(reception)
    code = book(reception, an["code"], at(MONDAY, "08:30").isoformat())["code"]
    response = kiosk.post("/tickets", {"appointment_code": code.lower(), "idempotency_key": "kiosk-sanh-a:0007"})
    assert response.status_code == 201, response.json
    ticket = response.json
    assert ticket["priority"] == "booked" and ticket["service"] == "kham-noi" and ticket["number"] == "B001"
    assert ticket["slot_at"] == "2026-11-23T08:30:00+07:00" and ticket["status_url"]
    assert ticket["appointment"]["code"] == code and ticket["appointment"]["status"] == "arrived"
    retried = kiosk.post("/tickets", {"appointment_code": code, "idempotency_key": "kiosk-sanh-a:0007"})
    assert retried.status_code == 201 and retried.json["id"] == ticket["id"]
    again = kiosk.post("/tickets", {"appointment_code": code})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_checked_in"
    assert "B001" in again.json["error"]["message"]
    assert reception.get("/appointments", day="2026-11-23").json["appointments"][0]["status"] == "arrived"


def test_kiosk_check_in_refusals(reception: Caller, kiosk: Caller) -> None:
    an = register(reception)
    tomorrow = book(reception, an["code"], at(TUESDAY, "09:00").isoformat())["code"]
    later = book(reception, an["code"], at(MONDAY, "10:00").isoformat(), doctor="bs-cuong")["code"]
    cancelled = book(reception, an["code"], at(MONDAY, "09:10").isoformat(), doctor="bs-binh")["code"]
    reception.post(f"/appointments/{cancelled}/cancel")
    for code, status, error in ((tomorrow, 409, "wrong_day"), (later, 409, "too_early"),
                                (cancelled, 409, "appointment_cancelled"), ("ZZZZZZ", 404, "unknown_appointment")):
        response = kiosk.post("/tickets", {"appointment_code": code})
        assert (response.status_code, response.json["error"]["code"]) == (status, error)
        assert response.json["error"]["message"]
    assert "24/11/2026" in kiosk.post("/tickets", {"appointment_code": tomorrow}).json["error"]["message"]


def test_reception_check_in_and_walk_in(reception: Caller, hub: Hub) -> None:
    an = register(reception)
    code = book(reception, an["code"], at(MONDAY, "08:30").isoformat())["code"]
    checked = reception.post(f"/appointments/{code}/check-in", {"reason": "Tái khám", "symptoms": "Hết ho"})
    assert checked.status_code == 201 and checked.json["ticket"]["priority"] == "booked"
    visit = checked.json["ticket"]["visit_id"]
    assert reception.get(f"/visits/{visit}/intake").json["symptoms"] == "Hết ho"
    walk_in = reception.post("/visits", {"patient_code": an["code"], "service": "kham-tmh", "priority": "elderly",
                                         "reason": "Đau họng", "symptoms": "Nuốt đau 3 ngày"})
    assert walk_in.status_code == 201, walk_in.json
    assert walk_in.json["ticket"]["number"] == "G001" and walk_in.json["ticket"]["priority"] == "elderly"
    assert walk_in.json["visit_id"] == visit and walk_in.json["intake"]["reason"] == "Đau họng"
    bad = reception.post("/visits", {"patient_code": an["code"], "service": "kham-tmh", "priority": "vip"})
    assert bad.status_code == 422 and bad.json["error"]["code"] == "unknown_priority"
    assert reception.get("/visits/999999/intake").status_code == 404


def test_openapi_lists_the_booking_endpoints(client: FlaskClient) -> None:
    paths = client.get(API + "/openapi.json").json["paths"]
    for path, method in (("/patients", "post"), ("/patients", "get"), ("/patients/{code}", "patch"),
                         ("/slots", "get"), ("/appointments", "post"), ("/appointments/{code}/check-in", "post"),
                         ("/appointments/{code}/cancel", "post"), ("/visits", "post"),
                         ("/visits/{visit_id}/intake", "get"), ("/doctors", "get")):
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from OpenAPI"
