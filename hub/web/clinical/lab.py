"""The lab and imaging page (/lab): the worklist of orders by performing service and state, starting
them, entering results (values flagged against the reference ranges, or a report), releasing them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from hub.api.hub_access import current_hub
from hub.config import ClinicConfig, ServiceConfig
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("lab", __name__, url_prefix="/lab")
PERFORMING_KINDS = ("lab", "imaging")

LABELS: dict[str, tuple[str, str]] = {
    "status_ordered": ("Chờ thực hiện", "Ordered"),
    "status_in_progress": ("Đang thực hiện", "In progress"),
    "status_resulted": ("Có kết quả", "Resulted"),
    "status_cancelled": ("Đã hủy", "Cancelled"),
    "start": ("Bắt đầu", "Start"),
    "start_all": ("Bắt đầu tất cả", "Start all"),
    "enter": ("Nhập kết quả", "Enter results"),
    "cancel": ("Hủy", "Cancel"),
    "release": ("Công bố", "Release"),
    "released": ("Đã công bố", "Released"),
    "no_orders": ("Không có chỉ định nào.", "No orders."),
    "no_patient": ("Chưa đăng ký", "Not registered"),
    "years": ("{n} tuổi", "{n} y"),
    "ticket": ("Số {number}", "Ticket {number}"),
    "ordered_by": ("BS chỉ định: {who}", "Ordered by {who}"),
    "print_results": ("In phiếu kết quả (A4)", "Print the result sheet (A4)"),
    "flags": ("{n} chỉ số bất thường", "{n} out of range"),
    "confirm_cancel": ("Hủy chỉ định {name}? Lý do:", "Cancel {name}? Reason:"),
    "bad_number": ("'{value}' không phải là số", "'{value}' is not a number"),
    "ok_start": ("Đã bắt đầu {name}.", "{name} started."),
    "ok_result": ("Đã lưu kết quả {name}.", "Results of {name} saved."),
    "ok_release": ("Đã công bố kết quả {name}.", "{name} released."),
    "ok_cancel": ("Đã hủy {name}.", "{name} cancelled."),
    "unreachable": ("Không kết nối được máy chủ. Thao tác chưa được thực hiện.",
                    "Cannot reach the hub. Nothing was done."),
    "refused": ("Không thực hiện được", "Refused"),
    "err_illegal_transition": ("Không thể làm việc này ở trạng thái hiện tại", "Not allowed in the current state"),
    "err_missing_value": ("Thiếu kết quả", "Values missing"),
    "err_bad_value": ("Giá trị không hợp lệ", "Invalid value"),
    "err_report_required": ("Cần nhập kết quả", "The report is needed"),
    "err_invalid_request": ("Dữ liệu không hợp lệ", "Invalid input"),
    "err_csrf_failed": ("Trang đã cũ, hãy tải lại trang (F5)", "The page is stale: reload it (F5)"),
    "err_unauthorized": ("Phiên đăng nhập đã hết, hãy đăng nhập lại", "Your session ended: log in again"),
    "err_forbidden": ("Tài khoản không có quyền này", "Your account may not do this"),
}


def performing_services(clinic: ClinicConfig) -> list[ServiceConfig]:
    return [s for s in clinic.services if s.kind in PERFORMING_KINDS]


def default_service(clinic: ClinicConfig) -> str:
    """?service=, else the service of the staff member's room when it is a lab or imaging one, else all."""
    codes = [s.code for s in performing_services(clinic)]
    asked = request.args.get("service", "")
    if asked in codes or asked == "all":
        return "" if asked == "all" else asked
    counter = clinic.counter(current_staff().counter or "")
    return next((s for s in counter.services if s in codes), "") if counter else ""


def page_setup(clinic: ClinicConfig) -> dict[str, Any]:
    english = current_lang() == "en"
    return {
        "services": {s.code: {"name": s.name_en if english else s.name, "kind": s.kind}
                     for s in performing_services(clinic)},
        "lang": current_lang(),
        "timezone": clinic.site.timezone,
        "labels": {key: tr(vi, en) for key, (vi, en) in LABELS.items()},
        # The doctor's print page serves the lab too: the sheet of every result of the visit.
        "print_url": url_for("doctor.clinical_print", visit_id=0, kind="results").replace("/0/", "/{visit}/"),
    }


@bp.get("")
@staff_page("lab")
def page():  # type: ignore[no-untyped-def]
    hub = current_hub()
    clinic = hub.config
    status = request.args.get("status", "open")
    return render_template("lab.html", site=clinic.site, services=performing_services(clinic),
                           service=default_service(clinic), status=status, today=hub.queue.today().isoformat(),
                           setup=page_setup(clinic))
