"""Draw a queue ticket as one black-and-white image, ready to print as raster on any thermal printer.

Drawing the whole ticket with Pillow (DejaVu Sans has every Vietnamese glyph) avoids the printer's own
code pages, which print Vietnamese diacritics wrongly on most cheap printers.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from PIL import Image, ImageDraw, ImageFont

# Printable dots per line at 203 dpi (8 dots/mm): what the printer's head covers, not the roll width.
PAPER_WIDTH_PX = {80: 576, 58: 384}
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu, Raspberry Pi OS (fonts-dejavu-core)
    "/usr/share/fonts/dejavu",  # Fedora, Arch
    "/usr/share/fonts/TTF",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)
FONT_DIR_ENV = "CLINICQ_FONT_DIR"

WHITE, BLACK = 255, 0


class FontNotFoundError(RuntimeError):
    """DejaVu Sans is not installed where we look for it."""


@dataclass(frozen=True)
class TicketPrint:
    """Everything printed on one ticket; texts are Vietnamese unless the field name ends in _en."""

    hospital_name: str
    service_name: str
    number: str
    issued_at: datetime
    status_url: str
    service_name_en: str | None = None
    hospital_name_en: str | None = None
    priority: str | None = None
    priority_en: str | None = None
    ahead: int | None = None
    wait_minutes: tuple[float, float] | None = None
    notice: str = ""
    offline: bool = False
    timezone: str = DEFAULT_TIMEZONE
    show_english: bool = True
    # Who pays, from the hub's BHYT check: "BHYT", "BHYT (chưa kiểm tra)", "Dịch vụ" (None: not said).
    payer: str | None = None
    payer_en: str | None = None
    # Where to go: "Phòng 101, Phòng 102 · Tầng 1" (the patient must not have to ask).
    rooms: str | None = None
    rooms_en: str | None = None


def find_font(bold: bool = False) -> Path:
    """Path of DejaVu Sans (or its Bold), or FontNotFoundError naming the package to install."""
    name = FONT_FILES[bold]
    dirs = [os.environ[FONT_DIR_ENV]] if os.environ.get(FONT_DIR_ENV) else []
    dirs += FONT_DIRS
    for directory in dirs:
        candidate = Path(directory).expanduser() / name
        if candidate.is_file():
            return candidate
    raise FontNotFoundError(
        f"font {name} not found in {', '.join(dirs)}; install the Debian package fonts-dejavu-core "
        f"or point {FONT_DIR_ENV} at a folder that holds it"
    )


@lru_cache(maxsize=64)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(find_font(bold)), size)


def paper_width_px(paper_mm: int) -> int:
    """Printable width in dots of an 80 or 58 mm roll."""
    try:
        return PAPER_WIDTH_PX[paper_mm]
    except KeyError:
        raise ValueError(f"paper width must be one of {sorted(PAPER_WIDTH_PX)} mm, not {paper_mm}") from None


def format_issued_at(issued_at: datetime, timezone: str = DEFAULT_TIMEZONE) -> str:
    """The issue time as dd/mm/yyyy HH:MM in the site's time zone."""
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must carry a time zone: a naive time prints the wrong hour")
    return issued_at.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


def ahead_texts(ahead: int) -> tuple[str, str]:
    """How many people wait before this ticket, in Vietnamese and English."""
    if ahead <= 0:
        return "Bạn là người tiếp theo", "You are next"
    people = "person" if ahead == 1 else "people"
    return f"Có {ahead} người đang chờ trước bạn", f"{ahead} {people} ahead of you"


def wait_texts(wait_minutes: tuple[float, float]) -> tuple[str, str]:
    """The expected wait as a range of whole minutes, in Vietnamese and English."""
    low, high = sorted(round(m) for m in wait_minutes)
    if high < 1:
        return "Dự kiến chờ: dưới 1 phút", "Estimated wait: under 1 min"
    low = max(low, 1)
    if low == high:
        return f"Dự kiến chờ: khoảng {low} phút", f"Estimated wait: about {low} min"
    return f"Dự kiến chờ: {low}–{high} phút", f"Estimated wait: {low}–{high} min"


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Split text into lines that fit max_width, breaking between words, inside a word only if it must."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= max_width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            # A word wider than the paper (a long URL) is cut wherever it must be.
            for char in word:
                if line and font.getlength(line + char) > max_width:
                    lines.append(line)
                    line = ""
                line += char
        lines.append(line)
    return lines


