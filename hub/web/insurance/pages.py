"""GET /insurance/claims: a day's claims with their state; the buttons call the REST API (staff_api.js)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template, request

from hub.api.hub_access import current_hub
from hub.web.auth import staff_page
from hub.web.i18n import tr

bp = Blueprint("insurance_pages", __name__, url_prefix="/insurance")


def left_out_names() -> dict[str, str]:
    """Why a prescription line is not in the claim, in the page's language."""
    return {"not_in_catalogue": tr("thuốc ghi tay, không có trong danh mục: không đề nghị BHYT thanh toán",
                                   "written by hand, not in the catalogue: not claimed"),
            "not_covered": tr("ngoài danh mục BHYT, người bệnh tự trả", "not covered by insurance: the patient pays"),
            "no_insurance_data": tr("danh mục thiếu mã BHYT, số đăng ký hoặc giá BHYT",
                                    "the catalogue lacks its BHYT code, registration number or price")}


def state_names() -> dict[str, str]:
    return {"draft": tr("Chưa gửi được", "Draft (cannot go yet)"), "exported": tr("Đã xuất", "Exported"),
            "rejected": tr("Bị từ chối", "Rejected")}


@bp.get("/claims")
@staff_page("cashier")
def claims():  # type: ignore[no-untyped-def]
    hub = current_hub()
    if hub.insurance is None:
        abort(404)
    try:
        day = date.fromisoformat(request.args.get("day") or hub.queue.today().isoformat())
    except ValueError:
        abort(400)
    rows = hub.insurance.claims.claims(day=day)
    totals = {state: sum(1 for row in rows if row["state"] == state) for state in state_names()}
    return render_template("insurance_claims.html", site=hub.config.site, day=day, claims=rows, totals=totals,
                           states=state_names(), left_out=left_out_names(),
                           insured_total=sum(row["insurance_pays"] for row in rows if row["state"] == "exported"))
