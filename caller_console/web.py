"""The nurse and counter console page (/console): one counter's current ticket, line and keys."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, render_template, request, session

from caller_console.messages import ACTION_TEXTS
from hub.api.hub_access import current_hub
from hub.config import ClinicConfig, CounterConfig
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("caller_console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")
CONSOLE_ROLES = ("nurse", "reception", "doctor", "lab", "cashier")
SESSION_KEY = "console_counter"

# Texts the page's script shows, in both languages; the page gets those of its language.
LABELS: dict[str, tuple[str, str]] = {
    **ACTION_TEXTS,
    "called": ("Đang gọi", "Called"),
    "serving": ("Đang phục vụ", "Serving"),
    "on_hold": ("Tạm giữ (quầy nghỉ)", "On hold (counter paused)"),
    "open": ("Đang mở", "Open"),
    "paused": ("Tạm nghỉ", "Paused"),
    "closed": ("Đóng — nhấn N để mở quầy và gọi số", "Closed — press N to open and call"),
    "minutes": ("{n} phút", "{n} min"),
    "waited": ("chờ {n} phút", "waited {n} min"),
    "waiting_count": ("{n} đang chờ", "{n} waiting"),
    "queue_empty": ("Không có ai đang chờ.", "Nobody is waiting."),
    "no_show_at": ("vắng lúc {time}", "missed at {time}"),
    "not_now": ("Phím {key} không dùng được lúc này.", "Key {key} cannot be used now."),
    "err_illegal_transition": ("Không thể làm việc này ở trạng thái hiện tại", "Not allowed in the current state"),
    "err_no_current_ticket": ("Quầy chưa có số nào", "The counter has no ticket"),
    "err_counter_busy": ("Quầy đang có số", "The counter still has a ticket"),
    "err_ticket_called": ("Số đang được gọi", "A ticket is being called"),
    "err_wrong_service": ("Số này không thuộc dịch vụ của quầy", "Not a ticket of this counter's services"),
    "err_unknown_ticket": ("Không tìm thấy số này hôm nay", "No such ticket today"),
    "err_same_service": ("Bệnh nhân đã ở dịch vụ này", "The patient is already in that service"),
    "err_busy": ("Hàng chờ thay đổi liên tục, hãy nhấn lại", "The line kept changing; press again"),
    "err_invalid_request": ("Dữ liệu không hợp lệ", "Invalid input"),
    "err_csrf_failed": ("Trang đã cũ, hãy tải lại trang (F5)", "The page is stale: reload it (F5)"),
    "err_unauthorized": ("Phiên đăng nhập đã hết, hãy đăng nhập lại", "Your session ended: log in again"),
    "err_forbidden": ("Tài khoản không có quyền này", "Your account may not do this"),
}


def chosen_counter(clinic: ClinicConfig) -> CounterConfig | None:
    """?counter= (remembered in the session), else the session's choice, else the staff member's counter."""
    asked = request.args.get("counter")
    if asked:
        counter = clinic.counter(asked)
        if counter is not None:
            session[SESSION_KEY] = counter.code
            return counter
        flash(tr(f"Không có quầy hoặc phòng '{asked}'.", f"No counter or room '{asked}'."), "error")
    for code in (session.get(SESSION_KEY), current_staff().counter):
        if code and clinic.counter(code) is not None:
            return clinic.counter(code)
    return None


def page_setup(clinic: ClinicConfig, counter: CounterConfig) -> dict[str, Any]:
    """What the page's script needs besides live data: names of services and priority classes."""
    english = current_lang() == "en"
    return {
        "counter": counter.code,
        "counter_services": list(counter.services),
        "services": {s.code: {"name": s.name_en if english else s.name, "prefix": s.prefix, "kind": s.kind}
                     for s in clinic.services},
        "priorities": {c.code: c.name_en if english else c.name for c in clinic.priority_classes},
        "lang": current_lang(),
        "timezone": clinic.site.timezone,
        "labels": {key: tr(vi, en) for key, (vi, en) in LABELS.items()},
    }


@bp.get("/console")
@staff_page(*CONSOLE_ROLES)
def console():  # type: ignore[no-untyped-def]
    hub = current_hub()
    clinic = hub.config
    counter = chosen_counter(clinic)
    if counter is None:
        return render_template("console_choose.html", site=clinic.site, counters=clinic.counters)
    counter_name = counter.name_en if current_lang() == "en" else counter.name
    return render_template("console.html", site=clinic.site, counter=counter, counter_name=counter_name,
                           counters=clinic.counters,
                           services=clinic.services, priorities=clinic.priority_classes,
                           setup=page_setup(clinic, counter))
