"""The print operations an ESC/POS stream decodes into: what the decoder emits and the renderer draws."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Init:
    """ESC @: reset modes and drop the unprinted line."""


@dataclass(frozen=True)
class Text:
    """Printable bytes in the current code page."""

    data: bytes


@dataclass(frozen=True)
class LineFeed:
    """LF: print the line and move one line down."""


@dataclass(frozen=True)
class FeedLines:
    """ESC d n: print the line and feed n lines."""

    lines: int


@dataclass(frozen=True)
class FeedDots:
    """ESC J n: print the line and feed n dots."""

    dots: int


@dataclass(frozen=True)
class LineSpacing:
    """ESC 3 n sets the line spacing in dots; ESC 2 (dots=None) restores the default."""

    dots: int | None


@dataclass(frozen=True)
class Align:
    """ESC a n: 0 left, 1 centre, 2 right."""

    value: int


@dataclass(frozen=True)
class PrintMode:
    """ESC ! n: font B, bold, double height, double width and underline in one byte."""

    value: int


@dataclass(frozen=True)
class Bold:
    """ESC E n or ESC G n."""

    on: bool


@dataclass(frozen=True)
class Underline:
    """ESC - n: 0 off, 1 thin, 2 thick."""

    value: int


@dataclass(frozen=True)
class Font:
    """ESC M n: 0 font A (12x24), 1 font B (9x17)."""

    value: int


@dataclass(frozen=True)
class CharSize:
    """GS ! n: width and height multipliers 1-8."""

    width: int
    height: int


@dataclass(frozen=True)
class Reverse:
    """GS B n: white on black."""

    on: bool


@dataclass(frozen=True)
class CodePage:
    """ESC t n: the character table for bytes 0x80-0xFF."""

    value: int


@dataclass(frozen=True)
class Raster:
    """A bit image: rows top to bottom, 1 bits black, each row padded to whole bytes."""

    width: int
    height: int
    data: bytes = field(repr=False)
    scale_x: int = 1
    scale_y: int = 1
    # ESC * stripes sit on the current text line; GS v 0 and GS ( L images print as a block of their own.
    inline: bool = False


@dataclass(frozen=True)
class QrCode:
    """GS ( k: the printer draws a QR code from the stored data."""

    data: bytes
    module_size: int
    error_correction: str


@dataclass(frozen=True)
class Cut:
    """GS V, ESC i, ESC m: cut the paper (after feeding `feed` dots)."""

    partial: bool
    feed: int = 0


@dataclass(frozen=True)
class StatusRequest:
    """A question the printer answers at once: DLE EOT n, GS r n or GS I n."""

    command: str
    n: int


@dataclass(frozen=True)
class Ignored:
    """A command read and stepped over: known but not rendered, or unknown."""

    command: bytes


Operation = (
    Init | Text | LineFeed | FeedLines | FeedDots | LineSpacing | Align | PrintMode | Bold | Underline | Font
    | CharSize | Reverse | CodePage | Raster | QrCode | Cut | StatusRequest | Ignored
)
