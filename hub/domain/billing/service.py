"""Bills, deposits, payments through providers, refunds, voids and gap-free invoices.

Money is whole VND (int) everywhere. Every write locks the visit first (a row lock on PostgreSQL,
BEGIN IMMEDIATE on SQLite), so two cashiers cannot settle one bill twice. A card or e-wallet payment
is written "pending" and committed before the provider is asked, and is approved, with its receipt
and invoice numbers, in a later transaction: a provider that never answers leaves a "timeout" row,
nothing marked paid and no number taken. Numbers come from `document_sequences` rows advanced in the
transaction that writes the document, so a rollback gives the number back and the series has no gaps.
Rows are never deleted: a void changes a row's status and the audit log says who, when and why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.billing import bills
from hub.domain.billing.bills import APPROVED, DECLINED, DEPOSIT, PAYMENT, PENDING, REFUND, TIMEOUT, VOIDED, Ledger
from hub.domain.billing.models import Invoice, Payment
from hub.domain.billing.providers import PaymentProvider, ProviderError, default_providers
from hub.domain.billing.vietqr import Transfer, build_payload
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.document_numbers import document_number, take_number
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Visit

log = logging.getLogger(__name__)

PAY = Payment.__table__
METHODS = ("cash", "card", "ewallet", "bank_qr")
PROVIDER_METHODS = ("card", "ewallet")
# One payment or deposit at most: nine digits keep every amount readable in words on the receipt.
MAX_AMOUNT = 999_999_999
# Money handed back (phiếu chi) is numbered apart from money taken in (phiếu thu, receipt_series).
REFUND_SERIES = "PC"
# How long a bank-transfer QR waits for the cashier's "received" before it lapses.
BANK_QR_WINDOW_S = 15 * 60
# A card payment still pending this long after the provider's timeout was left by a crashed request.
STALE_GRACE_S = 60
PROVIDER_POLL_S = 0.5


@dataclass(frozen=True)
class PaymentRecorded(Event):
    """A payment row reached a final state (approved, declined, timeout) or was voided."""

    payment: dict[str, Any]


@dataclass(frozen=True)
class InvoiceIssued(Event):
    invoice: dict[str, Any]


@dataclass
class _Txn:
    connection: Connection
    now: datetime
    events: list[Event]
    to_cancel: list[tuple[str, str]]  # (method, provider ref) to cancel at the provider after commit


def check_amount(amount: object, field: str = "amount", *, allow_zero: bool = False) -> int:
    """A positive (or, if allowed, zero) whole number of VND no larger than MAX_AMOUNT, or Invalid (422)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise Invalid("bad_amount", f"{field}: số tiền là số nguyên VND / a whole number of VND, not {amount!r}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise Invalid("bad_amount", f"{field}: số tiền phải lớn hơn 0 / must be more than 0")
    if amount > MAX_AMOUNT:
        raise Invalid("bad_amount", f"{field}: quá lớn / more than {MAX_AMOUNT:,} VND")
    return amount


class BillingService:
    """Build bills; take deposits and payments; settle with an invoice; refund, cancel and void."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock, queue: QueueService) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self.queue = queue
        self.settings = clinic.payments
        self.providers: dict[str, PaymentProvider] = default_providers()
        self.timeout_s = float(self.settings.provider_timeout_s)
        self.poll_s = PROVIDER_POLL_S
        # Set by build_hub when insurance is configured: splits each line between insurer and patient.
        self.splitter: bills.Splitter | None = None
        self._names = {item.code: (item.name, item.name_en) for item in clinic.catalogue}

    # ================================================================== reading
    def bill(self, visit_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            return self._bill_view(connection, visit_id)

    def find(self, query: str) -> list[dict[str, Any]]:
        """The bills of the visits matching a ticket number, patient code, visit id or code, or document."""
        with self.db.read() as connection:
            ids = bills.find_visits(connection, query, local_day(self.clock.now(), self.clinic.site.tz))
            return [self._bill_view(connection, visit_id) for visit_id in ids]

    def payment(self, payment_id: int) -> dict[str, Any]:
        """One payment row; a pending bank transfer carries its QR payload."""
        with self.db.read() as connection:
            return self._payment_out(connection, self._payment_row(connection, payment_id))

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        with self.db.read() as connection:
            row = connection.execute(select(Invoice.__table__).where(Invoice.id == invoice_id)).first()
            if row is None:
                raise NotFound("unknown_invoice", f"no invoice {invoice_id}")
            return bills.invoice_view(row, self._invoice_live(connection, invoice_id))

    def qr_payload(self, payment_id: int) -> str:
        """The VietQR string of a bank-transfer payment (for its QR image)."""
        with self.db.read() as connection:
            row = self._payment_row(connection, payment_id)
        if row.method != "bank_qr":
            raise Conflict("not_bank_transfer", f"payment {payment_id} is not a bank transfer")
        return self._transfer_payload(row)

    def _bill_view(self, connection: Connection, visit_id: int) -> dict[str, Any]:
        view = bills.bill_view(self._ledger(connection, visit_id))
        view["methods"] = list(self.settings.methods)
        return view

    def _ledger(self, connection: Connection, visit_id: int) -> Ledger:
        return bills.read_ledger(connection, visit_id, self._names, self.splitter)

    def _payment_row(self, connection: Connection, payment_id: int) -> Any:
        row = connection.execute(select(PAY).where(PAY.c.id == payment_id)).first()
        if row is None:
            raise NotFound("unknown_payment", f"no payment {payment_id}")
        return row

    def _payment_out(self, connection: Connection, row: Any) -> dict[str, Any]:
        numbers = {}
        if row.invoice_id is not None:
            numbers[row.invoice_id] = connection.execute(select(Invoice.number).where(
                Invoice.id == row.invoice_id)).scalar_one()
        view = bills.payment_view(row, numbers)
        if row.method == "bank_qr" and row.status == PENDING:
            view["qr"] = {"payload": self._transfer_payload(row), "bank_bin": self.settings.bank_bin,
                          "account": self.settings.bank_account, "account_name": self.settings.bank_account_name,
                          "expires_at": (row.at + timedelta(seconds=BANK_QR_WINDOW_S)).isoformat()}
        return view

    def _transfer_payload(self, row: Any) -> str:
        reference = bills.payment_reference(row.visit_id, row.id)
        return build_payload(Transfer(self.settings.bank_bin, self.settings.bank_account, row.amount,
                                      bill_number=bills.visit_code(row.visit_id), purpose=reference))

    def _invoice_live(self, connection: Connection, invoice_id: int) -> bool:
        return connection.execute(select(PAY.c.id).where(
            PAY.c.invoice_id == invoice_id, PAY.c.kind == PAYMENT, PAY.c.status == APPROVED)).first() is not None

    # ================================================================== transactions
    @contextmanager
    def _transaction(self, visit_id: int, *, expire: bool = True) -> Iterator[_Txn]:
        """A write transaction holding the visit's lock; events and provider cancels go out after commit."""
        if expire:
            self._expire_stale(visit_id)
        with self.db.write() as connection:
            txn = _Txn(connection, self.clock.now(), [], [])
            locked = connection.execute(select(Visit.id).where(Visit.id == visit_id).with_for_update()).first()
            if locked is None:
                raise NotFound("unknown_visit", f"Không có lượt khám {visit_id} / no visit {visit_id}")
            yield txn
        self.bus.publish_all(txn.events)
        for method, ref in txn.to_cancel:
            self._cancel_at_provider(method, ref)

    def _audit(self, txn: _Txn, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        txn.connection.execute(insert(AuditEntry).values(at=txn.now, actor=actor[:64], action=action,
                                                         subject=subject[:64], detail=detail))

    def _view_of(self, txn: _Txn, payment_id: int) -> dict[str, Any]:
        return self._payment_out(txn.connection, self._payment_row(txn.connection, payment_id))

    def _finish_row(self, txn: _Txn, row: Any, status: str, actor: str, note: str | None = None,
                    **values: Any) -> dict[str, Any]:
        """Move a row to a final status, audit it, and queue its PaymentRecorded event."""
        note = note if note is not None else row.note
        txn.connection.execute(update(PAY).where(PAY.c.id == row.id).values(
            status=status, note=note[:200] if note else None, **values))
        view = self._view_of(txn, row.id)
        self._audit(txn, actor, f"payment.{status}", f"payment:{row.id}", {
            "visit_id": row.visit_id, "kind": row.kind, "method": row.method, "amount": row.amount,
            "from": row.status, "receipt_no": view["receipt_no"], "note": note})
        txn.events.append(PaymentRecorded(view))
        return view

    def _expire_stale(self, visit_id: int) -> None:
        """Time out pending rows nobody will finish (a QR past its window, a card wait whose request died),
        in a transaction of its own: the request that noticed may still be refused, the expiry stands."""
        now = self.clock.now()
        with self.db.read() as connection:
            rows = connection.execute(select(PAY).where(PAY.c.visit_id == visit_id, PAY.c.status == PENDING)).all()
        stale = [row.id for row in rows if now - row.at >= timedelta(seconds=self._pending_window(row.method))]
        if not stale:
            return
        with self._transaction(visit_id, expire=False) as txn:
            for payment_id in stale:
                row = self._payment_row(txn.connection, payment_id)
                if row.status == PENDING:
                    self._finish_row(txn, row, TIMEOUT, "system", "hết hạn / expired")
                    if row.provider_ref:
                        txn.to_cancel.append((row.method, row.provider_ref))

    def _pending_window(self, method: str) -> float:
        return BANK_QR_WINDOW_S if method == "bank_qr" else self.timeout_s + STALE_GRACE_S

    # ================================================================== money in
    def deposit(self, visit_id: int, amount: int, method: str, *, actor: str) -> dict[str, Any]:
        """Take an advance payment (tạm ứng) with a receipt number; card and e-wallet wait for the provider."""
        check_amount(amount)
        self._check_method(method)
        if amount > self.settings.max_deposit_vnd:
            raise Invalid("deposit_too_large", f"Một lần tạm ứng tối đa {self.settings.max_deposit_vnd:,} ₫ / at most "
                                               f"{self.settings.max_deposit_vnd:,} VND in one deposit")
        with self._transaction(visit_id) as txn:
            self._refuse_if_pending(txn, visit_id)
            ledger = self._ledger(txn.connection, visit_id)
            held_beyond_bill = ledger.deposits + amount - max(ledger.total - ledger.paid, 0)
            if held_beyond_bill > self.settings.max_advance_vnd:
                raise Conflict("deposit_exceeds_due",
                               f"Tạm ứng vượt quá số phải thu hơn {self.settings.max_advance_vnd:,} ₫ / deposits may "
                               f"exceed what is due by at most {self.settings.max_advance_vnd:,} VND")
            row_id = self._insert_row(txn, visit_id, DEPOSIT, method, amount, actor)
            if method == "cash":
                self._approve(txn, row_id, actor)
        return self._after_insert(visit_id, row_id, method, actor)

    def pay(self, visit_id: int, method: str, *, actor: str, amount: int | None = None) -> dict[str, Any]:
        """Settle the bill: deposits deducted, the rest taken by `method`, any unused deposit refunded,
        an invoice issued for the items not yet invoiced. `amount`, when given, must equal what is due."""
        self._check_method(method)
        if amount is not None:
            check_amount(amount, allow_zero=True)
        with self._transaction(visit_id) as txn:
            self._refuse_if_pending(txn, visit_id)
            ledger = self._ledger(txn.connection, visit_id)
            due = max(ledger.due, 0)
            if amount is not None and amount != due:
                raise Conflict("amount_mismatch", f"Số tiền phải thu là {due} / the amount due is {due} VND, "
                                                  f"not {amount}: reload the bill")
            if ledger.due == 0 and not ledger.uninvoiced:
                raise Conflict("nothing_due", "Không còn khoản nào phải thu / nothing left to pay on this visit")
            if due == 0 or method == "cash":
                return self._settle(txn, ledger, None, method, actor)
            row_id = self._insert_row(txn, visit_id, PAYMENT, method, due, actor)
        return self._after_insert(visit_id, row_id, method, actor)

    def confirm_transfer(self, payment_id: int, *, actor: str) -> dict[str, Any]:
        """The cashier saw the bank transfer arrive: approve the pending QR payment."""
        visit_id = self._visit_of(payment_id)
        with self._transaction(visit_id) as txn:
            row = self._payment_row(txn.connection, payment_id)
            if row.method != "bank_qr":
                raise Conflict("not_bank_transfer", f"payment {payment_id} is not a bank transfer")
            if row.status != PENDING:
                raise Conflict("not_pending", f"Giao dịch đã {row.status} / payment {payment_id} is {row.status}")
            return self._approve(txn, payment_id, actor)

    def cancel_pending(self, payment_id: int, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        """Give up a pending payment (the patient left, the QR was not paid): it ends declined."""
        visit_id = self._visit_of(payment_id)
        with self._transaction(visit_id) as txn:
            row = self._payment_row(txn.connection, payment_id)
            if row.status != PENDING:
                raise Conflict("not_pending", f"Giao dịch đã {row.status} / payment {payment_id} is {row.status}")
            view = self._finish_row(txn, row, DECLINED, actor, f"huỷ / cancelled: {reason or ''}".strip(": "))
            if row.provider_ref:
                txn.to_cancel.append((row.method, row.provider_ref))
            return self._outcome(txn, visit_id, view)

    def _check_method(self, method: object) -> None:
        if method not in METHODS:
            raise Invalid("unknown_method", f"method must be one of {', '.join(METHODS)}")
        if method not in self.settings.methods:
            raise Invalid("method_not_enabled", f"{method} is not enabled in config/catalogue.toml [payments]")

    def _refuse_if_pending(self, txn: _Txn, visit_id: int) -> None:
        pending = txn.connection.execute(select(PAY.c.id, PAY.c.method).where(
            PAY.c.visit_id == visit_id, PAY.c.status == PENDING)).first()
        if pending is not None:
            raise Conflict("payment_in_progress", f"Đang chờ giao dịch {pending.id} ({pending.method}) / payment "
                                                  f"{pending.id} is still pending: confirm or cancel it first")

    def _insert_row(self, txn: _Txn, visit_id: int, kind: str, method: str, amount: int, actor: str,
                    **values: Any) -> int:
        """A new row, pending: `_finish_row` gives it its final status (and the audit entry)."""
        return txn.connection.execute(insert(PAY).values(
            visit_id=visit_id, kind=kind, method=method, amount=amount, status=PENDING, actor=actor[:64],
            at=txn.now, **values).returning(PAY.c.id)).scalar_one()

    def _after_insert(self, visit_id: int, row_id: int, method: str, actor: str) -> dict[str, Any]:
        """What follows the committed insert: nothing for cash (done) or a QR, the provider for cards."""
        if method in PROVIDER_METHODS:
            self._run_provider(visit_id, row_id, method, actor)
        with self.db.read() as connection:
            return self._outcome_read(connection, visit_id, self._payment_row(connection, row_id))

    def _visit_of(self, payment_id: int) -> int:
        with self.db.read() as connection:
            return self._payment_row(connection, payment_id).visit_id

    # ================================================================== providers
    def _run_provider(self, visit_id: int, payment_id: int, method: str, actor: str) -> None:
        """Ask the provider, outside any transaction, then record its answer (or the timeout)."""
        with self.db.read() as connection:
            row = self._payment_row(connection, payment_id)
        provider = self.providers.get(method)
        if provider is None:
            self._fail(visit_id, payment_id, DECLINED, actor, f"không có kết nối {method} / no {method} provider")
            return
        try:
            ref = provider.start(row.amount, bills.payment_reference(visit_id, payment_id))
        except ProviderError as exc:
            self._fail(visit_id, payment_id, DECLINED, actor, str(exc))
            return
        with self.db.write() as connection:
            connection.execute(update(PAY).where(PAY.c.id == payment_id).values(provider_ref=ref[:64]))
        answer = self._await(provider, ref)
        if answer == APPROVED:
            with self._transaction(visit_id) as txn:
                current = self._payment_row(txn.connection, payment_id)
                if current.status == PENDING:
                    self._approve(txn, payment_id, actor)
                    return
                # Cancelled here while the terminal approved: give the money back at the provider.
                txn.to_cancel.append((method, ref))
            return
        self._fail(visit_id, payment_id, DECLINED if answer == DECLINED else TIMEOUT, actor,
                   "từ chối / declined" if answer == DECLINED else "hết thời gian chờ / provider timeout")
        if answer != DECLINED:
            self._cancel_at_provider(method, ref)

    def _await(self, provider: PaymentProvider, ref: str) -> str:
        """The provider's final answer, or "timeout" once `timeout_s` has passed without one."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                answer = provider.status(ref)
            except ProviderError:
                log.warning("provider %s: status of %s failed; asking again", provider.name, ref)
                answer = PENDING
            if answer != PENDING:
                return answer
            if time.monotonic() >= deadline:
                return TIMEOUT
            time.sleep(self.poll_s)

    def _fail(self, visit_id: int, payment_id: int, status: str, actor: str, note: str) -> None:
        with self._transaction(visit_id) as txn:
            row = self._payment_row(txn.connection, payment_id)
            if row.status == PENDING:
                self._finish_row(txn, row, status, actor, note)

    def _cancel_at_provider(self, method: str, ref: str) -> None:
        provider = self.providers.get(method)
        if provider is None:
            return
        try:
            provider.cancel(ref)
        except Exception:  # a reversal that fails is for a person to chase; the record already says so
            log.exception("could not cancel %s transaction %s at the provider", method, ref)

    # ================================================================== approval and settlement
    def _approve(self, txn: _Txn, payment_id: int, actor: str) -> dict[str, Any]:
        """Approve a pending row: a deposit gets its receipt number, a payment settles the bill."""
        row = self._payment_row(txn.connection, payment_id)
        if row.kind == DEPOSIT:
            receipt = self._receipt_no(txn, self.settings.receipt_series)
            view = self._finish_row(txn, row, APPROVED, actor, receipt_no=receipt)
            return self._outcome(txn, row.visit_id, view)
        return self._settle(txn, self._ledger(txn.connection, row.visit_id), row, row.method, actor)

    def _receipt_no(self, txn: _Txn, series: str) -> str:
        year = txn.now.astimezone(self.clinic.site.tz).year
        return document_number(series, year, take_number(txn.connection, series, year))

    def _settle(self, txn: _Txn, ledger: Ledger, row: Any | None, method: str, actor: str) -> dict[str, Any]:
        """Close the bill in this transaction: the payment (row, or cash taken now), the invoice for the
        items not yet invoiced, and a refund of whatever the deposits left over."""
        visit_id = ledger.visit["id"]
        balance = ledger.due  # before this payment; the pending row is not in it
        paying = row.amount if row is not None else max(balance, 0)
        invoice = self._issue_invoice(txn, ledger, actor) if ledger.uninvoiced else None
        invoice_id = invoice["id"] if invoice else None
        payment_view = None
        if row is None and (paying > 0 or invoice is not None):
            # A settlement always has a payment row, even of 0 VND: voiding it cancels the invoice.
            row_id = self._insert_row(txn, visit_id, PAYMENT, method, paying, actor)
            row = self._payment_row(txn.connection, row_id)
        if row is not None:
            receipt = self._receipt_no(txn, self.settings.receipt_series) if paying > 0 else None
            payment_view = self._finish_row(txn, row, APPROVED, actor, receipt_no=receipt, invoice_id=invoice_id)
        refund_view = None
        if balance - paying < 0:
            refund_id = self._insert_row(txn, visit_id, REFUND, "cash", paying - balance, actor,
                                         invoice_id=invoice_id, note="hoàn tạm ứng / unused deposit returned")
            refund_row = self._payment_row(txn.connection, refund_id)
            refund_view = self._finish_row(txn, refund_row, APPROVED, actor,
                                           receipt_no=self._receipt_no(txn, REFUND_SERIES))
        if invoice is not None:
            invoice = self._invoice_in(txn, invoice_id)  # type: ignore[arg-type]
            txn.events.append(InvoiceIssued(invoice))
        return {"payment": payment_view or refund_view, "invoice": invoice, "refund": refund_view,
                "bill": self._bill_view(txn.connection, visit_id)}

    def _issue_invoice(self, txn: _Txn, ledger: Ledger, actor: str) -> dict[str, Any]:
        items = [item.as_dict() for item in ledger.uninvoiced]
        total = sum(item["amount"] for item in items)
        patient_total = sum(item["patient_pays"] for item in items)
        year = txn.now.astimezone(self.clinic.site.tz).year
        series = self.settings.invoice_series
        number = document_number(series, year, take_number(txn.connection, series, year))
        invoice_id = txn.connection.execute(insert(Invoice).values(
            number=number, visit_id=ledger.visit["id"], items=items, total=total,
            deposits=patient_total - ledger.due, due=ledger.due, issued_at=txn.now, issued_by=actor[:64])
            .returning(Invoice.id)).scalar_one()
        self._audit(txn, actor, "invoice.issued", f"invoice:{number}", {
            "visit_id": ledger.visit["id"], "total": total, "due": ledger.due, "items": [i["key"] for i in items]})
        return {"id": invoice_id, "number": number}

    def _invoice_in(self, txn: _Txn, invoice_id: int) -> dict[str, Any]:
        row = txn.connection.execute(select(Invoice.__table__).where(Invoice.id == invoice_id)).one()
        return bills.invoice_view(row, self._invoice_live(txn.connection, invoice_id))

    def _outcome(self, txn: _Txn, visit_id: int, view: dict[str, Any]) -> dict[str, Any]:
        return {"payment": view, "invoice": None, "refund": None, "bill": self._bill_view(txn.connection, visit_id)}

    def _outcome_read(self, connection: Connection, visit_id: int, row: Any) -> dict[str, Any]:
        """The result of a payment after its provider step: the row, and its invoice and refund if settled."""
        view = self._payment_out(connection, row)
        invoice = refund = None
        if row.invoice_id is not None:
            live = self._invoice_live(connection, row.invoice_id)
            invoice = bills.invoice_view(connection.execute(select(Invoice.__table__).where(
                Invoice.id == row.invoice_id)).one(), live)
            refund_row = connection.execute(select(PAY).where(PAY.c.invoice_id == row.invoice_id,
                                                              PAY.c.kind == REFUND)).first()
            refund = self._payment_out(connection, refund_row) if refund_row is not None else None
        return {"payment": view, "invoice": invoice, "refund": refund, "bill": self._bill_view(connection, visit_id)}

    # ================================================================== voids
    def void(self, payment_id: int, *, actor: str, reason: str) -> dict[str, Any]:
        """Void an approved deposit or payment (with the refund and invoice that belong to it)."""
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("reason_required", "Cần lý do huỷ / a void needs a reason")
        visit_id = self._visit_of(payment_id)
        with self._transaction(visit_id) as txn:
            row = self._payment_row(txn.connection, payment_id)
            if row.status != APPROVED:
                raise Conflict("not_approved", f"Chỉ huỷ được giao dịch đã duyệt / payment {payment_id} is "
                                               f"{row.status}, only approved ones can be voided")
            ledger = self._ledger(txn.connection, visit_id)
            if row.kind == REFUND and row.invoice_id is not None:
                raise Conflict("void_the_payment", "Huỷ khoản thanh toán của hoá đơn thay vì khoản hoàn / "
                                                   "void the invoice's payment; its refund goes with it")
            if row.kind == DEPOSIT and ledger.live_invoices:
                raise Conflict("void_invoice_first", "Lượt khám đã xuất hoá đơn: huỷ thanh toán trước / the visit "
                                                     "has an invoice: void its payment first")
            rows = [row]
            if row.kind == PAYMENT and row.invoice_id is not None:
                rows += [r for r in ledger.payments if r.invoice_id == row.invoice_id and r.id != row.id
                         and r.status == APPROVED]
            views = [self._void_row(txn, r, actor, reason.strip()) for r in rows]
            return {"payment": views[0], "voided": views, "bill": self._bill_view(txn.connection, visit_id)}

    def _void_row(self, txn: _Txn, row: Any, actor: str, reason: str) -> dict[str, Any]:
        note = f"{row.note} | huỷ / void: {reason}" if row.note else f"huỷ / void: {reason}"
        view = self._finish_row(txn, row, VOIDED, actor, note, voided_at=txn.now, voided_by=actor[:64])
        if row.provider_ref and row.method in PROVIDER_METHODS:
            txn.to_cancel.append((row.method, row.provider_ref))
        return view
