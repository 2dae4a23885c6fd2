"""The audit trail as admins read it: who changed what and when, with the before and after."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from hub.api.hub_access import current_hub
from hub.domain.common.models import AuditEntry
from hub.web.admin import bp
from hub.web.admin.sections import SECTIONS, get_value
from hub.web.auth import staff_page

# What the page lists, by the first part of an entry's action.
KINDS = {"structure": ("Cấu trúc bệnh viện", "Clinic structure"), "staff": ("Nhân viên", "Staff"),
         "device": ("Thiết bị", "Devices")}
ACTION_NAMES = {
    "structure.seed": ("Khởi tạo từ tệp cấu hình", "Seeded from the config files"),
    "structure.change": ("Sửa cấu trúc", "Structure changed"),
    "structure.import": ("Nhập cấu trúc từ tệp", "Structure imported"),
    "staff.create": ("Tạo tài khoản", "Account created"), "staff.update": ("Sửa tài khoản", "Account edited"),
    "staff.disable": ("Khoá tài khoản", "Account disabled"), "staff.enable": ("Mở lại tài khoản", "Account enabled"),
    "staff.reset_password": ("Đặt lại mật khẩu", "Password reset"),
    "staff.change_password": ("Tự đổi mật khẩu", "Changed own password"),
    "device.add": ("Thêm thiết bị", "Device added"), "device.retire": ("Ngừng dùng thiết bị", "Device retired"),
    "device.move": ("Chuyển thiết bị", "Device moved"), "device.test": ("Gửi lệnh thử", "Test sent"),
}


def entries(kind: str | None, limit: int = 200) -> list[dict]:
    prefixes = [kind] if kind in KINDS else list(KINDS)
    query = select(AuditEntry.__table__).where(AuditEntry.action.in_(list(ACTION_NAMES)) if not kind else
                                     AuditEntry.action.like(f"{prefixes[0]}.%"))
    with current_hub().db.read() as connection:
        rows = connection.execute(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
    return [{"at": row.at, "actor": row.actor, "action": row.action, "subject": row.subject,
             "detail": row.detail or {}} for row in rows]


@bp.get("/audit")
@staff_page("admin")
def audit():  # type: ignore[no-untyped-def]
    kind = request.args.get("kind") or None
    hub = current_hub()
    return render_template("admin_audit.html", site=hub.config.site, history=entries(kind), kinds=KINDS,
                           kind=kind, sections=SECTIONS)


bp.record_once(lambda state: state.app.jinja_env.globals.update(audit_action_names=ACTION_NAMES,
                                                                 structure_sections=SECTIONS, item_value=get_value))
