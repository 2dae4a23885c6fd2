"""Claims: the day's insured visits as XML 130/QĐ-BYT files validated by our XSD and parsed back, the
report of visits that cannot be claimed and why, rejection with a reason, re-export after correction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import etree

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from hub.domain.insurance.claims import ClaimInvalid, parse_claim, schema, validated
from tests.conftest import SITE_TZ
from tests.test_insurance import AN, patient, visit_with_lab

ROLES = ("kiosk", "reception", "cashier", "doctor")
DAY = date(2026, 11, 23)


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig) -> Iterator[Hub]:
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SITE_TZ))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'claims.db'}", clock=clock)
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def auth(hub: Hub) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {hub.tokens.create(role, f'test-{role}')}"} for role in ROLES}


def insured_visit(client: FlaskClient, hub: Hub, auth: dict, *, diagnose: bool = True, pay: bool = True,
                  prescription: list[dict] | None = None) -> int:
    visit = visit_with_lab(hub, patient(hub))
    assert client.post(f"/api/v1/visits/{visit}/insurance", json={"card_code": AN},
                       headers=auth["reception"]).json["status"] == "eligible"
    if diagnose:
        hub.clinical.save_exam(visit, actor="user:bs.minh", diagnosis_code="J06.9", notes="Viêm họng",
                               prescription_lines=prescription)
    if pay:
        due = client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json["due"]
        paid = client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": due},
                           headers=auth["cashier"])
        assert paid.status_code == 201, paid.json
    return visit


def test_day_export_writes_valid_files_parsed_back_and_reports_the_unclaimable(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    good = insured_visit(client, hub, auth)
    unpaid = insured_visit(client, hub, auth, pay=False)
    undiagnosed = insured_visit(client, hub, auth, diagnose=False)
    fee_paying = visit_with_lab(hub)  # no card: not a claim at all
    report = client.post("/api/v1/insurance/claims/export", json={"day": DAY.isoformat()}, headers=auth["cashier"])
    assert report.status_code == 200, report.json
    assert [c["visit_id"] for c in report.json["exported"]] == [good]
    why = {c["visit_id"]: c["reasons"] for c in report.json["unclaimable"]}
    assert why == {unpaid: ["not_settled"], undiagnosed: ["no_diagnosis"]}
    assert fee_paying not in why

    xml = client.get(f"/api/v1/insurance/claims/{good}/file", headers=auth["cashier"])
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    claim = parse_claim(xml.data)
    summary = claim["XML1"]
    assert summary["MA_LK"] == f"LK{good:06d}" and summary["MA_THE_BHYT"] == AN
    assert summary["HO_TEN"] == "Nguyễn Văn An" and summary["MA_BENH_CHINH"] == "J06.9"
    assert summary["MA_CSKCB"] == "01001" and summary["MA_DOITUONG_KCB"] == "1"
    assert (summary["GT_THE_TU"], summary["GT_THE_DEN"]) == ("20260101", "20991231")
    # Exam 150,000 (insured at 42,100) + blood count 90,000 (46,200): a small bill, paid in full on the base.
    assert (summary["T_TONGCHI_BV"], summary["T_TONGCHI_BH"], summary["T_BHTT"], summary["T_BNCCT"],
            summary["T_BNTT"]) == ("240000", "88300", "88300", "0", "151700")
    services = claim["XML3"]
    assert [(s["MA_DICH_VU"], s["MA_NHOM"], s["T_BHTT"], s["T_BNTT"]) for s in services] == [
        ("kham-noi", "13", "42100", "107900"), ("xn-ctm", "1", "46200", "43800")]
    assert claim["XML2"] == []
    listed = client.get("/api/v1/insurance/claims?day=2026-11-23", headers=auth["cashier"]).json["claims"]
    assert {c["visit_id"]: c["state"] for c in listed} == {good: "exported", unpaid: "draft", undiagnosed: "draft"}
    assert "ICD-10" in next(c for c in listed if c["visit_id"] == undiagnosed)["reason"]


# Config/drugs.toml (demo BHYT fields): paracetamol 220 ₫ and amoxicilin 780 ₫ a tablet, covered; the eye
# drops are not covered; vitamin C is written by hand (not in the catalogue).
PRESCRIPTION = [
    {"drug_code": "para-500", "dose": "1 viên x 3 lần/ngày", "days": 3, "quantity": 9, "instructions": "uống khi sốt"},
    {"drug_code": "amox-500", "dose": "1 viên x 3 lần/ngày", "days": 7, "quantity": 21, "instructions": "sau ăn"},
    {"name": "Vitamin C 500 mg", "unit": "viên", "dose": "1 viên/ngày", "days": 10, "quantity": 10},
    {"drug_code": "natri-clorid-09-nho", "dose": "2 giọt x 3 lần/ngày", "quantity": 1},
]


def test_xml2_claims_the_prescribed_catalogue_drugs_and_lists_the_rest_with_why(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = insured_visit(client, hub, auth, prescription=PRESCRIPTION)
    exported = client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"]).json
    assert exported["state"] == "exported", exported
    drugs_total = 9 * 220 + 21 * 780  # 1,980 + 16,380
    assert exported["insurance_pays"] == 88_300 + drugs_total  # a small bill: the fund pays all of it
    assert [(line["name"], line["reason"]) for line in exported["lines_left_out"]] == [
        ("Vitamin C 500 mg", "not_in_catalogue"), ("Natri clorid 0,9% nhỏ mắt", "not_covered")]
    assert all(line["message"] for line in exported["lines_left_out"])
    claim = parse_claim(client.get(f"/api/v1/insurance/claims/{visit}/file", headers=auth["cashier"]).data)
    drugs = claim["XML2"]
    assert [(d["STT"], d["MA_THUOC"], d["TEN_THUOC"], d["DON_VI_TINH"], d["SO_DANG_KY"], d["SO_LUONG"],
             d["DON_GIA"], d["THANH_TIEN_BV"], d["THANH_TIEN_BH"], d["T_BHTT"], d["T_BNCCT"], d["T_BNTT"])
            for d in drugs] == [
        ("1", "40.48", "Paracetamol 500 mg", "viên", "VD-21654-14", "9", "220", "1980", "1980", "1980", "0", "0"),
        ("2", "40.159", "Amoxicilin 500 mg", "viên", "VD-24513-16", "21", "780", "16380", "16380", "16380", "0",
         "0")]
    assert drugs[0]["LIEU_DUNG"] == "1 viên x 3 lần/ngày" and drugs[0]["MA_NHOM"] == "4"
    for line in drugs:  # each line adds up: fund + co-payment + the patient's own part
        assert int(line["T_BHTT"]) + int(line["T_BNCCT"]) + int(line["T_BNTT"]) == int(line["THANH_TIEN_BV"])
    summary = claim["XML1"]
    assert summary["T_THUOC"] == str(drugs_total)
    assert summary["T_TONGCHI_BV"] == str(240_000 + drugs_total)
    assert summary["T_BHTT"] == str(88_300 + drugs_total)
    assert int(summary["T_BHTT"]) + int(summary["T_BNCCT"]) + int(summary["T_BNTT"]) == int(summary["T_TONGCHI_BV"])
    # The claims page shows what was left out, and why.
    listed = client.get("/api/v1/insurance/claims?day=2026-11-23", headers=auth["cashier"]).json["claims"]
    assert [line["reason"] for line in listed[0]["lines_left_out"]] == ["not_in_catalogue", "not_covered"]


def test_drugs_that_take_the_visit_over_the_small_bill_limit_are_flagged(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    # Services 88,300 of insured cost (under 351,000: invoiced at 100 %); 11 bottles of syrup at 24,500 make
    # the whole visit 357,800. The claim goes, with a warning for the claims office.
    syrup = [{"drug_code": "amox-250-siro", "dose": "5 ml x 2 lần/ngày", "days": 7, "quantity": 11}]
    visit = insured_visit(client, hub, auth, prescription=syrup)
    exported = client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"]).json
    assert exported["state"] == "exported"
    assert "357.800" in exported["reason"] and "351.000" in exported["reason"]
    small = insured_visit(client, hub, auth, prescription=[{**syrup[0], "quantity": 2}])
    assert client.post("/api/v1/insurance/claims/export", json={"visit_id": small},
                       headers=auth["cashier"]).json["reason"] is None  # still a small bill: nothing to say


def test_a_visit_without_catalogue_drugs_has_an_empty_xml2(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = insured_visit(client, hub, auth, prescription=[PRESCRIPTION[2]])
    exported = client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"]).json
    assert exported["state"] == "exported" and exported["insurance_pays"] == 88_300
    claim = parse_claim(client.get(f"/api/v1/insurance/claims/{visit}/file", headers=auth["cashier"]).data)
    assert claim["XML2"] == [] and claim["XML1"]["T_THUOC"] == "0"
    assert [line["reason"] for line in exported["lines_left_out"]] == ["not_in_catalogue"]


def test_the_days_batch_file_holds_every_exported_claim(client: FlaskClient, hub: Hub, auth: dict) -> None:
    first, second = insured_visit(client, hub, auth), insured_visit(client, hub, auth, prescription=PRESCRIPTION)
    insured_visit(client, hub, auth, pay=False)  # a draft: not in the batch
    report = client.post("/api/v1/insurance/claims/export", json={"day": DAY.isoformat()}, headers=auth["cashier"])
    assert report.json["batch_file"] == "2026-11-23/01001_20261123.xml"
    batch = client.get("/api/v1/insurance/claims/batch?day=2026-11-23", headers=auth["cashier"])
    assert batch.status_code == 200 and batch.mimetype == "application/xml"
    envelope = etree.fromstring(batch.data)
    assert envelope.findtext("THONGTINHOSO/SOLUONGHOSO") == "2"
    assert schema("giamdinhhs").validate(envelope)
    records = envelope.findall("THONGTINHOSO/DANHSACHHOSO/HOSO")
    codes = [parse_claim(etree.tostring(_single(envelope, record)))["XML1"]["MA_LK"] for record in records]
    assert codes == [f"LK{first:06d}", f"LK{second:06d}"]
    # The first visit's payment is voided: its claim leaves the batch.
    payment = next(p for p in client.get(f"/api/v1/visits/{first}/bill", headers=auth["cashier"]).json["payments"]
                   if p["kind"] == "payment")
    client.post(f"/api/v1/payments/{payment['id']}/void", json={"reason": "thu nhầm"}, headers=auth["cashier"])
    again = etree.fromstring(client.get("/api/v1/insurance/claims/batch?day=2026-11-23",
                                        headers=auth["cashier"]).data)
    assert again.findtext("THONGTINHOSO/SOLUONGHOSO") == "1"
    assert client.get("/api/v1/insurance/claims/batch?day=2026-11-22", headers=auth["cashier"]).status_code == 404
    assert client.get("/api/v1/insurance/claims/batch?day=22/11", headers=auth["cashier"]).status_code == 422
    assert client.get("/api/v1/insurance/claims/batch", headers=auth["doctor"]).status_code == 403


def _single(envelope: etree._Element, record: etree._Element) -> etree._Element:
    """One HOSO of a batch in an envelope of its own, to read it back with parse_claim."""
    import copy

    alone = copy.deepcopy(envelope)
    listing = alone.find("THONGTINHOSO/DANHSACHHOSO")
    for child in list(listing):
        listing.remove(child)
    listing.append(copy.deepcopy(record))
    alone.find("THONGTINHOSO/SOLUONGHOSO").text = "1"
    return alone


def test_rejected_then_corrected_and_exported_again(client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = insured_visit(client, hub, auth)
    client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"])
    assert client.post(f"/api/v1/insurance/claims/{visit}/reject", json={"reason": ""},
                       headers=auth["cashier"]).status_code == 422
    rejected = client.post(f"/api/v1/insurance/claims/{visit}/reject",
                           json={"reason": "Sai mã bệnh chính"}, headers=auth["cashier"])
    assert rejected.json["state"] == "rejected" and rejected.json["reason"] == "Sai mã bệnh chính"
    assert [c["visit_id"] for c in client.get("/api/v1/insurance/claims?state=rejected",
                                               headers=auth["cashier"]).json["claims"]] == [visit]
    hub.clinical.save_exam(visit, actor="user:bs.minh", diagnosis_code="J02.9")
    again = client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"]).json
    assert again["state"] == "exported" and again["exports"] == 2 and again["reason"] is None
    parsed = parse_claim(client.get(f"/api/v1/insurance/claims/{visit}/file", headers=auth["cashier"]).data)
    assert parsed["XML1"]["MA_BENH_CHINH"] == "J02.9"


def test_a_voided_payment_takes_the_claim_back_to_draft_until_settled_again(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    visit = insured_visit(client, hub, auth)
    exported = client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"]).json
    assert exported["state"] == "exported" and exported["insurance_pays"] == 88_300
    payment = next(p for p in client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json["payments"]
                   if p["kind"] == "payment")
    voided = client.post(f"/api/v1/payments/{payment['id']}/void", json={"reason": "thu nhầm"},
                         headers=auth["cashier"])
    assert voided.status_code == 200, voided.json
    # The patient's part is reversed by the void, the fund's part by the claim going back to draft.
    claim = client.get("/api/v1/insurance/claims?day=2026-11-23", headers=auth["cashier"]).json["claims"][0]
    assert (claim["state"], claim["file_name"], claim["insurance_pays"]) == ("draft", None, 0)
    assert "thanh toán" in claim["reason"]
    due = voided.json["bill"]["due"]
    assert due == 151_700
    assert client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": due},
                       headers=auth["cashier"]).status_code == 201
    again = client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"]).json
    assert again["state"] == "exported" and again["insurance_pays"] == 88_300 and again["exports"] == 2


def test_claims_need_the_cashier_and_bad_input_is_4xx(client: FlaskClient, hub: Hub, auth: dict) -> None:
    assert client.get("/api/v1/insurance/claims", headers=auth["doctor"]).status_code == 403
    assert client.get("/api/v1/insurance/claims?day=23/11", headers=auth["cashier"]).status_code == 422
    assert client.get("/api/v1/insurance/claims?state=paid", headers=auth["cashier"]).status_code == 422
    assert client.post("/api/v1/insurance/claims/export", json={"visit_id": visit_with_lab(hub)},
                       headers=auth["cashier"]).status_code == 422  # not insured
    assert client.get("/api/v1/insurance/claims/99999/file", headers=auth["cashier"]).status_code == 404


def test_the_xsd_refuses_what_the_layout_forbids() -> None:
    bad = etree.fromstring(b"<TONG_HOP><MA_LK>LK1</MA_LK><STT>0</STT></TONG_HOP>")
    with pytest.raises(ClaimInvalid, match="xml1"):
        validated("xml1", bad)
    assert not schema("giamdinhhs").validate(etree.fromstring(b"<GIAMDINHHS/>"))


def test_figures_give_the_insured_share_amounts_by_payer_and_refusals(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    insured_visit(client, hub, auth)
    refused = visit_with_lab(hub)
    client.post(f"/api/v1/visits/{refused}/insurance", json={"card_code": "GD4010444555666"}, headers=auth["kiosk"])
    visit_with_lab(hub)  # fee-paying
    figures = client.get("/api/v1/insurance/figures?from=2026-11-23&to=2026-11-23", headers=auth["cashier"]).json
    assert figures["visits"] == 3
    assert figures["by_status"] == {"eligible": 1, "unchecked": 0, "refused": 1, "fee_paying": 1}
    assert figures["insured_share_percent"] == 33.3
    assert figures["amounts_by_payer"] == {"insurance": 88_300, "patients": 3 * 240_000 - 88_300,
                                           "total": 3 * 240_000}
    assert figures["refusals_by_reason"] == {"expired": 1}
    assert client.get("/api/v1/insurance/figures?from=2026-11-23&to=2026-11-01",
                      headers=auth["cashier"]).status_code == 422


def test_the_demo_draws_insured_and_fee_paying_patients(hub: Hub) -> None:
    import time

    from hub.domain.insurance.demo import install_demo_payers

    install_demo_payers(hub.bus, hub.insurance, {"kham-noi"}, share=0.7, seed=7)  # type: ignore[arg-type]
    visits = [hub.queue.issue("kham-noi")["visit_id"] for _ in range(30)]
    lab = hub.queue.issue("xet-nghiem")["visit_id"]  # not an exam: no payer drawn
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(hub.insurance.visit_coverage(v)["recorded"] for v in visits):
        time.sleep(0.05)
    statuses = [hub.insurance.visit_coverage(v)["status"] for v in visits]  # type: ignore[union-attr]
    assert 10 <= sum(s != "fee_paying" for s in statuses) <= 29 and "fee_paying" in statuses
    assert "eligible" in statuses
    assert hub.insurance.visit_coverage(lab)["recorded"] is False  # type: ignore[union-attr]


def test_the_whole_path_on_postgresql(tmp_path: Path, clinic: ClinicConfig, pg_url: str) -> None:
    """Coverage, split, payment, claim and override on PostgreSQL (a column named "check", JSON, BigInteger)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    clock = VirtualClock(datetime(2026, 11, 23, 9, 0, tzinfo=SITE_TZ))
    pg_hub = build_hub(clinic, var_dir=tmp_path, db_url=pg_url, clock=clock)
    try:
        pg_client = create_app(pg_hub, testing=True).test_client()
        roles = {role: {"Authorization": f"Bearer {pg_hub.tokens.create(role, f't-{role}')}"} for role in ROLES}
        visit = insured_visit(pg_client, pg_hub, roles)
        exported = pg_client.post("/api/v1/insurance/claims/export", json={"visit_id": visit},
                                  headers=roles["cashier"]).json
        assert exported["state"] == "exported" and exported["insurance_pays"] == 88_300
        who = pg_hub.insurance.visit_coverage(visit)  # type: ignore[union-attr]
        assert who["check"]["holder_name"] == "Nguyễn Văn An"
        with pg_hub.db.read() as connection:
            patient_id = connection.execute(text("SELECT patient_id FROM visits WHERE id = :v"), {"v": visit}).scalar()
        history = pg_hub.insurance.coverages(patient_id)  # type: ignore[union-attr]
        assert [(c["card_code"], c["source"], c["current"]) for c in history] == [(AN, "gateway", True)]
    finally:
        pg_hub.close()


