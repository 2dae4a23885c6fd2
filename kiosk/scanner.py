"""The QR scanner in USB virtual-COM (serial) mode: one line per scan, as raw UTF-8 bytes.

Serial mode keeps Vietnamese names intact (keyboard mode cannot type them on Linux). The reader reopens
the port when the scanner is unplugged and plugged back. Scans are never logged: a CCCD is personal data.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Literal

import serial

log = logging.getLogger(__name__)

ScanKind = Literal["cccd", "booking", "unknown"]
MAX_LINE_BYTES = 4096  # a CCCD QR is about 150 bytes; anything this long is noise
REOPEN_DELAY_S = 2.0
_BOOKING_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,31}$")


def classify_scan(text: str) -> ScanKind:
    """A chip ID card's QR (fields separated by |), a booking code, or something else."""
    text = text.strip()
    if text.count("|") >= 5:
        return "cccd"
    if _BOOKING_CODE.match(text.upper()):
        return "booking"
    return "unknown"


def split_lines(buffer: bytearray) -> list[bytes]:
    """Take the complete lines (ended by CR, LF or CR LF) out of `buffer`; what is left stays in it."""
    lines = []
    while True:
        ends = [i for i in (buffer.find(b"\r"), buffer.find(b"\n")) if i >= 0]
        if not ends:
            break
        end = min(ends)
        line = bytes(buffer[:end])
        del buffer[: end + 1]
        if line.strip():
            lines.append(line)
    if len(buffer) > MAX_LINE_BYTES:
        buffer.clear()
    return lines


class ScannerReader:
    """Reads a serial scanner in a thread and hands each scanned line (bytes) to `on_scan`."""

    def __init__(self, device: str, on_scan: Callable[[bytes], None], baud: int = 115200) -> None:
        self.device = device
        self.baud = baud
        self.on_scan = on_scan
        self.connected = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scanner", daemon=True)

    def start(self) -> ScannerReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                # A CDC-ACM scanner ignores the baud rate; a real serial one needs the one it is set to.
                with serial.Serial(self.device, self.baud, timeout=0.5) as port:
                    self.connected = True
                    log.info("scanner on %s", self.device)
                    self._read(port)
            except (serial.SerialException, OSError) as exc:
                if self.connected:
                    log.warning("scanner on %s lost (%s); reopening", self.device, type(exc).__name__)
                else:
                    log.debug("scanner %s not available: %s", self.device, type(exc).__name__)
            self.connected = False
            self._stopping.wait(REOPEN_DELAY_S)

    def _read(self, port: serial.Serial) -> None:
        buffer = bytearray()
        last_byte = time.monotonic()
        while not self._stopping.is_set():
            chunk = port.read(port.in_waiting or 1)
            if not chunk:
                if buffer and time.monotonic() - last_byte > 0.3:
                    # Some scanners send no line ending at all: a pause ends the scan.
                    buffer.extend(b"\n")
                else:
                    continue
            else:
                last_byte = time.monotonic()
                buffer.extend(chunk)
            for line in split_lines(buffer):
                try:
                    self.on_scan(line)
                except Exception:  # a failing handler must not stop the reader; the scan itself is not logged
                    log.exception("handling a scan failed")
