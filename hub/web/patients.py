"""Staff pages: the reception desk (find or register patients, book, check in, walk-ins) and patient cards.

The desk page is a shell; its script works through the REST API with the login session (and the CSRF
header), so the page goes through the same checks as any other client.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import qrcode
import qrcode.image.svg
from flask import Blueprint, abort, render_template, request
from markupsafe import Markup

from hub.api.hub_access import current_hub
from hub.domain.booking.appointments import STATUS_NAMES
from hub.domain.common.errors import NotFound
from hub.web.auth import staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("reception", __name__, url_prefix="/reception")
WALK_IN_KINDS = ("exam", "lab", "imaging", "pharmacy")


def _labels() -> dict[str, Any]:
    """The page script's texts in the page's language."""
    return {
        "status": {code: tr(vi, en) for code, (vi, en) in STATUS_NAMES.items()},
        "no_match": tr("Không tìm thấy bệnh nhân. Có thể đăng ký mới bên dưới.",
                       "No patient found. Register them below."),
        "registered": tr("Đã đăng ký bệnh nhân", "Patient registered"),
        "slip_printed": tr("Đã in phiếu số thứ tự", "Ticket printed"),
        "slip_no_printer": tr("Quầy này không có máy in: chọn quầy rồi bấm In lại",
                              "This desk has no printer: choose a desk and reprint"),
        "slip_failed": tr("Chưa in được phiếu — bấm In lại", "The ticket did not print — reprint it"),
        "duplicate": tr("Bệnh nhân có thể đã có hồ sơ:", "This patient may already be registered:"),
        "use_record": tr("Dùng hồ sơ này", "Use this record"),
        "confirm_new": tr("Không phải, vẫn tạo hồ sơ mới", "Not them: create a new record"),
        "no_slots": tr("Không còn giờ trống trong ngày này.", "No free slot that day."),
        "booked": tr("Đã đặt lịch, mã lịch hẹn", "Booked, booking code"),
        "pick_slot": tr("Hãy chọn một giờ khám.", "Pick a time first."),
        "pick_patient": tr("Hãy chọn hoặc đăng ký bệnh nhân trước.", "Find or register the patient first."),
        "check_in": tr("Tiếp nhận", "Check in"),
        "issued": tr("Số thứ tự", "Ticket number"),
        "no_bookings": tr("Không có lịch hẹn nào hôm nay.", "No bookings today."),
        "free": tr("còn", "free"),
        "any_doctor": tr("Bác sĩ bất kỳ", "Any doctor"),
        "born": tr("Sinh", "Born"),
        "bhyt": {"eligible": tr("Có BHYT (đã kiểm tra)", "Insured (checked)"),
                 "refused": tr("Thẻ bị từ chối", "Card refused"),
                 "unchecked": tr("Chưa kiểm tra được (cổng BHYT không trả lời)", "Not yet checked (portal down)"),
                 "fee_paying": tr("Không BHYT (dịch vụ)", "No insurance (fee-paying)")},
        "bhyt_level": tr("mức hưởng", "level"),
        "bhyt_override": tr("Tiếp đón quyết định", "Reception decided"),
    }


@bp.get("")
@staff_page("reception")
def desk():  # type: ignore[no-untyped-def]
    hub = current_hub()
    english = current_lang() == "en"
    services = [{"code": s.code, "name": s.name_en if english else s.name, "kind": s.kind}
                for s in hub.config.services if s.kind in WALK_IN_KINDS]
    bookable = {d["service"] for d in hub.booking.schedules.doctors()}
    priorities = [{"code": c.code, "name": c.name_en if english else c.name} for c in hub.config.priority_classes
                  if c.code != "booked"]
    today = hub.booking.today()
    # The reception desks: the walk-in ticket prints on the chosen desk's printer (issue 15).
    reception = {s.code for s in hub.config.services if s.kind == "reception"}
    desks = [{"code": c.code, "name": c.name_en if english else c.name, "printer": bool(c.printer)}
             for c in hub.config.counters if reception & set(c.services)]
    return render_template(
        "reception.html", site=hub.config.site, services=services, desks=desks,
        bookable=[s for s in services if s["code"] in bookable], priorities=priorities,
        config={"labels": _labels(), "doctors": hub.booking.schedules.doctors(), "today": today.isoformat(),
                "tomorrow": (today + timedelta(days=1)).isoformat(), "lang": current_lang()})


@bp.get("/patients/<code>/card")
@staff_page("reception")
def patient_card(code: str):  # type: ignore[no-untyped-def]
    """A printable patient card: name, birth date and the code as text and as a QR code."""
    hub = current_hub()
    try:
        patient = hub.booking.patients.get(code)
    except NotFound:
        abort(404)
    image = qrcode.make(patient["code"], image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=1)
    # The SVG is drawn by the qrcode library from a code we issued ("BN" and digits): nothing to escape.
    svg = Markup(image.to_string(encoding="unicode"))
    return render_template("reception_card.html", site=hub.config.site, patient=patient, qr_svg=svg,
                           auto_print=request.args.get("print") == "1")
