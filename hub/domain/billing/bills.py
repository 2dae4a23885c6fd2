"""A visit's bill as the tables hold it: items, money in and out, invoices; and finding a visit to bill.

Reading only: `billing.BillingService` writes. The balance is a plain ledger over approved rows:
    due = total - deposits - paid + refunded
so a positive `due` is what the patient still owes and a negative one what the hospital owes back.
An invoice is live while its settlement row (the "payment" row that carries its id) is not voided.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from hub import protocol as p
from hub.domain.billing.models import Invoice, Payment
from hub.domain.clinical.models import ClinicalOrder
from hub.domain.common.errors import NotFound
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Service, Ticket, Visit

DEPOSIT, PAYMENT, REFUND = "deposit", "payment", "refund"
PENDING, APPROVED, DECLINED, TIMEOUT, VOIDED = "pending", "approved", "declined", "timeout", "voided"
VISIT_CODE_PREFIX = "LK"  # lượt khám
# Tickets that never reached the doctor are not billed.
UNBILLED_TICKET_STATES = (p.CANCELLED, p.NO_SHOW)
LOOKUP_LIMIT = 10

_TICKET_NUMBER = re.compile(r"^[A-Za-z]{1,2}\d{3,4}$")
_VISIT_CODE = re.compile(rf"^(?:{VISIT_CODE_PREFIX})?0*(\d{{1,12}})$", re.IGNORECASE)
_DOCUMENT_NUMBER = re.compile(r"^[A-Z]{1,6}-\d{4}-\d{6,}$")


def visit_code(visit_id: int) -> str:
    """The code printed on receipts and put in transfer messages: LK000123."""
    return f"{VISIT_CODE_PREFIX}{visit_id:06d}"


def payment_reference(visit_id: int, payment_id: int) -> str:
    """One attempt's reference at a provider or in a bank transfer: the visit code and the row id."""
    return f"{visit_code(visit_id)}P{payment_id}"


@dataclass(frozen=True)
class BillItem:
    """One line of the bill; `key` stays the same across reads, so invoices can say what they covered."""

    key: str
    kind: str  # exam, lab, imaging
    code: str
    name: str
    name_en: str
    unit_price: int
    quantity: int = 1
    # The insurer's part (BHYT co-payment split, hub/domain/insurance/copay.py); the patient pays the rest.
    insurance_pays: int = 0

    @property
    def amount(self) -> int:
        return self.unit_price * self.quantity

    @property
    def patient_pays(self) -> int:
        return self.amount - self.insurance_pays

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "code": self.code, "name": self.name, "name_en": self.name_en,
                "quantity": self.quantity, "unit_price": self.unit_price, "amount": self.amount,
                "insurance_pays": self.insurance_pays, "patient_pays": self.patient_pays}


# Splits a visit's lines between insurer and patient: (connection, visit_id, items) -> (items, coverage view).
Splitter = Callable[[Connection, int, list[BillItem]], tuple[list[BillItem], dict[str, Any]]]


@dataclass
class Ledger:
    """Everything billed and paid on one visit, read in one transaction."""

    visit: dict[str, Any]
    items: list[BillItem]
    payments: list[Any]
    invoices: list[Any]
    live_invoices: set[int] = field(default_factory=set)
    invoiced: dict[str, str] = field(default_factory=dict)  # item key -> number of the live invoice
    insurance: dict[str, Any] | None = None  # the visit's coverage, when insurance is configured

    def _approved(self, kind: str) -> int:
        return sum(row.amount for row in self.payments if row.kind == kind and row.status == APPROVED)

    @property
    def total(self) -> int:
        return sum(item.amount for item in self.items)

    @property
    def insurance_pays(self) -> int:
        return sum(item.insurance_pays for item in self.items)

    @property
    def patient_pays(self) -> int:
        return sum(item.patient_pays for item in self.items)

    @property
    def deposits(self) -> int:
        return self._approved(DEPOSIT)

    @property
    def paid(self) -> int:
        return self._approved(PAYMENT)

    @property
    def refunded(self) -> int:
        return self._approved(REFUND)

    @property
    def due(self) -> int:
        """What the patient still owes: their part only; the insurer's part is claimed (hub/domain/insurance)."""
        return self.patient_pays - self.deposits - self.paid + self.refunded

    @property
    def uninvoiced(self) -> list[BillItem]:
        return [item for item in self.items if item.key not in self.invoiced]

    @property
    def pending(self) -> Any | None:
        return next((row for row in self.payments if row.status == PENDING), None)


