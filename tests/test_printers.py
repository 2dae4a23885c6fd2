"""Printer specs, printing a ticket image, and asking printers about their paper."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from escpos.printer import Dummy, File, Network, Serial, Usb
from PIL import Image, ImageDraw

from firmware_sim.escpos_decoder import decode
from firmware_sim.escpos_ops import Cut, Init, Raster
from firmware_sim.printer_emulator import PrinterEmulator
from kiosk.printers import (
    RASTER_FRAGMENT_ROWS,
    PaperOutError,
    PrinterError,
    PrinterSpec,
    open_printer,
    paper_state_from_reply,
    paper_status,
    parse_printer_spec,
    print_ticket,
)
from tests.support import free_port


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[PrinterEmulator]:
    with PrinterEmulator(tmp_path / "pages", width_mm=80, port=0) as running:
        yield running


def ticket_like(width: int = 576, height: int = 600) -> Image.Image:
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, width - 20, 120), fill=0)
    draw.ellipse((100, 200, 300, 400), outline=0, width=6)
    return image


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("network:192.168.1.50", PrinterSpec("network", host="192.168.1.50", port=9100)),
        ("network:printer-1.local:9101", PrinterSpec("network", host="printer-1.local", port=9101)),
        ("network:[fe80::1]:9100", PrinterSpec("network", host="fe80::1", port=9100)),
        ("usb:0416:5011", PrinterSpec("usb", vendor_id=0x0416, product_id=0x5011)),
        ("usb:0x04b8:0x0e15", PrinterSpec("usb", vendor_id=0x04B8, product_id=0x0E15)),
        ("serial:/dev/ttyUSB0", PrinterSpec("serial", device="/dev/ttyUSB0", baud=9600)),
        ("serial:/dev/ttyACM0:115200", PrinterSpec("serial", device="/dev/ttyACM0", baud=115200)),
        ("serial:COM3:19200", PrinterSpec("serial", device="COM3", baud=19200)),
        ("file:/dev/usb/lp0", PrinterSpec("file", path="/dev/usb/lp0")),
        ("dummy", PrinterSpec("dummy")),
        (" Network:10.0.0.9 ", PrinterSpec("network", host="10.0.0.9", port=9100)),
    ],
)
def test_parse_good_specs(spec: str, expected: PrinterSpec) -> None:
    assert parse_printer_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "unknown printer spec"),
        ("lp0", "unknown printer spec"),
        ("bluetooth:00:11:22", "unknown printer spec"),
        ("network:", "needs a host"),
        ("network:host:99999", "1-65535"),
        ("network:host:port", "needs a host"),
        ("network:fe80::1", "needs a host"),
        ("usb:0416", "hex vendor and product"),
        ("usb:zz16:5011", "hex vendor and product"),
        ("usb:0416:5011:3", "hex vendor and product"),
        ("usb:0:0", "cannot be 0"),
        ("serial:", "needs a device"),
        ("serial:/dev/ttyUSB0:12", "baud"),
        ("file:", "needs a path"),
        ("dummy:x", "unknown printer spec"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_printer_spec(spec)


def test_specs_become_python_escpos_classes(tmp_path: Path) -> None:
    network = open_printer("network:10.1.2.3:9101", timeout=3)
    assert isinstance(network, Network) and (network.host, network.port, network.timeout) == ("10.1.2.3", 9101, 3)
    usb = open_printer("usb:0416:5011")
    assert isinstance(usb, Usb) and usb.usb_args == {"idVendor": 0x0416, "idProduct": 0x5011}
    serial = open_printer("serial:/dev/ttyUSB0:115200")
    assert isinstance(serial, Serial) and (serial.devfile, serial.baudrate) == ("/dev/ttyUSB0", 115200)
    file = open_printer(f"file:{tmp_path / 'lp0'}")
    assert isinstance(file, File) and file.devfile == str(tmp_path / "lp0")
    assert isinstance(open_printer("dummy"), Dummy)
    assert open_printer("dummy", paper_mm=58).profile.profile_data["media"]["width"]["pixels"] == 384


def test_ticket_goes_out_as_raster_slices_then_a_cut() -> None:
    printer = open_printer("dummy")
    print_ticket(printer, ticket_like())
    operations = [op for op in decode(printer.output) if isinstance(op, Init | Raster | Cut)]
    assert isinstance(operations[0], Init)
    assert isinstance(operations[-1], Cut)
    rasters = [op for op in operations if isinstance(op, Raster)]
    assert all(r.width == 576 and r.height <= RASTER_FRAGMENT_ROWS and not r.inline for r in rasters)
    assert sum(r.height for r in rasters) == 600


def test_a_too_wide_image_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="384"):
        print_ticket(open_printer("dummy", paper_mm=58), ticket_like(576))


def test_file_printer_writes_the_bytes(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    printer = open_printer(f"file:{device}")
    print_ticket(printer, ticket_like(384, 100))
    printer.close()
    assert device.read_bytes().startswith(b"\x1b@\x1dv0")


def test_one_way_printers_have_unknown_paper(tmp_path: Path) -> None:
    assert paper_status(open_printer("dummy")) == "unknown"
    assert paper_status(open_printer(f"file:{tmp_path / 'lp0'}")) == "unknown"


@pytest.mark.parametrize(
    ("reply", "state"),
    [
        (b"", "unknown"),
        (b"\x12", "ok"),
        (b"\x1e", "low"),
        (b"\x72", "out"),
        (b"\x7e", "out"),
        (b"\x12\x1e", "low"),  # a late reply first: the last byte is the freshest
        (b"\x00", "unknown"),  # not a status byte: fixed bits wrong
        (b"\xff", "unknown"),
    ],
)
def test_paper_state_from_reply(reply: bytes, state: str) -> None:
    assert paper_state_from_reply(reply) == state


def test_unreachable_network_printer_raises_printer_error() -> None:
    printer = open_printer(f"network:127.0.0.1:{free_port()}", timeout=2)
    assert paper_status(printer) == "unknown"
    with pytest.raises(PrinterError) as caught:
        print_ticket(printer, ticket_like())
    assert not isinstance(caught.value, PaperOutError)


def test_printer_reconnects_after_a_failure(tmp_path: Path) -> None:
    port = free_port()
    printer = open_printer(f"network:127.0.0.1:{port}", timeout=2)
    with pytest.raises(PrinterError):
        print_ticket(printer, ticket_like())
    with PrinterEmulator(tmp_path, port=port) as emulator:
        print_ticket(printer, ticket_like())
        printer.close()
        assert len(emulator.wait_for_pages(1)) == 1


def test_printer_that_hung_up_is_reconnected(tmp_path: Path) -> None:
    port = free_port()
    first = PrinterEmulator(tmp_path / "first", port=port).start()
    printer = open_printer(f"network:127.0.0.1:{port}", timeout=5)
    assert paper_status(printer) == "ok"
    first.stop()  # hangs up on the kiosk, as printers do with idle connections
    with PrinterEmulator(tmp_path / "second", port=port, paper="out") as second:
        # The paper check notices the hang-up and asks again on a fresh connection.
        with pytest.raises(PaperOutError):
            print_ticket(printer, ticket_like())
        second.set_paper("ok")
        print_ticket(printer, ticket_like())
        printer.close()
        assert len(second.wait_for_pages(1)) == 1


def test_paper_states_through_the_network(emulator: PrinterEmulator) -> None:
    printer = open_printer(f"network:127.0.0.1:{emulator.port}", timeout=5)
    try:
        seen = []
        for state in ("ok", "low", "out", "ok"):
            emulator.set_paper(state)
            seen.append(paper_status(printer))
        assert seen == ["ok", "low", "out", "ok"]
    finally:
        printer.close()


def test_paper_out_refuses_to_print(emulator: PrinterEmulator) -> None:
    printer = open_printer(f"network:127.0.0.1:{emulator.port}", timeout=5)
    emulator.set_paper("out")
    with pytest.raises(PaperOutError):
        print_ticket(printer, ticket_like())
    emulator.set_paper("low")
    print_ticket(printer, ticket_like())  # low paper still prints
    printer.close()
    assert len(emulator.wait_for_pages(1)) == 1


def test_status_polling_and_printing_share_a_printer(emulator: PrinterEmulator) -> None:
    printer = open_printer(f"network:127.0.0.1:{emulator.port}", timeout=5)
    seen: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            seen.append(paper_status(printer))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        for _ in range(3):
            print_ticket(printer, ticket_like(576, 300))
    finally:
        stop.set()
        poller.join()
        printer.close()
    assert len(emulator.wait_for_pages(3)) == 3
    assert seen and set(seen) == {"ok"}


def test_silent_network_printer_times_out_as_unknown() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    printer = open_printer(f"network:127.0.0.1:{listener.getsockname()[1]}")
    started = time.monotonic()
    try:
        assert paper_status(printer, timeout=0.3) == "unknown"
        assert time.monotonic() - started < 3
    finally:
        printer.close()
        for connection in accepted:
            connection.close()
        listener.close()


def test_serial_printer_status_and_timeout() -> None:
    master, slave = os.openpty()  # a pseudo-terminal stands in for the printer's USB virtual COM port
    questions: list[bytes] = []

    def answer_once() -> None:
        questions.append(os.read(master, 16))
        os.write(master, b"\x7e")

    threading.Thread(target=answer_once, daemon=True).start()
    printer = open_printer(f"serial:{os.ttyname(slave)}:115200")
    try:
        assert paper_status(printer, timeout=2) == "out"
        assert questions == [b"\x10\x04\x04"]
        # Nobody answers now: python-escpos alone would call this "paper adequate".
        assert paper_status(printer, timeout=0.2) == "unknown"
    finally:
        printer.close()
        os.close(master)
        os.close(slave)
