"""Issue 15: the visit status page /v/<code>?k= (signed; the whole visit, every station) and the reception
walk-in ticket printed through ESC/POS into the printer emulator and read back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image, ImageChops

from firmware_sim.printer_emulator import PrinterEmulator
from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import Hub, build_hub
from hub.demo import wire_demo_slip_printers
from hub.domain.clinical.slips import initials, parse_visit_code, visit_code
from hub.domain.common.clock import VirtualClock
from hub.printing.slip_image import draw_slip, station_lines
from tests.test_booking_api import AN, Caller, register


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[PrinterEmulator]:
    with PrinterEmulator(tmp_path / "paper", width_mm=80, port=0) as printer:
        yield printer


@pytest.fixture
def hub(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock, emulator: PrinterEmulator) -> Iterator[Hub]:
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'visit-status.db'}", clock=clock)
    wire_demo_slip_printers(hub, emulator.port)  # reception desks and doctors' rooms print to the emulator
    yield hub
    hub.close()


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture
def reception(client: FlaskClient, hub: Hub) -> Caller:
    return Caller(client, hub.tokens.create("reception", "test-reception"))


def walk_in(reception: Caller, **extra: object) -> dict:
    patient = register(reception)
    response = reception.post("/visits", {"patient_code": patient["code"], "service": "kham-noi", **extra})
    assert response.status_code == 201, response.json
    return response.json


def test_visit_codes_parse_back_and_initials_hide_the_name() -> None:
    assert parse_visit_code(visit_code(123)) == 123
    for bad in ("LK", "LKabc", "XX000123", "LK000000", "123", "LK" + "9" * 20):
        assert parse_visit_code(bad) is None
    assert initials("Nguyễn Văn An") == "N. V. A." and initials(None) is None


def test_walk_in_ticket_printed_at_the_reception_desk_and_read_back(reception: Caller, hub: Hub,
                                                                   emulator: PrinterEmulator) -> None:
    result = walk_in(reception, counter="q2")
    ticket, slip = result["ticket"], result["slip"]
    assert slip["kind"] == "walk_in" and slip["status"] == "printed" and slip["counter"] == "q2"
    content = slip["content"]
    assert content["visit_code"] == visit_code(result["visit_id"])
    [station] = content["stations"]
    lines = station_lines(station)
    assert lines[0] == "Khám Nội tổng quát"
    assert f"Số của bạn: {ticket['number']}" in lines
    assert any(line.startswith("Phòng: ") and "101" in line and "102" in line for line in lines), lines
    assert "Tầng 1" in lines

    # The paper that came out is the slip drawn from the saved content, dot for dot; its QR opens the
    # signed visit status page, which answers with this visit.
    [page] = emulator.wait_for_pages(1)
    printed = Image.open(page).convert("1")
    expected = draw_slip(content, 80)
    top = printed.crop((0, 0, expected.width, expected.height))
    assert ImageChops.difference(top.convert("L"), expected.convert("L")).getbbox() is None
    [code] = zxingcpp.read_barcodes(printed)
    assert f"/v/{content['visit_code']}?k=" in code.text
    link = urlsplit(code.text)
    state = reception.client.get(f"{link.path}/state?{link.query}")
    assert state.status_code == 200 and state.json["stations"][0]["number"] == ticket["number"]


def test_walk_in_without_a_desk_goes_to_the_first_reception_printer(reception: Caller,
                                                                   emulator: PrinterEmulator) -> None:
    slip = walk_in(reception)["slip"]
    assert slip["status"] == "printed" and slip["counter"] == "q1"
    assert len(emulator.wait_for_pages(1)) == 1


def test_a_printer_fault_never_loses_the_walk_in_ticket(reception: Caller, hub: Hub,
                                                        emulator: PrinterEmulator) -> None:
    emulator.set_paper("out")
    result = walk_in(reception, counter="q1")
    assert result["ticket"]["status"] == "waiting"  # the patient is in line whatever the printer did
    slip = result["slip"]
    assert slip["status"] == "failed" and "paper" in slip["error"].lower()
    assert emulator.pages == []
    emulator.set_paper("ok")
    again = reception.post(f"/slips/{slip['id']}/reprint")
    assert again.status_code == 200, again.json
    assert again.json["status"] == "printed" and again.json["content"] == slip["content"]
    assert len(emulator.wait_for_pages(1)) == 1


def test_an_unknown_desk_is_a_clear_422_and_issues_nothing(reception: Caller, hub: Hub) -> None:
    patient = register(reception)
    response = reception.post("/visits", {"patient_code": patient["code"], "service": "kham-noi", "counter": "q99"})
    assert response.status_code == 422 and response.json["error"]["code"] == "unknown_counter"
    again = reception.post("/visits", {"patient_code": patient["code"], "service": "kham-noi"})
    assert again.status_code == 201 and again.json["ticket"]["number"] == "B001"  # the refused one took no number


def test_visit_page_needs_the_signed_link(client: FlaskClient, reception: Caller, hub: Hub) -> None:
    visit = walk_in(reception)["visit_id"]
    code = visit_code(visit)
    token = hub.visit_token(visit)
    assert client.get(f"/v/{code}").status_code == 404  # the code alone is guessable
    assert client.get(f"/v/{code}?k={hub.ticket_token(visit)}").status_code == 404  # another kind of token
    assert client.get(f"/v/{visit_code(visit + 1)}?k={token}").status_code == 404  # another visit's code
    assert client.get(f"/v/nonsense?k={token}").status_code == 404
    assert client.get(f"/v/{code}/state?k=bad").status_code == 404
    page = client.get(f"/v/{code}?k={token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert code in html and "N. V. A." in html and AN["full_name"] not in html


def test_visit_state_follows_every_station(client: FlaskClient, reception: Caller, hub: Hub) -> None:
    result = walk_in(reception)
    visit = result["visit_id"]
    url = f"/v/{visit_code(visit)}/state?k={hub.visit_token(visit)}"
    [exam] = client.get(url).json["stations"]
    assert exam["number"] == result["ticket"]["number"] and exam["status"] == "waiting"
    assert exam["floor"] == "Tầng 1" and exam["estimate"] is not None

    hub.queue.call_next("p101", actor="test")
    hub.queue.start("p101", actor="test")
    [exam] = client.get(url).json["stations"]
    assert exam["status"] == "serving" and exam["rooms"] == ["Phòng 101"]

    placed = hub.clinical.orders.place(visit, ["xn-glucose", "sa-bung"], actor="user:bs", counter="p101")
    stations = client.get(url).json["stations"]
    by_service = {s["service"]: s for s in stations}
    lab = by_service["xet-nghiem"]
    assert lab["number"] == placed["tickets"][0]["number"] and lab["status"] == "waiting"
    assert "Tầng 2" in lab["floor"]
    imaging = next(s for s in stations if s["service"] not in ("kham-noi", "xet-nghiem"))
    assert imaging["number"] is None and imaging["status"] == "not_yet"  # issued when the lab is done