def test_the_report_table_counts_payers_and_invoiced_money(client: FlaskClient, hub: Hub, auth: dict) -> None:
    from hub.domain.reports.service import Period, ReportService
    from hub.domain.reports.tables import build

    insured_visit(client, hub, auth)
    refused = visit_with_lab(hub)
    client.post(f"/api/v1/visits/{refused}/insurance", json={"card_code": "GD4010444555666"}, headers=auth["kiosk"])
    visit_with_lab(hub)
    report = ReportService(hub.db, hub.config, hub.clock).report(Period(DAY, DAY, "day"), ())
    table = build(report, "insurance")
    assert table.rows == [{"day": "2026-11-23", "day_en": "2026-11-23", "eligible": 1, "unchecked": 0, "refused": 1,
                           "fee_paying": 1, "visits": 3, "insurance": 88_300, "patients": 151_700,
                           "insured_share": 33.3, "refused_expired": 1, "refused_not_yet_valid": 0,
                           "refused_not_found": 0, "refused_name_dob_mismatch": 0, "refused_other": 0}]
    assert table.total["visits"] == 3  # type: ignore[index]
    assert table.total["refused_expired"] == 1  # type: ignore[index]
    assert "Từ chối: Thẻ hết hạn" in [column.title("vi") for column in table.columns]
    assert "Refused: Card expired" in [column.title("en") for column in table.columns]
