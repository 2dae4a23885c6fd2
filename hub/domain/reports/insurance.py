"""The health-insurance (BHYT) report table: by day, visits by payer, the insured share, refusals, and the
money invoiced to the insurance fund and to patients (live invoices: a voided payment is not counted)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, func, select

from hub.domain.billing.models import Invoice, Payment
from hub.domain.insurance.gateway import EXPIRED, MISMATCH, NOT_FOUND, NOT_YET_VALID
from hub.domain.insurance.models import VisitCoverage
from hub.domain.queue.models import Visit
from hub.domain.reports.service import RangeReport, share
from hub.domain.reports.tables import Column, ReportTable

STATES = ("eligible", "unchecked", "refused", "fee_paying")
# Refusals split by the gateway's reason (the insurance office chases each kind differently); any other
# reason a portal may give is counted as "other", never dropped.
REASONS = {EXPIRED: ("Thẻ hết hạn", "Card expired"), NOT_YET_VALID: ("Thẻ chưa có hiệu lực", "Card not yet valid"),
           NOT_FOUND: ("Không tìm thấy thẻ", "Card not found"),
           MISMATCH: ("Sai họ tên/ngày sinh", "Name/birth date mismatch"), "other": ("Lý do khác", "Other reason")}
REFUSAL_KEYS = tuple(f"refused_{reason}" for reason in REASONS)


def insurance_table(report: RangeReport) -> ReportTable:
    columns = [Column("day", "Ngày", "Day", "text", key_en="day_en"), Column("visits", "Lượt khám", "Visits"),
               Column("eligible", "Có BHYT", "Insured"), Column("unchecked", "Chưa kiểm tra thẻ", "Not yet checked"),
               Column("refused", "Thẻ bị từ chối", "Card refused"),
               *[Column(f"refused_{reason}", f"Từ chối: {vi}", f"Refused: {en}")
                 for reason, (vi, en) in REASONS.items()],
               Column("fee_paying", "Dịch vụ", "Fee-paying"),
               Column("insured_share", "Tỷ lệ BHYT (%)", "Insured share (%)", "percent"),
               Column("insurance", "Quỹ BHYT trả", "Insurance pays", "vnd"),
               Column("patients", "Người bệnh trả", "Patients pay", "vnd")]
    table = ReportTable("insurance", "Bảo hiểm y tế theo ngày", "Health insurance by day", columns)
    first, last = report.period.first, report.period.last
    db = report.service.db
    with db.read() as connection:
        counts = connection.execute(
            select(Visit.day, VisitCoverage.status, VisitCoverage.reason, func.count())
            .select_from(Visit).outerjoin(VisitCoverage, VisitCoverage.visit_id == Visit.id)
            .where(Visit.day >= first, Visit.day <= last)
            .group_by(Visit.day, VisitCoverage.status, VisitCoverage.reason)).all()  # no row: fee-paying
        live = (select(Invoice.items, Invoice.total, Visit.day).join(Visit, Visit.id == Invoice.visit_id)
                .join(Payment, and_(Payment.invoice_id == Invoice.id, Payment.kind == "payment",
                                    Payment.status == "approved"))
                .where(Visit.day >= first, Visit.day <= last))
        invoices = connection.execute(live).all()
    by_day: dict[Any, dict[str, Any]] = defaultdict(lambda: {**dict.fromkeys(STATES, 0), "visits": 0,
                                                            **dict.fromkeys(REFUSAL_KEYS, 0),
                                                            "insurance": 0, "patients": 0})
    for day, status, reason, count in counts:
        by_day[day][status if status in STATES else "fee_paying"] += count
        if status == "refused":
            by_day[day][f"refused_{reason if reason in REASONS else 'other'}"] += count
        by_day[day]["visits"] += count
    for items, total, day in invoices:
        insurer = sum(int(line.get("insurance_pays", 0)) for line in items)
        by_day[day]["insurance"] += insurer
        by_day[day]["patients"] += int(total) - insurer
    total_row: dict[str, Any] = {"day": "Tổng", "day_en": "Total", **dict.fromkeys(STATES, 0), "visits": 0,
                                 **dict.fromkeys(REFUSAL_KEYS, 0), "insurance": 0, "patients": 0}
    for day in report.period.days:
        if day not in by_day:
            continue
        row = {"day": day.isoformat(), "day_en": day.isoformat(), **by_day[day]}
        row["insured_share"] = share(row["eligible"], row["visits"])
        for key in (*STATES, *REFUSAL_KEYS, "visits", "insurance", "patients"):
            total_row[key] += row[key]
        table.rows.append(row)
    total_row["insured_share"] = share(total_row["eligible"], total_row["visits"])
    table.total = total_row
    return table
