"""Open the kiosk's thermal printer from a one-line spec, print a ticket image on it, ask it about paper.

Specs: ``network:HOST[:PORT]``, ``usb:VID:PID`` (hex), ``serial:DEVICE[:BAUD]``, ``file:PATH``, ``dummy``.
Each becomes python-escpos's own printer class; nothing here speaks ESC/POS by hand.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Literal

from escpos.capabilities import BaseProfile, get_profile
from escpos.constants import RT_STATUS_PAPER
from escpos.escpos import Escpos
from escpos.exceptions import Error as EscposError
from escpos.printer import Dummy, File, Network, Serial, Usb
from PIL import Image

from kiosk.ticket_image import paper_width_px

PaperState = Literal["ok", "low", "out", "unknown"]

DEFAULT_NETWORK_PORT = 9100
DEFAULT_BAUD = 9600  # python-escpos' default, and what most serial thermal printers ship with
DEFAULT_TIMEOUT_S = 10.0
STATUS_TIMEOUT_S = 2.0
# GS v 0 in slices of this many rows: cheap printers with small buffers garble one huge raster block.
RASTER_FRAGMENT_ROWS = 240

# DLE EOT 4 (paper roll sensor) reply bits, as Epson defines them and the clones copy.
_STATUS_FIXED_MASK, _STATUS_FIXED_BITS = 0x91, 0x10
_PAPER_NEAR_END = 0x0C
_PAPER_END = 0x60

# python-escpos asserts that a device is open, and raises RuntimeError when pyusb or pyserial is missing.
_PRINTER_FAULTS = (EscposError, OSError, RuntimeError, AssertionError)

_LOCKS: weakref.WeakKeyDictionary[Escpos, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()

_HOST_PORT = re.compile(r"^(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\s\[\]]+))(?::(?P<port>\d{1,5}))?$")
_HEX_ID = re.compile(r"^(?:0[xX])?[0-9A-Fa-f]{1,4}$")


class PrinterError(Exception):
    """The printer could not print: unplugged, unreachable, timed out, or out of paper."""


class PaperOutError(PrinterError):
    """The printer reports no paper, so nothing was sent."""


@dataclass(frozen=True)
class PrinterSpec:
    """A parsed printer spec: its kind and the arguments of the python-escpos class."""

    kind: Literal["network", "usb", "serial", "file", "dummy"]
    host: str = ""
    port: int = DEFAULT_NETWORK_PORT
    vendor_id: int = 0
    product_id: int = 0
    device: str = ""
    baud: int = DEFAULT_BAUD
    path: str = ""


def parse_printer_spec(spec: str) -> PrinterSpec:
    """Parse a printer spec string, or raise ValueError saying what a good one looks like."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "dummy" and not rest:
        return PrinterSpec("dummy")
    if kind == "network":
        return _parse_network(rest)
    if kind == "usb":
        return _parse_usb(rest)
    if kind == "serial":
        return _parse_serial(rest)
    if kind == "file":
        if not rest.strip():
            raise ValueError("file printer needs a path: file:/dev/usb/lp0")
        return PrinterSpec("file", path=rest.strip())
    raise ValueError(
        f"unknown printer spec {spec!r}: use network:HOST[:PORT], usb:VID:PID, serial:DEVICE[:BAUD], "
        "file:PATH or dummy"
    )


def _parse_network(rest: str) -> PrinterSpec:
    match = _HOST_PORT.match(rest.strip())
    if not match:
        raise ValueError("network printer needs a host: network:192.168.1.50 or network:[fe80::1]:9100")
    port = int(match["port"] or DEFAULT_NETWORK_PORT)
    if not 1 <= port <= 65535:
        raise ValueError(f"network printer port must be 1-65535, not {port}")
    return PrinterSpec("network", host=match["ipv6"] or match["host"], port=port)


