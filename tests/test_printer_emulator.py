"""The thermal printer emulator: decoder, renderer, TCP server, paper states, and garbage on the wire."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from firmware_sim.escpos_decoder import EscposDecoder, decode
from firmware_sim.escpos_ops import (
    Align,
    Bold,
    Cut,
    Init,
    LineFeed,
    PrintMode,
    QrCode,
    Raster,
    StatusRequest,
    Text,
)
from firmware_sim.escpos_render import PaperRenderer, render
from firmware_sim.printer_cli import register
from firmware_sim.printer_emulator import PrinterEmulator, status_reply
from kiosk.printers import open_printer, paper_status, print_ticket
from kiosk.ticket_image import TicketPrint, draw_ticket

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
STATUS_URL = "http://192.168.1.10:8000/t/42?k=s3cr3tT0ken"
TICKET = TicketPrint(
    hospital_name="Bệnh viện Đa khoa Hòa Bình",
    service_name="Xét nghiệm máu",
    service_name_en="Blood tests",
    number="X107",
    issued_at=datetime(2026, 11, 23, 2, 40, tzinfo=UTC),
    status_url=STATUS_URL,
    priority="Trẻ em dưới 6 tuổi",
    ahead=12,
    wait_minutes=(25, 40),
    notice="Vui lòng nhịn ăn trước khi lấy máu.",
)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[PrinterEmulator]:
    with PrinterEmulator(tmp_path / "pages", width_mm=80, port=0) as running:
        yield running


def dummy() -> Dummy:
    """python-escpos' Dummy, told the paper width (so it does not print a warning on every image)."""
    return open_printer("dummy")


def pattern(width: int, height: int, seed: int = 1) -> Image.Image:
    """A black-and-white image with detail everywhere, so any misplaced dot shows."""
    rng = random.Random(seed)
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.rectangle((x, y, x + rng.randrange(1, 40), y + rng.randrange(1, 30)), fill=0)
    draw.line((0, 0, width - 1, height - 1), fill=0)
    return image


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


