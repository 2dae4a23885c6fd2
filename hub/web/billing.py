"""Staff pages: the cashier's desk (bill, payment, invoice, queue keys) and printable receipts.

The desk page is a shell; its script talks to the billing and counter REST API with the login session
(and the CSRF header), so the page and any other client go through the same checks.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from display.vietnamese_numbers import MAX_NUMBER, read_number
from hub import formatting
from hub.api.hub_access import current_hub
from hub.domain.common.errors import NotFound
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("cashier", __name__, url_prefix="/cashier")
CASHIER_SERVICE_KIND = "cashier"
PAYERS = ("cashier", "admin")

METHOD_NAMES = {
    "cash": ("Tiền mặt", "Cash"),
    "card": ("Thẻ (máy POS)", "Card (POS terminal)"),
    "ewallet": ("Ví điện tử", "E-wallet"),
    "bank_qr": ("Chuyển khoản QR", "Bank transfer (QR)"),
}


@bp.app_template_filter("vnd")
def format_vnd(amount: int | None) -> str:
    """150000 -> "150.000 ₫": hub/formatting.py's money, as every page, print and export writes it."""
    if amount is None:
        return ""
    return formatting.format_money(amount)


def amount_in_words(amount: int) -> str:
    """What a Vietnamese receipt writes under the figure: "Một trăm năm mươi nghìn đồng"."""
    amount = abs(amount)
    if amount > MAX_NUMBER:
        return format_vnd(amount)
    words = read_number(amount)
    return words[:1].upper() + words[1:] + " đồng"


def method_name(method: str) -> str:
    vi, en = METHOD_NAMES.get(method, (method, method))
    return tr(vi, en)


def _cashier_counters() -> list[Any]:
    """Counters that serve a cashier service (the queue keys on the page work one of them)."""
    clinic = current_hub().config
    cashier_services = {s.code for s in clinic.services if s.kind == CASHIER_SERVICE_KIND}
    return [c for c in clinic.counters if cashier_services.intersection(c.services)]


def _labels() -> dict[str, Any]:
    """The page script's texts in the page's language."""
    return {
        "methods": {code: method_name(code) for code in METHOD_NAMES},
        "status": {"pending": tr("Đang chờ", "Pending"), "approved": tr("Đã duyệt", "Approved"),
                   "declined": tr("Bị từ chối", "Declined"), "timeout": tr("Hết thời gian chờ", "Timed out"),
                   "voided": tr("Đã huỷ", "Voided"), "issued": tr("Đã xuất", "Issued"),
                   "cancelled": tr("Đã huỷ", "Cancelled")},
        "kinds": {"deposit": tr("Tạm ứng", "Deposit"), "payment": tr("Thanh toán", "Payment"),
                  "refund": tr("Hoàn tiền", "Refund"), "exam": tr("Khám", "Exam"), "lab": tr("Xét nghiệm", "Lab"),
                  "imaging": tr("Chẩn đoán hình ảnh", "Imaging")},
        "states": {"open": tr("Đang mở", "Open"), "paused": tr("Tạm nghỉ", "Paused"), "closed": tr("Đóng", "Closed")},
        "pay": tr("Thu", "Take"),
        "insurance": {"eligible": tr("Có BHYT (đã kiểm tra)", "Insured (checked)"),
                      "refused": tr("Thẻ bị từ chối: thu phí dịch vụ", "Card refused: fee-paying"),
                      "unchecked": tr("Chưa kiểm tra được thẻ", "Card not yet checked"),
                      "fee_paying": tr("Không BHYT (dịch vụ)", "No insurance (fee-paying)")},
        "level": tr("mức hưởng", "benefit level"),
        "routes": {"in_route": tr("đúng tuyến", "in route"), "out_of_route": tr("trái tuyến", "out of route")},
        "refund": tr("Hoàn lại", "Refund"),
        "due": tr("Còn phải thu", "Due"),
        "to_refund": tr("Phải hoàn lại khách", "To refund"),
        "invoice_only": tr("Xuất hoá đơn", "Issue invoice"),
        "nothing_due": tr("Đã thanh toán đủ", "Fully paid"),
        "no_match": tr("Không tìm thấy lượt khám.", "No visit found."),
        "waiting_provider": tr("Đang chờ máy POS / ví điện tử…", "Waiting for the terminal / wallet…"),
        "declined": tr("Giao dịch bị từ chối. Chọn cách khác hoặc thử lại.", "Declined. Try again or another method."),
        "timeout": tr("Máy POS không trả lời kịp: chưa thu tiền, có thể thử lại.",
                      "The terminal did not answer in time: nothing was charged; you may retry."),
        "invoice_issued": tr("Đã xuất hoá đơn", "Invoice issued"),
        "receipt": tr("Biên lai", "Receipt"),
        "deposit_taken": tr("Đã thu tạm ứng", "Deposit taken"),
        "print": tr("In biên lai", "Print receipt"),
        "void_reason": tr("Lý do huỷ giao dịch:", "Reason for the void:"),
        "void": tr("Huỷ", "Void"),
        "change": tr("Tiền thừa trả khách", "Change to give"),
        "short": tr("Khách đưa chưa đủ", "Not enough"),
        "no_ticket": tr("Không có ai đang chờ.", "Nobody is waiting."),
        "patient_none": tr("Khách vãng lai", "Walk-in"),
        "refunded_cash": tr("Hoàn tiền mặt cho khách", "Give back in cash"),
    }


