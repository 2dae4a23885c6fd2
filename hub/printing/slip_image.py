"""A slip's content (hub.domain.clinical.slips) drawn as one black-and-white image, like the kiosk ticket:
raster prints every Vietnamese diacritic on every printer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PIL import Image

from kiosk.ticket_image import _TicketCanvas, format_issued_at, paper_width_px, wait_texts


def station_lines(station: dict[str, Any]) -> list[str]:
    """The lines of one station, Vietnamese (what the tests read back, and what the patient reads)."""
    lines = [station["service_name"]]
    if station["rooms"]:
        lines.append("Phòng: " + ", ".join(station["rooms"]))
    if station["floor"]:
        lines.append("Tầng: " + station["floor"] if not station["floor"].lower().startswith("tầng")
                     else station["floor"])
    if station["number"]:
        lines.append(f"Số của bạn: {station['number']}")
        if station.get("estimate"):
            estimate = station["estimate"]
            lines.append(wait_texts((estimate["p50_minutes"], estimate["p90_minutes"]))[0])
    else:
        lines.append("Số được cấp khi xong bước trước")
    if station["items"]:
        lines.append("Làm: " + ", ".join(station["items"]))
    lines += [f"Trước khi làm: {b}" for b in station["before"]]
    return lines


def draw_slip(content: dict[str, Any], paper_mm: int = 80) -> Image.Image:
    """The whole slip as one mode "1" image exactly as wide as the printer's line."""
    canvas = _TicketCanvas(paper_width_px(paper_mm))
    canvas.text(content["hospital"], 26, bold=True)
    canvas.space(6)
    canvas.rule()
    canvas.space(8)
    canvas.text(content["title"], 30, bold=True)
    canvas.text(content["title_en"], 18)
    canvas.text(f"Mã lượt khám: {content['visit_code']}", 24, bold=True)
    patient = content.get("patient")
    if patient:
        age = f" · {patient['age']} tuổi" if patient.get("age") is not None else ""
        canvas.text(f"{patient['full_name']} ({patient['code']}){age}", 22)
    if content.get("from_room"):
        canvas.text(f"Chỉ định tại: {content['from_room']}", 20)
    for index, station in enumerate(content["stations"], start=1):
        canvas.space(10)
        canvas.rule()
        canvas.space(8)
        first, *rest = station_lines(station)
        canvas.text(f"{index}. {first}", 26, bold=True)
        for line in rest:
            canvas.text(line, 30 if line.startswith("Số của bạn") else 22, bold=line.startswith("Số của bạn"))
    if content.get("status_url"):
        canvas.space(12)
        canvas.qr(content["status_url"])
        canvas.text("Quét mã để theo dõi lượt của bạn", 20)
    canvas.space(8)
    canvas.text(format_issued_at(datetime.fromisoformat(content["printed_at"]), content["timezone"]), 20)
    return canvas.finish()
