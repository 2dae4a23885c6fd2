"""A patient without a scanner types a CCCD number or BHYT card code plus the date of birth at the kiosk:
POST /patients/identify-typed finds a KNOWN patient only, checks the card, and limits wrong attempts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.common.models import AuditEntry
from hub.domain.insurance.gateway import SimulatedGateway
from hub.domain.patients.models import Patient
from tests.conftest import SITE_TZ

PATH = "/api/v1/patients/identify-typed"
AN_CCCD = "001085012345"
AN_CARD = "DN4010123456789"  # config/insurance_cards.toml: Nguyễn Văn An, level 4
AN_BORN = "1985-03-14"


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig) -> Iterator[Hub]:
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SITE_TZ))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'typed.db'}", clock=clock)
    assert hub.insurance is not None and isinstance(hub.insurance.gateway, SimulatedGateway)
    hub.insurance.gateway.slow_s = 0.0
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def auth(hub: Hub) -> dict[str, dict[str, str]]:
    names = {"kiosk": ("kiosk", "kiosk-sanh-a"), "kiosk2": ("kiosk", "kiosk-sanh-b"),
             "reception": ("reception", "le-tan")}
    return {who: {"Authorization": f"Bearer {hub.tokens.create(role, name)}"} for who, (role, name) in names.items()}


@pytest.fixture
def an(hub: Hub, client: FlaskClient, auth: dict) -> str:
    """Nguyễn Văn An on file with his CCCD number, and his BHYT card recorded by reception."""
    with hub.db.write() as connection:
        patient_id = connection.execute(insert(Patient).values(
            code="BN26000042", full_name="Nguyễn Văn An", date_of_birth=date(1985, 3, 14), national_id=AN_CCCD,
            created_at=hub.clock.now()).returning(Patient.id)).scalar_one()
        # Someone else born the same day: the birth date alone must not find anyone.
        connection.execute(insert(Patient).values(code="BN26000043", full_name="Trần Thị Bình",
                                                  date_of_birth=date(1985, 3, 14), created_at=hub.clock.now()))
    coverage = client.post(f"/api/v1/patients/{patient_id}/coverages", json={
        "card_code": AN_CARD, "valid_from": "2026-01-01", "valid_to": "2026-12-31", "facility_code": "01001"},
        headers=auth["reception"])
    assert coverage.status_code == 201, coverage.json
    return "BN26000042"


def typed(client: FlaskClient, auth: dict, number: object, born: object = AN_BORN, who: str = "kiosk") -> object:
    return client.post(PATH, json={"number": number, "date_of_birth": born}, headers=auth[who])


def test_cccd_number_and_birth_date_find_the_patient_and_check_the_card(client: FlaskClient, hub: Hub,
                                                                         auth: dict, an: str) -> None:
    found = typed(client, auth, "0010 8501 2345")
    assert found.status_code == 200, found.json
    assert found.json["patient"] == {"code": an, "full_name": "Nguyễn Văn An", "birth_year": 1985, "sex": None}
    assert found.json["created"] is False
    assert found.json["insurance"]["status"] == "eligible" and found.json["insurance"]["benefit_level"] == 4
    with hub.db.read() as connection:
        entry = connection.execute(select(AuditEntry.subject, AuditEntry.detail)
                                  .where(AuditEntry.action == "patient_identified")).one()
    assert entry.subject == an and entry.detail == {"source": "typed_national_id"}
    assert AN_CCCD not in str(entry.detail)


def test_card_code_and_birth_date_find_the_patient_and_check_the_card(client: FlaskClient, auth: dict,
                                                                       an: str) -> None:
    found = typed(client, auth, "dn4010123456789")
    assert found.status_code == 200, found.json
    assert found.json["patient"]["code"] == an
    assert found.json["insurance"]["status"] == "eligible"
    assert found.json["insurance"]["benefit_level"] == 4


def test_a_mismatch_never_says_which_part_was_wrong_and_registers_nobody(client: FlaskClient, hub: Hub,
                                                                          auth: dict, an: str) -> None:
    wrong_birth = typed(client, auth, AN_CCCD, "1985-03-15")
    unknown_number = typed(client, auth, "001099000001")
    unknown_card = typed(client, auth, "TE1010555000111")
    for answer in (wrong_birth, unknown_number, unknown_card):
        assert answer.status_code == 404
        assert answer.json == wrong_birth.json  # the same words whatever was wrong
    assert wrong_birth.json["error"]["code"] == "no_match"
    assert "quầy tiếp đón" in wrong_birth.json["error"]["message"]
    assert "reception" in wrong_birth.json["error"]["message"]
    assert AN_CCCD not in str(wrong_birth.json)
    with hub.db.read() as connection:
        assert connection.execute(select(Patient.code)).scalars().all() == [an, "BN26000043"]


def test_wrong_attempts_are_limited_per_kiosk_for_ten_minutes(client: FlaskClient, hub: Hub, auth: dict,
                                                               an: str) -> None:
    for _ in range(5):
        assert typed(client, auth, AN_CCCD, "2000-01-01").status_code == 404
    blocked = typed(client, auth, AN_CCCD)  # even the right answer: the kiosk is being used to guess
    assert blocked.status_code == 429 and blocked.json["error"]["code"] == "too_many_attempts"
    assert "quầy tiếp đón" in blocked.json["error"]["message"]
    assert typed(client, auth, AN_CCCD, who="kiosk2").status_code == 200  # another kiosk is not blocked
    hub.clock.advance(9 * 60)  # type: ignore[attr-defined]
    assert typed(client, auth, AN_CCCD).status_code == 429
    hub.clock.advance(61)  # type: ignore[attr-defined]
    assert typed(client, auth, AN_CCCD).status_code == 200


def test_a_right_answer_does_not_use_up_attempts(client: FlaskClient, auth: dict, an: str) -> None:
    for _ in range(4):
        assert typed(client, auth, AN_CCCD, "2000-01-01").status_code == 404
    for _ in range(3):
        assert typed(client, auth, AN_CARD).status_code == 200
    assert typed(client, auth, AN_CCCD, "2000-01-01").status_code == 404
    assert typed(client, auth, AN_CCCD).status_code == 429


@pytest.mark.parametrize("body", [
    {"number": "12345", "date_of_birth": AN_BORN},  # too short for a CCCD
    {"number": "0010850123456", "date_of_birth": AN_BORN},  # 13 digits
    {"number": "XX9010123456789", "date_of_birth": AN_BORN},  # benefit level 9
    {"number": "DN40101234", "date_of_birth": AN_BORN},
    {"number": AN_CCCD, "date_of_birth": "14/03/1985"},
    {"number": AN_CCCD, "date_of_birth": "1985-02-30"},
    {"number": AN_CCCD},
    {"number": 1085012345, "date_of_birth": AN_BORN},
    {"number": AN_CCCD, "date_of_birth": AN_BORN, "full_name": "Nguyễn Văn An"},
    {"number": "1" * 100, "date_of_birth": AN_BORN},
])
def test_bad_shapes_are_422_and_do_not_count_as_guesses(client: FlaskClient, auth: dict, an: str,
                                                        body: dict) -> None:
    for _ in range(6):
        answer = client.post(PATH, json=body, headers=auth["kiosk"])
        assert answer.status_code == 422, answer.json
    assert typed(client, auth, AN_CCCD).status_code == 200


def test_only_a_kiosk_may_ask(client: FlaskClient, auth: dict, an: str) -> None:
    assert typed(client, auth, AN_CCCD, who="reception").status_code == 403
    assert client.post(PATH, json={"number": AN_CCCD, "date_of_birth": AN_BORN}).status_code == 401


def test_openapi_describes_the_typed_identify(client: FlaskClient) -> None:
    operation = client.get("/api/v1/openapi.json").json["paths"]["/patients/identify-typed"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema.endswith("TypedIdentifyRequest")
