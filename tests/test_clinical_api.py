"""The clinical REST API in-process: exam, orders, results, roles, and every class of bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.models import Patient

ROLES = ("doctor", "lab", "nurse", "kiosk", "cashier")
CBC = {"WBC": 5.5, "RBC": 6.1, "HGB": 130, "PLT": 120}


class Api:
    """The test client with a bearer token per role."""

    def __init__(self, hub: Hub, client: FlaskClient) -> None:
        self.hub = hub
        self.client = client
        self.tokens = {role: hub.tokens.create(role, f"test-{role}") for role in ROLES}

    def call(self, method: str, path: str, role: str | None = "doctor", body: Any = None, raw: str | None = None):  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        if raw is not None:
            return self.client.open("/api/v1" + path, method=method, headers=headers, data=raw,
                                    content_type="application/json")
        return self.client.open("/api/v1" + path, method=method, headers=headers, json=body)

    def ok(self, method: str, path: str, role: str = "doctor", body: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, role, body)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.get_json()

    def error(self, response: Any, status: int) -> str:
        assert response.status_code == status, response.get_data(as_text=True)
        body = response.get_json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
        return body["error"]["code"]


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'clinical.db'}", clock=clock)
    yield hub
    hub.close()


@pytest.fixture
def api(hub: Hub) -> Api:
    return Api(hub, create_app(hub, testing=True).test_client())


def patient_visit(api: Api) -> tuple[int, dict[str, Any]]:
    """A registered patient being examined in room p101: (visit id, their ticket)."""
    with api.hub.db.write() as connection:
        patient_id = connection.execute(insert(Patient).values(
            code="BN12345678", full_name="Trần Thị Mai", date_of_birth=date(1985, 3, 2), sex="Nữ",
            created_at=api.hub.clock.now()).returning(Patient.id)).scalar_one()
    ticket = api.hub.queue.issue("kham-noi", patient_id=patient_id)
    api.ok("POST", "/counters/p101/next")
    api.ok("POST", "/counters/p101/start")
    return ticket["visit_id"], ticket


def test_exam_orders_results_and_the_return(api: Api) -> None:
    visit, ticket = patient_visit(api)
    assert api.ok("GET", f"/visits/{visit}/exam") == {"visit_id": visit, "exam": None}
    exam = api.ok("PUT", f"/visits/{visit}/exam", body={"notes": "Sốt 2 ngày", "diagnosis_code": "j02.9",
                                                        "prescription": "Paracetamol", "ticket": ticket["id"]})
    assert exam["exam"]["diagnosis_code"] == "J02.9" and exam["exam"]["diagnosis_text"].startswith("Viêm họng")

    placed = api.ok("POST", f"/visits/{visit}/orders", status=201,
                    body={"items": ["xn-ctm", "xq-nguc"], "counter": "p101", "note": "nhịn ăn"})
    assert [t["service"] for t in placed["tickets"]] == ["xet-nghiem"]
    assert "/t/" in placed["tickets"][0]["status_url"]
    assert {o["item"]: o["price"] for o in placed["orders"]} == {"xn-ctm": 90000, "xq-nguc": 120000}

    worklist = api.ok("GET", "/orders?service=xet-nghiem&status=ordered", role="lab")["orders"]
    assert [o["item"] for o in worklist] == ["xn-ctm"] and worklist[0]["patient"]["full_name"] == "Trần Thị Mai"
    ctm = worklist[0]["id"]
    xray = next(o["id"] for o in placed["orders"] if o["item"] == "xq-nguc")
    assert api.ok("POST", f"/orders/{ctm}/start", role="lab")["status"] == "in_progress"
    resulted = api.ok("POST", f"/orders/{ctm}/result", role="lab", body={"values": CBC})
    assert {v["code"]: v["flag"] for v in resulted["values"]} == {"WBC": None, "RBC": "H", "HGB": None, "PLT": "L"}
    assert resulted["released"] is False

    api.ok("POST", f"/orders/{xray}/start", role="lab")
    api.ok("POST", f"/orders/{xray}/result", role="lab", body={"report": "Phổi sáng đều hai bên.", "release": True})
    summary = api.ok("GET", f"/visits/{visit}", role="nurse")
    assert summary["patient"]["code"] == "BN12345678" and summary["exam"]["diagnosis_code"] == "J02.9"
    assert {o["item"]: o["status"] for o in summary["orders"]} == {"xn-ctm": "resulted", "xq-nguc": "resulted"}
    returning = [t for t in summary["tickets"] if t["priority"] == "returning"]
    assert len(returning) == 1 and returning[0]["service"] == "kham-noi" and returning[0]["status"] == "waiting"

    assert api.ok("POST", f"/orders/{ctm}/release")["released"] is True  # the doctor may release too
    assert api.ok("GET", f"/orders/{ctm}", role="nurse")["released"] is True
    assert api.ok("GET", f"/tickets/{returning[0]['id']}/visit")["id"] == visit


def test_illegal_transitions_are_409(api: Api) -> None:
    visit, _ = patient_visit(api)
    placed = api.ok("POST", f"/visits/{visit}/orders", body={"items": ["xn-glucose"], "counter": "p101"}, status=201)
    order = placed["orders"][0]["id"]
    assert api.error(api.call("POST", f"/orders/{order}/result", "lab", {"values": {"GLU": 5}}), 409) == \
        "illegal_transition"
    assert api.error(api.call("POST", f"/orders/{order}/release", "lab", {}), 409) == "illegal_transition"
    api.ok("POST", f"/orders/{order}/cancel", body={"reason": "nhầm"})
    for action in ("start", "cancel"):
        assert api.error(api.call("POST", f"/orders/{order}/{action}", "lab", {}), 409) == "illegal_transition"
    assert api.error(api.call("POST", "/orders/987654/start", "lab", {}), 404) == "unknown_order"


@pytest.mark.parametrize(("body", "code"), [
    ({"values": {"WBC": 5.5}}, "missing_value"),
    ({"values": {**CBC, "ABC": 1}}, "unknown_analyte"),
    ({"values": {**CBC, "WBC": "5,5"}}, "invalid_request"),
    ({"values": {**CBC, "WBC": -3}}, "bad_value"),
    ({"report": "chỉ có mô tả"}, "values_required"),
    ({"values": CBC, "extra": 1}, "invalid_request"),
])
def test_bad_results_are_422(api: Api, body: dict[str, Any], code: str) -> None:
    visit, _ = patient_visit(api)
    order = api.ok("POST", f"/visits/{visit}/orders", body={"items": ["xn-ctm"], "counter": "p101"},
                   status=201)["orders"][0]["id"]
    api.ok("POST", f"/orders/{order}/start", role="lab")
    assert api.error(api.call("POST", f"/orders/{order}/result", "lab", body), 422) == code


def test_not_a_number_is_422(api: Api) -> None:
    visit, _ = patient_visit(api)
    order = api.ok("POST", f"/visits/{visit}/orders", body={"items": ["xn-glucose"], "counter": "p101"},
                   status=201)["orders"][0]["id"]
    api.ok("POST", f"/orders/{order}/start", role="lab")
    response = api.call("POST", f"/orders/{order}/result", "lab", raw='{"values": {"GLU": NaN}}')
    assert api.error(response, 422) == "invalid_request"  # NaN is not JSON: refused by the one input guard


@pytest.mark.parametrize(("body", "code"), [
    ({"diagnosis_code": "J6"}, "bad_icd10"),
    ({"diagnosis_code": "viêm họng"}, "bad_icd10"),
    ({"diagnosis_code": "K52.9"}, "diagnosis_text_required"),
    ({"diagnosis_code": "J06.9", "notes": 12}, "invalid_request"),
    ({"diagnosis_code": "J06.9", "mood": "good"}, "invalid_request"),
    ({"diagnosis_code": "J06.9", "ticket": 987654}, "bad_ticket"),
])
def test_bad_exam_is_422(api: Api, body: dict[str, Any], code: str) -> None:
    visit, _ = patient_visit(api)
    assert api.error(api.call("PUT", f"/visits/{visit}/exam", "doctor", body), 422) == code


@pytest.mark.parametrize(("body", "code"), [
    ({"items": []}, "invalid_request"),
    ({"items": ["khong-co"]}, "unknown_item"),
    ({"items": ["xn-ctm", "xn-ctm"]}, "duplicate_item"),
    ({"items": "xn-ctm"}, "invalid_request"),
])
def test_bad_orders_are_422(api: Api, body: dict[str, Any], code: str) -> None:
    visit, _ = patient_visit(api)
    assert api.error(api.call("POST", f"/visits/{visit}/orders", "doctor", body), 422) == code


def test_roles(api: Api) -> None:
    visit, _ = patient_visit(api)
    assert api.error(api.call("PUT", f"/visits/{visit}/exam", "lab", {"notes": "x"}), 403) == "forbidden"
    assert api.error(api.call("POST", f"/visits/{visit}/orders", "nurse", {"items": ["xn-ctm"]}), 403) == "forbidden"
    order = api.ok("POST", f"/visits/{visit}/orders", body={"items": ["xn-ctm"], "counter": "p101"},
                   status=201)["orders"][0]["id"]
    assert api.error(api.call("POST", f"/orders/{order}/start", "doctor", {}), 403) == "forbidden"
    assert api.error(api.call("GET", f"/visits/{visit}", "kiosk"), 403) == "forbidden"
    assert api.error(api.call("GET", f"/visits/{visit}", None), 401) == "unauthorized"
    assert api.error(api.call("GET", "/orders", "cashier"), 403) == "forbidden"
    assert api.ok("GET", "/catalogue", role="cashier")["items"][0]["code"] == "xn-ctm"


def test_reads_and_filters(api: Api) -> None:
    visit, _ = patient_visit(api)
    assert api.error(api.call("GET", "/visits/999999"), 404) == "unknown_visit"
    assert api.error(api.call("GET", "/orders?status=done", "lab"), 422) == "unknown_status"
    assert api.error(api.call("GET", "/orders?service=nowhere", "lab"), 422) == "unknown_service"
    assert api.error(api.call("GET", "/orders?day=23-11-2026", "lab"), 422) == "invalid_request"
    assert api.ok("GET", "/orders?day=2026-11-22", role="lab") == {"orders": []}
    assert api.ok("GET", "/icd10?q=viem hong")["codes"][0]["code"] == "J02.9"
    history = api.ok("GET", f"/patients/BN12345678/history?exclude={visit}")
    assert history["visits"] == [] and history["patient"]["age"] == 41
    assert api.error(api.call("GET", "/patients/BN0/history"), 404) == "unknown_patient"


def test_next_step_for_the_patient_link(api: Api) -> None:
    visit, ticket = patient_visit(api)
    api.ok("POST", f"/visits/{visit}/orders", body={"items": ["xn-ctm"], "counter": "p101"}, status=201)
    token = api.hub.ticket_token(ticket["id"])
    step = api.call("GET", f"/tickets/{ticket['id']}/next?k={token}", role=None).get_json()
    assert [t["service"] for t in step["next"]] == ["xet-nghiem"] and step["next"][0]["status_url"]
    assert api.error(api.call("GET", f"/tickets/{ticket['id']}/next?k=wrong", None), 403) == "forbidden"
    assert api.error(api.call("GET", f"/tickets/{ticket['id']}/next", None), 401) == "unauthorized"


def test_openapi_describes_the_clinical_endpoints(api: Api) -> None:
    paths = api.client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/visits/{visit_id}", "/visits/{visit_id}/exam", "/visits/{visit_id}/orders", "/orders",
                 "/orders/{order_id}/result", "/patients/{code}/history", "/tickets/{ticket_id}/next"):
        assert path in paths
    assert "requestBody" in paths["/orders/{order_id}/result"]["post"]


# ---------------------------------------------------------------------------------------- pages
def log_in(client: FlaskClient, username: str, password: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}).status_code == 302


def test_pages_by_role(hub: Hub) -> None:
    hub.staff.add("bs.an", "Nguyễn Văn An", "doctor", "mat-khau-123")
    hub.staff.add("kt.lan", "Lê Thị Lan", "lab", "mat-khau-123", counter="p201")
    app = create_app(hub, testing=True)
    doctor, lab = app.test_client(), app.test_client()
    log_in(doctor, "bs.an", "mat-khau-123")
    page = doctor.get("/doctor")
    assert page.status_code == 200
    setup = json.loads(re.search(r'id="doctor-setup" type="application/json">(.*?)</script>',
                                 page.get_data(as_text=True)).group(1))
    assert setup["counter"] == "p101" and setup["doctor"]["code"] == "bs-an"  # his room from config/doctors.toml
    assert doctor.get("/doctor?counter=p103").status_code == 200
    assert doctor.get("/lab").status_code == 403
    log_in(lab, "kt.lan", "mat-khau-123")
    assert lab.get("/doctor").status_code == 403
    page = lab.get("/lab").get_data(as_text=True)
    assert 'value="xet-nghiem" selected' in page  # the service of her room
    assert doctor.get("/doctor?lang=en").get_data(as_text=True).count("Examination") >= 1
