"""The doctor's page (/doctor): the room's queue with the console keys, the patient on screen (record,
history, intake), the examination with an ICD-10 diagnosis, and lab and imaging orders."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, render_template, request, session, url_for

from hub.api.hub_access import current_hub
from hub.config import ClinicConfig, CounterConfig
from hub.domain.booking.appointments import BOOKED, PENDING, PROPOSED
from hub.domain.clinical.prescriptions import (
    PRINT_WEIGHT_UNDER_YEARS,
    WEIGHT_REQUIRED_UNDER_MONTHS,
    age_in_months,
    lines_of,
)
from hub.domain.clinical.slips import visit_code
from hub.formatting import format_date
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("doctor", __name__, url_prefix="/doctor")
SESSION_KEY = "doctor_counter"

# Texts the page's script shows, in both languages; the page gets those of its language.
LABELS: dict[str, tuple[str, str]] = {
    "called": ("Đang gọi", "Called"),
    "serving": ("Đang khám", "In examination"),
    "on_hold": ("Tạm giữ", "On hold"),
    "open": ("Đang mở", "Open"),
    "paused": ("Tạm nghỉ", "Paused"),
    "closed": ("Đóng — nhấn N để mở phòng và gọi số", "Closed — press N to open and call"),
    "queue_empty": ("Không có ai đang chờ.", "Nobody is waiting."),
    "waiting_count": ("{n} đang chờ", "{n} waiting"),
    "waited": ("chờ {n} phút", "waited {n} min"),
    "ok_next": ("Đã gọi số {number}.", "Called {number}."),
    "ok_empty": ("Không còn ai đang chờ.", "Nobody is waiting."),
    "ok_recall": ("Đã gọi lại số {number}.", "Recalled {number}."),
    "ok_start": ("Bắt đầu khám số {number}.", "Examining {number}."),
    "ok_finish": ("Đã kết thúc lượt khám số {number}.", "Finished {number}."),
    "ok_no_show": ("Số {number} vắng mặt.", "{number} marked no-show."),
    "ok_transfer": ("Đã chuyển sang {service}: số mới {number}.", "Transferred to {service}: new ticket {number}."),
    "ok_call": ("Đã gọi số {number} (ngoài thứ tự).", "Called {number} (out of turn)."),
    "ok_exam": ("Đã lưu bệnh án.", "Examination saved."),
    "ok_orders": ("Đã chỉ định {count} dịch vụ.", "{count} item(s) ordered."),
    "go_to": ("Bệnh nhân đến {service}, số {number}.", "The patient goes to {service}, ticket {number}."),
    "later": ("Sau đó: {services} (số được cấp khi xong bước trước).",
              "Then: {services} (the ticket is issued when the previous step is done)."),
    "ok_release": ("Đã công bố kết quả cho bệnh nhân.", "Result released to the patient."),
    "ok_cancel": ("Đã hủy chỉ định.", "Order cancelled."),
    "confirm_call": ("Gọi số {number} ngoài thứ tự?", "Call {number} out of turn?"),
    "confirm_cancel": ("Hủy chỉ định {name}?", "Cancel {name}?"),
    "no_items": ("Hãy chọn ít nhất một chỉ định.", "Choose at least one item."),
    "no_patient": ("Chưa đăng ký thông tin bệnh nhân", "Patient not registered"),
    "years": ("{n} tuổi", "{n} y"),
    "choose": ("Chọn", "Choose"),
    "slip_printed": ("Đã in phiếu chỉ định.", "Order slip printed."),
    "slip_failed": ("Máy in lỗi: phiếu chỉ định đã lưu, chưa in.",
                    "Printer fault: the order slip is saved, not printed."),
    "slip_no_printer": ("Phòng chưa có máy in: phiếu đã lưu.", "This room has no printer: the slip is saved."),
    "slip_pending": ("Đang in phiếu…", "Printing the slip…"),
    "reprint": ("In lại", "Print again"),
    "err_no_printer": ("Không có máy in", "No printer"),
    "not_found": ("Không tìm thấy bệnh nhân.", "No patient found."),
    "same_person": ("Đúng người này", "This is the patient"),
    "other_person": ("Người khác — vẫn đăng ký mới", "Someone else — register anyway"),
    "possible_duplicate": ("Có hồ sơ có thể trùng: hãy chọn nếu đúng người.",
                           "Records that may be the same person: choose one if it is."),
    "ok_identified": ("Đã xác định bệnh nhân {name}.", "Patient identified: {name}."),
    "err_patient_not_identified": ("Chưa xác định bệnh nhân", "The patient is not identified"),
    "err_invalid_cccd": ("Không đọc được thẻ CCCD", "Unreadable ID card"),
    "err_unknown_patient": ("Không có bệnh nhân này", "No such patient"),
    "err_visit_has_patient": ("Lượt khám đã có bệnh nhân khác", "The visit has another patient"),
    "err_national_id_taken": ("Số CCCD đã có hồ sơ", "This ID number is already registered"),
    "no_history": ("Chưa có lần khám trước.", "No earlier visits."),
    "no_orders": ("Chưa có chỉ định.", "No orders yet."),
    "no_intake": ("Không có ghi nhận từ tiếp đón.", "Nothing recorded at reception."),
    "status_ordered": ("Đã chỉ định", "Ordered"),
    "status_in_progress": ("Đang thực hiện", "In progress"),
    "status_resulted": ("Có kết quả", "Resulted"),
    "status_cancelled": ("Đã hủy", "Cancelled"),
    "t_waiting": ("đang chờ", "waiting"),
    "t_called": ("đang gọi", "called"),
    "t_serving": ("đang phục vụ", "being served"),
    "t_on_hold": ("tạm giữ", "on hold"),
    "t_done": ("xong", "done"),
    "t_no_show": ("vắng", "no-show"),
    "t_cancelled": ("đã hủy", "cancelled"),
    "t_transferred": ("đã chuyển", "moved on"),
    "released": ("Đã công bố", "Released"),
    "h_item": ("Chỉ định", "Order"),
    "h_where": ("Nơi thực hiện · số", "Where · ticket"),
    "h_status": ("Trạng thái", "State"),
    "h_results": ("Kết quả", "Results"),
    "release": ("Công bố", "Release"),
    "cancel": ("Hủy", "Cancel"),
    "total": ("Tổng: {amount} đ", "Total: {amount} VND"),
    "unreachable": ("Không kết nối được máy chủ. Thao tác chưa được thực hiện.",
                    "Cannot reach the hub. Nothing was done."),
    "refused": ("Không thực hiện được", "Refused"),
    "err_illegal_transition": ("Không thể làm việc này ở trạng thái hiện tại", "Not allowed in the current state"),
    "err_no_current_ticket": ("Phòng chưa có số nào", "The room has no ticket"),
    "err_counter_busy": ("Phòng đang có số", "The room still has a ticket"),
    "err_not_serving": ("Hãy bắt đầu khám trước khi chỉ định", "Start the examination before ordering"),
    "err_bad_icd10": ("Mã ICD-10 không hợp lệ", "Not an ICD-10 code"),
    "err_diagnosis_text_required": ("Cần ghi tên chẩn đoán", "The diagnosis text is needed"),
    "err_invalid_request": ("Dữ liệu không hợp lệ", "Invalid input"),
    "err_unknown_drug": ("Thuốc không có trong danh mục", "Drug not in the catalogue"),
    "err_bad_quantity": ("Số lượng không hợp lệ", "Invalid quantity"),
    "err_bad_days": ("Số ngày không hợp lệ", "Invalid number of days"),
    "err_bad_prescription_line": ("Dòng thuốc chưa đủ", "Incomplete prescription line"),
    "err_too_long": ("Quá dài", "Too long"),
    "err_weight_required": ("Cần cân nặng", "The weight is needed"),
    "err_bad_weight": ("Cân nặng hoặc chiều cao không hợp lệ", "Invalid weight or height"),
    "err_bad_height": ("Chiều cao không hợp lệ", "Invalid height"),
    "rx_name": ("Tên thuốc", "Drug name"),
    "rx_strength": ("Hàm lượng", "Strength"),
    "rx_unit": ("Đơn vị", "Unit"),
    "rx_dose": ("1 viên x 2 lần/ngày", "1 tablet twice a day"),
    "rx_instructions": ("uống sau ăn", "after meals"),
    "rx_remove": ("Xóa", "Remove"),
    "rx_bad_quantity": ("Dòng thuốc {n}: số lượng phải là số nguyên dương.",
                        "Line {n}: the quantity must be a positive whole number."),
    "rx_bad_days": ("Dòng thuốc {n}: số ngày phải là số nguyên.", "Line {n}: the days must be a whole number."),
    "rx_free_needs": ("Dòng thuốc {n}: cần tên thuốc và đơn vị tính.",
                      "Line {n}: the drug's name and unit are needed."),
    "err_csrf_failed": ("Trang đã cũ, hãy tải lại trang (F5)", "The page is stale: reload it (F5)"),
    "err_unauthorized": ("Phiên đăng nhập đã hết, hãy đăng nhập lại", "Your session ended: log in again"),
    "err_forbidden": ("Tài khoản không có quyền này", "Your account may not do this"),
}


def exam_rooms(clinic: ClinicConfig) -> list[CounterConfig]:
    """Counters that serve an examination service (the doctors' rooms)."""
    exam = {s.code for s in clinic.services if s.kind == "exam"}
    return [c for c in clinic.counters if exam.intersection(c.services)]


def chosen_room(clinic: ClinicConfig, doctor_room: str | None) -> CounterConfig | None:
    """?counter= (remembered in the session), else the session's, the doctor's room, the staff member's counter."""
    rooms = {c.code: c for c in exam_rooms(clinic)}
    asked = request.args.get("counter")
    if asked:
        if asked in rooms:
            session[SESSION_KEY] = asked
            return rooms[asked]
        flash(tr(f"'{asked}' không phải phòng khám.", f"'{asked}' is not an examination room."), "error")
    for code in (session.get(SESSION_KEY), doctor_room, current_staff().counter):
        if code in rooms:
            return rooms[code]
    return None


def page_setup(clinic: ClinicConfig, room: CounterConfig, doctor: Any) -> dict[str, Any]:
    english = current_lang() == "en"
    return {
        "counter": room.code,
        "counter_services": list(room.services),
        "doctor": {"code": doctor.code, "name": doctor.name} if doctor else None,
        "services": {s.code: {"name": s.name_en if english else s.name, "kind": s.kind} for s in clinic.services},
        "priorities": {c.code: c.name_en if english else c.name for c in clinic.priority_classes},
        "catalogue": [{"code": i.code, "name": i.name_en if english else i.name, "kind": i.kind,
                       "service": i.service, "price": i.price} for i in clinic.catalogue],
        "lang": current_lang(),
        # The clinical prints of a visit: {visit} and {kind} filled in by the page.
        "print_url": url_for("doctor.clinical_print", visit_id=0, kind="KIND").replace("/0/", "/{visit}/")
                                                                             .replace("KIND", "{kind}"),
        "timezone": clinic.site.timezone,
        "labels": {key: tr(vi, en) for key, (vi, en) in LABELS.items()},
    }


PRINTS = {"prescription": ("ĐƠN THUỐC", "PRESCRIPTION"), "results": ("PHIẾU KẾT QUẢ XÉT NGHIỆM", "LAB RESULTS"),
          "summary": ("TÓM TẮT LƯỢT KHÁM", "VISIT SUMMARY")}


@bp.get("/visits/<int:visit_id>/print/<kind>")
@staff_page("doctor", "nurse", "lab")
def clinical_print(visit_id: int, kind: str):  # type: ignore[no-untyped-def]
    """A4/A5 print from the browser (print CSS): prescription, lab result sheet, visit summary."""
    if kind not in PRINTS:
        abort(404)
    hub = current_hub()
    visit = hub.clinical.visit(visit_id)
    if visit["patient"] is None:
        abort(409)
    patient = visit["patient"]
    born = date.fromisoformat(patient["date_of_birth"]) if patient.get("date_of_birth") else None
    day = date.fromisoformat(visit["day"])
    months = age_in_months(born, day)
    return render_template("clinical_print.html", site=hub.config.site, visit=visit, kind=kind,
                           title=PRINTS[kind], code=visit_code(visit_id),
                           date=format_date(visit["day"], current_lang()),
                           fmt_date=lambda day: format_date(day, current_lang()), doctor=hub.clinical.doctor_for(
                               current_staff().username),
                           lines=lines_of(visit["exam"]), re_exam=re_exam(visit_id),
                           months=months if months is not None and months < WEIGHT_REQUIRED_UNDER_MONTHS else None,
                           weight_line=months is not None and months < PRINT_WEIGHT_UNDER_YEARS * 12,
                           performers=performers(visit))


def performers(visit: dict[str, Any]) -> list[str]:
    """Who entered the printed results (the result sheet is theirs to sign, not the examining doctor's)."""
    staff = current_hub().staff
    names = []
    for order in visit["orders"]:
        actor = order.get("resulted_by") or ""
        if order.get("status") != "resulted" or not actor.startswith("user:"):
            continue
        account = staff.by_username(actor.removeprefix("user:"))
        name = account.full_name if account else actor.removeprefix("user:")
        if name not in names:
            names.append(name)
    return names


# A follow-up that still stands: the date the patient comes back (ngày tái khám).
OPEN_FOLLOW_UP = (PROPOSED, PENDING, BOOKED)


def re_exam(visit_id: int) -> dict[str, Any] | None:
    """The earliest follow-up appointment booked at this visit that still stands, or None."""
    series = current_hub().follow_ups.of_visit(visit_id)["series"]
    standing = [a for s in series for a in s["appointments"] if a["status"] in OPEN_FOLLOW_UP]
    return min(standing, key=lambda a: a["slot_start"]) if standing else None


@bp.get("")
@staff_page("doctor")
def page():  # type: ignore[no-untyped-def]
    hub = current_hub()
    clinic = hub.config
    doctor = hub.clinical.doctor_for(current_staff().username)
    room = chosen_room(clinic, doctor.room if doctor else None)
    if room is None:
        return render_template("doctor_choose.html", site=clinic.site, rooms=exam_rooms(clinic))
    setup = page_setup(clinic, room, doctor)
    return render_template("doctor.html", site=clinic.site, room=room, doctor=doctor, rooms=exam_rooms(clinic),
                           catalogue=clinic.catalogue, services=clinic.services, setup=setup)
