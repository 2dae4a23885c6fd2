"""Claims: each insured visit of a day as the national claims XML (Decision 130/QĐ-BYT, amended by
4750/QĐ-BYT): XML1 the summary, XML2 drugs, XML3 services, in the GIAMDINHHS envelope, one file per visit,
each table validated against the XSD in ./xsd (written for the subset clinicq emits).

A visit that cannot be claimed (bill not settled, no ICD-10 diagnosis, no card code...) stays "draft" with
the reasons; the insurer's rejection is recorded as "rejected" with its reason; re-exporting after the
correction writes the file again. Amounts are the ones on the visit's invoice (what the patient paid).

XML2 (drugs) comes from the visit's prescription lines that match the drug catalogue (config/drugs.toml,
its BHYT fields): clinicq bills no drugs (the pharmacy is outside it), so each line is priced at the
catalogue's insurance price and split by the same co-payment engine, with the share the visit's services
were split with (XML1 has one MUC_HUONG). Lines not in the catalogue, not covered or without the BHYT
fields are left out of XML2 and listed on the claim (`lines_left_out`) with why.

Who and where (MA_BAC_SI, MA_KHOA): the examining doctor's practising-certificate number (`license_no` in
config/doctors.toml) signs the exam line and the drugs; a lab or imaging line is signed by the doctor who
ordered it (its `ordered_by` login, else the examining doctor). MA_KHOA is the department code of the exam
service (`[departments]` in config/insurance.toml); for a test, that of the service that ordered it. A visit
missing either is not exported with an empty field: it stays draft with the reason.

Field names and order: Decision 130/QĐ-BYT Bảng 1-3 as amended by 4750/QĐ-BYT, checked against public
hospital-software descriptions of that layout (a "Moh.Xml130" model of the 15 tables and a QĐ 130 ↔ FHIR
field mapping with each field's STT and length, read in December 2026; not the Ministry's own text).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import insert, select, update

from hub.db import Database
from hub.domain.booking.models import Doctor
from hub.domain.clinical.models import ClinicalOrder, ExamRecord
from hub.domain.clinical.prescriptions import PrescriptionLine, lines_of
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Invalid, NotFound
from hub.domain.common.models import AuditEntry
from hub.domain.insurance.copay import Line, Split, Terms, route_of, split_lines
from hub.domain.insurance.drugs import DrugClaimLine, DrugInsurance, claim_lines, load_drug_insurance
from hub.domain.insurance.gateway import ELIGIBLE
from hub.domain.insurance.models import Claim, VisitCoverage
from hub.domain.insurance.rules import InsuranceRules, ItemPrice
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Service, Ticket, Visit

log = logging.getLogger(__name__)
XSD_DIR = Path(__file__).parent / "xsd"
CLAIM, VC = Claim.__table__, VisitCoverage.__table__
DRAFT, EXPORTED, REJECTED = "draft", "exported", "rejected"
# Bảng mã nhóm chi phí (Decision 130): 1 lab test, 2 imaging, 13 exam.
COST_GROUP = {"lab": 1, "imaging": 2, "exam": 13}
# Drugs: 4 in the BHYT drug list, 6 paid at a rate below 100 % (UNSURE: confirm with the 130 code table).
DRUG_GROUP, DRUG_GROUP_AT_A_RATE = 4, 6
PHAM_VI_IN_BENEFIT = 1  # PHAM_VI: 1 within the insured benefit
# MA_DOITUONG_KCB: 1 in route, 2 emergency, 3 out of route (UNSURE: 4750/QĐ-BYT refines these into 1.x/3.x).
ROUTE_CODE = {"registered_here": "1", "referral": "1", "emergency": "2"}
SEX_CODE = {"Nam": "1", "Nữ": "2"}
REASONS = {
    "no_patient": "Lượt khám không có hồ sơ bệnh nhân / the visit has no patient record",
    "no_card_code": "Chỉ có số CCCD, chưa có mã thẻ BHYT / only the CCCD number is known, not the card code",
    "not_settled": "Chưa thanh toán xong / the bill is not settled",
    "no_diagnosis": "Thiếu mã bệnh chính ICD-10 / no main ICD-10 diagnosis",
    "nothing_claimed": "Quỹ BHYT không chi trả khoản nào / insurance pays nothing on this visit",
    "no_card_dates": "Thiếu hạn thẻ từ cổng BHYT / the card's validity dates are unknown",
    "no_doctor": "Hồ sơ khám chưa ghi bác sĩ khám (MA_BAC_SI) / the examination names no doctor",
    "no_doctor_licence": "Bác sĩ chưa có số chứng chỉ hành nghề (license_no trong doctors.toml) / no "
                         "practising-certificate number for the doctor",
    "no_department_code": "Chưa có mã khoa (MA_KHOA, [departments] trong insurance.toml) / no department code "
                          "for the service",
}
USER_PREFIX = "user:"  # an actor that is a staff login: "user:bs.an"


@cache
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{name}.xsd")))


class ClaimInvalid(Exception):
    """The XML we built does not pass its XSD: a bug, reported with the schema's words."""


