"""Insurance figures for reports: insured share of visits, amounts by payer, refusals by reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select

from hub.db import Database
from hub.domain.common.errors import Invalid
from hub.domain.insurance.models import VisitCoverage
from hub.domain.queue.models import Visit

VC = VisitCoverage.__table__
MAX_DAYS = 31  # each visit's bill is read: a month at most per request


def insurance_figures(db: Database, start: date, end: date,
                      bill_of: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """Figures of the visits of [start, end] (site days): money from each visit's bill (its invoice split)."""
    if end < start:
        raise Invalid("bad_range", "to trước from / 'to' is before 'from'")
    if (end - start).days >= MAX_DAYS:
        raise Invalid("bad_range", f"at most {MAX_DAYS} days")
    with db.read() as connection:
        visits = connection.execute(select(Visit.id).where(Visit.day >= start, Visit.day <= end)).scalars().all()
        statuses = dict(connection.execute(select(VC.c.visit_id, VC.c.status).join(Visit, Visit.id == VC.c.visit_id)
                                           .where(Visit.day >= start, Visit.day <= end)).all())
        refusals = connection.execute(select(VC.c.reason, func.count()).join(Visit, Visit.id == VC.c.visit_id)
                                      .where(Visit.day >= start, Visit.day <= end, VC.c.status == "refused")
                                      .group_by(VC.c.reason)).all()
    by_status = Counter(statuses.get(visit, "fee_paying") for visit in visits)
    amounts = {"amount": 0, "insurance_pays": 0, "patient_pays": 0}
    for visit in visits:
        bill = bill_of(visit)
        for key in amounts:
            amounts[key] += int(bill[key])
    total = len(visits)
    return {
        "from": start.isoformat(), "to": end.isoformat(), "visits": total,
        "by_status": {status: by_status.get(status, 0) for status in ("eligible", "unchecked", "refused",
                                                                       "fee_paying")},
        "insured_share_percent": round(100 * by_status.get("eligible", 0) / total, 1) if total else 0.0,
        "amounts_by_payer": {"insurance": amounts["insurance_pays"], "patients": amounts["patient_pays"],
                             "total": amounts["amount"]},
        "refusals_by_reason": {reason or "unknown": count for reason, count in sorted(refusals,
                                                                                        key=lambda r: -r[1])},
    }
