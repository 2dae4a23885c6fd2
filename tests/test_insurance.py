"""BHYT through the visit over REST: the card check, gateway failures that never lose a visit, re-checks,
overrides (audited), coverage history, and the bill split so the cashier takes only the patient's part."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.clinical.models import ClinicalOrder
from hub.domain.common.clock import VirtualClock
from hub.domain.common.models import AuditEntry
from hub.domain.insurance.gateway import SimulatedGateway
from hub.domain.patients.models import Patient
from hub.domain.patients.registry import PatientDetails
from tests.conftest import SITE_TZ

ROLES = ("kiosk", "reception", "cashier", "nurse", "doctor")
AN = "DN4010123456789"  # level 4, registered here (config/insurance_cards.toml)
CHAU = "TE1010555000111"  # level 1, registered at another facility
EXPIRED = "GD4010444555666"
HANGS = "DN4010777888999"
SLOW = "DN4010222333444"


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig) -> Iterator[Hub]:
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SITE_TZ))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'insurance.db'}", clock=clock)
    assert hub.insurance is not None
    gateway = hub.insurance.gateway
    assert isinstance(gateway, SimulatedGateway)
    gateway.slow_s = 0.05
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def auth(hub: Hub) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {hub.tokens.create(role, f'test-{role}')}"} for role in ROLES}


_CODES = itertools.count(90_000_000)


def patient(hub: Hub, name: str = "Nguyễn Văn An", born: date = date(1985, 3, 14)) -> int:
    with hub.db.write() as connection:
        return connection.execute(insert(Patient).values(
            code=f"BN{next(_CODES):08d}", full_name=name, date_of_birth=born,
            created_at=hub.clock.now()).returning(Patient.id)).scalar_one()


def visit_with_lab(hub: Hub, patient_id: int | None = None, *orders: tuple[str, int]) -> int:
    visit = hub.queue.issue("kham-noi", patient_id=patient_id)["visit_id"]
    with hub.db.write() as connection:
        for code, price in orders or (("xn-ctm", 90_000),):
            connection.execute(insert(ClinicalOrder).values(
                visit_id=visit, item_code=code, kind="lab", service="xet-nghiem", price=price, status="ordered",
                ordered_by="user:bs", ordering_service="kham-noi", created_at=hub.clock.now()))
    return visit


def audit(hub: Hub, action: str) -> list[Any]:
    with hub.db.read() as connection:
        return connection.execute(select(AuditEntry.__table__).where(AuditEntry.action == action)).all()


# ---------------------------------------------------------------- the check
def test_check_by_card_code_or_cccd(client: FlaskClient, auth: dict) -> None:
    by_code = client.post("/api/v1/insurance/check", json={"card_code": AN}, headers=auth["kiosk"])
    assert by_code.status_code == 200
    assert by_code.json.items() >= {"status": "eligible", "holder_name": "Nguyễn Văn An", "benefit_level": 4,
                                 "facility_code": "01001", "valid_to": "2099-12-31",
                                 "route_reason": "registered_here", "date_of_birth": "1985-03-14"}.items()
    by_id = client.post("/api/v1/insurance/check", json={"national_id": "001222000111"}, headers=auth["reception"])
    assert by_id.json["status"] == "eligible" and by_id.json["card_code"] == CHAU
    assert by_id.json["route_reason"] is None  # registered elsewhere


def test_a_child_card_ends_the_day_before_the_sixth_birthday(client: FlaskClient, hub: Hub, auth: dict) -> None:
    # Châu was born 2022-05-20 (config/insurance_cards.toml): the card is hers until 2028-05-19, not after.
    # The clock is pinned on both sides of that day, so this holds whatever day the suite runs.
    clock = hub.clock
    assert isinstance(clock, VirtualClock)
    clock.set(datetime(2028, 5, 19, 23, 59, tzinfo=SITE_TZ))
    last_day = client.post("/api/v1/insurance/check", json={"card_code": CHAU}, headers=auth["reception"])
    assert (last_day.json["status"], last_day.json["valid_to"]) == ("eligible", "2028-05-19")
    clock.set(datetime(2028, 5, 20, 0, 0, tzinfo=SITE_TZ))  # 17:00 UTC the day before: already her birthday here
    birthday = client.post("/api/v1/insurance/check", json={"card_code": CHAU}, headers=auth["reception"])
    assert (birthday.json["status"], birthday.json["reason"]) == ("refused", "expired")


@pytest.mark.parametrize(("body", "reason"), [
    ({"card_code": EXPIRED}, "expired"),
    ({"card_code": "DN4019999999999"}, "not_found"),
    ({"national_id": "079000000000"}, "not_found"),
    ({"card_code": AN, "full_name": "Nguyễn Văn Bình"}, "name_dob_mismatch"),
    ({"card_code": AN, "full_name": "nguyen van an", "date_of_birth": "1985-03-15"}, "name_dob_mismatch"),
])
def test_refusals_say_why(client: FlaskClient, auth: dict, body: dict, reason: str) -> None:
    answer = client.post("/api/v1/insurance/check", json=body, headers=auth["reception"])
    assert answer.status_code == 200
    assert (answer.json["status"], answer.json["reason"]) == ("refused", reason)
    assert answer.json["message"]


@pytest.mark.parametrize("body", [{}, {"card_code": AN, "national_id": "001085012345"}, {"card_code": "DN40"},
                                  {"card_code": "DN6010123456789"}, {"national_id": "12345"}, {"card_code": 12},
                                  {"card_code": AN, "extra": 1}])
def test_bad_check_requests_are_422(client: FlaskClient, auth: dict, body: dict) -> None:
    answer = client.post("/api/v1/insurance/check", json=body, headers=auth["reception"])
    assert answer.status_code == 422, answer.json


def test_check_needs_a_role(client: FlaskClient, auth: dict) -> None:
    assert client.post("/api/v1/insurance/check", json={"card_code": AN}).status_code == 401
    assert client.post("/api/v1/insurance/check", json={"card_code": AN}, headers=auth["nurse"]).status_code == 403
    assert client.post("/api/v1/visits/1/insurance/override", json={"status": "fee_paying", "reason": "x"},
                       headers=auth["cashier"]).status_code == 403


# ---------------------------------------------------------------- gateway failures never lose a visit
def test_gateway_down_leaves_the_visit_unchecked_then_the_recheck_job_splits_the_bill(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = visit_with_lab(hub, patient(hub))
    hub.insurance.gateway.down = True  # type: ignore[union-attr]
    answer = client.post(f"/api/v1/visits/{visit}/insurance", json={"card_code": AN}, headers=auth["kiosk"])
    assert answer.status_code == 200 and answer.json["status"] == "unchecked"
    bill = client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json
    assert bill["insurance"]["status"] == "unchecked"
    assert (bill["amount"], bill["insurance_pays"], bill["patient_pays"]) == (240_000, 0, 240_000)
    assert hub.insurance.recheck_pending() == 0  # still down: still waiting, nothing lost
    assert client.get(f"/api/v1/visits/{visit}/insurance", headers=auth["reception"]).json["attempts"] == 2
    hub.insurance.gateway.down = False  # type: ignore[union-attr]
    hub.scheduler.jobs["insurance.recheck"].function(hub.clock.now())
    bill = client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json
    assert bill["insurance"]["status"] == "eligible"
    # Small bill (insured cost 42,100 + 46,200 < 15 % of 2,340,000): insurance pays the insured prices in full.
    assert (bill["insurance_pays"], bill["patient_pays"]) == (88_300, 151_700)


def test_a_card_the_portal_never_answers_for_is_unchecked_and_a_slow_one_answers(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    hanging, slow = visit_with_lab(hub), visit_with_lab(hub)
    assert client.post(f"/api/v1/visits/{hanging}/insurance", json={"card_code": HANGS},
                       headers=auth["kiosk"]).json["status"] == "unchecked"
    assert client.post(f"/api/v1/visits/{slow}/insurance", json={"card_code": SLOW},
                       headers=auth["kiosk"]).json["status"] == "eligible"
    hub.insurance.gateway.slow_s = 10  # type: ignore[union-attr]  # slower than timeout_s: counts as down
    # (with the holder's name: not the question answered a moment ago, which is remembered for the ticket)
    again = client.post("/api/v1/insurance/check", json={"card_code": SLOW, "full_name": "Vũ Đức Giang"},
                        headers=auth["kiosk"]).json
    assert again["status"] == "unchecked" and again["reason"] == "gateway_down"
    # Both visits are still there and billable: the patient's part is the whole bill until checked.
    assert client.get(f"/api/v1/visits/{hanging}/bill", headers=auth["cashier"]).json["due"] == 240_000


# ---------------------------------------------------------------- the bill and the cashier
def test_cashier_collects_only_the_patients_part_and_a_void_reverses_both(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    # A bill above the small-bill limit, so level 4 pays 80 % of the insurance prices.
    visit = visit_with_lab(hub, patient(hub), ("xn-mo-mau", 160_000), ("sa-bung", 180_000), ("xq-nguc", 120_000),
                           ("xn-ctm", 90_000), ("xn-nuoc-tieu", 45_000), ("xn-glucose", 35_000), ("ecg", 60_000))
    checked = client.post(f"/api/v1/visits/{visit}/insurance", json={"card_code": AN}, headers=auth["reception"])
    assert checked.json["status"] == "eligible" and checked.json["route"] == "in_route"
    bill = client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json
    lines = {item["code"]: item for item in bill["items"]}
    assert (lines["kham-noi"]["insurance_pays"], lines["kham-noi"]["patient_pays"]) == (33_680, 116_320)
    assert (lines["ecg"]["insurance_pays"], lines["ecg"]["patient_pays"]) == (0, 60_000)  # not covered
    bases = (42_100, 107_600, 43_900, 65_400, 46_200, 27_400, 21_500)
    assert sum(bases) > 351_000
    assert bill["insurance_pays"] == sum(base * 80 // 100 for base in bases)
    for item in bill["items"]:
        assert item["insurance_pays"] + item["patient_pays"] == item["amount"]
    assert bill["amount"] == 840_000 and bill["insurance_pays"] + bill["patient_pays"] == bill["amount"]
    assert bill["due"] == bill["patient_pays"]
    wrong = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": bill["amount"]},
                        headers=auth["cashier"])
    assert wrong.status_code == 409  # the full price is not what the patient owes
    paid = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": bill["patient_pays"]},
                       headers=auth["cashier"])
    assert paid.status_code == 201, paid.json
    assert paid.json["payment"]["amount"] == bill["patient_pays"]
    invoice = paid.json["invoice"]
    assert (invoice["total"], invoice["insurance_pays"], invoice["patient_pays"]) == (
        840_000, bill["insurance_pays"], bill["patient_pays"])
    assert paid.json["bill"]["settled"] and paid.json["bill"]["due"] == 0
    # A later change of the visit's coverage does not move an invoiced line.
    client.post(f"/api/v1/visits/{visit}/insurance/override", json={"status": "fee_paying", "reason": "thử"},
                headers=auth["reception"])
    assert client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json["due"] == 0
    client.post(f"/api/v1/visits/{visit}/insurance/override",
                json={"status": "eligible", "reason": "thẻ hợp lệ", "route_reason": "registered_here"},
                headers=auth["reception"])
    voided = client.post(f"/api/v1/payments/{paid.json['payment']['id']}/void", json={"reason": "nhầm"},
                         headers=auth["cashier"])
    assert voided.status_code == 200
    after = voided.json["bill"]
    assert after["invoices"][0]["status"] == "cancelled"
    assert after["due"] == bill["patient_pays"] and after["insurance_pays"] == bill["insurance_pays"]


def test_out_of_route_and_fee_paying_visits(client: FlaskClient, hub: Hub, auth: dict) -> None:
    elsewhere, referred, walk_in = visit_with_lab(hub), visit_with_lab(hub), visit_with_lab(hub)
    client.post(f"/api/v1/visits/{elsewhere}/insurance", json={"card_code": CHAU}, headers=auth["kiosk"])
    client.post(f"/api/v1/visits/{referred}/insurance", json={"card_code": CHAU, "route_reason": "referral"},
                headers=auth["reception"])
    bills = [client.get(f"/api/v1/visits/{v}/bill", headers=auth["cashier"]).json
             for v in (elsewhere, referred, walk_in)]
    # 2026: out-of-route outpatients get 50 % of the level's share (config/insurance.toml); level 1 = 100 %.
    assert bills[0]["insurance"]["route"] == "out_of_route"
    assert bills[0]["insurance_pays"] == 42_100 // 2 + 46_200 // 2
    assert bills[1]["insurance"]["route"] == "in_route" and bills[1]["insurance_pays"] == 88_300
    assert bills[2]["insurance"]["status"] == "fee_paying" and bills[2]["patient_pays"] == 240_000


def test_override_needs_a_reason_and_is_audited(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = visit_with_lab(hub)
    client.post(f"/api/v1/visits/{visit}/insurance", json={"card_code": EXPIRED}, headers=auth["kiosk"])
    coverage = client.get(f"/api/v1/visits/{visit}/insurance", headers=auth["reception"]).json
    assert (coverage["status"], coverage["reason"]) == ("refused", "expired")
    assert client.post(f"/api/v1/visits/{visit}/insurance/override", json={"status": "eligible", "reason": ""},
                       headers=auth["reception"]).status_code == 422
    no_level = client.post(f"/api/v1/visits/{visit}/insurance", json={"card_code": "DN4019999999999"},
                           headers=auth["kiosk"])
    assert no_level.json["status"] == "refused"
    missing = client.post(f"/api/v1/visits/{visit}/insurance/override", json={"status": "eligible", "reason": "x"},
                          headers=auth["reception"])
    assert missing.status_code == 422 and missing.json["error"]["code"] == "bad_benefit_level"
    done = client.post(f"/api/v1/visits/{visit}/insurance/override",
                       json={"status": "eligible", "reason": "Thẻ giấy mới gia hạn", "benefit_level": 2,
                             "route_reason": "registered_here"}, headers=auth["reception"])
    assert done.status_code == 200 and done.json["override_reason"] == "Thẻ giấy mới gia hạn"
    assert done.json["override_by"].endswith("test-reception")
    entries = audit(hub, "insurance.override")
    assert len(entries) == 1 and entries[0].detail["to"] == "eligible" and entries[0].detail["from"] == "refused"
    assert client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json["insurance_pays"] == 88_300
    assert client.post("/api/v1/visits/999999/insurance/override", json={"status": "eligible", "reason": "x",
                       "benefit_level": 1}, headers=auth["reception"]).status_code == 404


# ---------------------------------------------------------------- coverage periods
def test_coverage_history_and_the_gateway_card_is_kept(client: FlaskClient, hub: Hub, auth: dict) -> None:
    who = patient(hub)
    first = client.post(f"/api/v1/patients/{who}/coverages", json={
        "card_code": AN, "valid_from": "2025-01-01", "valid_to": "2026-06-30", "facility_code": "01001"},
        headers=auth["reception"])
    assert first.status_code == 201 and first.json["benefit_level"] == 4 and first.json["current"]
    visit = visit_with_lab(hub, who)
    client.post(f"/api/v1/visits/{visit}/insurance", json={"national_id": "001085012345"}, headers=auth["kiosk"])
    history = client.get(f"/api/v1/patients/{who}/coverages", headers=auth["reception"]).json["coverages"]
    assert [(c["valid_to"], c["source"], c["current"]) for c in history] == [
        ("2099-12-31", "gateway", True), ("2026-06-30", "staff", False)]
    cccd_only = client.post(f"/api/v1/patients/{who}/coverages", json={
        "national_id": "001085012345", "benefit_level": 4, "valid_from": "2027-01-01", "valid_to": "2027-12-31",
        "facility_code": "01001", "five_years_from": "2027-03-01"}, headers=auth["reception"])
    assert cccd_only.status_code == 201 and cccd_only.json["card_code"] is None


@pytest.mark.parametrize(("body", "code"), [
    ({"card_code": "DN4010123456789", "valid_from": "2026-02-01", "valid_to": "2026-01-01",
      "facility_code": "01001"}, "bad_dates"),
    ({"card_code": "XX9010123456789", "valid_from": "2026-01-01", "valid_to": "2026-12-31",
      "facility_code": "01001"}, "bad_card_code"),
    ({"valid_from": "2026-01-01", "valid_to": "2026-12-31", "facility_code": "01001"}, "card_required"),
    ({"card_code": "DN4010123456789", "valid_from": "2026-01-01", "valid_to": "2026-12-31",
      "facility_code": "1"}, "invalid_request"),
])
def test_bad_coverage_is_422_with_a_clear_code(client: FlaskClient, hub: Hub, auth: dict, body: dict,
                                               code: str) -> None:
    answer = client.post(f"/api/v1/patients/{patient(hub)}/coverages", json=body, headers=auth["reception"])
    assert answer.status_code == 422 and answer.json["error"]["code"] == code, answer.json


def test_openapi_describes_insurance_and_the_bill(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    paths = document["paths"]
    check = paths["/insurance/check"]["post"]
    assert check["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("CardCheckRequest")
    assert "/visits/{visit_id}/insurance/override" in paths and "/patients/{patient_id}/coverages" in paths
    bill = document["components"]["schemas"]["Bill"]
    assert {"amount", "insurance_pays", "patient_pays"} <= set(bill["properties"]["items"]["items"]["required"])


# ---------------------------------------------------------------- kiosk: CCCD scan -> check -> line -> ticket
def test_cccd_at_the_kiosk_checks_the_card_routes_and_the_ticket_says_who_pays(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    from hub.domain.insurance.rules import PayerLines

    hub.insurance.rules = hub.insurance.rules.model_copy(  # type: ignore[union-attr]
        update={"lines": PayerLines(insured="kham-noi", fee_paying="kham-ngoai")})
    gateway = hub.insurance.gateway  # type: ignore[union-attr]
    scan = client.post("/api/v1/patients/identify", json={
        "cccd": "001085012345||Nguyễn Văn An|14031985|Nam|12 Phố Huế, Hà Nội|01012021"}, headers=auth["kiosk"])
    assert scan.status_code in (200, 201), scan.json
    assert scan.json["insurance"] | {} == {"status": "eligible", "reason": None, "message": None,
                                           "benefit_level": 4, "service": "kham-noi", "payer": "bhyt",
                                           "label": "Khám BHYT", "label_en": "Health insurance visit"}
    ticket = client.post("/api/v1/tickets", json={"service": scan.json["insurance"]["service"],
                                                  "patient_code": scan.json["patient"]["code"]},
                         headers=auth["kiosk"])
    assert ticket.status_code == 201
    assert ticket.json["insurance"]["payer"] == "bhyt" and ticket.json["insurance"]["label"] == "Khám BHYT"
    assert gateway.calls == 1  # the scan's answer served the ticket too
    visit = ticket.json["visit_id"]
    assert client.get(f"/api/v1/visits/{visit}/insurance", headers=auth["reception"]).json["status"] == "eligible"
    assert client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json["insurance_pays"] == 42_100

    stranger = client.post("/api/v1/patients/identify", json={
        "cccd": "001099000001||Đỗ Văn Khách|01021999|Nam|Hà Nội|01012022"}, headers=auth["kiosk"])
    assert stranger.json["insurance"]["status"] == "refused"
    assert stranger.json["insurance"]["reason"] == "not_found"
    assert stranger.json["insurance"]["service"] == "kham-ngoai"
    assert stranger.json["insurance"]["label"] == "Khám dịch vụ"
    fee = client.post("/api/v1/tickets", json={"service": "kham-ngoai",
                                               "patient_code": stranger.json["patient"]["code"]},
                      headers=auth["kiosk"])
    assert fee.json["insurance"]["payer"] == "dich_vu"
    assert client.get(f"/api/v1/visits/{fee.json['visit_id']}/bill", headers=auth["cashier"]).json["due"] == 150_000


def test_a_kiosk_scan_while_the_portal_is_down_still_gives_a_number(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    from hub.domain.insurance.rules import PayerLines

    hub.insurance.rules = hub.insurance.rules.model_copy(  # type: ignore[union-attr]
        update={"lines": PayerLines(insured="kham-noi", fee_paying="kham-ngoai")})
    hub.insurance.gateway.down = True  # type: ignore[union-attr]
    scan = client.post("/api/v1/patients/identify", json={
        "cccd": "001085012345||Nguyễn Văn An|14031985|Nam|12 Phố Huế, Hà Nội|01012021"}, headers=auth["kiosk"])
    assert scan.json["insurance"]["status"] == "unchecked"
    # Not stopped, and sent to the insured line: the card is checked again later.
    assert scan.json["insurance"]["service"] == "kham-noi"
    assert scan.json["insurance"]["label"] == "Khám BHYT (chưa kiểm tra)"
    ticket = client.post("/api/v1/tickets", json={"service": "kham-noi", "patient_code": scan.json["patient"]["code"]},
                         headers=auth["kiosk"])
    assert ticket.status_code == 201 and ticket.json["insurance"]["payer"] == "bhyt_pending"
    hub.insurance.gateway.down = False  # type: ignore[union-attr]
    assert hub.insurance.recheck_pending() == 1  # type: ignore[union-attr]
    assert client.get(f"/api/v1/visits/{ticket.json['visit_id']}/insurance",
                      headers=auth["reception"]).json["status"] == "eligible"


def test_at_arrival_a_portal_slower_than_the_kiosk_can_wait_gives_not_yet_checked(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    # The kiosk gives up on the hub after 4 s: at arrival the portal gets arrival_timeout_s, not timeout_s.
    rules = hub.insurance.rules  # type: ignore[union-attr]
    hub.insurance.rules = rules.model_copy(update={"gateway": rules.gateway.model_copy(  # type: ignore[union-attr]
        update={"arrival_timeout_s": 0.2})})
    hub.insurance.gateway.slow_s = 0.4  # type: ignore[union-attr]  # slower than arrival, faster than timeout_s
    scan = client.post("/api/v1/patients/identify", json={
        "cccd": "001087222333||Vũ Đức Giang|02021987|Nam|Hà Nội|01012021"}, headers=auth["kiosk"])
    assert scan.json["insurance"]["status"] == "unchecked"
    assert scan.json["insurance"]["label"] == "Khám BHYT (chưa kiểm tra)"
    ticket = client.post("/api/v1/tickets", json={"service": "kham-noi", "patient_code": scan.json["patient"]["code"]},
                         headers=auth["kiosk"])
    assert ticket.status_code == 201 and ticket.json["insurance"]["payer"] == "bhyt_pending"
    # Reception's own check (and the re-check job) wait the full timeout_s, so the slow portal answers.
    visit = ticket.json["visit_id"]
    checked = client.post(f"/api/v1/visits/{visit}/insurance", json={"card_code": SLOW}, headers=auth["reception"])
    assert checked.json["status"] == "eligible"


def test_a_walk_in_at_reception_checks_the_card_on_file(client: FlaskClient, hub: Hub, auth: dict) -> None:
    code = hub.booking.patients.register(PatientDetails(
        full_name="Trần Thị Bình", date_of_birth=date(1950, 7, 2), insurance_no="HT3010987654321"),
        actor="test")["code"]
    walk_in = client.post("/api/v1/visits", json={"patient_code": code, "service": "kham-noi"},
                          headers=auth["reception"])
    assert walk_in.status_code == 201, walk_in.json
    assert walk_in.json["ticket"]["insurance"]["payer"] == "bhyt"
    coverage = client.get(f"/api/v1/visits/{walk_in.json['visit_id']}/insurance", headers=auth["reception"]).json
    assert (coverage["status"], coverage["benefit_level"], coverage["card_code"]) == ("eligible", 3, "HT3010987654321")
