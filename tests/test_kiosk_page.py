"""The kiosk end to end: Debian's Chromium on the touchscreen page, a `clinicq kiosk` agent, a real hub
process, Mosquitto, the ESC/POS printer emulator and a serial scanner on a pseudo-terminal.

Each flow is tapped through and its result screen kept in test-artifacts/; printed tickets are checked by
decoding their QR code back to the ticket's status link. The tests share one hub and one agent and run
in file order: the last one stops and restarts the hub.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
import requests
import zxingcpp
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image

from firmware_sim.printer_emulator import PrinterEmulator
from hub.protocol import Topics, encode
from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import HubProcess, start_hub
from tests.mqtt_broker import MosquittoBroker, mosquitto_fixture
from tests.support import free_port

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

CLINICQ = Path(sys.executable).with_name("clinicq")
DEVICE = "kiosk-sanh-a"
SECRET = "demo-secret-kiosk-sanh-a"  # config/devices.toml (demo)
SERVICES = "tiep-don,kham-noi,kham-nhi,kham-san"  # kham-san has no open room: it must not be offered
OPEN_COUNTERS = ("q1", "p101", "p104")
LEASE_SIZE = 6
CARD = "001088012345|012345678|Nguyễn Thị Hồng Nhung|15081988|Nữ|Số 12 Phố Huế, Hà Nội|20042021"
SERIAL_CARD = "079301004567||Trần Văn Bình|02011975|Nam|45 Lê Lợi, Quận 1, TP. Hồ Chí Minh|10052022"
T = Topics("bvdk-hoa-binh")
mosquitto = mosquitto_fixture()


@dataclass
class Kiosk:
    """The running agent and what it talks to."""

    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    emulator: PrinterEmulator
    scanner: int  # the master side of the scanner's pseudo-terminal: write a scan here

    def state(self) -> dict[str, Any]:
        return requests.get(self.url + "/api/state", timeout=5).json()

    def outbox(self) -> list[sqlite3.Row]:
        with sqlite3.connect(self.data_dir / "kiosk.db") as db:
            db.row_factory = sqlite3.Row
            return db.execute("SELECT * FROM tickets ORDER BY created_at").fetchall()

    def log_tail(self) -> str:
        path = self.data_dir / "kiosk.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-kiosk"), extra_args=["--mqtt", mosquitto.url])
    for counter in OPEN_COUNTERS:
        response = requests.post(f"{process.api}/counters/{counter}/open", headers=process.headers("admin"),
                                 timeout=10)
        assert response.status_code == 200, response.text
    yield process
    process.stop()


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory, hub: HubProcess, mosquitto: MosquittoBroker) -> Iterator[Kiosk]:
    data_dir = tmp_path_factory.mktemp("kiosk")
    master, slave = os.openpty()
    port = free_port()
    with PrinterEmulator(data_dir / "printed", width_mm=80, port=0) as emulator:
        log = open(data_dir / "kiosk.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            [str(CLINICQ), "kiosk", "--hub", hub.url, "--token", hub.tokens["kiosk"],
             "--printer", f"network:127.0.0.1:{emulator.port}", "--port", str(port), "--id", DEVICE,
             "--mqtt", mosquitto.url, "--secret", SECRET, "--data", str(data_dir), "--scanner", os.ttyname(slave),
             "--services", SERVICES, "--lease-size", str(LEASE_SIZE), "--poll", "0.5"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        running = Kiosk(process, f"http://127.0.0.1:{port}", data_dir, emulator, master)
        try:
            wait_for(lambda: _leased(running), 30, "the kiosk to be online with its leases")
            yield running
        finally:
            process.terminate()
            assert process.wait(timeout=15) == 0, running.log_tail()
            log.close()
            os.close(master)
            os.close(slave)


def _leased(kiosk: Kiosk) -> bool:
    try:
        state = kiosk.state()
    except requests.RequestException:
        assert kiosk.process.poll() is None, kiosk.log_tail()
        return False
    return state["ready"] and state["online"] and all(s["offline_left"] == LEASE_SIZE for s in state["services"])


@pytest.fixture
def page(browser: Any, kiosk: Kiosk) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, locale="vi-VN")
    opened = context.new_page()
    opened.goto(kiosk.url)
    opened.wait_for_selector("#service-list .service", state="attached")
    yield opened
    context.close()


def take(page: Any, service: str, priority: str = "normal") -> dict[str, str]:
    """Tap through: take a number, the service, the priority; return what the result screen says."""
    page.click("#go-ticket")
    page.click(f"#service-list [data-code={service}]")
    page.click(f"[data-priority={priority}]")
    page.wait_for_selector("[data-screen=result]:not([hidden])")
    return {name: page.inner_text(f"#result-{name}") for name in ("number", "service", "rooms", "print")}


def hub_ticket(hub: HubProcess, number: str) -> dict[str, Any]:
    """Today's ticket with this number, from the hub (with its status link)."""
    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        [(ticket_id,)] = db.execute("SELECT id FROM tickets WHERE number = ?", (number,)).fetchall()
    return requests.get(f"{hub.api}/tickets/{ticket_id}", headers=hub.headers("admin"), timeout=5).json()