class _TicketCanvas:
    """A tall white strip drawn top to bottom; cropped to what was used at the end."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.scale = width / PAPER_WIDTH_PX[80]
        self.margin = round(16 * self.scale)
        self.image = Image.new("L", (width, 1600), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.y = self.margin

    def make_room(self, height: int) -> None:
        """Lengthen the strip when the next item would run past its end (a very long notice)."""
        if self.y + height <= self.image.height:
            return
        longer = Image.new("L", (self.width, max(self.y + height, 2 * self.image.height)), WHITE)
        longer.paste(self.image, (0, 0))
        self.image = longer
        self.draw = ImageDraw.Draw(self.image)

    def px(self, size_at_80mm: float, minimum: int = 1) -> int:
        """A size designed for 80 mm, scaled to this paper (never below minimum)."""
        return max(minimum, round(size_at_80mm * self.scale))

    def space(self, size_at_80mm: float) -> None:
        self.make_room(self.px(size_at_80mm))
        self.y += self.px(size_at_80mm)

    def text(self, text: str, size: int, bold: bool = False, fill: int = BLACK, inset: int = 0) -> None:
        """Centred, wrapped lines of text."""
        font = _font(self.px(size, minimum=14), bold)
        ascent, descent = font.getmetrics()
        line_height = ascent + descent + self.px(3)
        for line in wrap_text(_nfc(text), font, self.width - 2 * (self.margin + inset)):
            self.make_room(line_height)
            self.draw.text((self.width // 2, self.y), line, font=font, fill=fill, anchor="ma")
            self.y += line_height

    def big_number(self, number: str) -> None:
        """The ticket number as large as the paper allows, its ink starting at the cursor."""
        usable = self.width - 2 * self.margin
        size = self.px(200)
        font = _font(size, bold=True)
        if font.getlength(number) > usable:
            # Glyph widths scale almost linearly with the size; step down for the rounding that is left.
            size = int(size * usable / font.getlength(number))
            font = _font(size, bold=True)
            while size > 20 and font.getlength(number) > usable:
                size -= 2
                font = _font(size, bold=True)
        left, top, right, bottom = font.getbbox(number)
        self.make_room(bottom - top)
        self.draw.text(((self.width - (right - left)) // 2 - left, self.y - top), number, font=font, fill=BLACK)
        self.y += bottom - top

    def rule(self) -> None:
        """A thin dashed line across the ticket."""
        dash = self.px(10)
        self.make_room(2)
        for x in range(self.margin, self.width - self.margin, 2 * dash):
            self.draw.line((x, self.y, min(x + dash, self.width - self.margin), self.y), fill=BLACK, width=2)
        self.y += 2

    def band(self, lines: list[tuple[str, int, bool]], inverted: bool) -> None:
        """Lines in a box: white on black for what staff must notice, black in a frame otherwise."""
        top = self.y
        pad = self.px(8)
        self.y += pad
        # Draw once to measure, then again over the box background.
        start_y = self.y
        for text, size, bold in lines:
            self.text(text, size, bold, inset=pad)
        self.make_room(pad)
        bottom = self.y + pad
        box = (self.margin, top, self.width - self.margin - 1, bottom)
        if inverted:
            self.draw.rectangle(box, fill=BLACK)
        else:
            self.draw.rectangle(box, fill=WHITE, outline=BLACK, width=self.px(3, minimum=2))
        self.y = start_y
        for text, size, bold in lines:
            self.text(text, size, bold, fill=WHITE if inverted else BLACK, inset=pad)
        self.y = bottom

    def qr(self, url: str) -> None:
        """A QR code to the ticket's live status page, centred, with its quiet zone."""
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
        code.add_data(url)
        code.make(fit=True)
        matrix = code.get_matrix()
        modules = len(matrix)
        # Whole dots per module keep the code sharp; 3 dots (0.375 mm) is the smallest phones read well.
        box = max(3, int(self.width * 0.45) // modules)
        small = Image.new("L", (modules, modules), WHITE)
        small.putdata([BLACK if dark else WHITE for row in matrix for dark in row])
        big = small.resize((modules * box, modules * box), Image.Resampling.NEAREST)
        self.make_room(big.height)
        self.image.paste(big, ((self.width - big.width) // 2, self.y))
        self.y += big.height

    def finish(self) -> Image.Image:
        self.make_room(self.margin)
        self.y += self.margin
        return self.image.crop((0, 0, self.width, self.y)).convert("1", dither=Image.Dither.NONE)


def _nfc(text: str) -> str:
    # Text typed or scanned in decomposed form (NFD) would stack marks as separate glyphs.
    return unicodedata.normalize("NFC", text)


def draw_ticket(ticket: TicketPrint, paper_mm: int = 80) -> Image.Image:
    """The whole ticket as one mode "1" image exactly as wide as the printer's line."""
    canvas = _TicketCanvas(paper_width_px(paper_mm))
    english = ticket.show_english

    canvas.text(ticket.hospital_name, 28, bold=True)
    if english and ticket.hospital_name_en:
        canvas.text(ticket.hospital_name_en, 20)
    canvas.space(8)
    canvas.rule()
    canvas.space(12)

    canvas.text(ticket.service_name, 34, bold=True)
    if english and ticket.service_name_en:
        canvas.text(ticket.service_name_en, 24)
    if ticket.payer:
        canvas.space(8)
        lines = [(ticket.payer.upper(), 26, True)]
        if english and ticket.payer_en:
            lines.append((ticket.payer_en, 20, False))
        canvas.band(lines, inverted=False)
    canvas.space(10)
    canvas.text("SỐ THỨ TỰ · YOUR NUMBER" if english else "SỐ THỨ TỰ", 20)
    canvas.space(8)
    canvas.big_number(_nfc(ticket.number))
    canvas.space(20)
    if ticket.rooms:
        canvas.text(f"Mời đến: {ticket.rooms}", 26, bold=True)
        if english and ticket.rooms_en:
            canvas.text(f"Please go to: {ticket.rooms_en}", 20)
        canvas.space(10)

    if ticket.priority:
        lines = [(f"ƯU TIÊN: {ticket.priority}", 26, True)]
        if english and ticket.priority_en:
            lines.append((f"Priority: {ticket.priority_en}", 20, False))
        canvas.band(lines, inverted=True)
        canvas.space(14)

    if ticket.ahead is not None:
        vietnamese, english_text = ahead_texts(ticket.ahead)
        canvas.text(vietnamese, 26, bold=True)
        if english:
            canvas.text(english_text, 20)
        canvas.space(6)
    if ticket.wait_minutes is not None:
        vietnamese, english_text = wait_texts(ticket.wait_minutes)
        canvas.text(vietnamese, 26)
        if english:
            canvas.text(english_text, 20)
        canvas.space(6)

    if ticket.offline:
        canvas.space(6)
        lines = [("Số cấp khi mất kết nối", 24, True)]
        if english:
            lines.append(("Issued while offline", 20, False))
        canvas.band(lines, inverted=False)
        canvas.space(6)

    canvas.space(10)
    canvas.qr(ticket.status_url)
    canvas.text("Quét mã để theo dõi lượt của bạn", 20)
    if english:
        canvas.text("Scan to follow your turn", 18)
    canvas.space(10)
    canvas.text(format_issued_at(ticket.issued_at, ticket.timezone), 24, bold=True)

    if ticket.notice:
        canvas.space(8)
        canvas.rule()
        canvas.space(10)
        canvas.text(ticket.notice, 20)
    return canvas.finish()