def qr_texts(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def black_fraction(image: Image.Image) -> float:
    return sum(image.convert("L").histogram()[:128]) / (image.width * image.height)


def send_raw(port: int, data: bytes, read_reply: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(data)
        return connection.recv(16) if read_reply else b""


# The decoder.


def test_decoder_reads_what_python_escpos_sends() -> None:
    printer = dummy()
    printer.hw("INIT")
    printer.set(align="center", bold=True, double_height=True, double_width=True)
    printer.text("Số A023\n")
    printer.image(pattern(64, 16))
    printer.cut()
    operations = decode(printer.output)
    kinds = [type(op) for op in operations]
    assert kinds[0] is Init
    assert Align(1) in operations and Bold(True) in operations and PrintMode(0x30) in operations
    assert any(isinstance(op, Text) for op in operations) and LineFeed() in operations
    assert [op for op in operations if isinstance(op, Raster)] == [Raster(64, 16, pattern_bytes(64, 16))]
    assert kinds[-1] is Cut


def pattern_bytes(width: int, height: int) -> bytes:
    printer = dummy()
    printer.image(pattern(width, height))
    return printer.output[8:]  # after GS v 0 m xL xH yL yH


@pytest.mark.parametrize("impl", ["bitImageRaster", "graphics", "bitImageColumn"])
@pytest.mark.parametrize("width", [576, 384, 200])
def test_images_round_trip_dot_for_dot(impl: str, width: int) -> None:
    original = pattern(width, 96, seed=width)
    printer = dummy()
    printer.image(original, impl=impl)
    printer.cut()
    pages = render(decode(printer.output), 576)
    assert len(pages) == 1
    assert same_pixels(pages[0].crop((0, 0, width, 96)), original)
    if width < 576:
        assert black_fraction(pages[0].crop((width, 0, 576, pages[0].height))) == 0


def test_image_slices_join_without_gaps() -> None:
    original = pattern(384, 500, seed=7)
    printer = dummy()
    printer.image(original, fragment_height=96)
    pages = render(decode(printer.output), 384)
    assert same_pixels(pages[0].crop((0, 0, 384, 500)), original)


def test_low_density_raster_prints_double_size() -> None:
    printer = dummy()
    printer.image(pattern(100, 40), high_density_horizontal=False, high_density_vertical=False)
    operations = [op for op in decode(printer.output) if isinstance(op, Raster)]
    assert (operations[0].scale_x, operations[0].scale_y) == (2, 2)
    page = render(decode(printer.output), 576)[0]
    assert page.height >= 80


def test_centred_text_is_centred() -> None:
    printer = dummy()
    printer.set(align="center")
    printer.text("HELLO\n")
    page = render(decode(printer.output), 576)[0]
    left, _, right, _ = Image.eval(page.convert("L"), lambda v: 255 - v).getbbox()
    assert abs((left + right) / 2 - 288) < 12


def test_native_qr_is_drawn_by_the_printer() -> None:
    printer = dummy()
    printer.text("\n")
    printer.qr(STATUS_URL, native=True, size=5)
    printer.text("\n\n")
    assert any(isinstance(op, QrCode) for op in decode(printer.output))
    page = render(decode(printer.output), 576)[0]
    assert qr_texts(page) == [STATUS_URL]


def test_incremental_decoding_matches_whole() -> None:
    printer = dummy()
    print_ticket(printer, draw_ticket(TICKET), check_paper=False)
    stream = printer.output
    rng = random.Random(3)
    decoder = EscposDecoder()
    operations = []
    position = 0
    while position < len(stream):
        size = rng.randrange(1, 3000)
        operations += decoder.feed(stream[position:position + size])
        position += size
    operations += decoder.finish()
    assert operations == decode(stream)


def test_status_requests_are_decoded() -> None:
    assert decode(b"\x10\x04\x04\x1dr\x01\x1dI\x43") == [
        StatusRequest("DLE EOT", 4), StatusRequest("GS r", 1), StatusRequest("GS I", 67)
    ]


COMMAND_BYTES = [0x1B, 0x1D, 0x10, 0x1C, 0x0A, 0x00, 0xFF, *b"v0(Lk*!@aEV8pr"]


COMMAND_HEAVY_BYTES = st.lists(st.sampled_from(COMMAND_BYTES) | st.integers(0, 255), max_size=3000).map(bytes)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000) | COMMAND_HEAVY_BYTES)
def test_garbage_never_breaks_decoder_or_renderer(garbage: bytes) -> None:
    renderer = PaperRenderer(384)
    renderer.apply_all(decode(garbage))
    renderer.finish()


def test_garbage_with_huge_declared_lengths_is_stepped_over() -> None:
    # GS 8 L claiming 4 GB, GS v 0 claiming 65535 x 65535 bytes: garbage, not a reason to wait forever.
    operations = decode(b"\x1d8L\xff\xff\xff\xff" + b"\x1dv0\x00\xff\xff\xff\xff" + b"after\n")
    assert any(isinstance(op, Text) and op.data.endswith(b"after") for op in operations)


# The TCP printer.


@pytest.mark.parametrize(("paper_mm", "width"), [(80, 576), (58, 384)])
def test_ticket_through_python_escpos_network_to_png(tmp_path: Path, paper_mm: int, width: int) -> None:
    with PrinterEmulator(tmp_path, width_mm=paper_mm, port=0) as emulator:
        printer = open_printer(f"network:127.0.0.1:{emulator.port}", paper_mm=paper_mm, timeout=5)
        image = draw_ticket(TICKET, paper_mm)
        print_ticket(printer, image)
        printer.close()
        [page_path] = emulator.wait_for_pages(1)
    page = Image.open(page_path)
    assert page.width == width
    assert page.height >= image.height
    assert 0.03 < black_fraction(page) < 0.5
    assert same_pixels(page.crop((0, 0, width, image.height)), image)
    assert qr_texts(page) == [STATUS_URL]
    ARTIFACTS.mkdir(exist_ok=True)
    page.save(ARTIFACTS / f"emulated-ticket-{paper_mm}mm.png")