def printed_qr(emulator: PrinterEmulator, pages: int) -> str:
    """The QR text of the `pages`-th printed ticket."""
    path = emulator.wait_for_pages(pages)[pages - 1]
    image = Image.open(path)
    assert image.width == 576
    [text] = [result.text for result in zxingcpp.read_barcodes(image)]
    return text


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(artifact(f"kiosk-{name}.png")))


# ---------------------------------------------------------------------------------------------- flows
def test_service_ticket_is_saved_then_printed_with_its_qr(page: Any, hub: HubProcess, kiosk: Kiosk) -> None:
    before = len(kiosk.emulator.pages)
    shot(page, "home")
    page.click("#go-ticket")
    offered = [el.get_attribute("data-code") for el in page.query_selector_all("#service-list .service")]
    assert offered == ["tiep-don", "kham-noi", "kham-nhi"]  # kham-san: no room open
    shot(page, "services")
    page.click("#service-list [data-code=kham-noi]")
    shot(page, "priority")
    page.click("[data-priority=normal]")
    page.wait_for_selector("[data-screen=result]:not([hidden])")
    result = {name: page.inner_text(f"#result-{name}") for name in ("number", "service", "rooms", "print")}
    shot(page, "result-service")
    assert result["service"] == "Khám Nội tổng quát" and result["print"] == "Mời lấy phiếu"
    assert "Phòng 101" in result["rooms"]
    ticket = hub_ticket(hub, result["number"])
    assert ticket["status"] == "waiting" and ticket["offline"] is False
    assert int(result["number"][1:]) > LEASE_SIZE  # the first numbers of the day are this kiosk's lease
    assert printed_qr(kiosk.emulator, before + 1) == ticket["status_url"]
    page.click("#done")
    page.wait_for_selector("[data-screen=home]:not([hidden])")


def test_priority_ticket_on_a_small_screen_in_english(browser: Any, hub: HubProcess, kiosk: Kiosk) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 800, "height": 480})
    small = context.new_page()
    small.goto(kiosk.url)
    small.wait_for_selector("#service-list .service", state="attached")
    shot(small, "home-800x480")
    small.click("#lang")
    assert small.inner_text("#go-ticket .action-title") == "Take a number"
    small.click("#go-ticket")
    small.click("#service-list [data-code=kham-nhi]")
    assert small.is_visible("[data-priority=child]")
    shot(small, "priority-800x480")
    small.click("[data-priority=child]")
    small.wait_for_selector("[data-screen=result]:not([hidden])")
    shot(small, "result-priority-800x480")
    assert small.inner_text("#result-priority") == "Priority: Child under 6"
    assert small.inner_text("#result-service") == "Paediatrics"
    assert small.inner_text("#result-print") == "Please take your ticket"
    # The whole result fits the 7-inch panel: the Done button is on screen.
    box = small.locator("#done").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 480
    assert hub_ticket(hub, small.inner_text("#result-number"))["priority"] == "child"
    small.click("#done")
    assert small.inner_text("#go-ticket .action-title") == "Lấy số thứ tự"  # back to Vietnamese for the next one
    context.close()


def test_booking_code_not_found(page: Any) -> None:
    page.click("#go-booking")
    for key in "HK7Q2M":
        page.click(f"#keypad button:text-is('{key}')")
    assert page.input_value("#booking-code") == "HK7Q2M"
    shot(page, "booking")
    page.click("#booking-submit")
    page.wait_for_selector("[data-screen=message]:not([hidden])")
    shot(page, "booking-not-found")
    assert page.inner_text("#message-text").startswith("Không tìm thấy lịch hẹn với mã này.")
    page.click("#message-back")
    assert page.is_visible("[data-screen=booking]")


