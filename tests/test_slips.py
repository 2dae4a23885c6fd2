"""Paper at the change of line: the order slip printed through ESC/POS into the printer emulator and read
back (room, floor, the patient's number), saved before print, a printer fault, the reprint."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops
from sqlalchemy import insert

from firmware_sim.printer_emulator import PrinterEmulator
from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.clinical.slips import visit_code
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.models import Patient
from hub.printing.slip_image import draw_slip, station_lines
from hub.printing.slip_printer import EscposSlipPrinter
from tests.test_clinical import Clinic


@pytest.fixture
def emulator(tmp_path: Path):  # type: ignore[no-untyped-def]
    with PrinterEmulator(tmp_path / "paper", width_mm=80, port=0) as printer:
        yield printer


@pytest.fixture
def world(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock, emulator: PrinterEmulator) -> Clinic:
    counters = [c.model_copy(update={"printer": "in-p101"}) if c.code == "p101" else c for c in clinic.counters]
    wired = clinic.model_copy(update={"counters": counters,
                                      "printers": {"in-p101": f"network:127.0.0.1:{emulator.port}"}})
    world = Clinic(sqlite_db, wired, clock)
    world.clinical.slips.printer = EscposSlipPrinter(wired, timeout=3)
    world.clinical.slips.link_for = lambda ticket_id: f"http://hub.local/t/{ticket_id}?k=test"
    return world


def at_doctor(world: Clinic) -> dict:
    with world.db.write() as connection:
        patient = connection.execute(insert(Patient).values(
            code="BN00000777", full_name="Hoàng Thị Ngọc", date_of_birth=date(1975, 2, 3), sex="Nữ",
            created_at=world.clock.now()).returning(Patient.id)).scalar_one()
    return world.serve("p101", service="kham-noi", patient_id=patient)


def test_order_slip_printed_through_the_emulator_and_read_back(world: Clinic, emulator: PrinterEmulator) -> None:
    ticket = at_doctor(world)
    placed = world.orders.place(ticket["visit_id"], ["xn-glucose", "sa-bung"], actor="user:bs", counter="p101")
    lab_number = placed["tickets"][0]["number"]
    slip = world.clinical.slips.print_order_slip(ticket["visit_id"], "p101")
    assert slip["status"] == "printed" and slip["printer"] == "in-p101" and slip["attempts"] == 1

    content = slip["content"]
    assert content["visit_code"] == visit_code(ticket["visit_id"])
    lab, imaging = content["stations"]
    assert lab["number"] == lab_number and imaging["number"] is None  # issued when the lab is done
    lab_lines = station_lines(lab)
    assert f"Số của bạn: {lab_number}" in lab_lines
    assert any(line.startswith("Phòng: ") and "201" in line for line in lab_lines), lab_lines
    assert "Tầng 2" in lab_lines
    assert "Trước khi làm: Nhịn ăn ít nhất 8 giờ trước khi lấy máu" in lab_lines
    assert any("Nhịn ăn 6 giờ" in line for line in station_lines(imaging))

    # What came out of the printer, decoded from the ESC/POS bytes, is the slip drawn from that content
    # dot for dot, and its QR code leads to the status page of the lab ticket.
    [page] = emulator.wait_for_pages(1)
    printed = Image.open(page).convert("1")
    expected = draw_slip(content, 80)
    assert printed.width == expected.width
    top = printed.crop((0, 0, expected.width, expected.height))
    assert ImageChops.difference(top.convert("L"), expected.convert("L")).getbbox() is None
    [code] = zxingcpp.read_barcodes(printed)
    assert code.text == f"http://hub.local/t/{lab['ticket_id']}?k=test"


def test_a_printer_fault_never_loses_the_slip_and_it_reprints(world: Clinic, emulator: PrinterEmulator) -> None:
    ticket = at_doctor(world)
    world.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p101")
    emulator.set_paper("out")
    slip = world.clinical.slips.print_order_slip(ticket["visit_id"], "p101")
    assert slip["status"] == "failed" and "paper" in slip["error"].lower()
    assert emulator.pages == []
    assert [s["id"] for s in world.clinical.slips.of_visit(ticket["visit_id"])] == [slip["id"]]
    emulator.set_paper("ok")
    again = world.clinical.slips.reprint(slip["id"])
    assert again["status"] == "printed" and again["attempts"] == 2 and again["content"] == slip["content"]
    assert len(emulator.wait_for_pages(1)) == 1


def test_a_room_without_a_printer_keeps_the_slip_for_later(world: Clinic) -> None:
    with world.db.write() as connection:
        patient = connection.execute(insert(Patient).values(
            code="BN00000778", full_name="Lý Văn Sơn", date_of_birth=date(1980, 1, 1), sex="Nam",
            created_at=world.clock.now()).returning(Patient.id)).scalar_one()
    ticket = world.serve("p102", service="kham-noi", patient_id=patient)
    world.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p102")
    slip = world.clinical.slips.print_order_slip(ticket["visit_id"], "p102")
    assert slip["status"] == "no_printer" and slip["content"]["stations"][0]["number"]
    printed = world.clinical.slips.reprint(slip["id"], counter="p101")  # printed at the room that has one
    assert printed["status"] == "printed" and printed["printer"] == "in-p101"


def test_return_to_the_doctor_slip_when_the_last_result_is_in(world: Clinic, emulator: PrinterEmulator) -> None:
    ticket = at_doctor(world)
    world.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p101")
    world.result_all(ticket["visit_id"])
    slips = [s for s in world.clinical.slips.of_visit(ticket["visit_id"]) if s["kind"] == "return"]
    assert len(slips) == 1
    [station] = slips[0]["content"]["stations"]
    returning = next(t for t in world.tickets_of(ticket["visit_id"]) if t.priority == "returning")
    assert station["number"] == returning.number and station["rooms"] == ["Phòng 101"]
    assert station["floor"] == "Tầng 1"
    # The lab room has no printer here: the slip went to the ordering room's printer.
    assert slips[0]["status"] == "printed" and slips[0]["printer"] == "in-p101"
    assert len(emulator.wait_for_pages(1)) == 1


def test_the_demo_prints_the_doctors_slips_to_the_emulator(tmp_path: Path, clinic: ClinicConfig,
                                                           clock: VirtualClock, emulator: PrinterEmulator) -> None:
    from hub.core import build_hub
    from hub.demo import wire_demo_slip_printers

    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'demo-slips.db'}", clock=clock)
    try:
        wire_demo_slip_printers(hub, emulator.port)
        with hub.db.write() as connection:
            patient = connection.execute(insert(Patient).values(
                code="BN00000779", full_name="Mai Văn Hùng", date_of_birth=date(1970, 1, 1), sex="Nam",
                created_at=clock.now()).returning(Patient.id)).scalar_one()
        ticket = hub.queue.issue("kham-noi", patient_id=patient)
        hub.queue.call_next("p101", actor="test")
        hub.queue.start("p101", actor="test")
        hub.clinical.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p101")
        slip = hub.clinical.slips.print_order_slip(ticket["visit_id"], "p101")
        assert slip["status"] == "printed" and slip["printer"] == "demo-slips"
        assert f"/v/{visit_code(ticket['visit_id'])}?k=" in slip["content"]["status_url"]  # the whole visit
        assert len(emulator.wait_for_pages(1)) == 1
    finally:
        hub.close()