def validated(name: str, root: etree._Element) -> bytes:
    xsd = schema(name)
    if not xsd.validate(root):
        raise ClaimInvalid(f"{name}: " + "; ".join(str(error.message) for error in xsd.error_log))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _add(parent: etree._Element, tag: str, value: object) -> etree._Element:
    child = etree.SubElement(parent, tag)
    child.text = "" if value is None else str(value)
    return child


def _day(value: date) -> str:
    return value.strftime("%Y%m%d")


@dataclass(frozen=True)
class _Doctor:
    code: str
    name: str
    username: str | None
    license_no: str | None


@dataclass(frozen=True)
class _Signed:
    """Who ordered a line and where (MA_BAC_SI, MA_KHOA), and when (NGAY_YL, NGAY_KQ)."""

    doctor: _Doctor | None
    department: str | None
    ordered_at: datetime
    result_at: datetime | None


@dataclass
class _Visit:
    id: int
    day: date
    started_at: datetime
    patient: Any | None
    coverage: Any
    diagnosis: str | None
    bill: dict[str, Any]
    prescriptions: list[PrescriptionLine]
    ended_at: datetime | None = None
    exam: Any | None = None  # the first examination record: its doctor, author and times
    orders: dict[int, Any] | None = None  # the visit's clinical orders by id
    exam_tickets: dict[str, datetime] | None = None  # exam service code -> its first ticket's issue time


