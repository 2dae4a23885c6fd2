"""Insurance through the visit: coverage periods, the check at arrival, re-checks, overrides, the split.

A check never stops a visit: when the gateway gives no answer the visit is written "unchecked" and the
scheduler (`recheck_pending`) asks again; the bill stays fee-paying-looking ("insurance pending") until
then. Reception may override the gateway's answer with a reason; the audit log keeps who, when and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from hub.db import Database, upsert
from hub.domain.billing.service import PaymentRecorded
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Invalid, NotFound
from hub.domain.common.events import Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.insurance import cards
from hub.domain.insurance.copay import IN_ROUTE_REASONS, Line, Terms, route_of, split_lines
from hub.domain.insurance.gateway import (
    ELIGIBLE,
    REASONS,
    CardQuery,
    GatewayDown,
    InsuranceGateway,
    gateway_from,
)
from hub.domain.insurance.models import Coverage, VisitCoverage
from hub.domain.insurance.rules import CONFIG_FILE, InsuranceRules, load_rules
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Visit

log = logging.getLogger(__name__)

COV, VC = Coverage.__table__, VisitCoverage.__table__
UNCHECKED, REFUSED, FEE_PAYING = "unchecked", "refused", "fee_paying"
VISIT_STATES = (ELIGIBLE, REFUSED, UNCHECKED, FEE_PAYING)
# After this many failed re-checks a visit waits for a person (reception sees "not yet checked").
MAX_ATTEMPTS = 20
# A card checked at the kiosk's scan is not asked again when the ticket is taken a moment later.
ANSWER_TTL_S = 600


@dataclass(frozen=True)
class VisitCoverageChanged(Event):
    visit_id: int
    coverage: dict[str, Any]


class InsuranceService:
    def __init__(self, db: Database, rules: InsuranceRules, gateway: InsuranceGateway, clock: Clock, bus: EventBus,
                 tz: ZoneInfo) -> None:
        self.db, self.rules, self.gateway, self.clock, self.bus, self.tz = db, rules, gateway, clock, bus, tz
        self.timeout_s = float(rules.gateway.timeout_s)
        self._answers: dict[CardQuery, tuple[datetime, dict[str, Any]]] = {}
        self.claims: Any = None  # a ClaimService, set by build_hub (it needs billing's bill reader)

    # ================================================================== coverage periods
    def add_coverage(self, patient_id: int, values: dict[str, Any], *, actor: str, source: str = "staff") -> dict:
        """A new coverage period; older periods of the patient that overlap it are superseded, not deleted."""
        coverage = cards.coverage_from(values)
        now = self.clock.now()
        with self.db.write() as connection:
            self._patient(connection, patient_id)
            connection.execute(update(COV).where(
                COV.c.patient_id == patient_id, COV.c.superseded_at.is_(None),
                COV.c.valid_from <= coverage.valid_to, COV.c.valid_to >= coverage.valid_from).values(
                superseded_at=now))
            row_id = connection.execute(insert(COV).values(
                patient_id=patient_id, card_code=coverage.card_code, national_id=coverage.national_id,
                benefit_level=coverage.benefit_level, valid_from=coverage.valid_from, valid_to=coverage.valid_to,
                facility_code=coverage.facility_code, five_years_from=coverage.five_years_from, source=source,
                created_at=now, created_by=actor[:64]).returning(COV.c.id)).scalar_one()
            self._audit(connection, now, actor, "insurance.coverage_added", f"patient:{patient_id}",
                        {"coverage_id": row_id, "card_code": coverage.card_code, "source": source})
            return _coverage_view(connection.execute(select(COV).where(COV.c.id == row_id)).one())

    def coverages(self, patient_id: int) -> list[dict[str, Any]]:
        """Every period of the patient, newest first, superseded ones included (the history)."""
        with self.db.read() as connection:
            self._patient(connection, patient_id)
            rows = connection.execute(select(COV).where(COV.c.patient_id == patient_id)
                                      .order_by(COV.c.valid_from.desc(), COV.c.id.desc())).all()
            return [_coverage_view(row) for row in rows]

    # ================================================================== the check
    def check(self, *, card_code: str | None = None, national_id: str | None = None, full_name: str | None = None,
              date_of_birth: date | None = None) -> dict[str, Any]:
        """Ask the insurer about a card; a gateway that is down answers status "unchecked", never an error."""
        query = self._query(card_code, national_id, full_name, date_of_birth)
        return self._ask(query)

    def arrival_answer(self, *, card_code: str | None = None, national_id: str | None = None,
                       full_name: str | None = None, date_of_birth: date | None = None) -> dict[str, Any]:
        """The kiosk's answer at a CCCD scan or a typed card: the check, the payer words and the line to
        offer first. Asked with the short arrival timeout: a portal that is slow or down gives "not yet
        checked" in time for the kiosk, never an error that stops the patient."""
        query = self._query(card_code, national_id, full_name, date_of_birth)
        check = self._ask(query, self.rules.gateway.arrival_timeout_s)
        status = check["status"]
        return {"status": status, "reason": check.get("reason"), "message": check.get("message"),
                "benefit_level": check.get("benefit_level"), "service": self.line_for(status),
                **{k: v for k, v in payer_view(status).items() if k != "status"}}

    def _query(self, card_code: str | None, national_id: str | None, full_name: str | None,
               date_of_birth: date | None) -> CardQuery:
        if bool(card_code) == bool(national_id):
            raise Invalid("card_or_national_id", "Cần đúng một trong mã thẻ BHYT hoặc số CCCD / give card_code "
                                                 "or national_id, one of them")
        code = cards.parse_card_code(card_code).code if card_code else None
        nid = cards.check_national_id(national_id) if national_id else None
        return CardQuery(code, nid, full_name, date_of_birth, local_day(self.clock.now(), self.tz))

    def _ask(self, query: CardQuery, timeout_s: float | None = None) -> dict[str, Any]:
        now = self.clock.now()
        cached = self._answers.get(query)
        if cached is not None and (now - cached[0]).total_seconds() < ANSWER_TTL_S:
            return cached[1]
        view = self._ask_gateway(query, timeout_s or self.timeout_s)
        if view["status"] != UNCHECKED:
            if len(self._answers) > 1000:  # a day's kiosk traffic at most; old answers are worthless
                self._answers.clear()
            self._answers[query] = (now, view)
        return view

    def _ask_gateway(self, query: CardQuery, timeout_s: float) -> dict[str, Any]:
        try:
            answer = self.gateway.check(query, timeout_s)
        except GatewayDown as exc:
            log.warning("insurance gateway %s: %s", self.gateway.name, exc)
            return {"status": UNCHECKED, "reason": "gateway_down", "card_code": query.card_code,
                    "national_id": query.national_id,
                    "message": "Chưa kiểm tra được thẻ (cổng BHYT không trả lời), sẽ kiểm tra lại / not yet "
                               "checked: the insurance portal did not answer; it will be checked again"}
        view = answer.as_dict()
        view["route_reason"] = "registered_here" if answer.facility_code == self.rules.facility_code else None
        return view

    def check_visit(self, visit_id: int, *, card_code: str | None = None, national_id: str | None = None,
                    route_reason: str | None = None, actor: str = "system",
                    timeout_s: float | None = None) -> dict[str, Any]:
        """Check the card for a visit and record the outcome; the patient's name and birth date go with it."""
        if route_reason is not None and route_reason not in ("referral", "emergency"):
            raise Invalid("bad_route_reason", "route_reason: referral or emergency")
        with self.db.read() as connection:
            patient = self._visit_patient(connection, visit_id)
        query = self._query(card_code, national_id, patient.full_name if patient else None,
                            patient.date_of_birth if patient else None)
        result = self._ask(query, timeout_s)
        self._record(visit_id, result, query, route_reason, actor, patient.id if patient else None)
        return self.visit_coverage(visit_id)

    def line_for(self, status: str) -> str | None:
        """The service the kiosk sends this payer to, when config/insurance.toml [lines] separates them.
        A card not yet checked (portal down) goes to the insured line: the patient came with a card, most
        such cards are valid, and the re-check settles it; the bill stays fee-paying until then."""
        line = self.rules.lines.insured if status in (ELIGIBLE, UNCHECKED) else self.rules.lines.fee_paying
        return line or None

    def on_ticket(self, visit_id: int, patient_code: str | None, *, actor: str) -> dict[str, Any] | None:
        """A ticket was taken for a known patient: check the card on file (CCCD or card code) for the visit,
        unless the visit already has a decision. Returns the payer the ticket and the screen show; None for
        an anonymous ticket (nobody knows yet, reception asks)."""
        with self.db.read() as connection:
            existing = connection.execute(select(VC.c.status).where(VC.c.visit_id == visit_id)).scalar()
            patient = None
            if patient_code:
                patient = connection.execute(select(Patient.national_id, Patient.insurance_no)
                                             .where(Patient.code == patient_code)).first()
        if existing is None and patient is None:
            return None
        if existing is None and patient is not None:
            code = patient.insurance_no if patient.insurance_no and len(patient.insurance_no) == 15 else None
            nid = None if code else patient.national_id
            if code or nid:
                try:
                    # The ticket is being printed for a patient at the kiosk: the short timeout.
                    self.check_visit(visit_id, card_code=code, national_id=nid, actor=actor,
                                     timeout_s=self.rules.gateway.arrival_timeout_s)
                except Invalid:
                    log.warning("visit %s: the card on file is not valid; left fee-paying", visit_id)
        return payer_view(self.visit_coverage(visit_id)["status"])

    def fee_paying(self, visit_id: int, *, actor: str) -> dict[str, Any]:
        """The patient comes without a card (dịch vụ)."""
        self._record(visit_id, {"status": FEE_PAYING}, CardQuery(), None, actor, None)
        return self.visit_coverage(visit_id)

    def _record(self, visit_id: int, result: dict[str, Any], query: CardQuery, route_reason: str | None,
                actor: str, patient_id: int | None) -> None:
        now = self.clock.now()
        status = result["status"]
        route = result.get("route_reason") or route_reason
        values = {"status": status, "card_code": result.get("card_code") or query.card_code,
                  "national_id": result.get("national_id") or query.national_id,
                  "benefit_level": result.get("benefit_level"), "route_reason": route,
                  "reason": result.get("reason") if status != ELIGIBLE else None,
                  "check": result if status != FEE_PAYING else None,
                  "checked_at": now if status in (ELIGIBLE, REFUSED) else None, "updated_at": now,
                  "override_by": None, "override_reason": None}
        with self.db.write() as connection:
            self._visit(connection, visit_id)
            # One statement: the kiosk's check and the re-check job may write the same visit at once.
            connection.execute(upsert(connection, VC, {"visit_id": visit_id, "attempts": 1, **values},
                                      ["visit_id"], {**values, "attempts": VC.c.attempts + 1}))
            self._audit(connection, now, actor, f"insurance.{status}", f"visit:{visit_id}",
                        {"card_code": values["card_code"], "reason": values["reason"]})
            if status == ELIGIBLE and patient_id is not None and result.get("valid_from") and result.get("valid_to"):
                self._remember_card(connection, patient_id, result, now)
        self.bus.publish(VisitCoverageChanged(visit_id, self.visit_coverage(visit_id)))

    def _remember_card(self, connection: Connection, patient_id: int, result: dict[str, Any], now: datetime) -> None:
        """Keep the card the insurer confirmed as a coverage period, unless the patient already has it."""
        same = connection.execute(select(COV.c.id).where(
            COV.c.patient_id == patient_id, COV.c.superseded_at.is_(None),
            COV.c.card_code == result.get("card_code"),
            COV.c.valid_to == date.fromisoformat(result["valid_to"]))).first()
        if same is not None or not result.get("facility_code"):
            return
        try:
            coverage = cards.coverage_from(result)
        except Invalid:
            log.warning("the insurer's answer for patient %s is not a valid card; not kept", patient_id)
            return
        connection.execute(update(COV).where(
            COV.c.patient_id == patient_id, COV.c.superseded_at.is_(None),
            COV.c.valid_from <= coverage.valid_to, COV.c.valid_to >= coverage.valid_from).values(superseded_at=now))
        connection.execute(insert(COV).values(
            patient_id=patient_id, card_code=coverage.card_code, national_id=coverage.national_id,
            benefit_level=coverage.benefit_level, valid_from=coverage.valid_from, valid_to=coverage.valid_to,
            facility_code=coverage.facility_code, five_years_from=coverage.five_years_from, source="gateway",
            created_at=now, created_by="gateway"))

    def recheck_pending(self, now: datetime | None = None) -> int:
        """Ask again for the visits left "not yet checked" (the scheduler's job); returns how many resolved."""
        with self.db.read() as connection:
            rows = connection.execute(select(VC.c.visit_id, VC.c.card_code, VC.c.national_id, VC.c.route_reason)
                                      .where(VC.c.status == UNCHECKED, VC.c.attempts < MAX_ATTEMPTS)
                                      .order_by(VC.c.visit_id)).all()
        resolved = 0
        for row in rows:
            try:
                result = self.check_visit(row.visit_id, card_code=row.card_code if row.card_code else None,
                                          national_id=None if row.card_code else row.national_id,
                                          route_reason=row.route_reason if row.route_reason in ("referral",
                                                                                                "emergency")
                                          else None)
            except Invalid:
                continue
            resolved += result["status"] != UNCHECKED
        return resolved

    def install_jobs(self, scheduler: Any) -> None:
        scheduler.add_job("insurance.recheck", self.recheck_pending, every_seconds=self.rules.gateway.recheck_every_s)
        if self.claims is not None:
            scheduler.add_job("insurance.claims", self._export_today, at=self.rules.claims.export_at)
            # A voided payment reverses the fund's part as well: its visit's exported claim goes back to draft.
            self.bus.subscribe(PaymentRecorded, lambda event: self.claims.on_payment(event.payment))

    def _export_today(self, now: datetime) -> None:
        """End of day: the day's insured visits to claim files (re-exports what changed since)."""
        self.claims.export_day(local_day(now, self.tz), actor="scheduler")

    # ================================================================== override
    def override(self, visit_id: int, *, status: str, reason: str, actor: str, benefit_level: int | None = None,
                 route_reason: str | None = None) -> dict[str, Any]:
        """Reception decides (a paper card seen, a portal down all day): audited with the reason."""
        if status not in (ELIGIBLE, FEE_PAYING, REFUSED):
            raise Invalid("bad_status", "status: eligible, refused or fee_paying")
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("reason_required", "Cần lý do / an override needs a reason")
        if route_reason is not None and route_reason not in IN_ROUTE_REASONS:
            raise Invalid("bad_route_reason", f"route_reason: one of {', '.join(IN_ROUTE_REASONS)} or null")
        now = self.clock.now()
        with self.db.write() as connection:
            self._visit(connection, visit_id)
            existing = connection.execute(select(VC).where(VC.c.visit_id == visit_id)).first()
            level = benefit_level if benefit_level is not None else (existing.benefit_level if existing else None)
            if status == ELIGIBLE and level not in (1, 2, 3, 4, 5):
                raise Invalid("bad_benefit_level", "Cần mức hưởng 1-5 / an accepted card needs benefit_level 1-5")
            values = {"status": status, "benefit_level": level, "route_reason": route_reason,
                      "override_by": actor[:64], "override_reason": reason.strip()[:200], "updated_at": now,
                      "reason": None if status != REFUSED else "override"}
            connection.execute(upsert(connection, VC, {"visit_id": visit_id, "attempts": 0, **values},
                                      ["visit_id"], values))
            self._audit(connection, now, actor, "insurance.override", f"visit:{visit_id}", {
                "from": existing.status if existing else None, "to": status, "reason": reason.strip()[:200],
                "benefit_level": level, "route_reason": route_reason})
        view = self.visit_coverage(visit_id)
        self.bus.publish(VisitCoverageChanged(visit_id, view))
        return view

    # ================================================================== reading, and the split
    def visit_coverage(self, visit_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            self._visit(connection, visit_id)
            return self.coverage_in(connection, visit_id)

    def coverage_in(self, connection: Connection, visit_id: int) -> dict[str, Any]:
        row = connection.execute(select(VC).where(VC.c.visit_id == visit_id)).first()
        if row is None:
            return {"visit_id": visit_id, "status": FEE_PAYING, "recorded": False}
        return {"visit_id": visit_id, "status": row.status, "recorded": True, "card_code": row.card_code,
                "national_id": row.national_id, "benefit_level": row.benefit_level,
                "route": route_of(row.route_reason), "route_reason": row.route_reason, "reason": row.reason,
                "message": REASONS.get(row.reason or ""), "check": row.check,
                "checked_at": row.checked_at.isoformat() if row.checked_at else None, "attempts": row.attempts,
                "override_by": row.override_by, "override_reason": row.override_reason}

    def terms_in(self, connection: Connection, visit_id: int) -> Terms | None:
        """The visit's insurance terms when a card was accepted (checked eligible or overridden), else None."""
        row = connection.execute(select(VC.c.status, VC.c.benefit_level, VC.c.route_reason, Visit.day)
                                 .join(Visit, Visit.id == VC.c.visit_id).where(VC.c.visit_id == visit_id)).first()
        if row is None or row.status != ELIGIBLE or row.benefit_level is None:
            return None
        return Terms(row.benefit_level, route_of(row.route_reason), row.day)

    def split_bill_items(self, connection: Connection, visit_id: int, items: list[Any]) -> tuple[list[Any], dict]:
        """The same for billing's own line objects (dataclasses with key, code, amount, insurance_pays)."""
        splits, coverage = self.split(connection, visit_id, [Line(i.key, i.code, i.amount) for i in items])
        return [replace(item, insurance_pays=part.insurance_pays)
                for item, part in zip(items, splits, strict=True)], coverage

    def split(self, connection: Connection, visit_id: int, lines: list[Line]) -> tuple[list[Any], dict[str, Any]]:
        """Billing's hook: the split of the visit's lines and the coverage they were split by."""
        return split_lines(lines, self.terms_in(connection, visit_id), self.rules), self.coverage_in(connection,
                                                                                                     visit_id)

    # ================================================================== helpers
    def _patient(self, connection: Connection, patient_id: int) -> Any:
        row = connection.execute(select(Patient.id).where(Patient.id == patient_id)).first()
        if row is None:
            raise NotFound("unknown_patient", f"Không có bệnh nhân {patient_id} / no patient {patient_id}")
        return row

    def _visit(self, connection: Connection, visit_id: int) -> Any:
        row = connection.execute(select(Visit.id, Visit.patient_id).where(Visit.id == visit_id)).first()
        if row is None:
            raise NotFound("unknown_visit", f"Không có lượt khám {visit_id} / no visit {visit_id}")
        return row

    def _visit_patient(self, connection: Connection, visit_id: int) -> Any | None:
        visit = self._visit(connection, visit_id)
        if visit.patient_id is None:
            return None
        return connection.execute(select(Patient.id, Patient.full_name, Patient.date_of_birth)
                                  .where(Patient.id == visit.patient_id)).first()

    @staticmethod
    def _audit(connection: Connection, now: datetime, actor: str, action: str, subject: str,
               detail: dict[str, Any]) -> None:
        connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action=action, subject=subject[:64],
                                                     detail=detail))


