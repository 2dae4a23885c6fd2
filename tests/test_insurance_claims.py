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
        hub.clinical.save_exam(visit, actor="user:bs.an", diagnosis_code="J06.9", notes="Viêm họng",
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
    assert drugs[0]["LIEU_DUNG"] == "1 viên x 3 lần/ngày x 3 ngày" and drugs[0]["MA_NHOM"] == "4"
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
    hub.clinical.save_exam(visit, actor="user:bs.an", diagnosis_code="J02.9")
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


# ---------------------------------------------------------------- who, where and when (MA_BAC_SI, MA_KHOA...)
def _tables(data: bytes) -> dict[str, etree._Element]:
    """Each table of a claim file as its XML root (parse_claim gives values; these keep the order)."""
    import base64

    envelope = etree.fromstring(data)
    return {part.findtext("LOAIHOSO"): etree.fromstring(base64.b64decode(part.findtext("NOIDUNGFILE") or ""))
            for part in envelope.iter("FILEHOSO")}


def test_the_lines_name_the_doctor_the_department_and_the_times(client: FlaskClient, hub: Hub, auth: dict) -> None:
    from sqlalchemy import update

    from hub.domain.clinical.models import ClinicalOrder

    visit = visit_with_lab(hub, patient(hub), ("xn-ctm", 90_000), ("xn-glucose", 40_000))  # ordered at 09:00
    assert client.post(f"/api/v1/visits/{visit}/insurance", json={"card_code": AN},
                       headers=auth["reception"]).json["status"] == "eligible"
    with hub.db.write() as connection:  # the glucose test ordered by another doctor, its result at 09:40
        _first, second = connection.execute(select_orders(visit)).scalars().all()
        connection.execute(update(ClinicalOrder).where(ClinicalOrder.id == second).values(
            ordered_by="user:bs.binh", resulted_at=datetime(2026, 11, 23, 9, 40, tzinfo=SITE_TZ), status="resulted"))
    hub.clock.advance(25 * 60)  # the exam (and its prescription) saved at 09:25
    hub.clinical.save_exam(visit, actor="user:bs.an", diagnosis_code="J06.9", prescription_lines=PRESCRIPTION[:2])
    due = client.get(f"/api/v1/visits/{visit}/bill", headers=auth["cashier"]).json["due"]
    assert client.post(f"/api/v1/visits/{visit}/payments", json={"method": "cash", "amount": due},
                       headers=auth["cashier"]).status_code == 201
    hub.clock.advance(3600)  # exported at 10:25: NGAY_RA is the visit's last step (09:40), not the export time
    exported = client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"]).json
    assert exported["state"] == "exported", exported
    data = client.get(f"/api/v1/insurance/claims/{visit}/file", headers=auth["cashier"]).data
    claim = parse_claim(data)

    summary = claim["XML1"]
    assert (summary["NGAY_VAO"], summary["NGAY_RA"], summary["MA_KHOA"]) == ("202611230900", "202611230940", "K01")
    # Bảng 1's order at the end: ... THANG_QT, MA_LOAI_KCB, MA_KHOA, MA_CSKCB; no MUC_HUONG in Bảng 1.
    tags = [child.tag for child in _tables(data)["XML1"]]
    assert tags[-6:] == ["T_BHTT", "NAM_QT", "THANG_QT", "MA_LOAI_KCB", "MA_KHOA", "MA_CSKCB"]
    assert "MUC_HUONG" not in tags

    an, binh = "000101/HNO-CCHN", "000102/HNO-CCHN"  # demo licences of bs-an and bs-binh (doctors.toml)
    services = {line["MA_DICH_VU"]: line for line in claim["XML3"]}
    assert {code: (line["MA_BAC_SI"], line["MA_KHOA"], line["NGAY_YL"], line.get("NGAY_KQ"))
            for code, line in services.items()} == {
        "kham-noi": (an, "K01", "202611230900", "202611230925"),  # the ticket, then the exam record
        "xn-ctm": (an, "K01", "202611230900", None),  # ordered by "user:bs" (no doctor): the examining doctor
        "xn-glucose": (binh, "K01", "202611230900", "202611230940")}  # ordered from Khám Nội: its department
    assert {line["MA_BENH"] for line in claim["XML3"]} == {"J06.9"}
    row = [child.tag for child in _tables(data)["XML3"][0][0]]
    assert row[row.index("T_BHTT"):] == ["T_BHTT", "MA_KHOA", "MA_BAC_SI", "MA_BENH", "NGAY_YL", "NGAY_KQ"]

    para, amox = claim["XML2"]
    assert (para["DUONG_DUNG"], para["DANG_BAO_CHE"], para["TT_THAU"]) == ("uống", "viên nén", "125/QĐ-BV;G1;N4;2025")
    assert (amox["DANG_BAO_CHE"], amox["LIEU_DUNG"]) == ("viên nang", "1 viên x 3 lần/ngày x 7 ngày")
    assert {(d["MA_BAC_SI"], d["MA_KHOA"], d["NGAY_YL"]) for d in claim["XML2"]} == {(an, "K01", "202611230925")}
    drug_row = [child.tag for child in _tables(data)["XML2"][0][0]]
    assert drug_row[drug_row.index("HAM_LUONG"):drug_row.index("PHAM_VI")] == [
        "HAM_LUONG", "DUONG_DUNG", "DANG_BAO_CHE", "LIEU_DUNG", "CACH_DUNG", "SO_DANG_KY", "TT_THAU"]
    assert drug_row[-4:] == ["T_BHTT", "MA_KHOA", "MA_BAC_SI", "NGAY_YL"]


def select_orders(visit: int):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from hub.domain.clinical.models import ClinicalOrder

    return select(ClinicalOrder.id).where(ClinicalOrder.visit_id == visit).order_by(ClinicalOrder.id)


def test_a_configured_route_code_replaces_the_route_text(client: FlaskClient, hub: Hub, auth: dict) -> None:
    claims = hub.insurance.claims  # type: ignore[union-attr]
    claims.rules = claims.rules.model_copy(update={"route_codes": {"uống": "1.01"}})
    visit = insured_visit(client, hub, auth, prescription=PRESCRIPTION[:1])
    client.post("/api/v1/insurance/claims/export", json={"visit_id": visit}, headers=auth["cashier"])
    claim = parse_claim(client.get(f"/api/v1/insurance/claims/{visit}/file", headers=auth["cashier"]).data)
    assert claim["XML2"][0]["DUONG_DUNG"] == "1.01"


def test_a_visit_without_the_doctors_licence_or_a_department_code_is_not_claimed(
        client: FlaskClient, hub: Hub, auth: dict) -> None:
    from dataclasses import replace

    claims = hub.insurance.claims  # type: ignore[union-attr]
    unlicensed = insured_visit(client, hub, auth)
    nobody = visit_with_lab(hub, patient(hub))
    client.post(f"/api/v1/visits/{nobody}/insurance", json={"card_code": AN}, headers=auth["reception"])
    hub.clinical.save_exam(nobody, actor="token:may-kham-p101", diagnosis_code="J06.9")  # a device, not a doctor
    client.post(f"/api/v1/visits/{nobody}/payments", json={"method": "cash", "amount": client.get(
        f"/api/v1/visits/{nobody}/bill", headers=auth["cashier"]).json["due"]}, headers=auth["cashier"])
    claims.doctors["bs-an"] = replace(claims.doctors["bs-an"], license_no=None)
    claims.rules = claims.rules.model_copy(update={"departments": {}})

    report = client.post("/api/v1/insurance/claims/export", json={"day": DAY.isoformat()},
                         headers=auth["cashier"]).json
    assert report["exported"] == []
    why = {c["visit_id"]: c["reasons"] for c in report["unclaimable"]}
    assert why == {unlicensed: ["no_doctor_licence", "no_department_code"],
                   nobody: ["no_doctor", "no_department_code"]}
    listed = {c["visit_id"]: c for c in client.get("/api/v1/insurance/claims?day=2026-11-23",
                                                   headers=auth["cashier"]).json["claims"]}
    reason = listed[unlicensed]["reason"]
    assert "chứng chỉ hành nghề" in reason and "BS.CKI Nguyễn Văn An" in reason
    assert "Chưa có mã khoa" in reason and "kham-noi" in reason
    assert "chưa ghi bác sĩ khám" in listed[nobody]["reason"]
    assert listed[unlicensed]["file_name"] is None  # nothing written with an empty MA_BAC_SI
    # The claims page shows the reasons to the cashier.
    from tests.test_clinical_api import log_in

    hub.staff.add("thu.ngan", "Phạm Thu Ngân", "cashier", "mat-khau-123")
    page_client = create_app(hub, testing=True).test_client()
    log_in(page_client, "thu.ngan", "mat-khau-123")
    page = page_client.get("/insurance/claims?day=2026-11-23").get_data(as_text=True)
    assert "Bác sĩ chưa có số chứng chỉ hành nghề" in page and "BS.CKI Nguyễn Văn An" in page
    assert "Hồ sơ khám chưa ghi bác sĩ khám" in page and "Chưa có mã khoa" in page

    claims.doctors["bs-an"] = replace(claims.doctors["bs-an"], license_no="000101/HNO-CCHN")  # corrected
    claims.rules = claims.rules.model_copy(update={"departments": {"kham-noi": "K01"}})
    again = client.post("/api/v1/insurance/claims/export", json={"visit_id": unlicensed}, headers=auth["cashier"])
    assert again.json["state"] == "exported"


def test_the_xsd_wants_the_new_fields_in_their_shape() -> None:
    row = etree.fromstring(
        "<CHI_TIET_DVKT><DSACH_CHI_TIET_DVKT><CHI_TIET_DVKT><MA_LK>LK1</MA_LK><STT>1</STT>"
        "<MA_DICH_VU>kham-noi</MA_DICH_VU><MA_NHOM>13</MA_NHOM><TEN_DICH_VU>Khám</TEN_DICH_VU><SO_LUONG>1</SO_LUONG>"
        "<DON_GIA_BV>1</DON_GIA_BV><DON_GIA_BH>1</DON_GIA_BH><TYLE_TT_BH>100</TYLE_TT_BH>"
        "<THANH_TIEN_BV>1</THANH_TIEN_BV><THANH_TIEN_BH>1</THANH_TIEN_BH><MUC_HUONG>100</MUC_HUONG>"
        "<T_BNTT>0</T_BNTT><T_BNCCT>0</T_BNCCT><T_BHTT>1</T_BHTT><MA_KHOA>K01</MA_KHOA>"
        "<MA_BAC_SI>000101/HNO-CCHN</MA_BAC_SI><MA_BENH>J06.9</MA_BENH><NGAY_YL>202611230900</NGAY_YL>"
        "</CHI_TIET_DVKT></DSACH_CHI_TIET_DVKT></CHI_TIET_DVKT>")
    validated("xml3", row)  # the shape passes
    for tag, bad in (("MA_BAC_SI", ""), ("MA_BAC_SI", "BS An"), ("MA_KHOA", ""), ("MA_KHOA", "khoa-kham")):
        broken = etree.fromstring(etree.tostring(row))
        next(broken.iter(tag)).text = bad
        with pytest.raises(ClaimInvalid, match=tag):
            validated("xml3", broken)


def test_the_config_checks_licences_departments_and_tenders(tmp_path: Path) -> None:
    import shutil

    from hub.config import ConfigError, load_config

    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parent.parent / "config", config)
    doctors = (config / "doctors.toml").read_text(encoding="utf-8")
    (config / "doctors.toml").write_text(doctors.replace('"000101/HNO-CCHN"', '"CCHN 101"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="license_no"):
        load_config(config, env={})
    (config / "doctors.toml").write_text(doctors, encoding="utf-8")
    insurance = (config / "insurance.toml").read_text(encoding="utf-8")
    for wrong, match in (('kham-noi = "K01"', "departments"), ('cdha = "K43"', "departments")):
        bad = insurance.replace(wrong, wrong.replace('"K', '"khoa-') if "noi" in wrong else 'khoa-mat = "K43"')
        (config / "insurance.toml").write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError, match=match):
            build_hub(load_config(config, env={}), var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'c.db'}")
