"""Decode an ESC/POS byte stream into print operations, the way a thermal printer reads it.

Covers what python-escpos emits (init, text and its modes, alignment, feeds, raster images in all three
formats, native QR codes, cuts, status requests) and knows the length of most other common commands, so
it can step over them. Anything it does not know is skipped a byte or two at a time: garbage never raises.
The decoder is incremental (feed chunks as they arrive from a socket) and knows nothing of rendering.
"""

from __future__ import annotations

from PIL import Image

from firmware_sim.escpos_ops import (
    Align,
    Bold,
    CharSize,
    CodePage,
    Cut,
    FeedDots,
    FeedLines,
    Font,
    Ignored,
    Init,
    LineFeed,
    LineSpacing,
    Operation,
    PrintMode,
    QrCode,
    Raster,
    Reverse,
    StatusRequest,
    Text,
    Underline,
)

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C
LF = 0x0A

# A command that says it carries more than this is garbage, not a real job (GS 8 L allows 4 GB).
MAX_COMMAND_BYTES = 8 * 1024 * 1024


class _Incomplete(Exception):
    """The buffer ends inside a command: wait for more bytes."""


class _Reader:
    """Bounds-checked reads from the buffer starting at one command."""

    def __init__(self, buffer: bytearray, start: int) -> None:
        self.buffer = buffer
        self.pos = start

    def byte(self) -> int:
        if self.pos >= len(self.buffer):
            raise _Incomplete
        value = self.buffer[self.pos]
        self.pos += 1
        return value

    def take(self, count: int) -> bytes:
        if count > MAX_COMMAND_BYTES:
            raise ValueError("declared length too large")
        end = self.pos + count
        if end > len(self.buffer):
            raise _Incomplete
        chunk = bytes(self.buffer[self.pos:end])
        self.pos = end
        return chunk

    def until_nul(self, limit: int) -> bytes:
        """Bytes up to a NUL (consumed), at most limit of them."""
        start = self.pos
        while True:
            value = self.byte()
            if value == 0 or self.pos - start > limit:
                return bytes(self.buffer[start:self.pos - 1])

    def u16(self) -> int:
        low = self.byte()
        return low + 256 * self.byte()


# ESC x and GS x commands whose only parameters are a fixed number of bytes, and that we do not render.
_ESC_SKIP = {
    ord(c): n for c, n in {
        "e": 1, "K": 1, "R": 1, "V": 1, "{": 1, " ": 1, "U": 1, "r": 1, "=": 1, "%": 1, "?": 1, "T": 1,
        "u": 1, "L": 0, "S": 0, "<": 0, "v": 0, "$": 2, "\\": 2, "W": 8, "p": 3, "B": 2, "C": 1,
    }.items()
}
_GS_SKIP = {
    ord(c): n for c, n in {
        "a": 1, "b": 1, "f": 1, "h": 1, "w": 1, "H": 1, "|": 1, "/": 1, "E": 1, "T": 1, "L": 2, "W": 2,
        "P": 2, "$": 2, "\\": 2, "^": 3, ":": 0, "c": 0, "j": 1, "g": 2, "z": 1,
    }.items()
}
_FS_SKIP = {ord(c): n for c, n in {"&": 0, ".": 0, "!": 1, "-": 1, "C": 1, "S": 2, "W": 1, "p": 2}.items()}

def _digit_or_ascii(n: int) -> int:
    """Many ESC/POS switches take either 0, 1, 2 or the ASCII digits '0', '1', '2'."""
    return n - 48 if n >= 48 else n


# ESC x n commands that we render, by x.
_ESC_ONE_BYTE = {
    ord("!"): PrintMode,
    ord("E"): lambda n: Bold(bool(n & 1)),
    ord("G"): lambda n: Bold(bool(n & 1)),
    ord("-"): lambda n: Underline(_digit_or_ascii(n)),
    ord("a"): lambda n: Align(_digit_or_ascii(n)),
    ord("M"): lambda n: Font(_digit_or_ascii(n)),
    ord("d"): FeedLines,
    ord("J"): FeedDots,
    ord("3"): LineSpacing,
    ord("t"): CodePage,
}
# DLE DC4 fn: total length of the command by function.
_DLE_DC4_LENGTH = {1: 5, 2: 5, 3: 7, 7: 4, 8: 10}
_QR_ERROR_LEVELS = {48: "L", 49: "M", 50: "Q", 51: "H"}


