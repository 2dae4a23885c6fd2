"""Structured prescription lines: checked against the drug catalogue at the domain and over the API, stored
with the catalogue's fields copied in, the identity rule kept, and the weight a young child's prescription needs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, text

from hub import migrate
from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.db import Database
from hub.domain.clinical.prescriptions import PrescriptionLine, age_in_months, lines_of, validate_lines
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Invalid
from hub.domain.patients.models import Patient
from tests.test_clinical_api import Api, patient_visit

PARA = {"drug_code": "para-500", "dose": "1 viên x 3 lần/ngày", "days": 3, "quantity": 9,
        "instructions": "uống sau ăn, khi sốt trên 38,5 °C"}
FREE = {"name": "Bio-acimin Gold", "strength": "", "form": "giọt", "unit": "lọ", "route": "uống",
        "dose": "5 giọt/ngày", "quantity": 1}


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'rx.db'}", clock=clock)
    yield hub
    hub.close()


@pytest.fixture
def api(hub: Hub) -> Api:
    return Api(hub, create_app(hub, testing=True).test_client())


def test_a_catalogue_code_fills_the_drug_and_a_free_text_line_keeps_what_was_typed(clinic: ClinicConfig) -> None:
    # The client's own name for a catalogue drug is ignored: the catalogue is the truth.
    para, free = validate_lines([{**PARA, "name": "para", "unit": "hộp"}, FREE], clinic.drugs)
    assert para == PrescriptionLine(drug_code="para-500", name="Paracetamol 500 mg", strength="500 mg",
                                    form="viên nén", unit="viên", route="uống", dose="1 viên x 3 lần/ngày", days=3,
                                    quantity=9, instructions="uống sau ăn, khi sốt trên 38,5 °C")
    assert free.drug_code is None and free.name == "Bio-acimin Gold" and free.unit == "lọ" and free.days is None


@pytest.mark.parametrize(("line", "code", "says"), [
    ({**PARA, "drug_code": "no-such-drug"}, "unknown_drug", "no-such-drug"),
    ({**PARA, "quantity": 0}, "bad_quantity", "số lượng"),
    ({**PARA, "quantity": -3}, "bad_quantity", "số lượng"),
    ({**PARA, "quantity": 2.5}, "bad_quantity", "số lượng"),
    ({**PARA, "quantity": "9"}, "bad_quantity", "số lượng"),
    ({**PARA, "quantity": True}, "bad_quantity", "số lượng"),
    ({k: v for k, v in PARA.items() if k != "quantity"}, "bad_quantity", "số lượng"),
    ({**PARA, "days": 0}, "bad_days", "số ngày"),
    ({**PARA, "dose": "x" * 201}, "too_long", "dose"),
    ({**FREE, "instructions": "y" * 301}, "too_long", "instructions"),
    ({**FREE, "name": "  "}, "bad_prescription_line", "tên thuốc"),
    ({**FREE, "unit": ""}, "bad_prescription_line", "đơn vị"),
    ({**PARA, "colour": "red"}, "bad_prescription_line", "colour"),
])
def test_a_bad_line_is_refused_with_a_clear_error(clinic: ClinicConfig, line: dict[str, Any], code: str,
                                                 says: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_lines([PARA, line], clinic.drugs)
    assert refused.value.code == code and says in refused.value.message
    assert refused.value.message.startswith("Dòng thuốc 2:")  # the doctor is told which line


def test_lines_of_reads_an_exam_dict_a_row_and_nothing() -> None:
    stored = {"prescription_lines": [{**FREE, "drug_code": None, "days": None, "instructions": ""}]}
    assert [line.name for line in lines_of(stored)] == ["Bio-acimin Gold"]
    assert lines_of(None) == [] and lines_of({"prescription_lines": None}) == []
    assert age_in_months(date(2020, 12, 8), date(2026, 12, 7)) == 71


def test_the_exam_api_stores_and_returns_the_lines_beside_the_free_text(api: Api) -> None:
    visit, ticket = patient_visit(api)
    body = {"diagnosis_code": "J06.9", "prescription": "Uống nhiều nước, tái khám nếu sốt cao.",
            "prescription_lines": [PARA, FREE], "weight_kg": 52.5, "height_cm": 158, "ticket": ticket["id"]}
    exam = api.ok("PUT", f"/visits/{visit}/exam", body=body)["exam"]
    assert [line["name"] for line in exam["prescription_lines"]] == ["Paracetamol 500 mg", "Bio-acimin Gold"]
    assert exam["prescription_lines"][0]["unit"] == "viên" and exam["prescription_lines"][0]["quantity"] == 9
    assert exam["prescription"].startswith("Uống nhiều nước") and exam["weight_kg"] == 52.5
    assert exam["height_cm"] == 158
    again = api.ok("GET", f"/visits/{visit}/exam")["exam"]
    assert lines_of(again) == lines_of(exam) and len(lines_of(again)) == 2
    assert api.ok("GET", f"/visits/{visit}")["exam"]["prescription_lines"] == exam["prescription_lines"]
    # Saving without lines clears them, as for every field of the record.
    cleared = api.ok("PUT", f"/visits/{visit}/exam", body={"notes": "Khỏe"})["exam"]
    assert cleared["prescription_lines"] == [] and cleared["weight_kg"] is None


@pytest.mark.parametrize(("lines", "status", "code"), [
    ([{**PARA, "drug_code": "khong-co"}], 422, "unknown_drug"),
    ([{**PARA, "quantity": 0}], 422, "bad_quantity"),
    ([{**PARA, "quantity": 1.5}], 422, "invalid_request"),  # not an integer at all: the schema says so
    ([{**PARA, "dose": "d" * 201}], 422, "invalid_request"),
    ([PARA] * 51, 422, "invalid_request"),
])
def test_the_api_refuses_bad_lines_and_writes_nothing(api: Api, lines: list[Any], status: int, code: str) -> None:
    visit, _ = patient_visit(api)
    response = api.call("PUT", f"/visits/{visit}/exam", body={"prescription_lines": lines})
    assert api.error(response, status) == code
    assert api.ok("GET", f"/visits/{visit}/exam")["exam"] is None


@pytest.mark.parametrize("weight", [0.2, 301, 0])
def test_an_impossible_weight_is_refused(api: Api, weight: float) -> None:
    visit, _ = patient_visit(api)
    response = api.call("PUT", f"/visits/{visit}/exam", body={"weight_kg": weight})
    assert api.error(response, 422) == "bad_weight"


def test_lines_on_an_anonymous_visit_are_409(api: Api) -> None:
    ticket = api.hub.queue.issue("kham-noi")
    api.ok("POST", "/counters/p101/next")
    api.ok("POST", "/counters/p101/start")
    response = api.call("PUT", f"/visits/{ticket['visit_id']}/exam", body={"prescription_lines": [PARA]})
    assert api.error(response, 409) == "patient_not_identified"
    assert api.ok("GET", f"/visits/{ticket['visit_id']}/exam")["exam"] is None


def child_visit(api: Api, born: date) -> int:
    with api.hub.db.write() as connection:
        patient_id = connection.execute(insert(Patient).values(
            code="BN20000001", full_name="Lê Gia Bảo", date_of_birth=born, sex="Nam",
            created_at=api.hub.clock.now()).returning(Patient.id)).scalar_one()
    ticket = api.hub.queue.issue("kham-noi", patient_id=patient_id)
    api.ok("POST", "/counters/p101/next")
    api.ok("POST", "/counters/p101/start")
    return ticket["visit_id"]


def test_a_prescription_for_a_child_under_72_months_needs_the_weight(api: Api) -> None:
    today = api.hub.queue.today()
    visit = child_visit(api, date(today.year - 4, 1, 1))
    syrup = {"drug_code": "amox-250-siro", "dose": "5 ml x 2 lần/ngày", "days": 7, "quantity": 1}
    response = api.call("PUT", f"/visits/{visit}/exam", body={"prescription_lines": [syrup]})
    assert api.error(response, 422) == "weight_required"
    assert "72 tháng" in response.get_json()["error"]["message"]
    # Notes and a diagnosis alone need no weight; the prescription with the weight is saved.
    api.ok("PUT", f"/visits/{visit}/exam", body={"notes": "Ho, sốt nhẹ"})
    exam = api.ok("PUT", f"/visits/{visit}/exam", body={"prescription_lines": [syrup], "weight_kg": 16.4})["exam"]
    assert exam["weight_kg"] == 16.4 and exam["prescription_lines"][0]["drug_code"] == "amox-250-siro"


def test_an_adult_prescription_needs_no_weight(api: Api) -> None:
    visit, _ = patient_visit(api)
    exam = api.ok("PUT", f"/visits/{visit}/exam", body={"prescription_lines": [PARA]})["exam"]
    assert exam["weight_kg"] is None and len(exam["prescription_lines"]) == 1


def test_the_openapi_document_describes_the_lines(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").get_json()
    text = str(document)
    assert "prescription_lines" in text and "PrescriptionLineRequest" in text and "weight_kg" in text


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0020_down_and_up_leaves_earlier_records_with_no_lines(kind: str, tmp_path: Path,
                                                                         request: pytest.FixtureRequest,
                                                                         clinic: ClinicConfig,
                                                                         clock: VirtualClock) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}" if kind == "sqlite" else request.getfixturevalue("pg_url")
    if kind == "postgresql":
        with Database(url).engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=url, clock=clock)
    try:
        api = Api(hub, create_app(hub, testing=True).test_client())
        visit, _ = patient_visit(api)
        api.ok("PUT", f"/visits/{visit}/exam", body={"prescription": "Paracetamol", "prescription_lines": [PARA]})
        # A record written before 0020: the columns go, then come back empty for it.
        migrate_to(hub, "0017")
        with hub.db.read() as connection:
            columns = list(connection.execute(text("SELECT * FROM exam_records")).keys())
        assert "prescription_lines" not in columns and "notes" in columns
        migrate_to(hub, "head")
        exam = hub.clinical.exam(visit)
        assert exam is not None and exam["prescription"] == "Paracetamol"
        assert exam["prescription_lines"] == [] and lines_of(exam) == [] and exam["weight_kg"] is None
    finally:
        hub.close()


def migrate_to(hub: Hub, revision: str) -> None:
    config = migrate.alembic_config(hub.db)
    with hub.db.engine.begin() as connection:
        config.attributes["connection"] = connection
        if revision == "head":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