@bp.get("")
@staff_page("cashier", "reception")
def desk():  # type: ignore[no-untyped-def]
    hub = current_hub()
    staff = current_staff()
    # The queue keys are for whoever works the cashier counter; reception only takes deposits here.
    counters = _cashier_counters() if staff.role in PAYERS else []
    chosen = request.args.get("counter") or staff.counter
    if chosen not in {c.code for c in counters}:
        chosen = counters[0].code if counters else None
    return render_template("cashier.html", site=hub.config.site, counters=counters, counter=chosen,
                           can_pay=staff.role in PAYERS, methods=list(hub.config.payments.methods),
                           method_names={m: method_name(m) for m in METHOD_NAMES}, labels=_labels(),
                           visit=request.args.get("visit", type=int))


@bp.get("/receipts/<int:payment_id>")
@staff_page("cashier", "reception")
def receipt(payment_id: int):  # type: ignore[no-untyped-def]
    """A printable receipt of one payment row: a deposit, a payment with its invoice, or a refund."""
    billing = current_hub().billing
    try:
        payment = billing.payment(payment_id)
    except NotFound:
        abort(404)
    invoice = billing.invoice(payment["invoice_id"]) if payment["invoice_id"] else None
    return _printable(payment["visit_id"], payment, invoice)


@bp.get("/invoices/<int:invoice_id>")
@staff_page("cashier", "reception")
def invoice(invoice_id: int):  # type: ignore[no-untyped-def]
    """A printable copy of an invoice (with the payment that settled it)."""
    billing = current_hub().billing
    try:
        found = billing.invoice(invoice_id)
    except NotFound:
        abort(404)
    bill = billing.bill(found["visit_id"])
    payment = next((p for p in bill["payments"] if p["invoice_id"] == invoice_id and p["kind"] == "payment"), None)
    return _printable(found["visit_id"], payment, found)


def _local_time(iso: str | None) -> str:
    """An API timestamp as the site's local dd/mm/yyyy HH:MM."""
    if not iso:
        return ""
    return formatting.format_datetime(iso, current_lang(), current_hub().config.site.tz)


def _printable(visit_id: int, payment: dict[str, Any] | None, invoice: dict[str, Any] | None):  # type: ignore[no-untyped-def]
    hub = current_hub()
    bill = hub.billing.bill(visit_id)
    refund = None
    if invoice is not None:
        refund = next((p for p in bill["payments"] if p["invoice_id"] == invoice["id"] and p["kind"] == "refund"),
                      None)
    if invoice is not None:
        title = (tr("HOÁ ĐƠN THANH TOÁN", "INVOICE"), invoice["number"])
    elif payment is not None and payment["kind"] == "deposit":
        title = (tr("PHIẾU THU TẠM ỨNG", "DEPOSIT RECEIPT"), payment["receipt_no"])
    elif payment is not None and payment["kind"] == "refund":
        title = (tr("PHIẾU CHI HOÀN TẠM ỨNG", "REFUND VOUCHER"), payment["receipt_no"])
    else:
        title = (tr("PHIẾU THU", "RECEIPT"), payment["receipt_no"] if payment else "")
    cancelled = (invoice is not None and invoice["status"] == "cancelled") or (
        payment is not None and payment["status"] == "voided")
    figure = payment["amount"] if payment else 0
    return render_template("cashier_receipt.html", site=hub.config.site, bill=bill, payment=payment,
                           invoice=invoice, refund=refund, title=title, cancelled=cancelled,
                           words=amount_in_words(figure), refund_words=amount_in_words(refund["amount"]) if refund
                           else "", method_name=method_name, local_time=_local_time,
                           auto_print=request.args.get("print") == "1")
