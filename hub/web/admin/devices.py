"""Devices on the admin pages: health (local times, Vietnamese names), add (secret shown once),
retire, move to another counter or zone, and send a test (LED blink, speaker phrase, kiosk print)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from hub.api.hub_access import current_hub
from hub.domain.common.errors import DomainError
from hub.protocol import DEVICE_TYPES
from hub.web.admin import bp
from hub.web.admin.sections import zones
from hub.web.auth import current_staff, staff_page
from hub.web.i18n import tr

TYPE_NAMES = {"kiosk": ("Ki-ốt lấy số", "Kiosk"), "board": ("Bảng hiển thị", "Board"),
              "speaker": ("Loa gọi số", "Speaker"),
              "keypad": ("Bàn phím gọi số", "Counter keypad"), "led": ("Đèn số LED", "LED display"),
              "printer": ("Máy in phiếu", "Slip printer")}
PAPER_NAMES = {"ok": ("Đủ giấy", "Paper OK"), "low": ("Sắp hết giấy", "Paper low"), "out": ("Hết giấy", "Out of paper")}
TEST_NAMES = {"identify": ("Nháy đèn", "Blink"), "say": ("Phát câu thử", "Say a test phrase"),
              "test_print": ("In phiếu thử", "Print a test slip")}


def _page(status: int = 200, secret: dict | None = None):  # type: ignore[no-untyped-def]
    hub = current_hub()
    devices = hub.devices.list()
    return render_template("admin_devices.html", site=hub.config.site, devices=devices, retired=hub.devices.retired(),
                           type_names=TYPE_NAMES, paper_names=PAPER_NAMES, test_names=TEST_NAMES,
                           types=DEVICE_TYPES, counters=hub.config.counters, zones=zones(hub), secret=secret,
                           bus=hub.mqtt_status(),
                           counter_names={c.code: (c.name, c.name_en) for c in hub.config.counters}), status


@bp.get("/devices")
@staff_page("nurse", "reception")
def devices():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/devices")
@staff_page("admin")
def device_add():  # type: ignore[no-untyped-def]
    form = request.form
    code = (form.get("id") or "").strip().lower()
    try:
        secret = current_hub().devices.add(form.get("type", ""), code, form.get("name", ""), zone=form.get("zone"),
                                           counter=form.get("counter"), actor=current_staff().actor)
    except DomainError as exc:
        flash(exc.message, "error")
        return _page(422)
    # Shown on this answer only: the registry keeps nothing but the broker's hash of it.
    return _page(201, secret={"id": code, "secret": secret})


@bp.post("/devices/<code>/retire")
@staff_page("admin")
def device_retire(code: str):  # type: ignore[no-untyped-def]
    try:
        current_hub().devices.retire(code, actor=current_staff().actor)
        flash(tr(f"Đã ngừng dùng {code}: thiết bị không đăng nhập được nữa.",
                 f"{code} retired: it can no longer log in."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.devices"))


@bp.post("/devices/<code>/move")
@staff_page("admin")
def device_move(code: str):  # type: ignore[no-untyped-def]
    try:
        current_hub().devices.move(code, zone=request.form.get("zone"), counter=request.form.get("counter"),
                                   actor=current_staff().actor)
        flash(tr(f"Đã chuyển {code}.", f"{code} moved."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.devices"))


@bp.post("/devices/<code>/test")
@staff_page("admin")
def device_test(code: str):  # type: ignore[no-untyped-def]
    hub = current_hub()
    if hub.mqtt_status() != "ok":
        flash(tr("Chưa kết nối mạng thiết bị (MQTT): không gửi được lệnh thử.",
                 "The device bus (MQTT) is not connected: the test cannot be sent."), "error")
        return redirect(url_for("admin.devices"))
    try:
        sent = hub.devices.send_test(code, actor=current_staff().actor)
        flash(tr(f"Đã gửi lệnh “{TEST_NAMES[sent['command']][0]}” tới {code}.",
                 f"Sent “{TEST_NAMES[sent['command']][1]}” to {code}."), "ok")
    except DomainError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin.devices"))