def read_ledger(connection: Connection, visit_id: int, names: Mapping[str, tuple[str, str]],
                splitter: Splitter | None = None) -> Ledger:
    """The visit's bill; `names` gives the Vietnamese and English names of catalogue order codes.

    Lines on a live invoice keep the split the invoice recorded; the others are split now by `splitter`."""
    visit = _visit(connection, visit_id)
    items = _exam_items(connection, visit_id) + _order_items(connection, visit_id, names)
    payments = connection.execute(select(Payment.__table__).where(Payment.visit_id == visit_id)
                                  .order_by(Payment.id)).all()
    invoices = connection.execute(select(Invoice.__table__).where(Invoice.visit_id == visit_id)
                                  .order_by(Invoice.id)).all()
    live = {row.invoice_id for row in payments
            if row.kind == PAYMENT and row.invoice_id is not None and row.status == APPROVED}
    invoiced = {line["key"]: row.number for row in invoices if row.id in live for line in row.items}
    coverage = None
    if splitter is not None:
        frozen = {line["key"]: int(line.get("insurance_pays", 0)) for row in invoices if row.id in live
                  for line in row.items}
        split, coverage = splitter(connection, visit_id, [item for item in items if item.key not in frozen])
        by_key = {item.key: item for item in split}
        items = [replace(item, insurance_pays=frozen[item.key]) if item.key in frozen else by_key[item.key]
                 for item in items]
    return Ledger(visit, items, payments, invoices, live, invoiced, coverage)


def _visit(connection: Connection, visit_id: int) -> dict[str, Any]:
    row = connection.execute(select(Visit.id, Visit.day, Visit.started_at, Patient.code, Patient.full_name,
                                    Patient.date_of_birth, Patient.sex)
                             .select_from(Visit).outerjoin(Patient, Patient.id == Visit.patient_id)
                             .where(Visit.id == visit_id)).first()
    if row is None:
        raise NotFound("unknown_visit", f"Không có lượt khám {visit_id} / no visit {visit_id}")
    tickets = connection.execute(select(Ticket.id, Ticket.number, Ticket.status, Service.code)
                                 .join(Service, Service.id == Ticket.service_id)
                                 .where(Ticket.visit_id == visit_id).order_by(Ticket.id)).all()
    patient = None
    if row.code is not None:
        patient = {"code": row.code, "full_name": row.full_name, "sex": row.sex,
                   "birth_year": row.date_of_birth.year if row.date_of_birth else None}
    return {"id": row.id, "code": visit_code(row.id), "day": row.day.isoformat(),
            "started_at": row.started_at.isoformat(), "patient": patient,
            "tickets": [{"id": t.id, "number": t.number, "status": t.status, "service": t.code} for t in tickets]}


def _exam_items(connection: Connection, visit_id: int) -> list[BillItem]:
    """One exam fee per exam service the patient was seen in (a return from the lab is not a new exam)."""
    rows = connection.execute(
        select(Service.code, Service.name, Service.name_en, Service.fee)
        .join(Ticket, Ticket.service_id == Service.id)
        .where(Ticket.visit_id == visit_id, Service.kind == "exam", Ticket.status.not_in(UNBILLED_TICKET_STATES))
        .group_by(Service.code, Service.name, Service.name_en, Service.fee)
        .order_by(Service.code)).all()
    return [BillItem(f"exam:{row.code}", "exam", row.code, row.name, row.name_en, int(row.fee)) for row in rows]