def test_idle_page_returns_to_the_start_in_vietnamese(browser: Any, kiosk: Kiosk) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 800, "height": 480})
    idle = context.new_page()
    idle.clock.install()
    idle.goto(kiosk.url)
    idle.wait_for_selector("#service-list .service", state="attached")
    idle.click("#lang")
    idle.click("#go-booking")
    shot(idle, "booking-800x480")
    idle.clock.fast_forward(30_000)
    assert idle.is_visible("[data-screen=booking]")  # still within the idle time
    idle.clock.fast_forward(kiosk.state()["idle_s"] * 1000)
    idle.wait_for_selector("[data-screen=home]:not([hidden])")
    assert idle.inner_text("#go-ticket .action-title") == "Lấy số thứ tự"
    context.close()


def test_id_card_typed_by_a_keyboard_scanner(page: Any, hub: HubProcess, kiosk: Kiosk) -> None:
    page.click("#go-cccd")
    shot(page, "cccd")
    page.fill("#cccd-input", "001088012345|chỉ một phần")
    page.press("#cccd-input", "Enter")
    page.wait_for_selector("[data-screen=message]:not([hidden])")
    assert page.inner_text("#message-text") == "Không đọc được thẻ CCCD, vui lòng thử lại."
    page.click("#message-back")
    page.fill("#cccd-input", CARD)
    page.press("#cccd-input", "Enter")
    page.wait_for_selector("#patient-banner:not([hidden])")
    assert page.inner_text("#patient-banner") == "Xin chào Nguyễn Thị Hồng Nhung"
    assert page.input_value("#cccd-input") == ""
    shot(page, "cccd-patient")
    result = take_after_greeting(page, "tiep-don")
    shot(page, "result-cccd")
    assert patient_of(hub, result) == ("001088012345", "Nguyễn Thị Hồng Nhung")
    assert "Nguyễn Thị Hồng" not in kiosk.log_tail() and "001088012345" not in kiosk.log_tail()


def test_id_card_on_the_serial_scanner(page: Any, hub: HubProcess, kiosk: Kiosk) -> None:
    os.write(kiosk.scanner, SERIAL_CARD.encode("utf-8") + b"\r\n")
    page.wait_for_selector("#patient-banner:not([hidden])", timeout=10_000)
    assert page.inner_text("#patient-banner") == "Xin chào Trần Văn Bình"  # diacritics intact over serial
    result = take_after_greeting(page, "kham-noi")
    assert patient_of(hub, result) == ("079301004567", "Trần Văn Bình")
    assert "Trần Văn" not in kiosk.log_tail()


def take_after_greeting(page: Any, service: str) -> str:
    page.click(f"#service-list [data-code={service}]")
    page.click("[data-priority=normal]")
    page.wait_for_selector("[data-screen=result]:not([hidden])")
    return page.inner_text("#result-number")


def patient_of(hub: HubProcess, number: str) -> tuple[str, str]:
    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        return db.execute("SELECT p.national_id, p.full_name FROM tickets t JOIN visits v ON v.id = t.visit_id "
                          "JOIN patients p ON p.id = v.patient_id WHERE t.number = ?", (number,)).fetchone()


def test_paper_out_shows_the_number_and_reprints_when_paper_is_back(page: Any, hub: HubProcess,
                                                                   kiosk: Kiosk) -> None:
    before = len(kiosk.emulator.pages)
    kiosk.emulator.set_paper("out")
    try:
        result = take(page, "tiep-don")
        assert result["print"] == "Máy in hết giấy — vui lòng đến quầy tiếp đón"
        assert result["number"].startswith("A") and page.is_visible("#reprint")
        shot(page, "result-paper-out")
        page.wait_for_selector("#chip-paper:not([hidden])")
        wait_for(lambda: registry(hub)["paper"] == "out", 10, "evt/paper out to reach the hub")
        assert hub_ticket(hub, result["number"])["status"] == "waiting"  # saved on the hub all the same
        assert len(kiosk.emulator.pages) == before
    finally:
        kiosk.emulator.set_paper("ok")
    page.click("#reprint")
    page.wait_for_selector("#result-print[data-state=printed]")
    assert page.inner_text("#result-number") == result["number"]
    assert page.is_hidden("#reprint")
    assert printed_qr(kiosk.emulator, before + 1) == hub_ticket(hub, result["number"])["status_url"]
    wait_for(lambda: registry(hub)["paper"] == "ok", 10, "evt/paper ok to reach the hub")


def registry(hub: HubProcess) -> dict[str, Any]:
    """The hub's device registry entry of the kiosk (what staff see on /admin/devices)."""
    return requests.get(f"{hub.api}/devices/{DEVICE}", headers=hub.headers("nurse"), timeout=5).json()