def _parse_usb(rest: str) -> PrinterSpec:
    parts = rest.strip().split(":")
    if len(parts) != 2 or not all(_HEX_ID.match(part) for part in parts):
        raise ValueError("usb printer needs hex vendor and product ids: usb:0416:5011")
    vendor_id, product_id = (int(part, 16) for part in parts)
    if not vendor_id or not product_id:
        raise ValueError("usb vendor and product ids cannot be 0")
    return PrinterSpec("usb", vendor_id=vendor_id, product_id=product_id)


def _parse_serial(rest: str) -> PrinterSpec:
    device, baud = rest.strip(), DEFAULT_BAUD
    head, sep, tail = device.rpartition(":")
    if sep and tail.isdigit():
        device, baud = head, int(tail)
    if not device:
        raise ValueError("serial printer needs a device: serial:/dev/ttyUSB0:9600")
    if not 300 <= baud <= 4_000_000:
        raise ValueError(f"serial baud rate must be 300-4000000, not {baud}")
    return PrinterSpec("serial", device=device, baud=baud)


def open_printer(spec: str | PrinterSpec, paper_mm: int = 80, timeout: float = DEFAULT_TIMEOUT_S) -> Escpos:
    """The python-escpos printer for a spec; the connection opens on first use, not here."""
    parsed = spec if isinstance(spec, PrinterSpec) else parse_printer_spec(spec)
    printer = _printer_for(parsed, timeout)
    printer.profile = _profile(paper_width_px(paper_mm))
    return printer


def _printer_for(parsed: PrinterSpec, timeout: float) -> Escpos:
    if parsed.kind == "network":
        return Network(parsed.host, parsed.port, timeout=timeout)
    if parsed.kind == "usb":
        if not Usb.is_usable():
            raise PrinterError("USB printers need pyusb (pip install pyusb) and libusb-1.0")
        # pyusb counts milliseconds; python-escpos' default of 0 would wait forever on a stalled printer.
        return Usb(parsed.vendor_id, parsed.product_id, timeout=int(timeout * 1000))
    if parsed.kind == "serial":
        return Serial(parsed.device, baudrate=parsed.baud, timeout=timeout)
    if parsed.kind == "file":
        return File(parsed.path)
    return Dummy()


def _profile(width_px: int) -> BaseProfile:
    """python-escpos' generic profile, told the paper width so it checks images instead of printing a warning."""
    profile = get_profile("default")
    # Profile data is shared by every printer of a profile class: give this one its own copy.
    profile.profile_data = {**profile.profile_data, "media": {"dpi": 203, "width": {"pixels": width_px}}}
    return profile


def printable_width(printer: Escpos) -> int:
    """Dots per line the printer takes (its profile's width, 576 when the profile does not say)."""
    pixels = printer.profile.profile_data.get("media", {}).get("width", {}).get("pixels")
    return pixels if isinstance(pixels, int) else paper_width_px(80)


def print_ticket(printer: Escpos, image: Image.Image, check_paper: bool = True) -> None:
    """Print the ticket image as raster (GS v 0) and cut; PrinterError if it did not go out."""
    if image.width > printable_width(printer):
        raise ValueError(f"ticket image is {image.width} px wide; the printer takes {printable_width(printer)}")
    with _lock_for(printer):
        if check_paper and _ask_paper_sensor(printer, STATUS_TIMEOUT_S) == "out":
            raise PaperOutError("the printer is out of paper")
        try:
            # ESC @ first: a half-finished earlier job may have left double size or another mode set.
            printer.hw("INIT")
            printer.image(image, impl="bitImageRaster", fragment_height=RASTER_FRAGMENT_ROWS)
            printer.cut()
        except _PRINTER_FAULTS as exc:
            _drop_connection(printer)
            raise PrinterError(f"printing failed: {exc}") from exc


