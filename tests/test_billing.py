"""Billing in the domain: bills from exams and orders, deposits, settlement, providers, voids, numbers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.billing import service as billing_module
from hub.domain.billing.models import Invoice, Payment
from hub.domain.billing.providers import SimulatedProvider
from hub.domain.billing.service import MAX_AMOUNT, BillingService, InvoiceIssued, PaymentRecorded
from hub.domain.billing.vietqr import parse_payload
from hub.domain.clinical.models import ClinicalOrder
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.models import AuditEntry
from hub.domain.patients.models import Patient
from tests.conftest import RecordingBus, make_queue

EXAM_FEE = 150_000  # kham-noi and kham-ngoai in config/clinic.toml


class Clinic:
    """A queue and billing over one database, with helpers to make visits worth billing."""

    def __init__(self, db: Database, clinic: ClinicConfig, clock: VirtualClock) -> None:
        self.db, self.clock = db, clock
        self.queue, self.bus = make_queue(db, clinic, clock)
        self.billing = BillingService(db, clinic, self.bus, clock, self.queue)
        self.billing.poll_s = 0.005
        self.billing.timeout_s = 0.3
        self.card = SimulatedProvider("pos")
        self.billing.providers = {"card": self.card, "ewallet": SimulatedProvider("ewallet")}

    def visit(self, service: str = "kham-noi", **kwargs: Any) -> int:
        return self.queue.issue(service, **kwargs)["visit_id"]

    def order(self, visit_id: int, code: str, price: int, status: str = "ordered") -> int:
        with self.db.write() as connection:
            return connection.execute(insert(ClinicalOrder).values(
                visit_id=visit_id, item_code=code, kind="lab", service="xet-nghiem", price=price, status=status,
                ordered_by="user:bs.minh", ordering_service="kham-noi", created_at=self.clock.now())
                .returning(ClinicalOrder.id)).scalar_one()

    def rows(self, visit_id: int) -> list[Any]:
        with self.db.read() as connection:
            return connection.execute(select(Payment.__table__).where(Payment.visit_id == visit_id)
                                      .order_by(Payment.id)).all()

    def count(self, table: Any) -> int:
        with self.db.read() as connection:
            return connection.execute(select(func.count()).select_from(table)).scalar_one()

    def audit(self, action: str) -> list[Any]:
        with self.db.read() as connection:
            return connection.execute(select(AuditEntry.__table__).where(AuditEntry.action == action)).all()


@pytest.fixture
def clinic_on(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> Clinic:
    return Clinic(sqlite_db, clinic, clock)


@pytest.fixture
def clinic_any(any_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> Clinic:
    return Clinic(any_db, clinic, clock)


# ---------------------------------------------------------------- the bill
def test_bill_has_one_fee_per_exam_service_and_the_orders_not_cancelled(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit("kham-noi")
    c.queue.issue("kham-noi", visit_id=visit)  # back from the lab: the same exam, not billed twice
    c.queue.issue("kham-ngoai", visit_id=visit)
    dropped = c.queue.issue("kham-tmh", visit_id=visit)
    c.queue.cancel(dropped["id"], actor="user:le.tan")
    c.order(visit, "xn-ctm", 90_000)
    c.order(visit, "xq-nguc", 120_000)
    c.order(visit, "xn-glucose", 35_000, status="cancelled")
    bill = c.billing.bill(visit)
    assert [(i["kind"], i["code"], i["amount"]) for i in bill["items"]] == [
        ("exam", "kham-ngoai", EXAM_FEE), ("exam", "kham-noi", EXAM_FEE), ("lab", "xn-ctm", 90_000),
        ("lab", "xq-nguc", 120_000)]
    assert bill["items"][2]["name"] == "Tổng phân tích tế bào máu ngoại vi"
    assert (bill["total"], bill["deposits"], bill["paid"], bill["due"]) == (510_000, 0, 0, 510_000)
    assert all(isinstance(bill[k], int) for k in ("total", "deposits", "paid", "refunded", "due"))
    assert bill["visit"]["code"] == f"LK{visit:06d}" and not bill["settled"]


def test_no_show_exam_is_not_billed(clinic_on: Clinic) -> None:
    c = clinic_on
    c.queue.open_counter("p101", actor="t")
    visit = c.visit("kham-noi")
    c.queue.call_next("p101", actor="t")
    for _ in range(3):
        c.queue.call_next("p101", actor="t")  # recalls, then no-show
    assert c.billing.bill(visit)["total"] == 0


def test_unknown_visit(clinic_on: Clinic) -> None:
    with pytest.raises(NotFound):
        clinic_on.billing.bill(999)
    with pytest.raises(NotFound):
        clinic_on.billing.deposit(999, 100_000, "cash", actor="x")


# ---------------------------------------------------------------- paying
def test_cash_payment_issues_invoice_and_receipt_and_events_after_commit(clinic_any: Clinic) -> None:
    c = clinic_any
    visit = c.visit()
    c.order(visit, "xn-ctm", 90_000)
    seen_committed: list[bool] = []

    def check_committed(event: InvoiceIssued) -> None:
        # Published after the commit: a fresh transaction already sees the invoice.
        seen_committed.append(c.count(Invoice.__table__) == 1)

    c.bus.subscribe(InvoiceIssued, check_committed)
    result = c.billing.pay(visit, "cash", actor="user:thu.ngan", amount=240_000)
    assert result["invoice"]["number"] == "HB-2026-000001"
    assert result["invoice"]["total"] == 240_000 and result["invoice"]["due"] == 240_000
    assert result["payment"]["receipt_no"] == "PT-2026-000001"
    assert result["payment"]["status"] == "approved" and result["refund"] is None
    bill = result["bill"]
    assert (bill["paid"], bill["due"], bill["settled"]) == (240_000, 0, True)
    assert all(item["invoice"] == "HB-2026-000001" for item in bill["items"])
    assert seen_committed == [True]
    assert [e.payment["status"] for e in c.bus.of(PaymentRecorded)] == ["approved"]
    with pytest.raises(Conflict) as raised:
        c.billing.pay(visit, "cash", actor="user:thu.ngan")
    assert raised.value.code == "nothing_due"


def test_deposits_are_deducted(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit()
    c.order(visit, "xn-ctm", 90_000)
    first = c.billing.deposit(visit, 100_000, "cash", actor="user:tiep.don")
    assert first["payment"]["receipt_no"] == "PT-2026-000001" and first["bill"]["due"] == 140_000
    result = c.billing.pay(visit, "cash", actor="user:thu.ngan")
    assert result["payment"]["amount"] == 140_000 and result["payment"]["receipt_no"] == "PT-2026-000002"
    assert (result["invoice"]["total"], result["invoice"]["deposits"], result["invoice"]["due"]) == (
        240_000, 100_000, 140_000)
    assert result["bill"]["due"] == 0


def test_unused_deposit_is_refunded(clinic_any: Clinic) -> None:
    c = clinic_any
    visit = c.visit()
    c.billing.deposit(visit, 500_000, "cash", actor="user:tiep.don")
    result = c.billing.pay(visit, "cash", actor="user:thu.ngan")
    refund = result["refund"]
    assert (refund["kind"], refund["amount"], refund["status"], refund["receipt_no"]) == (
        "refund", 350_000, "approved", "PC-2026-000001")
    assert result["invoice"]["due"] == -350_000 and result["invoice"]["deposits"] == 500_000
    assert result["payment"]["amount"] == 0 and result["payment"]["receipt_no"] is None
    bill = result["bill"]
    assert (bill["deposits"], bill["paid"], bill["refunded"], bill["due"]) == (500_000, 0, 350_000, 0)


def test_deposit_without_any_service_is_refunded_without_invoice(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit()
    ticket = c.billing.bill(visit)["visit"]["tickets"][0]
    c.billing.deposit(visit, 200_000, "cash", actor="user:tiep.don")
    c.queue.cancel(ticket["id"], actor="user:tiep.don")  # the patient went home
    result = c.billing.pay(visit, "cash", actor="user:thu.ngan")
    assert result["invoice"] is None and result["refund"]["amount"] == 200_000
    assert c.count(Invoice.__table__) == 0 and result["bill"]["due"] == 0


def test_items_added_after_an_invoice_get_a_second_invoice(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit()
    c.billing.pay(visit, "cash", actor="user:thu.ngan")
    c.order(visit, "xn-glucose", 35_000)
    bill = c.billing.bill(visit)
    assert (bill["due"], bill["to_invoice"]) == (35_000, 35_000)
    second = c.billing.pay(visit, "cash", actor="user:thu.ngan")
    assert second["invoice"]["number"] == "HB-2026-000002"
    assert [line["code"] for line in second["invoice"]["items"]] == ["xn-glucose"]


@pytest.mark.parametrize("amount", [0, -1, 1.5, 100_000.0, "100000", True, None, MAX_AMOUNT + 1])
def test_bad_deposit_amounts_are_refused(clinic_on: Clinic, amount: object) -> None:
    visit = clinic_on.visit()
    with pytest.raises(Invalid) as raised:
        clinic_on.billing.deposit(visit, amount, "cash", actor="x")  # type: ignore[arg-type]
    assert raised.value.status == 422
    assert clinic_on.rows(visit) == []


def test_payment_amount_must_match_what_is_due(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit()
    for amount in (-5, 1.0, MAX_AMOUNT + 1):
        with pytest.raises(Invalid):
            c.billing.pay(visit, "cash", actor="x", amount=amount)  # type: ignore[arg-type]
    with pytest.raises(Conflict) as raised:
        c.billing.pay(visit, "cash", actor="x", amount=100_000)
    assert raised.value.code == "amount_mismatch" and c.rows(visit) == []


def test_unknown_or_disabled_method(clinic_on: Clinic, clinic: ClinicConfig, clock: VirtualClock) -> None:
    visit = clinic_on.visit()
    with pytest.raises(Invalid):
        clinic_on.billing.pay(visit, "bitcoin", actor="x")
    cash_only = clinic.model_copy(update={"payments": clinic.payments.model_copy(update={"methods": ["cash"]})})
    billing = BillingService(clinic_on.db, cash_only, RecordingBus(), clock, clinic_on.queue)
    with pytest.raises(Invalid) as raised:
        billing.pay(visit, "card", actor="x")
    assert raised.value.code == "method_not_enabled"


# ---------------------------------------------------------------- providers
def test_card_payment_approved_by_the_provider(clinic_any: Clinic) -> None:
    c = clinic_any
    visit = c.visit()
    result = c.billing.pay(visit, "card", actor="user:thu.ngan")
    assert result["payment"]["status"] == "approved" and result["payment"]["provider_ref"].startswith("SIM-POS-")
    assert result["invoice"]["number"] == "HB-2026-000001" and result["bill"]["settled"]
    transaction = c.card.transactions[result["payment"]["provider_ref"]]
    assert transaction.amount == EXAM_FEE and transaction.reference == f"LK{visit:06d}P{result['payment']['id']}"


@pytest.mark.parametrize(("outcome", "status"), [("decline", "declined"), ("timeout", "timeout"),
                                                  ("unreachable", "declined")])
def test_failed_card_payment_leaves_no_half_paid_bill(clinic_any: Clinic, outcome: str, status: str) -> None:
    c = clinic_any
    visit = c.visit()
    c.card.outcome = outcome  # type: ignore[assignment]
    result = c.billing.pay(visit, "card", actor="user:thu.ngan")
    assert result["payment"]["status"] == status and result["invoice"] is None
    assert result["payment"]["receipt_no"] is None
    bill = result["bill"]
    assert (bill["paid"], bill["due"], bill["settled"], bill["pending"]) == (0, EXAM_FEE, False, None)
    assert c.count(Invoice.__table__) == 0
    assert [e.payment["status"] for e in c.bus.of(PaymentRecorded)] == [status]
    assert len(c.audit(f"payment.{status}")) == 1
    if outcome == "timeout":
        assert c.card.cancelled_refs() == [result["payment"]["provider_ref"]]
    # The cashier retries; no number was burnt by the failed attempt.
    c.card.outcome = "approve"
    retry = c.billing.pay(visit, "card", actor="user:thu.ngan")
    assert retry["invoice"]["number"] == "HB-2026-000001" and retry["bill"]["due"] == 0
    assert [row.status for row in c.rows(visit)] == [status, "approved"]


def test_magic_amounts_of_the_simulated_provider() -> None:
    provider = SimulatedProvider(polls_before_answer=0)
    assert provider.status(provider.start(150_000, "LK1P1")) == "approved"
    assert provider.status(provider.start(150_001, "LK1P2")) == "declined"
    assert provider.status(provider.start(150_002, "LK1P3")) == "pending"


def test_card_deposit_goes_through_the_provider(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit()
    result = c.billing.deposit(visit, 300_000, "ewallet", actor="user:tiep.don")
    assert result["payment"]["status"] == "approved" and result["payment"]["receipt_no"] == "PT-2026-000001"
    assert result["bill"]["deposits"] == 300_000


def test_stale_card_wait_is_expired_by_the_next_action(clinic_on: Clinic) -> None:
    """A request that died while waiting for the terminal leaves a pending row; it does not block forever."""
    c = clinic_on
    visit = c.visit()
    with c.db.write() as connection:
        connection.execute(insert(Payment).values(visit_id=visit, kind="payment", method="card", amount=EXAM_FEE,
                                                  status="pending", provider_ref="SIM-POS-LOST", actor="x",
                                                  at=c.clock.now()))
    with pytest.raises(Conflict) as raised:
        c.billing.pay(visit, "cash", actor="x")
    assert raised.value.code == "payment_in_progress"
    c.clock.advance(c.billing.timeout_s + billing_module.STALE_GRACE_S + 1)
    result = c.billing.pay(visit, "cash", actor="x")
    assert [row.status for row in c.rows(visit)] == ["timeout", "approved"]
    assert result["invoice"]["number"] == "HB-2026-000001"


# ---------------------------------------------------------------- bank transfer QR
def test_bank_qr_waits_for_the_cashier_to_see_the_money(clinic_any: Clinic, clinic: ClinicConfig) -> None:
    c = clinic_any
    visit = c.visit()
    c.billing.deposit(visit, 50_000, "cash", actor="user:tiep.don")
    result = c.billing.pay(visit, "bank_qr", actor="user:thu.ngan")
    payment = result["payment"]
    assert payment["status"] == "pending" and result["invoice"] is None
    transfer = parse_payload(payment["qr"]["payload"])
    assert (transfer.bank_bin, transfer.account, transfer.amount) == (
        clinic.payments.bank_bin, clinic.payments.bank_account, 100_000)
    assert transfer.bill_number == f"LK{visit:06d}" and transfer.purpose == payment["reference"]
    with pytest.raises(Conflict) as raised:
        c.billing.pay(visit, "cash", actor="user:thu.ngan")
    assert raised.value.code == "payment_in_progress"
    confirmed = c.billing.confirm_transfer(payment["id"], actor="user:thu.ngan")
    assert confirmed["payment"]["status"] == "approved" and confirmed["invoice"]["number"] == "HB-2026-000001"
    assert confirmed["bill"]["settled"]
    with pytest.raises(Conflict):
        c.billing.confirm_transfer(payment["id"], actor="user:thu.ngan")


def test_bank_qr_cancelled_or_expired(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit()
    first = c.billing.pay(visit, "bank_qr", actor="x")["payment"]
    cancelled = c.billing.cancel_pending(first["id"], actor="x", reason="khách đổi ý")
    assert cancelled["payment"]["status"] == "declined" and "khách đổi ý" in cancelled["payment"]["note"]
    second = c.billing.pay(visit, "bank_qr", actor="x")["payment"]
    c.clock.advance(billing_module.BANK_QR_WINDOW_S + 1)
    with pytest.raises(Conflict):
        c.billing.confirm_transfer(second["id"], actor="x")
    assert c.billing.bill(visit)["pending"] is None  # the refused confirm still expired the lapsed QR
    c.billing.pay(visit, "cash", actor="x")
    assert [row.status for row in c.rows(visit)] == ["declined", "timeout", "approved"]
    assert c.count(Invoice.__table__) == 1


# ---------------------------------------------------------------- voids and the trail
def test_void_keeps_the_rows_cancels_the_invoice_and_audits(clinic_any: Clinic) -> None:
    c = clinic_any
    visit = c.visit()
    deposit = c.billing.deposit(visit, 200_000, "cash", actor="user:tiep.don")["payment"]
    paid = c.billing.pay(visit, "cash", actor="user:thu.ngan")
    with pytest.raises(Conflict) as raised:
        c.billing.void(deposit["id"], actor="user:thu.ngan", reason="nhầm")
    assert raised.value.code == "void_invoice_first"
    with pytest.raises(Conflict) as raised:
        c.billing.void(paid["refund"]["id"], actor="user:thu.ngan", reason="nhầm")
    assert raised.value.code == "void_the_payment"
    with pytest.raises(Invalid):
        c.billing.void(paid["payment"]["id"], actor="user:thu.ngan", reason="  ")
    voided = c.billing.void(paid["payment"]["id"], actor="user:thu.ngan", reason="thu nhầm lượt khám")
    assert [(v["kind"], v["status"]) for v in voided["voided"]] == [("payment", "voided"), ("refund", "voided")]
    assert voided["payment"]["voided_by"] == "user:thu.ngan" and "thu nhầm lượt khám" in voided["payment"]["note"]
    bill = voided["bill"]
    assert bill["invoices"][0]["status"] == "cancelled" and bill["due"] == -50_000
    assert all(item["invoice"] is None for item in bill["items"])
    assert len(c.audit("payment.voided")) == 2
    assert c.audit("payment.voided")[0].detail["note"].endswith("thu nhầm lượt khám")
    with pytest.raises(Conflict):
        c.billing.void(paid["payment"]["id"], actor="user:thu.ngan", reason="lần nữa")
    # Settled again: a new number; the cancelled invoice keeps its own, so the series has no gap.
    again = c.billing.pay(visit, "cash", actor="user:thu.ngan")
    assert again["invoice"]["number"] == "HB-2026-000002" and again["refund"]["amount"] == 50_000
    assert len(c.rows(visit)) == 5  # nothing deleted
    c.billing.void(again["payment"]["id"], actor="user:thu.ngan", reason="hoàn tiền")
    assert c.billing.void(deposit["id"], actor="user:thu.ngan", reason="trả lại")["bill"]["deposits"] == 0


def test_void_of_a_card_payment_reverses_it_at_the_provider(clinic_on: Clinic) -> None:
    c = clinic_on
    visit = c.visit()
    paid = c.billing.pay(visit, "card", actor="x")["payment"]
    c.billing.void(paid["id"], actor="x", reason="máy POS trừ nhầm")
    assert c.card.cancelled_refs() == [paid["provider_ref"]]


# ---------------------------------------------------------------- finding a visit
def test_find_by_ticket_patient_visit_and_invoice(clinic_on: Clinic) -> None:
    c = clinic_on
    with c.db.write() as connection:
        patient_id = connection.execute(insert(Patient).values(code="BN12345678", full_name="Nguyễn Văn An",
                                                               created_at=c.clock.now())
                                        .returning(Patient.id)).scalar_one()
    visit = c.visit(patient_id=patient_id)
    number = c.billing.bill(visit)["visit"]["tickets"][0]["number"]
    invoice = c.billing.pay(visit, "cash", actor="x")["invoice"]["number"]
    for query in (number, number.lower(), "BN12345678", f"LK{visit:06d}", str(visit), invoice):
        found = c.billing.find(query)
        assert [b["visit"]["id"] for b in found] == [visit], query
    assert c.billing.find("B999") == [] and c.billing.find("") == []
    assert c.billing.bill(visit)["visit"]["patient"]["full_name"] == "Nguyễn Văn An"


# ---------------------------------------------------------------- gap-free numbers under concurrency
@pytest.fixture
def crash_after_number(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A per-thread switch: when on, a settlement crashes right after taking its invoice number."""
    switch = threading.local()
    real = billing_module.take_number

    def take_then_maybe_crash(connection: Any, series: str, year: int) -> int:
        number = real(connection, series, year)
        if series == "HB" and getattr(switch, "on", False):
            raise RuntimeError("simulated crash after the number was taken")
        return number

    monkeypatch.setattr(billing_module, "take_number", take_then_maybe_crash)
    return switch