class ClaimService:
    def __init__(self, db: Database, rules: InsuranceRules, clock: Clock, tz: ZoneInfo,
                 bill_of: Callable[[int], dict[str, Any]], out_dir: Path, doctors: Iterable[Any] = ()) -> None:
        self.db, self.rules, self.clock, self.tz = db, rules, clock, tz
        # config/doctors.toml: the licence number is read from there at each export (not stored per visit).
        self.doctors = {d.code: _Doctor(d.code, d.name, d.username, getattr(d, "license_no", None)) for d in doctors}
        self.bill_of = bill_of
        self.out_dir = Path(out_dir)
        # The catalogue's BHYT fields, from the drugs.toml next to insurance.toml (none: XML2 stays empty).
        self.drugs: dict[str, DrugInsurance] = load_drug_insurance(rules.source_dir) if rules.source_dir else {}

    # ================================================================== export
    def export_day(self, day: date, *, actor: str) -> dict[str, Any]:
        """Export every insured visit of `day`; returns the files written and the visits that cannot go."""
        with self.db.read() as connection:
            visit_ids = connection.execute(select(VC.c.visit_id).join(Visit, Visit.id == VC.c.visit_id)
                                           .where(Visit.day == day, VC.c.status == ELIGIBLE)
                                           .order_by(VC.c.visit_id)).scalars().all()
        results = [self.export_visit(visit_id, actor=actor) for visit_id in visit_ids]
        return {"day": day.isoformat(), "exported": [r for r in results if r["state"] == EXPORTED],
                "unclaimable": [r for r in results if r["state"] != EXPORTED], "batch_file": self.export_batch(day)}

    def export_visit(self, visit_id: int, *, actor: str) -> dict[str, Any]:
        """Build, validate and write one visit's claim; or record why it cannot be claimed (draft)."""
        visit = self._gather(visit_id)
        problems = self._problems(visit)
        now = self.clock.now()
        drugs, left_out = claim_lines(list(visit.prescriptions), self.drugs)
        if problems:
            return self._save(visit, DRAFT, "; ".join(text for _, text in problems), None, 0, actor, now,
                              [code for code, _ in problems], left_out=left_out)
        envelope, insurer = self._envelope(visit, now, drugs)
        warning = self._small_bill_crossed(visit, drugs)
        folder = self.out_dir / visit.day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.rules.facility_code}_LK{visit.id:06d}.xml"
        (folder / name).write_bytes(envelope)
        return self._save(visit, EXPORTED, warning, f"{visit.day.isoformat()}/{name}", insurer, actor, now, [],
                          count=True, left_out=left_out)

    def _small_bill_crossed(self, visit: _Visit, drugs: list[DrugClaimLine]) -> str | None:
        """The claims office's warning when the drugs take an in-route visit over the small-bill limit: the
        cashier's invoice (services only) was split at 100 % and the claim keeps that share, while the law
        judges the whole visit. clinicq cannot collect the difference (it does not bill drugs)."""
        if route_of(visit.coverage.route_reason) != "in_route" or not drugs:
            return None
        limit = self.rules.small_bill_limit(visit.day)
        services = sum(line["base"] for line in self._lines(visit))
        whole = services + sum(drug.insured_base for drug in drugs)
        if not services < limit <= whole:
            return None
        return (f"Cảnh báo: có thuốc, lượt khám {whole:,} ₫ vượt mức {limit:,} ₫ nhưng dịch vụ đã tính BHYT trả "
                f"100% — kiểm tra trước khi gửi / warning: with the drugs the visit is {whole:,} ₫, over the "
                f"{limit:,} ₫ small-bill limit, but the services were split at 100 %").replace(",", ".")

    def reexport(self, visit_id: int, *, actor: str) -> dict[str, Any]:
        """One visit exported again (after a correction), and its day's batch file with it."""
        result = self.export_visit(visit_id, actor=actor)
        return {**result, "batch_file": self.export_batch(date.fromisoformat(result["day"]))}

    def on_payment(self, payment: dict[str, Any]) -> None:
        """A payment was voided: the invoice it settled is cancelled, so the fund's part is reversed too. An
        exported claim of the visit goes back to draft (bill not settled) until the cashier settles again and
        it is exported again; the file already written stays on disk for the record."""
        if payment.get("status") != "voided" or payment.get("kind") != "payment":
            return
        visit_id = payment.get("visit_id")
        with self.db.read() as connection:
            state = connection.execute(select(CLAIM.c.state).where(CLAIM.c.visit_id == visit_id)).scalar()
        if state != EXPORTED:
            return
        try:
            rebuilt = self.export_visit(int(visit_id), actor=str(payment.get("actor") or "billing"))  # type: ignore[arg-type]
        except (Invalid, NotFound):
            log.warning("visit %s: its claim could not be rebuilt after a void", visit_id)
            return
        self.export_batch(date.fromisoformat(rebuilt["day"]))  # the day's batch no longer carries it

    def reject(self, visit_id: int, *, reason: str, actor: str) -> dict[str, Any]:
        """The insurer refused the claim (giám định từ chối): recorded with its reason, to correct and re-export."""
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("reason_required", "Cần lý do từ chối / a rejection needs the insurer's reason")
        now = self.clock.now()
        with self.db.write() as connection:
            row = connection.execute(select(CLAIM).where(CLAIM.c.visit_id == visit_id)).first()
            if row is None or row.state != EXPORTED:
                raise NotFound("no_exported_claim", f"visit {visit_id} has no exported claim")
            connection.execute(update(CLAIM).where(CLAIM.c.id == row.id).values(
                state=REJECTED, reason=reason.strip()[:300], updated_at=now, updated_by=actor[:64]))
            connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action="insurance.claim_rejected",
                                                         subject=f"visit:{visit_id}", detail={"reason": reason[:300]}))
        return self.claim(visit_id)

    # ================================================================== reading
    def claim(self, visit_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            row = connection.execute(select(CLAIM).where(CLAIM.c.visit_id == visit_id)).first()
        if row is None:
            raise NotFound("no_claim", f"visit {visit_id} has no claim yet")
        return _claim_view(row)

    def claims(self, *, day: date | None = None, state: str | None = None) -> list[dict[str, Any]]:
        query = select(CLAIM).order_by(CLAIM.c.day.desc(), CLAIM.c.visit_id)
        if day is not None:
            query = query.where(CLAIM.c.day == day)
        if state is not None:
            if state not in (DRAFT, EXPORTED, REJECTED):
                raise Invalid("bad_state", "state: draft, exported or rejected")
            query = query.where(CLAIM.c.state == state)
        with self.db.read() as connection:
            return [_claim_view(row) for row in connection.execute(query.limit(2000)).all()]

    def path_of(self, file_name: str) -> Path:
        path = (self.out_dir / file_name).resolve()
        if self.out_dir.resolve() not in path.parents or not path.is_file():
            raise NotFound("no_claim_file", "no such claim file")
        return path

    # ================================================================== building
    def _gather(self, visit_id: int) -> _Visit:
        with self.db.read() as connection:
            visit = connection.execute(select(Visit.id, Visit.day, Visit.started_at, Visit.ended_at, Visit.patient_id)
                                       .where(Visit.id == visit_id)).first()
            if visit is None:
                raise NotFound("unknown_visit", f"Không có lượt khám {visit_id} / no visit {visit_id}")
            coverage = connection.execute(select(VC).where(VC.c.visit_id == visit_id)).first()
            if coverage is None or coverage.status != ELIGIBLE:
                raise Invalid("not_insured", f"lượt khám {visit_id} không có BHYT / visit {visit_id} is not insured")
            patient = None
            if visit.patient_id is not None:
                patient = connection.execute(select(Patient).where(Patient.id == visit.patient_id)).first()
            diagnosis = connection.execute(select(ExamRecord.diagnosis_code).where(
                ExamRecord.visit_id == visit_id, ExamRecord.diagnosis_code.is_not(None))
                .order_by(ExamRecord.id)).scalar()
            exams = connection.execute(select(ExamRecord.prescription_lines).where(ExamRecord.visit_id == visit_id)
                                       .order_by(ExamRecord.id)).all()
            exam = connection.execute(select(ExamRecord.author, ExamRecord.created_at, ExamRecord.updated_at,
                                             Doctor.code.label("doctor_code"))
                                      .select_from(ExamRecord).outerjoin(Doctor, Doctor.id == ExamRecord.doctor_id)
                                      .where(ExamRecord.visit_id == visit_id).order_by(ExamRecord.id)).first()
            orders = {row.id: row for row in connection.execute(
                select(ClinicalOrder.id, ClinicalOrder.ordered_by, ClinicalOrder.ordering_service,
                       ClinicalOrder.created_at, ClinicalOrder.resulted_at)
                .where(ClinicalOrder.visit_id == visit_id)).all()}
            exam_tickets: dict[str, datetime] = {}
            for code, issued in connection.execute(
                    select(Service.code, Ticket.issued_at).join(Service, Service.id == Ticket.service_id)
                    .where(Ticket.visit_id == visit_id, Service.kind == "exam").order_by(Ticket.id)).all():
                exam_tickets.setdefault(code, issued)
        prescriptions = [line for exam in exams for line in lines_of(exam)]
        return _Visit(visit.id, visit.day, visit.started_at, patient, coverage, diagnosis, self.bill_of(visit_id),
                      prescriptions, visit.ended_at, exam, orders, exam_tickets)

    # ================================================================== who, where, when
    def _doctor_of(self, actor: str | None) -> _Doctor | None:
        """The doctor behind a staff login ("user:bs.an"), by the username in doctors.toml."""
        if not actor or not actor.startswith(USER_PREFIX):
            return None
        username = actor[len(USER_PREFIX):]
        return next((d for d in self.doctors.values() if d.username and d.username == username), None)

    def examining_doctor(self, visit: _Visit) -> _Doctor | None:
        """The exam record's doctor, else the doctor whose login wrote it."""
        if visit.exam is None:
            return None
        if visit.exam.doctor_code:
            return self.doctors.get(visit.exam.doctor_code) or _Doctor(visit.exam.doctor_code, visit.exam.doctor_code,
                                                                         None, None)
        return self._doctor_of(visit.exam.author)

    def signed(self, visit: _Visit, line: dict[str, Any]) -> _Signed:
        """MA_BAC_SI, MA_KHOA, NGAY_YL and NGAY_KQ of one bill line (exam, lab, imaging)."""
        examiner = self.examining_doctor(visit)
        exam_done = visit.exam.updated_at if visit.exam is not None else None
        key = str(line.get("key", ""))
        if key.startswith("order:") and visit.orders and int(key[6:]) in visit.orders:
            order = visit.orders[int(key[6:])]
            # 130/QĐ-BYT Bảng 3: MA_BAC_SI is the doctor who ordered the service (the performer is NGUOI_THUC_HIEN,
            # not sent); MA_KHOA the department that ordered it (UNSURE: or the one that performed it).
            return _Signed(self._doctor_of(order.ordered_by) or examiner,
                           self.rules.department(order.ordering_service), order.created_at, order.resulted_at)
        service = str(line.get("code", ""))
        ordered = (visit.exam_tickets or {}).get(service, visit.started_at)
        return _Signed(examiner, self.rules.department(service), ordered, exam_done)

    def discharged_at(self, visit: _Visit) -> datetime:
        """NGAY_RA of an outpatient visit: when it ended, else its last recorded step (exam, a result)."""
        if visit.ended_at is not None:
            return visit.ended_at
        times = [visit.started_at]
        if visit.exam is not None:
            times.append(visit.exam.updated_at)
        times += [order.resulted_at for order in (visit.orders or {}).values() if order.resulted_at is not None]
        return max(times)

    def _problems(self, visit: _Visit) -> list[tuple[str, str]]:
        """Why the visit cannot be claimed: (code, the Vietnamese / English reason), none when it can."""
        problems = [(code, REASONS[code]) for code in self._record_problems(visit)]
        if visit.exam is not None and visit.patient is not None:  # no exam: "no diagnosis" already says it
            problems += self._signature_problems(visit)
        return problems

    def _signature_problems(self, visit: _Visit) -> list[tuple[str, str]]:
        """A doctor without a licence number or a service without a department code: the insurer's portal
        refuses the file, so it is reported here rather than sent with an empty MA_BAC_SI / MA_KHOA."""
        lines = [self.signed(visit, line) for line in visit.bill["items"]]
        problems: list[tuple[str, str]] = []
        if any(signed.doctor is None for signed in lines):
            problems.append(("no_doctor", REASONS["no_doctor"]))
        unlicensed = sorted({signed.doctor.name for signed in lines if signed.doctor and not signed.doctor.license_no})
        if unlicensed:
            problems.append(("no_doctor_licence", f"{REASONS['no_doctor_licence']}: {', '.join(unlicensed)}"))
        services = sorted({str(line["code"]) if line["kind"] == "exam" else
                           str(getattr((visit.orders or {}).get(int(str(line["key"])[6:])), "ordering_service", "?"))
                           for line, signed in zip(visit.bill["items"], lines, strict=True)
                           if signed.department is None})
        if services:
            problems.append(("no_department_code", f"{REASONS['no_department_code']}: {', '.join(services)}"))
        return problems

    def _record_problems(self, visit: _Visit) -> list[str]:
        problems = []
        if visit.patient is None:
            problems.append("no_patient")
        if not visit.coverage.card_code:
            problems.append("no_card_code")
        check = visit.coverage.check or {}
        if not check.get("valid_from") or not check.get("valid_to"):
            problems.append("no_card_dates")
        if not visit.bill["settled"]:
            problems.append("not_settled")
        if not visit.diagnosis:
            problems.append("no_diagnosis")
        if visit.bill["insurance_pays"] <= 0:
            problems.append("nothing_claimed")
        return problems

    def _lines(self, visit: _Visit) -> list[dict[str, Any]]:
        lines = []
        for item in visit.bill["items"]:
            price = self.rules.item(item["code"])
            covered = price is not None and price.covered
            base = min(price.insurance_price, item["amount"]) if covered and price else 0
            lines.append({**item, "base": base, "unit_base": base // max(item["quantity"], 1)})
        return lines

    def drug_splits(self, visit: _Visit, drugs: list[DrugClaimLine], services_base: int) -> list[Split]:
        """The drug lines split by the co-payment engine, at the share the visit's services were split with."""
        coverage = visit.coverage
        terms = Terms(coverage.benefit_level, route_of(coverage.route_reason), visit.day)
        keys = [f"drug-{n}" for n in range(1, len(drugs) + 1)]
        items = {key: ItemPrice(covered=True, insurance_price=drug.insured_base) for key, drug in zip(keys, drugs,
                                                                                                      strict=True)}
        return split_lines([Line(key, key, drug.amount) for key, drug in zip(keys, drugs, strict=True)], terms,
                           self.rules, items=items, share_cost=services_base)

    def _envelope(self, visit: _Visit, now: datetime, drugs: list[DrugClaimLine]) -> tuple[bytes, int]:
        code = f"LK{visit.id:06d}"
        lines = self._lines(visit)
        local_now = now.astimezone(self.tz)
        examiner = self.examining_doctor(visit)
        exam_service = next((line["code"] for line in lines if line["kind"] == "exam"), None)
        # The drugs were ordered when the prescription was last saved with the exam record.
        prescribed = visit.exam.updated_at if visit.exam is not None else visit.started_at
        services_base = sum(line["base"] for line in lines)
        drug_splits = self.drug_splits(visit, drugs, services_base)
        drug_total = sum(split.amount for split in drug_splits)
        total = sum(line["amount"] for line in lines) + drug_total
        base = services_base + sum(split.insured_base for split in drug_splits)
        insurer = sum(line["insurance_pays"] for line in lines) + sum(split.insurance_pays for split in drug_splits)
        copay = base - insurer
        own = total - base
        patient, coverage, check = visit.patient, visit.coverage, visit.coverage.check or {}

        xml1 = etree.Element("TONG_HOP")
        born = patient.date_of_birth or date(1900, 1, 1)
        for tag, value in (
            ("MA_LK", code), ("STT", 1), ("MA_BN", patient.code), ("HO_TEN", patient.full_name),
            *((("SO_CCCD", patient.national_id),) if patient.national_id and len(patient.national_id) == 12 else ()),
            ("NGAY_SINH", born.strftime("%Y%m%d") + "0000"), ("GIOI_TINH", SEX_CODE.get(patient.sex or "", "3")),
            ("MA_THE_BHYT", coverage.card_code), ("MA_DKBD", check.get("facility_code") or ""),
            ("GT_THE_TU", check["valid_from"].replace("-", "")), ("GT_THE_DEN", check["valid_to"].replace("-", "")),
            ("MA_BENH_CHINH", visit.diagnosis), ("MA_DOITUONG_KCB", ROUTE_CODE.get(coverage.route_reason or "", "3")),
            ("NGAY_VAO", self._minute(visit.started_at)), ("NGAY_RA", self._minute(self.discharged_at(visit))),
            ("T_THUOC", drug_total), ("T_TONGCHI_BV", total), ("T_TONGCHI_BH", base),
            ("T_BNTT", own), ("T_BNCCT", copay), ("T_BHTT", insurer),
            ("NAM_QT", local_now.year), ("THANG_QT", local_now.month),
            # Bảng 1 of 130/QĐ-BYT puts MA_LOAI_KCB, MA_KHOA (the department of the visit: its exam service's)
            # and MA_CSKCB after the settlement month. XML1 has no MA_BAC_SI (the doctors are on the lines).
            ("MA_LOAI_KCB", "01"), ("MA_KHOA", self.rules.department(exam_service)),
            ("MA_CSKCB", self.rules.facility_code)):
            _add(xml1, tag, value)

        xml2 = etree.Element("CHI_TIET_THUOC")
        drug_list = etree.SubElement(xml2, "DSACH_CHI_TIET_THUOC")
        for number, (drug, split) in enumerate(zip(drugs, drug_splits, strict=True), start=1):
            row = etree.SubElement(drug_list, "CHI_TIET_THUOC")
            for tag, value in (
                ("MA_LK", code), ("STT", number), ("MA_THUOC", drug.drug.bhyt_code),
                ("MA_NHOM", DRUG_GROUP if drug.drug.bhyt_rate == 100 else DRUG_GROUP_AT_A_RATE),
                ("TEN_THUOC", drug.name), ("DON_VI_TINH", drug.unit), ("HAM_LUONG", drug.strength),
                ("DUONG_DUNG", self.rules.route_code(drug.route)), ("DANG_BAO_CHE", drug.form),
                ("LIEU_DUNG", self._dose(drug)), ("CACH_DUNG", drug.instructions),
                ("SO_DANG_KY", drug.drug.registration_no), ("TT_THAU", drug.drug.tender),
                ("PHAM_VI", PHAM_VI_IN_BENEFIT),
                ("TYLE_TT_BH", drug.drug.bhyt_rate), ("SO_LUONG", drug.quantity),
                ("DON_GIA", drug.drug.insurance_price), ("THANH_TIEN_BV", split.amount),
                ("THANH_TIEN_BH", split.insured_base), ("MUC_HUONG", split.share_percent),
                ("T_BNTT", split.amount - split.insured_base), ("T_BNCCT", split.insured_base - split.insurance_pays),
                ("T_BHTT", split.insurance_pays),
                ("MA_KHOA", self.rules.department(exam_service)),
                ("MA_BAC_SI", examiner.license_no if examiner else None),
                ("NGAY_YL", self._minute(prescribed))):
                _add(row, tag, value)

        xml3 = etree.Element("CHI_TIET_DVKT")
        listing = etree.SubElement(xml3, "DSACH_CHI_TIET_DVKT")
        for number, line in enumerate(lines, start=1):
            row = etree.SubElement(listing, "CHI_TIET_DVKT")
            line_share = round(100 * line["insurance_pays"] / line["base"]) if line["base"] else 0
            signed = self.signed(visit, line)
            for tag, value in (
                ("MA_LK", code), ("STT", number), ("MA_DICH_VU", line["code"]),
                ("MA_NHOM", COST_GROUP.get(line["kind"], 1)), ("TEN_DICH_VU", line["name"]),
                ("SO_LUONG", line["quantity"]),
                ("DON_GIA_BV", line["unit_price"]), ("DON_GIA_BH", line["unit_base"]),
                ("TYLE_TT_BH", 100 if line["base"] else 0), ("THANH_TIEN_BV", line["amount"]),
                ("THANH_TIEN_BH", line["base"]), ("MUC_HUONG", line_share),
                # 130/QĐ-BYT's order: the patient's own part, the co-payment, then what the fund pays.
                ("T_BNTT", line["amount"] - line["base"]), ("T_BNCCT", line["base"] - line["insurance_pays"]),
                ("T_BHTT", line["insurance_pays"]),
                ("MA_KHOA", signed.department), ("MA_BAC_SI", signed.doctor.license_no if signed.doctor else None),
                ("MA_BENH", visit.diagnosis), ("NGAY_YL", self._minute(signed.ordered_at)),
                # A test without its result yet has no NGAY_KQ (left out, not sent empty).
                *((("NGAY_KQ", self._minute(signed.result_at)),) if signed.result_at is not None else ())):
                _add(row, tag, value)

        record = etree.Element("HOSO")
        for name, root in (("XML1", xml1), ("XML2", xml2), ("XML3", xml3)):
            part = etree.SubElement(record, "FILEHOSO")
            _add(part, "LOAIHOSO", name)
            _add(part, "NOIDUNGFILE", base64.b64encode(validated(name.lower(), root)).decode("ascii"))
        return self._wrap([record], local_now.date()), insurer

    def _minute(self, moment: datetime) -> str:
        """yyyymmddHHMM in site time, the layout's date-time."""
        return moment.astimezone(self.tz).strftime("%Y%m%d%H%M")

    @staticmethod
    def _dose(drug: DrugClaimLine) -> str:
        """LIEU_DUNG: the dose as prescribed, "x N ngày" added when the doctor wrote the days: Bảng 2 has no
        days field of its own (UNSURE: the exact wording 130/QĐ-BYT asks for; "1 viên/lần x 2 lần/ngày x 5 ngày"
        is what hospital systems send)."""
        return f"{drug.dose} x {drug.days} ngày" if drug.dose and drug.days else drug.dose

    def _wrap(self, records: list[etree._Element], made_on: date) -> bytes:
        """The GIAMDINHHS envelope around one visit's HOSO (a visit's file) or a day's (the batch file)."""
        envelope = etree.Element("GIAMDINHHS")
        unit = etree.SubElement(envelope, "THONGTINDONVI")
        _add(unit, "MACSKCB", self.rules.facility_code)
        info = etree.SubElement(envelope, "THONGTINHOSO")
        _add(info, "NGAYLAP", _day(made_on))
        _add(info, "SOLUONGHOSO", len(records))
        listing = etree.SubElement(info, "DANHSACHHOSO")
        for record in records:
            listing.append(record)
        _add(envelope, "CHUKYDONVI", "")  # the hospital's digital signature goes here when it signs the file
        return validated("giamdinhhs", envelope)

    # ================================================================== the day's batch file
    def batch_name(self, day: date) -> str:
        return f"{day.isoformat()}/{self.rules.facility_code}_{_day(day)}.xml"

    def export_batch(self, day: date) -> str | None:
        """One file with every exported claim of `day` (the visits' HOSO as written in their own files), for
        a portal that takes a batch; None, and no stale file left, when the day has no exported claim."""
        with self.db.read() as connection:
            names = connection.execute(select(CLAIM.c.file_name).where(
                CLAIM.c.day == day, CLAIM.c.state == EXPORTED, CLAIM.c.file_name.is_not(None))
                .order_by(CLAIM.c.visit_id)).scalars().all()
        target = self.out_dir / self.batch_name(day)
        records = []
        for name in names:
            path = self.out_dir / name
            if path.is_file():
                records.extend(etree.fromstring(path.read_bytes()).iter("HOSO"))
        if not records:
            target.unlink(missing_ok=True)
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self._wrap(records, self.clock.now().astimezone(self.tz).date()))
        return self.batch_name(day)

    def batch_path(self, day: date) -> Path:
        return self.path_of(self.batch_name(day))

    def _save(self, visit: _Visit, state: str, reason: str | None, file_name: str | None, insurer: int, actor: str,
              now: datetime, codes: list[str], *, count: bool = False,
              left_out: list[dict[str, str]] | None = None) -> dict[str, Any]:
        with self.db.write() as connection:
            row = connection.execute(select(CLAIM).where(CLAIM.c.visit_id == visit.id)).first()
            values = {"state": state, "reason": reason[:300] if reason else None, "file_name": file_name,
                      "insurance_pays": insurer, "updated_at": now, "updated_by": actor[:64],
                      "lines_left_out": left_out or []}
            if row is None:
                connection.execute(insert(CLAIM).values(visit_id=visit.id, day=visit.day, exports=int(count),
                                                        **values))
            else:
                connection.execute(update(CLAIM).where(CLAIM.c.id == row.id).values(
                    exports=row.exports + int(count), **values))
            connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action=f"insurance.claim_{state}",
                                                         subject=f"visit:{visit.id}",
                                                         detail={"file": file_name, "reasons": codes,
                                                                 "lines_left_out": [line["reason"] for line in
                                                                                    left_out or []]}))
        return {**self.claim(visit.id), "reasons": codes}