def paper_status(printer: Escpos, timeout: float = STATUS_TIMEOUT_S) -> PaperState:
    """Ask the printer's paper sensor: "ok", "low" (near end), "out", or "unknown" when it cannot answer."""
    with _lock_for(printer):
        try:
            return _ask_paper_sensor(printer, timeout)
        except PrinterError:
            return "unknown"


def _lock_for(printer: Escpos) -> threading.Lock:
    """One lock per printer: a status poll must not read the bytes of a print job's question, or cut into it."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(printer)
        if lock is None:
            lock = _LOCKS[printer] = threading.Lock()
        return lock


def paper_state_from_reply(reply: bytes) -> PaperState:
    """Interpret the reply to DLE EOT 4 (paper roll sensor status)."""
    # python-escpos calls an empty reply (a serial read that timed out) "paper adequate"; we do not.
    if not reply:
        return "unknown"
    status = reply[-1]
    if status & _STATUS_FIXED_MASK != _STATUS_FIXED_BITS:
        return "unknown"
    if status & _PAPER_END:
        return "out"
    if status & _PAPER_NEAR_END:
        return "low"
    return "ok"


def _ask_paper_sensor(printer: Escpos, timeout: float) -> PaperState:
    """The paper state; PrinterError only when the printer cannot be reached at all."""
    if not isinstance(printer, Network | Serial | Usb):
        return "unknown"  # File, Dummy, LP, CUPS: one-way channels with nothing to read
    reply, connection_lost = _read_paper_reply(printer, timeout)
    if connection_lost and isinstance(printer, Network):
        # Many network printers close a connection left idle; ask once more on a fresh one.
        reply, _ = _read_paper_reply(printer, timeout)
    return paper_state_from_reply(reply)


def _read_paper_reply(printer: Escpos, timeout: float) -> tuple[bytes, bool]:
    """The reply to DLE EOT 4 (b"" if none came in time) and whether the connection was found closed."""
    try:
        device = printer.device  # opens the connection on first use
    except _PRINTER_FAULTS as exc:
        _drop_connection(printer)
        raise PrinterError(f"printer unreachable: {exc}") from exc
    try:
        _use_status_timeouts(printer, device, timeout)
        try:
            reply = _query_paper(printer, device)
        finally:
            _restore_timeouts(printer, device)
    except TimeoutError:
        # A late reply would be read as the answer to the next question: start afresh next time.
        _drop_connection(printer)
        return b"", False
    except _PRINTER_FAULTS:
        _drop_connection(printer)
        return b"", True
    if not reply and isinstance(printer, Network):
        _drop_connection(printer)  # recv() gives b"" only when the printer has hung up
        return b"", True
    return reply, False


def _query_paper(printer: Escpos, device: Any) -> bytes:
    """Send DLE EOT 4 and read the reply."""
    if isinstance(printer, Serial):
        # python-escpos reads 16 bytes, and pyserial on POSIX waits out the whole timeout for them;
        # the reply is one byte.
        device.write(RT_STATUS_PAPER)
        return device.read(1)
    return printer.query_status(RT_STATUS_PAPER)


def _use_status_timeouts(printer: Escpos, device: Any, timeout: float) -> None:
    """Make the status read give up after timeout seconds (Usb reads already stop after pyusb's 1 s)."""
    if isinstance(printer, Network):
        device.settimeout(timeout)
    elif isinstance(printer, Serial):
        device.reset_input_buffer()  # bytes from an earlier, timed-out question
        device.timeout = timeout


def _restore_timeouts(printer: Escpos, device: Any) -> None:
    if isinstance(printer, Network):
        device.settimeout(printer.timeout)
    elif isinstance(printer, Serial):
        device.timeout = printer.timeout


def _drop_connection(printer: Escpos) -> None:
    """Close the printer so the next use reconnects (a rebooted network printer, a replugged USB cable)."""
    try:
        printer.close()
    except _PRINTER_FAULTS:
        pass
    # python-escpos reopens on next use only when the device is False; a failed open leaves None.
    printer.device = False