def test_invoice_numbers_are_gap_free_under_concurrency(clinic_any: Clinic, crash_after_number: Any) -> None:
    c = clinic_any
    visits = [c.visit() for _ in range(12)]
    doomed = set(visits[1::3])  # every third settlement crashes after taking its number

    def settle(visit: int) -> str | None:
        crash_after_number.on = visit in doomed
        try:
            return c.billing.pay(visit, "cash", actor="user:thu.ngan")["invoice"]["number"]
        except RuntimeError:
            return None
        finally:
            crash_after_number.on = False

    # Each visit is settled twice at once, as by two cashiers: one wins, the other finds nothing due.
    def settle_twice(visit: int) -> list[str | None]:
        with ThreadPoolExecutor(2) as pair:
            results = list(pair.map(lambda v: _or_conflict(settle, v), [visit, visit]))
        return results

    with ThreadPoolExecutor(4) as pool:
        outcomes = dict(zip(visits, pool.map(settle_twice, visits), strict=True))
    numbers = sorted(n for results in outcomes.values() for n in results if n and n != "conflict")
    settled = len(visits) - len(doomed)
    assert numbers == [f"HB-2026-{n:06d}" for n in range(1, settled + 1)]
    for visit in visits:
        good = [n for n in outcomes[visit] if n and n != "conflict"]
        assert len(good) == (0 if visit in doomed else 1)
    assert c.count(Invoice.__table__) == settled
    receipts = sorted(row.receipt_no for v in visits for row in c.rows(v))
    assert receipts == [f"PT-2026-{n:06d}" for n in range(1, settled + 1)]
    for visit in doomed:
        assert c.rows(visit) == [] and c.billing.bill(visit)["due"] == EXAM_FEE


def _or_conflict(settle: Any, visit: int) -> str | None:
    try:
        return settle(visit)
    except Conflict:
        return "conflict"