def _claim_view(row: Any) -> dict[str, Any]:
    return {"visit_id": row.visit_id, "visit_code": f"LK{row.visit_id:06d}", "day": row.day.isoformat(),
            "state": row.state, "reason": row.reason, "file_name": row.file_name,
            "insurance_pays": row.insurance_pays, "lines_left_out": row.lines_left_out or [],
            "exports": row.exports, "updated_at": row.updated_at.isoformat(),
            "updated_by": row.updated_by}


def parse_claim(data: bytes) -> dict[str, Any]:
    """A claim file read back: the envelope checked, then each table decoded and checked (tests, support)."""
    envelope = etree.fromstring(data)
    if not schema("giamdinhhs").validate(envelope):
        raise ClaimInvalid(str(schema("giamdinhhs").error_log))
    tables: dict[str, Any] = {"facility": envelope.findtext("THONGTINDONVI/MACSKCB")}
    for part in envelope.iter("FILEHOSO"):
        name = part.findtext("LOAIHOSO")
        root = etree.fromstring(base64.b64decode(part.findtext("NOIDUNGFILE") or ""))
        if not schema(name.lower()).validate(root):
            raise ClaimInvalid(f"{name}: {schema(name.lower()).error_log}")
        if name == "XML1":
            tables[name] = {child.tag: child.text for child in root}
        else:
            tables[name] = [{child.tag: child.text for child in row} for row in root[0]]
    return tables