def payer_view(status: str) -> dict[str, Any]:
    """What a ticket and a screen say about the payer."""
    if status == ELIGIBLE:
        return {"status": status, "payer": "bhyt", "label": "Khám BHYT", "label_en": "Health insurance visit"}
    if status == UNCHECKED:
        return {"status": status, "payer": "bhyt_pending", "label": "Khám BHYT (chưa kiểm tra)",
                "label_en": "Health insurance visit (not yet checked)"}
    return {"status": status, "payer": "dich_vu", "label": "Khám dịch vụ", "label_en": "Fee-paying visit"}


def _coverage_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "patient_id": row.patient_id, "card_code": row.card_code, "national_id": row.national_id,
            "benefit_level": row.benefit_level, "valid_from": row.valid_from.isoformat(),
            "valid_to": row.valid_to.isoformat(), "facility_code": row.facility_code,
            "five_years_from": row.five_years_from.isoformat() if row.five_years_from else None,
            "source": row.source, "created_at": row.created_at.isoformat(), "created_by": row.created_by,
            "current": row.superseded_at is None}




def insurance_from_config(config_dir: str | Path, db: Database, clock: Clock, bus: EventBus, tz: ZoneInfo,
                          environ: dict[str, str], services: set[str] | None = None) -> InsuranceService | None:
    """The service config/insurance.toml describes, or None when the site has no such file (no BHYT).
    `services` (the clinic's service codes) checks that the payer lines exist."""
    if not config_dir or not (Path(config_dir) / CONFIG_FILE).is_file():
        return None
    rules = load_rules(config_dir)
    for name in ("insured", "fee_paying"):
        line = getattr(rules.lines, name)
        if line and services is not None and line not in services:
            raise ValueError(f"lines.{name}: {line!r} is not a service of clinic.toml")
    unknown = sorted(set(rules.departments) - services) if services is not None else []
    if unknown:
        raise ValueError(f"departments: {', '.join(unknown)} not services of clinic.toml")
    return InsuranceService(db, rules, gateway_from(rules.gateway, config_dir, environ), clock, bus, tz)