def test_staff_reprint_reaches_the_kiosk_and_stale_commands_are_dropped(hub: HubProcess, kiosk: Kiosk,
                                                                       mosquitto: MosquittoBroker) -> None:
    device = registry(hub)
    assert device["online"] is True and device["firmware"].startswith("clinicq-kiosk")
    number = next(row["number"] for row in reversed(kiosk.outbox()) if row["state"] == "issued")
    ticket = hub_ticket(hub, number)
    before = len(kiosk.emulator.pages)
    response = requests.post(f"{hub.api}/tickets/{ticket['id']}/reprint", headers=hub.headers("reception"),
                             timeout=5)
    assert response.status_code == 202, response.text
    assert printed_qr(kiosk.emulator, before + 1) == ticket["status_url"]

    stale = {"req_id": uuid.uuid4().hex[:16], "ts": time.time() - 600, "ttl_s": 60, "ticket_id": ticket["id"]}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-stale", protocol=mqtt.MQTTv311)
    client.connect(mosquitto.host, mosquitto.port)
    client.loop_start()
    client.publish(T.device_command("kiosk", DEVICE, "reprint"), encode(stale), qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
    time.sleep(1.5)
    assert len(kiosk.emulator.pages) == before + 1


def test_hub_down_mid_morning_then_back_every_ticket_once(page: Any, hub: HubProcess, kiosk: Kiosk) -> None:
    before_pages = len(kiosk.emulator.pages)
    hub.stop()
    try:
        page.wait_for_selector("#chip-offline:not([hidden])", timeout=10_000)
        first = take(page, "kham-noi")
        shot(page, "result-offline")
        assert page.is_visible("#result-offline") and first["print"] == "Mời lấy phiếu"
        page.click("#done")
        second = take(page, "kham-noi")
        page.click("#done")
        assert (first["number"], second["number"]) == ("B001", "B002")  # from the morning's lease
        qr = printed_qr(kiosk.emulator, before_pages + 1)
        assert "/api/v1/tickets/by-key/" in qr
        # Reception's numbers run out after the lease: the kiosk says so instead of guessing.
        issued = [take(page, "tiep-don")["number"]]
        page.click("#done")
        while True:
            response = requests.post(kiosk.url + "/api/tickets", json={"service": "tiep-don"}, timeout=10)
            if response.status_code != 201:
                break
            issued.append(response.json()["ticket"]["number"])
        assert response.status_code == 503
        assert issued == [f"A{n:03d}" for n in range(1, LEASE_SIZE + 1)]
        page.click("#go-ticket")
        page.click("#service-list [data-code=tiep-don]")
        page.click("[data-priority=normal]")
        page.wait_for_selector("[data-screen=message]:not([hidden])")
        assert page.inner_text("#message-text") == "Không cấp được số, vui lòng đến quầy tiếp đón."
        shot(page, "offline-no-numbers-left")
        assert kiosk.state()["unsent"] == 2 + LEASE_SIZE
    finally:
        hub.start()
    wait_for(lambda: kiosk.state()["online"] and kiosk.state()["unsent"] == 0, 30, "the outbox to be filed")
    page.wait_for_selector("#chip-offline", state="hidden")

    with sqlite3.connect(hub.var_dir / "hub.db") as db:
        rows = db.execute("SELECT t.number, t.offline, s.code FROM tickets t JOIN services s ON s.id = t.service_id "
                          "WHERE t.source_device = ?", (DEVICE,)).fetchall()
        duplicates = db.execute("SELECT service_id, day, seq FROM tickets GROUP BY service_id, day, seq "
                                "HAVING COUNT(*) > 1").fetchall()
    assert duplicates == []
    numbers = [number for number, _, _ in rows]
    assert len(numbers) == len(set(numbers))
    offline = sorted(number for number, was_offline, _ in rows if was_offline)
    assert offline == sorted(["B001", "B002", *issued])
    shown = [row["number"] for row in kiosk.outbox() if row["state"] == "issued"]
    assert sorted(shown) == sorted(numbers)  # every number a patient holds is on the hub, once
    assert all(row["state"] != "rejected" for row in kiosk.outbox())
    # The offline QR now leads to the ticket's status page (the QR names the configured public address).
    landing = requests.get(hub.url + urlsplit(qr).path, allow_redirects=False, timeout=5)
    assert landing.status_code == 302 and "/t/" in landing.headers["Location"]