def _order_items(connection: Connection, visit_id: int, names: Mapping[str, tuple[str, str]]) -> list[BillItem]:
    rows = connection.execute(select(ClinicalOrder.id, ClinicalOrder.item_code, ClinicalOrder.kind,
                                     ClinicalOrder.price)
                              .where(ClinicalOrder.visit_id == visit_id, ClinicalOrder.status != "cancelled")
                              .order_by(ClinicalOrder.id)).all()
    items = []
    for row in rows:
        name, name_en = names.get(row.item_code, (row.item_code, row.item_code))
        items.append(BillItem(f"order:{row.id}", row.kind, row.item_code, name, name_en, int(row.price)))
    return items


def payment_view(row: Any, invoice_numbers: Mapping[int, str] | None = None) -> dict[str, Any]:
    """A payment row as the API shows it."""
    return {
        "id": row.id, "visit_id": row.visit_id, "kind": row.kind, "method": row.method, "amount": row.amount,
        "status": row.status, "receipt_no": row.receipt_no, "invoice_id": row.invoice_id,
        "invoice_number": (invoice_numbers or {}).get(row.invoice_id) if row.invoice_id else None,
        "provider_ref": row.provider_ref, "reference": payment_reference(row.visit_id, row.id),
        "actor": row.actor, "at": row.at.isoformat(), "note": row.note,
        "voided_at": row.voided_at.isoformat() if row.voided_at else None, "voided_by": row.voided_by,
    }


def invoice_view(row: Any, live: bool) -> dict[str, Any]:
    insurer = sum(int(line.get("insurance_pays", 0)) for line in row.items)
    return {"id": row.id, "number": row.number, "visit_id": row.visit_id, "visit_code": visit_code(row.visit_id),
            "items": row.items, "total": row.total, "insurance_pays": insurer, "patient_pays": row.total - insurer,
            "deposits": row.deposits, "due": row.due,
            "issued_at": row.issued_at.isoformat(), "issued_by": row.issued_by,
            "status": "issued" if live else "cancelled"}


def bill_view(ledger: Ledger) -> dict[str, Any]:
    """The bill as the API and the cashier page show it."""
    numbers = {row.id: row.number for row in ledger.invoices}
    items = [{**item.as_dict(), "invoice": ledger.invoiced.get(item.key)} for item in ledger.items]
    pending = ledger.pending
    return {
        "visit": ledger.visit, "items": items, "total": ledger.total, "amount": ledger.total,
        "insurance_pays": ledger.insurance_pays, "patient_pays": ledger.patient_pays,
        "insurance": ledger.insurance, "deposits": ledger.deposits,
        "paid": ledger.paid, "refunded": ledger.refunded, "due": ledger.due,
        "to_invoice": sum(item.patient_pays for item in ledger.uninvoiced),
        "settled": ledger.due == 0 and not ledger.uninvoiced,
        "payments": [payment_view(row, numbers) for row in ledger.payments],
        "invoices": [invoice_view(row, row.id in ledger.live_invoices) for row in ledger.invoices],
        "pending": payment_view(pending, numbers) if pending is not None else None,
    }


def find_visits(connection: Connection, query: str, today: date) -> list[int]:
    """Visits matching what staff typed: a visit id or code, today's ticket number, a patient code, or an
    invoice or receipt number; newest first, every reading of the text tried."""
    text = query.strip()
    found: list[int] = []
    if not text or len(text) > 40:
        return found
    match = _VISIT_CODE.match(text)
    if match:
        found += connection.execute(select(Visit.id).where(Visit.id == int(match.group(1)))).scalars().all()
    if _TICKET_NUMBER.match(text):
        found += connection.execute(select(Ticket.visit_id).where(Ticket.number == text.upper(), Ticket.day == today)
                                    .order_by(Ticket.id.desc())).scalars().all()
    found += connection.execute(select(Visit.id).join(Patient, Patient.id == Visit.patient_id)
                                .where(Patient.code == text.upper()).order_by(Visit.id.desc())
                                .limit(LOOKUP_LIMIT)).scalars().all()
    if _DOCUMENT_NUMBER.match(text.upper()):
        found += connection.execute(select(Invoice.visit_id).where(Invoice.number == text.upper())).scalars().all()
        found += connection.execute(select(Payment.visit_id).where(Payment.receipt_no == text.upper())
                                    ).scalars().all()
    return list(dict.fromkeys(found))[:LOOKUP_LIMIT]
