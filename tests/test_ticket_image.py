"""The ticket drawn as one image: width, contents that can be checked by machine, and a sample for humans."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from kiosk import ticket_image
from kiosk.ticket_image import (
    FontNotFoundError,
    TicketPrint,
    ahead_texts,
    draw_ticket,
    find_font,
    format_issued_at,
    wait_texts,
    wrap_text,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
STATUS_URL = "http://192.168.1.10:8000/t/8f2c1a?k=Zq3xT0kEn4mPlE"

SAMPLE = TicketPrint(
    hospital_name="Bệnh viện Đa khoa Hòa Bình",
    hospital_name_en="Hoa Binh General Hospital",
    service_name="Khám Nội tổng quát",
    service_name_en="General internal medicine",
    number="A023",
    issued_at=datetime(2026, 11, 23, 1, 5, tzinfo=UTC),  # 08:05 in Hà Nội
    status_url=STATUS_URL,
    priority="Người cao tuổi",
    priority_en="Elderly",
    ahead=5,
    wait_minutes=(12.2, 19.6),
    notice="Vui lòng giữ phiếu và chú ý màn hình, loa gọi số. Please keep this ticket.",
    offline=True,
)


def black_fraction(image: Image.Image) -> float:
    histogram = image.convert("L").histogram()
    return sum(histogram[:128]) / (image.width * image.height)


def decoded_qr(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize(("paper_mm", "width"), [(80, 576), (58, 384)])
def test_ticket_is_one_printable_image(paper_mm: int, width: int) -> None:
    image = draw_ticket(SAMPLE, paper_mm)
    assert image.mode == "1"
    assert image.width == width
    assert 400 < image.height < 2000
    assert 0.04 < black_fraction(image) < 0.5
    assert decoded_qr(image) == [STATUS_URL]
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / f"ticket-{paper_mm}mm.png")


def test_minimal_ticket_draws() -> None:
    minimal = TicketPrint(
        hospital_name="Phòng khám",
        service_name="Lấy máu",
        number="X1",
        issued_at=datetime(2026, 1, 1, tzinfo=UTC),
        status_url="http://h/t/1",
        show_english=False,
    )
    image = draw_ticket(minimal, 58)
    assert image.width == 384
    assert decoded_qr(image) == ["http://h/t/1"]


def test_marks_make_the_ticket_longer() -> None:
    plain = replace(SAMPLE, priority=None, offline=False)
    assert draw_ticket(replace(plain, offline=True)).height > draw_ticket(plain).height
    assert draw_ticket(replace(plain, priority="Phụ nữ có thai")).height > draw_ticket(plain).height


def test_long_texts_wrap_instead_of_overflowing() -> None:
    short = draw_ticket(SAMPLE)
    long_name = replace(SAMPLE, service_name="Khoa Chẩn đoán hình ảnh và Thăm dò chức năng " * 3, notice="x" * 300)
    image = draw_ticket(long_name)
    assert image.width == 576
    assert image.height > short.height + 100


def test_a_very_long_notice_lengthens_the_ticket() -> None:
    image = draw_ticket(replace(SAMPLE, notice="Lưu ý: mang theo thẻ bảo hiểm y tế. " * 120))
    assert image.height > 2500
    last_lines = image.crop((0, image.height - 80, image.width, image.height))
    assert 0 < black_fraction(last_lines) < 0.5  # the end of the notice is printed, not cut off


def test_wrap_text_fits_every_line() -> None:
    font = ticket_image._font(24)
    lines = wrap_text("Vui lòng giữ phiếu " * 10 + "http://a-very-long-address.example/" + "z" * 80, font, 300)
    assert len(lines) > 3
    assert all(font.getlength(line) <= 300 for line in lines)


def test_issue_time_is_shown_in_the_site_time_zone() -> None:
    assert format_issued_at(datetime(2026, 11, 22, 17, 30, tzinfo=UTC)) == "23/11/2026 00:30"
    assert format_issued_at(datetime(2026, 11, 22, 17, 30, tzinfo=UTC), "UTC") == "22/11/2026 17:30"
    with pytest.raises(ValueError, match="time zone"):
        format_issued_at(datetime(2026, 11, 22, 17, 30))


@pytest.mark.parametrize(
    ("ahead", "expected"),
    [(0, "Bạn là người tiếp theo"), (1, "Có 1 người đang chờ trước bạn"), (5, "Có 5 người đang chờ trước bạn")],
)
def test_people_ahead(ahead: int, expected: str) -> None:
    assert ahead_texts(ahead)[0] == expected


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        ((12.2, 19.6), "Dự kiến chờ: 12–20 phút"),
        ((20, 12), "Dự kiến chờ: 12–20 phút"),
        ((7, 7.2), "Dự kiến chờ: khoảng 7 phút"),
        ((0, 0.3), "Dự kiến chờ: dưới 1 phút"),
        ((0, 4), "Dự kiến chờ: 1–4 phút"),
    ],
)
def test_wait_range(minutes: tuple[float, float], expected: str) -> None:
    assert wait_texts(minutes)[0] == expected


def test_unknown_paper_width_is_refused() -> None:
    with pytest.raises(ValueError, match="paper width"):
        draw_ticket(SAMPLE, 76)


def test_missing_font_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ticket_image, "FONT_DIRS", (str(tmp_path),))
    monkeypatch.delenv(ticket_image.FONT_DIR_ENV, raising=False)
    with pytest.raises(FontNotFoundError, match="fonts-dejavu-core"):
        find_font(bold=True)


def test_font_folder_can_be_set_by_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "DejaVuSans.ttf").write_bytes(find_font().read_bytes())
    monkeypatch.setattr(ticket_image, "FONT_DIRS", ())
    monkeypatch.setenv(ticket_image.FONT_DIR_ENV, str(tmp_path))
    assert find_font() == tmp_path / "DejaVuSans.ttf"


def test_the_ticket_names_the_rooms_and_the_floor() -> None:
    from kiosk.printing import where

    rooms = [{"code": "p101", "name": "Phòng 101", "name_en": "Room 101", "floor": "Tầng 1", "floor_en": "Floor 1"},
             {"code": "p102", "name": "Phòng 102", "name_en": "Room 102", "floor": "Tầng 1", "floor_en": "Floor 1"}]
    assert where(rooms, "name", "floor") == "Phòng 101, Phòng 102 · Tầng 1"
    assert where(rooms, "name_en", "floor_en") == "Room 101, Room 102 · Floor 1"
    assert where([], "name", "floor") is None
    plain = replace(SAMPLE, priority=None, offline=False)
    with_rooms = replace(plain, rooms=where(rooms, "name", "floor"), rooms_en=where(rooms, "name_en", "floor_en"))
    image = draw_ticket(with_rooms)
    assert image.height > draw_ticket(plain).height and image.width == 576
    assert decoded_qr(image) == [STATUS_URL]
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "ticket-rooms.png")
