"""Turn decoded ESC/POS operations into what a thermal printer would put on paper: one image per cut.

Text is drawn roughly (a monospace font in 12x24 or 9x17 cells, bold, underline, reverse, sizes);
images and QR codes are drawn dot for dot, which is what the tests compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import qrcode
from PIL import Image, ImageDraw, ImageFont

from firmware_sim import escpos_ops as ops

PAPER_WIDTH_DOTS = {80: 576, 58: 384}
DEFAULT_LINE_SPACING = 30  # ESC 2: 1/6 inch at 180 motion units per inch, as Epson prints it
# Two metres of roll without a cut: the printer would jam long before; start a new page instead.
MAX_PAGE_DOTS = 16_000
# Character cells of the two built-in fonts, in dots.
FONT_CELLS = {0: (12, 24), 1: (9, 17)}
# ESC t tables that Python can decode; anything else prints as code page 437 would.
CODE_PAGES = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866", 18: "cp852",
    19: "cp858", 45: "cp1250", 46: "cp1251", 47: "cp1253", 48: "cp1254", 49: "cp1255", 50: "cp1256",
    51: "cp1257", 52: "cp1258",
}
_INVERT = bytes(255 - value for value in range(256))
WHITE, BLACK = 255, 0


@dataclass
class _Style:
    """Text modes a printer keeps until changed or reset by ESC @."""

    font: int = 0
    bold: bool = False
    underline: int = 0
    width: int = 1
    height: int = 1
    reverse: bool = False
    code_page: int = 0
    align: int = 0
    line_spacing: int = DEFAULT_LINE_SPACING


@dataclass
class _Line:
    """What waits in the print buffer for the next line feed: images placed at x offsets."""

    items: list[tuple[int, Image.Image]] = field(default_factory=list)
    x: int = 0
    align: int = 0

    @property
    def height(self) -> int:
        return max((image.height for _, image in self.items), default=0)


@lru_cache(maxsize=4)
def _mono_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow looks in the system font folders by file name; any font will do for a rough rendering.
    try:
        return ImageFont.truetype("DejaVuSansMono.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


@lru_cache(maxsize=2048)
def _glyph(char: str, font: int, bold: bool, underline: int, reverse: bool) -> Image.Image:
    """One character in its cell, black on white (white on black when reversed)."""
    cell_w, cell_h = FONT_CELLS.get(font, FONT_CELLS[0])
    paper, ink = (BLACK, WHITE) if reverse else (WHITE, BLACK)
    cell = Image.new("L", (cell_w, cell_h), paper)
    draw = ImageDraw.Draw(cell)
    face = _mono_font(round(cell_h * 0.8))
    baseline = round(cell_h * 0.8)
    for dx in (0, 1) if bold else (0,):
        draw.text((cell_w / 2 + dx, baseline), char, font=face, fill=ink, anchor="ms")
    if underline:
        draw.rectangle((0, cell_h - underline, cell_w, cell_h), fill=ink)
    return cell.convert("1", dither=Image.Dither.NONE)


def raster_image(raster: ops.Raster, max_width: int, max_height: int = MAX_PAGE_DOTS) -> Image.Image:
    """A decoded bit image as a mode "1" PIL image, scaled as the printer would and cut to the paper."""
    row_bytes = (raster.width + 7) // 8
    # ESC/POS marks black dots with 1; Pillow's mode "1" calls 1 white.
    data = raster.data[: row_bytes * raster.height].translate(_INVERT)
    image = Image.frombytes("1", (row_bytes * 8, raster.height), data)
    # Dots beyond the print head are never printed; dropping them first keeps garbage from costing memory.
    width = min(raster.width, -(-max_width // raster.scale_x))
    height = min(raster.height, -(-max_height // raster.scale_y))
    image = image.crop((0, 0, width, height))
    if raster.scale_x != 1 or raster.scale_y != 1:
        image = image.resize((width * raster.scale_x, height * raster.scale_y), Image.Resampling.NEAREST)
    return image


def qr_image(code: ops.QrCode) -> Image.Image | None:
    """The QR code a printer draws for GS ( k, or None when the stored data cannot be encoded."""
    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    if not code.data:
        return None
    builder = qrcode.QRCode(error_correction=levels[code.error_correction], box_size=code.module_size, border=0)
    try:
        builder.add_data(code.data)
        builder.make(fit=True)
    except (ValueError, qrcode.exceptions.DataOverflowError):
        return None
    matrix = builder.get_matrix()
    small = Image.new("1", (len(matrix), len(matrix)), 1)
    small.putdata([0 if dark else 1 for row in matrix for dark in row])
    size = len(matrix) * code.module_size
    return small.resize((size, size), Image.Resampling.NEAREST)


class PaperRenderer:
    """A roll of paper and a print head: apply operations, collect one image per cut."""

    def __init__(self, width_dots: int) -> None:
        self.width = width_dots
        self.style = _Style()
        self.line = _Line()
        self._strips: list[Image.Image] = []
        self._page_height = 0
        self.pages: list[Image.Image] = []

    def apply(self, operation: ops.Operation) -> None:
        """Print one operation; a cut moves the page so far to `pages`."""
        handler = getattr(self, "_on_" + type(operation).__name__, None)
        if handler is not None:
            handler(operation)
        if self._page_height > MAX_PAGE_DOTS:
            self._end_page()

    def apply_all(self, operations: list[ops.Operation]) -> None:
        """Apply operations in order."""
        for operation in operations:
            self.apply(operation)

    def finish(self) -> list[Image.Image]:
        """Print what is left (a job without a cut) and return every page."""
        self._print_line(self.style.line_spacing if self.line.items else 0)
        self._end_page()
        return self.pages

    @property
    def blank(self) -> bool:
        """Nothing printed since the last cut."""
        return not self._strips and not self.line.items

    # Operations, by decoder class name.

    def _on_Init(self, _: ops.Init) -> None:
        self.style = _Style()
        self.line = _Line()

    def _on_Text(self, text: ops.Text) -> None:
        for char in text.data.decode(CODE_PAGES.get(self.style.code_page, "cp437"), errors="replace"):
            self._add_char(char)

    def _on_LineFeed(self, _: ops.LineFeed) -> None:
        self._print_line(self.style.line_spacing)

    def _on_FeedLines(self, feed: ops.FeedLines) -> None:
        if self.line.items:
            self._print_line(self.style.line_spacing)
            self._feed(self.style.line_spacing * max(0, feed.lines - 1))
        else:
            self._feed(self.style.line_spacing * feed.lines)

    def _on_FeedDots(self, feed: ops.FeedDots) -> None:
        self._print_line(feed.dots)

    def _on_LineSpacing(self, spacing: ops.LineSpacing) -> None:
        self.style.line_spacing = DEFAULT_LINE_SPACING if spacing.dots is None else spacing.dots

    def _on_Align(self, align: ops.Align) -> None:
        if align.value in (0, 1, 2):
            self.style.align = align.value

    def _on_PrintMode(self, mode: ops.PrintMode) -> None:
        n = mode.value
        self.style.font = n & 0x01
        self.style.bold = bool(n & 0x08)
        self.style.height = 2 if n & 0x10 else 1
        self.style.width = 2 if n & 0x20 else 1
        self.style.underline = 1 if n & 0x80 else 0

    def _on_Bold(self, bold: ops.Bold) -> None:
        self.style.bold = bold.on

    def _on_Underline(self, underline: ops.Underline) -> None:
        self.style.underline = underline.value if underline.value in (0, 1, 2) else 0

    def _on_Font(self, font: ops.Font) -> None:
        self.style.font = font.value if font.value in FONT_CELLS else 0

    def _on_CharSize(self, size: ops.CharSize) -> None:
        self.style.width, self.style.height = size.width, size.height

    def _on_Reverse(self, reverse: ops.Reverse) -> None:
        self.style.reverse = reverse.on

    def _on_CodePage(self, page: ops.CodePage) -> None:
        self.style.code_page = page.value

    def _on_Raster(self, raster: ops.Raster) -> None:
        image = raster_image(raster, self.width)
        if raster.inline:
            self._add_to_line(image, wrap=False)
        else:
            self._print_block(image)

    def _on_QrCode(self, code: ops.QrCode) -> None:
        image = qr_image(code)
        if image is not None:
            self._print_block(image)

    def _on_Cut(self, cut: ops.Cut) -> None:
        self._print_line(self.style.line_spacing if self.line.items else 0)
        self._feed(cut.feed)
        self._end_page()

    # The print head.

    def _add_char(self, char: str) -> None:
        style = self.style
        glyph = _glyph(char, style.font, style.bold, style.underline, style.reverse)
        if style.width != 1 or style.height != 1:
            glyph = glyph.resize((glyph.width * style.width, glyph.height * style.height), Image.Resampling.NEAREST)
        self._add_to_line(glyph, wrap=True)

    def _add_to_line(self, image: Image.Image, wrap: bool) -> None:
        if self.line.x + image.width > self.width:
            if not wrap:
                image = image.crop((0, 0, max(0, self.width - self.line.x), image.height))
                if image.width == 0:
                    return
            elif self.line.items:
                self._print_line(self.style.line_spacing)
        if not self.line.items:
            self.line.align = self.style.align  # a printer takes the alignment at the start of a line
        self.line.items.append((self.line.x, image))
        self.line.x += image.width

    def _print_line(self, advance: int) -> None:
        """Print the buffered line, then move the paper by advance dots or the line's height if taller."""
        height = max(advance, self.line.height)
        if height <= 0:
            return
        strip = Image.new("1", (self.width, height), 1)
        offset = self._offset(self.line.x, self.line.align)
        content_height = self.line.height
        for x, image in self.line.items:
            # Items on one line share a baseline: the bottom of the tallest.
            strip.paste(image, (offset + x, content_height - image.height))
        self.line = _Line()
        self._add_strip(strip)

    def _print_block(self, image: Image.Image) -> None:
        """A raster or QR code: it starts a line of its own, aligned like text."""
        if self.line.items:
            self._print_line(self.style.line_spacing)
        image = image.crop((0, 0, min(image.width, self.width), image.height))
        strip = Image.new("1", (self.width, image.height), 1)
        strip.paste(image, (self._offset(image.width, self.style.align), 0))
        self._add_strip(strip)

    def _offset(self, content_width: int, align: int) -> int:
        free = max(0, self.width - content_width)
        return {0: 0, 1: free // 2, 2: free}.get(align, 0)

    def _feed(self, dots: int) -> None:
        if dots > 0:
            self._add_strip(Image.new("1", (self.width, dots), 1))

    def _add_strip(self, strip: Image.Image) -> None:
        self._strips.append(strip)
        self._page_height += strip.height

    def _end_page(self) -> None:
        if not self._strips:
            return
        page = Image.new("1", (self.width, self._page_height), 1)
        y = 0
        for strip in self._strips:
            page.paste(strip, (0, y))
            y += strip.height
        self.pages.append(page)
        self._strips = []
        self._page_height = 0


def render(operations: list[ops.Operation], width_dots: int = PAPER_WIDTH_DOTS[80]) -> list[Image.Image]:
    """Every page a finished stream of operations prints, one image per cut."""
    renderer = PaperRenderer(width_dots)
    renderer.apply_all(operations)
    return renderer.finish()