def test_two_tickets_make_two_pages(emulator: PrinterEmulator) -> None:
    printer = open_printer(f"network:127.0.0.1:{emulator.port}", timeout=5)
    print_ticket(printer, draw_ticket(TICKET))
    print_ticket(printer, draw_ticket(TICKET))
    printer.close()
    pages = emulator.wait_for_pages(2)
    assert [path.name for path in pages] == ["page-0001.png", "page-0002.png"]


@pytest.mark.parametrize(
    ("paper", "dle_eot_4", "gs_r_1", "dle_eot_1"),
    [("ok", 0x12, 0x00, 0x12), ("low", 0x1E, 0x03, 0x12), ("out", 0x7E, 0x0F, 0x1A)],
)
def test_status_answers_like_a_real_printer(
    emulator: PrinterEmulator, paper: str, dle_eot_4: int, gs_r_1: int, dle_eot_1: int
) -> None:
    emulator.set_paper(paper)
    assert send_raw(emulator.port, b"\x10\x04\x04", read_reply=True) == bytes((dle_eot_4,))
    assert send_raw(emulator.port, b"\x1dr\x01", read_reply=True) == bytes((gs_r_1,))
    assert send_raw(emulator.port, b"\x10\x04\x01", read_reply=True) == bytes((dle_eot_1,))


def test_printer_id() -> None:
    assert status_reply(StatusRequest("GS I", 67), "ok").startswith(b"_clinicq")
    assert status_reply(StatusRequest("DLE EOT", 9), "ok") == b""


def test_paper_out_prints_nothing_until_reloaded(emulator: PrinterEmulator) -> None:
    printer = dummy()
    printer.image(pattern(200, 50))
    printer.cut()
    job = printer.output
    emulator.set_paper("out")
    send_raw(emulator.port, job)
    network = open_printer(f"network:127.0.0.1:{emulator.port}", timeout=5)
    assert paper_status(network) == "out"
    network.close()
    assert emulator.pages == [] and emulator.discarded_jobs == 1
    emulator.set_paper("ok")
    send_raw(emulator.port, job)
    assert len(emulator.wait_for_pages(1)) == 1


def test_emulator_survives_garbage_on_the_wire(emulator: PrinterEmulator) -> None:
    rng = random.Random(11)
    for _ in range(5):
        garbage = bytes(rng.choice(COMMAND_BYTES) if rng.random() < 0.3 else rng.randrange(256) for _ in range(20000))
        send_raw(emulator.port, garbage)
    printer = open_printer(f"network:127.0.0.1:{emulator.port}", timeout=5)
    assert paper_status(printer) == "ok"
    print_ticket(printer, draw_ticket(TICKET))
    printer.close()
    # Garbage may print pages of its own, so look for the ticket among them.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(qr_texts(Image.open(path)) == [STATUS_URL] for path in list(emulator.pages)):
            return
        time.sleep(0.05)
    pytest.fail("the ticket printed after the garbage never came out")


def test_wait_for_pages_times_out(emulator: PrinterEmulator) -> None:
    with pytest.raises(TimeoutError):
        emulator.wait_for_pages(1, timeout=0.1)


def test_page_numbers_continue_after_an_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "page-0007.png").write_bytes(b"")
    with PrinterEmulator(tmp_path, port=0) as emulator:
        send_raw(emulator.port, b"\x1b@hello\n\x1dV\x00")
        assert emulator.wait_for_pages(1)[0].name == "page-0008.png"


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="paper width"):
        PrinterEmulator(tmp_path, width_mm=76, port=0)
    with PrinterEmulator(tmp_path, port=0) as emulator, pytest.raises(ValueError, match="paper state"):
        emulator.set_paper("empty")  # type: ignore[arg-type]


def test_cli_switches_paper_and_stops(tmp_path: Path) -> None:
    import click

    @click.group()
    def clinicq() -> None:
        """A stand-in for the real command group."""

    register(clinicq)
    result = CliRunner().invoke(
        clinicq,
        ["printer-emulator", "--port", "0", "--out-dir", str(tmp_path), "--width", "58", "--paper", "low"],
        input="out\nbogus\nok\nquit\n",
    )
    assert result.exit_code == 0, result.output
    assert "58 mm, paper low" in result.output
    assert "paper out" in result.output and "paper ok" in result.output
    assert "stopped; 0 page(s) printed" in result.output
