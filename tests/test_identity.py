"""The identity rule: no clinical record on a visit without an identified patient (service level)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.clinical.identity import PatientNotIdentified, VisitIdentified, anonymous_allowed
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict, NotFound
from hub.domain.common.models import AuditEntry
from hub.domain.queue.models import Visit
from tests.test_clinical import Clinic


@pytest.fixture
def world(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> Clinic:
    return Clinic(sqlite_db, clinic, clock)


def anonymous_at_doctor(world: Clinic) -> dict:
    return world.serve("p101", service="kham-noi", source="kiosk")


def test_exam_on_an_anonymous_visit_is_refused_and_nothing_is_written(world: Clinic) -> None:
    ticket = anonymous_at_doctor(world)
    with pytest.raises(PatientNotIdentified) as refused:
        world.clinical.save_exam(ticket["visit_id"], actor="user:bs", notes="Ho 3 ngày", diagnosis_code="J06.9")
    assert refused.value.status == 409 and refused.value.code == "patient_not_identified"
    assert "CCCD" in refused.value.message
    assert world.clinical.exam(ticket["visit_id"]) is None


def test_orders_on_an_anonymous_visit_are_refused_and_no_ticket_is_issued(world: Clinic) -> None:
    ticket = anonymous_at_doctor(world)
    before = len(world.tickets_of(ticket["visit_id"]))
    with pytest.raises(PatientNotIdentified):
        world.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p101")
    assert world.orders.reads.of_visit(ticket["visit_id"]) == []
    assert len(world.tickets_of(ticket["visit_id"])) == before
    assert world.ticket(ticket["id"])["status"] == "serving"  # the patient is still with the doctor


def test_identify_then_the_doctor_can_write(world: Clinic) -> None:
    ticket = anonymous_at_doctor(world)
    world.patient("BN00000042", "Trần Thị Lan")
    answer = world.clinical.identity.identify(ticket["visit_id"], "BN00000042", actor="user:bs")
    assert answer == {"visit_id": ticket["visit_id"], "patient": "BN00000042", "changed": True}
    assert world.clinical.visit(ticket["visit_id"])["patient"]["full_name"] == "Trần Thị Lan"
    exam = world.clinical.save_exam(ticket["visit_id"], actor="user:bs", diagnosis_code="J06.9")
    assert exam["diagnosis_code"] == "J06.9"
    placed = world.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p101")
    assert [o["item"] for o in placed["orders"]] == ["xn-ctm"]
    assert [e.patient_code for e in world.bus.of(VisitIdentified)] == ["BN00000042"]
    with world.db.read() as connection:
        audit = connection.execute(select(AuditEntry).where(AuditEntry.action == "visit_identified")).all()
    assert len(audit) == 1 and audit[0].detail == {"patient": "BN00000042"}


def test_identify_is_idempotent_but_never_swaps_the_patient(world: Clinic) -> None:
    ticket = anonymous_at_doctor(world)
    world.patient("BN00000042", "Trần Thị Lan")
    world.patient("BN00000043", "Lê Văn Nam")
    world.clinical.identity.identify(ticket["visit_id"], "BN00000042", actor="user:bs")
    again = world.clinical.identity.identify(ticket["visit_id"], "BN00000042", actor="user:bs")
    assert again["changed"] is False
    with pytest.raises(Conflict) as swapped:
        world.clinical.identity.identify(ticket["visit_id"], "BN00000043", actor="user:bs")
    assert swapped.value.code == "visit_has_patient"
    with pytest.raises(NotFound):
        world.clinical.identity.identify(ticket["visit_id"], "BN99999999", actor="user:bs")
    with pytest.raises(NotFound):
        world.clinical.identity.identify(999_999, "BN00000042", actor="user:bs")


def test_result_on_an_anonymous_visit_is_refused(world: Clinic) -> None:
    """An order written before the rule (or by hand in the database) cannot get a result either."""
    ticket = world.at_doctor()
    placed = world.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p101")
    order = placed["orders"][0]
    world.orders.start(order["id"], actor="user:kt")
    with world.db.write() as connection:
        connection.execute(update(Visit.__table__).where(Visit.id == ticket["visit_id"]).values(patient_id=None))
    values = {a["code"]: a["low"] for a in order["analytes"]}
    with pytest.raises(PatientNotIdentified):
        world.orders.record_result(order["id"], actor="user:kt", values=values)
    assert world.orders.reads.get(order["id"])["status"] == "in_progress"


def test_anonymous_allowed_by_kind_and_by_config(clinic: ClinicConfig) -> None:
    kinds = {s.kind: anonymous_allowed(s) for s in clinic.services}
    assert kinds.get("exam") is False and kinds.get("lab") is False
    assert kinds.get("cashier") is True and kinds.get("pharmacy", True) is True
    exam = next(s for s in clinic.services if s.kind == "exam")
    assert anonymous_allowed(exam.model_copy(update={"anonymous_allowed": True})) is True


# ------------------------------------------------------------------------------------------ the API
def test_api_refuses_clinical_writes_on_an_anonymous_visit_with_409_then_identify(tmp_path, clinic, clock) -> None:
    from hub.app import create_app
    from hub.core import build_hub
    from tests.test_clinical_api import Api

    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'identity.db'}", clock=clock)
    try:
        api = Api(hub, create_app(hub, testing=True).test_client())
        api.tokens["reception"] = hub.tokens.create("reception", "test-reception")
        ticket = hub.queue.issue("kham-noi", source="kiosk")
        api.ok("POST", "/counters/p101/next")
        api.ok("POST", "/counters/p101/start")
        visit = ticket["visit_id"]
        for method, path, body in (("PUT", f"/visits/{visit}/exam", {"diagnosis_code": "J06.9"}),
                                   ("POST", f"/visits/{visit}/orders", {"items": ["xn-ctm"], "counter": "p101"})):
            response = api.call(method, path, body=body)
            assert api.error(response, 409) == "patient_not_identified"
            assert "CCCD" in response.get_json()["error"]["message"]
        assert api.ok("GET", f"/visits/{visit}")["patient"] is None
        api.ok("POST", "/patients", role="reception", status=201,
               body={"full_name": "Phạm Thị Hoa", "date_of_birth": "1990-04-12", "sex": "Nữ", "phone": "0912345678"})
        code = api.ok("GET", "/patients?q=0912345678", role="reception")["patients"][0]["code"]
        # Bad input: 4xx, never 500; lab and kiosk may not identify.
        assert api.error(api.call("POST", f"/visits/{visit}/patient", body={}), 422) == "invalid_request"
        refused = api.call("POST", f"/visits/{visit}/patient", body={"patient": "BN0"})
        assert api.error(refused, 404) == "unknown_patient"
        both = api.call("POST", f"/visits/{visit}/patient", body={"patient": code, "cccd": "x"})
        assert api.error(both, 422) == "invalid_request"
        assert api.error(api.call("POST", f"/visits/{visit}/patient", body={"cccd": "garbage"}), 422) == "invalid_cccd"
        assert api.call("POST", f"/visits/{visit}/patient", role="lab", body={"patient": code}).status_code == 403
        assert api.error(api.call("POST", "/visits/999999/patient", body={"patient": code}), 404) == "unknown_visit"
        identified = api.ok("POST", f"/visits/{visit}/patient", role="nurse", body={"patient": code})
        assert identified["patient"]["full_name"] == "Phạm Thị Hoa"
        exam = api.ok("PUT", f"/visits/{visit}/exam", body={"diagnosis_code": "J06.9"})
        assert exam["exam"]["diagnosis_code"] == "J06.9"
        api.ok("POST", f"/visits/{visit}/orders", status=201, body={"items": ["xn-ctm"], "counter": "p101"})
        document = api.client.get("/api/v1/openapi.json").get_json()
        assert "post" in document["paths"]["/visits/{visit_id}/patient"]
    finally:
        hub.close()


def test_api_identifies_by_scanned_card_or_by_registering_on_the_spot(tmp_path, clinic, clock) -> None:
    from hub.app import create_app
    from hub.core import build_hub
    from tests.test_clinical_api import Api

    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'identity2.db'}", clock=clock)
    try:
        api = Api(hub, create_app(hub, testing=True).test_client())
        by_card = hub.queue.issue("kham-noi", source="kiosk")["visit_id"]
        card = "079088001234||Võ Thị Thu Hà|15081988|Nữ|12 Lê Lợi, Huế|20042021"
        visit = api.ok("POST", f"/visits/{by_card}/patient", role="nurse", body={"cccd": card})
        assert visit["patient"]["full_name"] == "Võ Thị Thu Hà" and visit["patient"]["sex"] == "Nữ"

        new = hub.queue.issue("kham-noi", source="kiosk")["visit_id"]
        person = {"full_name": "Đặng Văn Tú", "date_of_birth": "2021-06-01", "sex": "Nam", "phone": "0987000111"}
        visit = api.ok("POST", f"/visits/{new}/patient", body={"new_patient": person})
        assert visit["patient"]["full_name"] == "Đặng Văn Tú" and visit["patient"]["code"]
        # The same person again on another anonymous ticket: the duplicate check of reception applies.
        other = hub.queue.issue("kham-noi", source="kiosk")["visit_id"]
        duplicate = api.call("POST", f"/visits/{other}/patient", body={"new_patient": person})
        assert api.error(duplicate, 409) == "possible_duplicate"
        assert duplicate.get_json()["error"]["details"]["candidates"][0]["code"] == visit["patient"]["code"]
        assert api.ok("GET", f"/visits/{other}")["patient"] is None
    finally:
        hub.close()