class EscposDecoder:
    """Incremental ESC/POS decoder: feed() bytes as they come, get the complete operations back."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._graphics: Raster | None = None  # GS ( L stores an image, then a second command prints it
        self._qr_data = b""
        self._qr_module = 3
        self._qr_error = "L"

    def feed(self, data: bytes) -> list[Operation]:
        """Decode what can be decoded; keep an unfinished command for the next call."""
        self._buffer += data
        operations: list[Operation] = []
        pos = 0
        while pos < len(self._buffer):
            try:
                operation, pos_after = self._decode_one(pos)
            except _Incomplete:
                break
            except ValueError:
                # A command with absurd parameters is garbage: step over its first byte only.
                operation, pos_after = Ignored(bytes(self._buffer[pos:pos + 1])), pos + 1
            if operation is not None:
                operations.append(operation)
            pos = pos_after
        del self._buffer[:pos]
        return operations

    def finish(self) -> list[Operation]:
        """The stream ended: whatever unfinished command is left can never complete and is dropped."""
        dropped = bytes(self._buffer[:2])
        self._buffer.clear()
        return [Ignored(dropped)] if dropped else []

    def _decode_one(self, pos: int) -> tuple[Operation | None, int]:
        first = self._buffer[pos]
        if first >= 0x20:
            end = pos
            while end < len(self._buffer) and self._buffer[end] >= 0x20:
                end += 1
            return Text(bytes(self._buffer[pos:end])), end
        if first == LF:
            return LineFeed(), pos + 1
        reader = _Reader(self._buffer, pos + 1)
        if first == ESC:
            return self._esc(reader), reader.pos
        if first == GS:
            return self._gs(reader), reader.pos
        if first == DLE:
            return self._dle(reader), reader.pos
        if first == FS:
            return self._fs(reader), reader.pos
        # CR, HT, FF, CAN, NUL and other control bytes: nothing to print on a roll in standard mode.
        return None, pos + 1

    def _esc(self, r: _Reader) -> Operation:
        command = r.byte()
        if command in _ESC_ONE_BYTE:
            return _ESC_ONE_BYTE[command](r.byte())
        if command == ord("@"):
            return Init()
        if command == ord("2"):
            return LineSpacing(None)
        if command in (ord("i"), ord("m")):
            return Cut(partial=command == ord("m"))
        if command == ord("*"):
            return self._column_image(r)
        if command == ord("D"):
            r.until_nul(33)  # tab stops, at most 32 of them
            return Ignored(b"\x1bD")
        if command == ord("c"):
            r.take(2)
            return Ignored(b"\x1bc")
        if command == ord("&"):
            return self._user_characters(r)
        if command == ord("("):
            r.byte()
            r.take(r.u16())
            return Ignored(b"\x1b(")
        r.take(_ESC_SKIP.get(command, 0))
        return Ignored(bytes((ESC, command)))

    def _gs(self, r: _Reader) -> Operation:
        command = r.byte()
        if command == ord("!"):
            n = r.byte()
            return CharSize(width=min((n >> 4) & 0x07, 7) + 1, height=(n & 0x07) + 1)
        if command == ord("B"):
            return Reverse(bool(r.byte() & 1))
        if command == ord("V"):
            return self._cut(r)
        if command == ord("v"):
            return self._raster(r)
        if command == ord("("):
            return self._gs_paren(r)
        if command == ord("8"):
            return self._gs_eight(r)
        if command == ord("r"):
            return StatusRequest("GS r", r.byte())
        if command == ord("I"):
            return StatusRequest("GS I", r.byte())
        if command == ord("k"):
            self._barcode(r)
            return Ignored(b"\x1dk")
        if command == ord("*"):
            x, y = r.byte(), r.byte()
            r.take(x * y * 8)
            return Ignored(b"\x1d*")
        r.take(_GS_SKIP.get(command, 0))
        return Ignored(bytes((GS, command)))

    def _dle(self, r: _Reader) -> Operation | None:
        command = r.byte()
        if command == 0x04:  # EOT
            n = r.byte()
            if n in (7, 8):
                r.byte()
            return StatusRequest("DLE EOT", n)
        if command == 0x05:  # ENQ
            r.byte()
            return Ignored(b"\x10\x05")
        if command == 0x14:  # DC4
            fn = r.byte()
            r.take(_DLE_DC4_LENGTH.get(fn, 3) - 3)
            return Ignored(b"\x10\x14")
        # A lone DLE is not a command: step over it and read what follows as usual.
        r.pos -= 1
        return None

    def _fs(self, r: _Reader) -> Operation:
        command = r.byte()
        if command == ord("("):
            r.byte()
            r.take(r.u16())
        else:
            r.take(_FS_SKIP.get(command, 0))
        return Ignored(bytes((FS, command)))

    def _cut(self, r: _Reader) -> Cut:
        m = r.byte()
        if m in (0, 1, 48, 49):
            return Cut(partial=m in (1, 49))
        feed = r.byte()
        if m in (65, 66):
            return Cut(partial=m == 66, feed=feed)
        # Functions C and D (97, 98, 103, 104) cut later, at a position; close enough to cut now.
        return Cut(partial=m in (98, 104))

    def _raster(self, r: _Reader) -> Operation:
        if r.byte() != ord("0"):
            return Ignored(b"\x1dv")
        mode = r.byte()
        width_bytes, height = r.u16(), r.u16()
        data = r.take(width_bytes * height)
        return Raster(width_bytes * 8, height, data, scale_x=1 + (mode & 1), scale_y=1 + ((mode >> 1) & 1))

    def _column_image(self, r: _Reader) -> Operation:
        mode = r.byte()
        columns = r.u16()
        tall = mode in (32, 33)
        stripe_bytes = 3 if tall else 1
        data = r.take(columns * stripe_bytes)
        if mode not in (0, 1, 32, 33) or columns == 0:
            return Ignored(b"\x1b*")
        # Column data lists each column top to bottom: a transposed raster.
        stripe = Image.frombytes("1", (8 * stripe_bytes, columns), data).transpose(Image.Transpose.TRANSPOSE)
        return Raster(
            columns,
            8 * stripe_bytes,
            stripe.tobytes(),
            scale_x=1 if mode in (1, 33) else 2,
            # 8-dot images print at a third of the vertical density on a 203 dpi head.
            scale_y=1 if tall else 3,
            inline=True,
        )

    def _gs_paren(self, r: _Reader) -> Operation:
        kind = r.byte()
        body = r.take(r.u16())
        if kind == ord("L"):
            return self._graphics_command(body)
        if kind == ord("k"):
            return self._qr_command(body)
        return Ignored(bytes((GS, ord("("), kind)))

    def _gs_eight(self, r: _Reader) -> Operation:
        kind = r.byte()
        length = r.u16() + 65536 * r.u16()
        body = r.take(length)
        return self._graphics_command(body) if kind == ord("L") else Ignored(b"\x1d8")

    def _graphics_command(self, body: bytes) -> Operation:
        """GS ( L / GS 8 L: fn 112 stores a raster in the print buffer, fn 50 prints it."""
        if len(body) < 2:
            return Ignored(b"\x1d(L")
        fn = body[1]
        if fn == 112 and len(body) >= 10:
            _m, _fn, _tone, bx, by, _color = body[:6]
            width = body[6] + 256 * body[7]
            height = body[8] + 256 * body[9]
            row_bytes = (width + 7) // 8
            data = body[10:10 + row_bytes * height]
            if width and height and len(data) == row_bytes * height:
                self._graphics = Raster(width, height, data, scale_x=2 if bx == 2 else 1, scale_y=2 if by == 2 else 1)
            return Ignored(b"\x1d(Lp")
        if fn in (50, 2) and self._graphics is not None:
            graphics, self._graphics = self._graphics, None
            return graphics
        return Ignored(b"\x1d(L")

    def _qr_command(self, body: bytes) -> Operation:
        """GS ( k with cn 49: QR model, module size, error level, store data, print."""
        if len(body) < 2 or body[0] != 49:
            return Ignored(b"\x1d(k")
        fn, args = body[1], body[2:]
        if fn == 67 and args:
            self._qr_module = min(max(args[0], 1), 16)
        elif fn == 69 and args:
            self._qr_error = _QR_ERROR_LEVELS.get(args[0], "L")
        elif fn == 80 and args:
            self._qr_data = bytes(args[1:])
        elif fn == 81:
            return QrCode(self._qr_data, self._qr_module, self._qr_error)
        return Ignored(b"\x1d(k")

    def _barcode(self, r: _Reader) -> None:
        """Step over GS k: function A ends with NUL, function B carries its length."""
        m = r.byte()
        if m <= 6:
            r.until_nul(255)
        else:
            r.take(r.byte())

    def _user_characters(self, r: _Reader) -> Operation:
        """Step over ESC & y c1 c2 [x d1...d(y*x)]...: user-defined characters."""
        y, first, last = r.byte(), r.byte(), r.byte()
        for _ in range(max(0, last - first + 1)):
            r.take(y * r.byte())
        return Ignored(b"\x1b&")


def decode(data: bytes) -> list[Operation]:
    """Decode a whole, finished byte stream (a Dummy printer's output, a captured file)."""
    decoder = EscposDecoder()
    return decoder.feed(data) + decoder.finish()
