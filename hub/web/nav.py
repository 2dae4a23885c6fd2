"""The staff pages, as the start page lists them (each for some roles; admin sees all)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StaffLink:
    url: str
    vi: str
    en: str
    roles: tuple[str, ...]


STAFF_LINKS = (
    StaffLink("/reception", "Tiếp đón: đăng ký, lịch hẹn, tạm ứng", "Reception: registration, bookings, deposits",
              ("reception",)),
    StaffLink("/doctor", "Bác sĩ: hàng chờ, khám, chỉ định", "Doctor: my queue, examination, orders", ("doctor",)),
    StaffLink("/lab", "Xét nghiệm và chẩn đoán hình ảnh", "Lab and imaging", ("lab",)),
    StaffLink("/cashier", "Thu ngân", "Cashier", ("cashier",)),
    StaffLink("/console", "Bàn gọi số (điều dưỡng, quầy)", "Calling console", ("nurse", "reception", "doctor", "lab",
                                                                              "cashier")),
    StaffLink("/ops", "Điều hành trực tiếp: hàng chờ, quầy, cảnh báo", "Live operations: lines, counters, alerts",
              ("nurse", "reception")),
    StaffLink("/reports", "Báo cáo và xuất số liệu", "Reports and exports", ("admin",)),
    StaffLink("/admin/counters", "Quầy, phòng và nhân viên", "Counters, rooms and staff", ("admin",)),
    StaffLink("/admin/staff", "Tài khoản nhân viên", "Staff accounts", ("admin",)),
    StaffLink("/admin/structure", "Cấu trúc: dịch vụ, quầy, phòng, bảng, giờ làm việc, ngày nghỉ",
              "Structure: services, counters, rooms, boards, hours, holidays", ("admin",)),
    StaffLink("/admin/audit", "Nhật ký thay đổi", "Change log", ("admin",)),
    StaffLink("/admin/schedules", "Lịch làm việc bác sĩ", "Doctors' schedules", ("admin",)),
    StaffLink("/admin/devices", "Thiết bị", "Devices", ("nurse", "reception", "admin")),
    StaffLink("/admin/notifications", "Tin nhắn gửi bệnh nhân", "Messages to patients", ("reception", "admin")),
    StaffLink("/admin/messages", "Hộp thư: tư vấn nhân sự", "Inbox: staffing advice", ("admin",)),
    StaffLink("/admin/callbacks", "Gọi lại bệnh nhân lỡ hẹn tái khám", "Call-backs for missed follow-ups",
              ("reception", "admin")),
    StaffLink("/reports/follow-ups", "Báo cáo tái khám", "Follow-up report", ("admin",)),
    StaffLink("/insurance/claims", "Hồ sơ BHYT (XML 130)", "Insurance claims (XML 130)", ("cashier",)),
)
