"""The staff devices page in Chromium: a real Mosquitto, a hub bridged to it, and a small paho device.

The device is its own process, logging in to the broker with a Last Will like every clinicq device. It
comes online, reports its printer out of paper, and is then killed with SIGKILL (a kiosk unplugged): the
broker publishes its Last Will and the page, left open without reloading, shows each change as it happens.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from hub.config import load_config
from tests.browser import artifact, browser  # noqa: F401 - the fixture is used by name
from tests.hub_server import HubProcess, start_hub
from tests.mqtt_broker import MosquittoBroker, mosquitto_fixture
from tests.test_doctor_page import PASSWORD, open_page

pytestmark = [pytest.mark.browser, pytest.mark.mqtt]

ROOT = Path(__file__).resolve().parents[1]
DEVICE, DEVICE_TYPE, DEVICE_NAME = "kiosk-sanh-a", "kiosk", "Kiosk cảm ứng Sảnh A"  # config/devices.toml
FIRMWARE = "kiosk-fw-2.4.1"
mosquitto = mosquitto_fixture()

# A device as small as a firmware could be: status "online" retained with the Last Will "offline", its
# info, then one paper event per "paper <state>" line on stdin. Only the wire contract (hub.protocol).
DEVICE_PROGRAM = """
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from hub import protocol
from hub.protocol import Topics

host, port, site, kind, device, firmware = sys.argv[1:7]
topics = Topics(site)
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv311, clean_session=True)
client.will_set(topics.device_status(kind, device), protocol.STATUS_OFFLINE, qos=protocol.MQTT_QOS, retain=True)

def on_connect(client, userdata, flags, reason, properties):
    client.publish(topics.device_status(kind, device), protocol.STATUS_ONLINE, qos=protocol.MQTT_QOS, retain=True)
    info = {"model": "Pi 5 + XP-80C", "firmware": firmware, "ip": "10.0.0.41", "capabilities": ["print"]}
    client.publish(topics.device_info(kind, device), protocol.encode(info), qos=protocol.MQTT_QOS,
                   retain=True).wait_for_publish(5)
    print("online", flush=True)

client.on_connect = on_connect
client.connect(host, int(port), keepalive=30)
client.loop_start()
for line in sys.stdin:
    name, state = line.split()
    client.publish(topics.device_event(kind, device, name), protocol.encode({"state": state}),
                   qos=protocol.MQTT_QOS).wait_for_publish(5)
    print("sent", flush=True)
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker) -> Iterator[HubProcess]:
    var_dir = tmp_path_factory.mktemp("hub-devices")
    process = start_hub(var_dir, extra_args=["--mqtt", mosquitto.url],
                        staff=(("dd.hoa", "Nguyễn Thị Hoa", "nurse", PASSWORD),))
    assert process.wait_for_mqtt() == "ok"
    yield process
    process.stop()


def start_device(mosquitto: MosquittoBroker, site: str) -> subprocess.Popen[str]:
    device = subprocess.Popen(
        [sys.executable, "-c", DEVICE_PROGRAM, mosquitto.host, str(mosquitto.port), site, DEVICE_TYPE, DEVICE,
         FIRMWARE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert device.stdout is not None
    line = device.stdout.readline()
    assert line.strip() == "online", line + (device.stderr.read() if device.poll() is not None else "")
    return device


def send(device: subprocess.Popen[str], line: str) -> None:
    assert device.stdin is not None and device.stdout is not None
    device.stdin.write(line + "\n")
    device.stdin.flush()
    assert device.stdout.readline().strip() == "sent"


def in_opening_hours(site_hours: list[tuple[Any, Any]]) -> bool:
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).time()
    return any(start <= now < end for start, end in site_hours)


def test_the_page_follows_a_device_live(hub: HubProcess, mosquitto: MosquittoBroker, browser: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    config = load_config(hub.config_dir, env={})
    page = open_page(browser, hub, "dd.hoa", "/admin/devices", viewport=(1280, 900))
    english = open_page(browser, hub, "dd.hoa", "/admin/devices?lang=en", viewport=(1280, 900))
    device: subprocess.Popen[str] | None = None
    try:
        expect(english.locator("#conn")).to_be_hidden()
        row = page.locator(f'tr[data-device="{DEVICE}"]')
        status = row.locator(".online")
        expect(status).to_have_attribute("data-online", "no")  # registered from config, never connected
        expect(status).to_have_text("Mất kết nối")
        expect(page.locator("#conn")).to_be_hidden()
        # Whatever happens next must reach this very page: no reload (the marker would be gone).
        page.evaluate("window.__sameDocument = true")

        device = start_device(mosquitto, config.site.id)
        expect(status).to_have_attribute("data-online", "yes")
        expect(status).to_have_text("Trực tuyến")
        expect(row.locator(".fw")).to_have_text(FIRMWARE)
        expect(row.locator(".seen")).not_to_have_text("—")
        page.screenshot(path=str(artifact("devices-online.png")), full_page=True)

        # The kiosk's printer runs out of paper: an alert at the top, and the paper column says so.
        send(device, "paper out")
        alert = page.locator("#alerts [role=alert]").filter(has_text="hết giấy in")
        expect(alert).to_have_count(1)
        expect(alert).to_have_text(f"{DEVICE_NAME}: hết giấy in")  # the page's language only
        expect(row.locator(".paper")).to_have_attribute("data-paper", "out")
        expect(row.locator(".paper")).to_have_text("Hết giấy")  # in the page's language, not the wire code
        expect(row.locator(".seen")).to_have_text(re.compile(r"^\d{2}:\d{2} \d{2}/\d{2}/\d{4}$"))  # local time
        expect(english.locator("#alerts [role=alert]").first).to_have_text(f"{DEVICE_NAME}: out of paper")
        send(device, "paper out")  # reported again (a rebirth): the same state is no new alert
        page.screenshot(path=str(artifact("devices-paper-out.png")), full_page=True)

        # Unplugged: SIGKILL, no goodbye. The broker publishes the Last Will and the row turns offline.
        open_before = in_opening_hours(config.site_hours())
        device.send_signal(signal.SIGKILL)
        device.wait(timeout=10)
        expect(status).to_have_attribute("data-online", "no")
        expect(status).to_have_text("Mất kết nối")
        open_after = in_opening_hours(config.site_hours())
        page.screenshot(path=str(artifact("devices-offline.png")), full_page=True)
        assert page.evaluate("window.__sameDocument") is True
        expect(alert).to_have_count(1)
        if open_before == open_after:  # not on the edge of opening hours: the offline alert is decided
            offline_alert = page.locator("#alerts [role=alert]").filter(has_text="mất kết nối")
            expect(offline_alert).to_have_count(1 if open_after else 0)
        assert page.errors == [] and english.errors == []
    finally:
        if device is not None and device.poll() is None:
            device.kill()
            device.wait(timeout=10)
        page.context.close()
        english.context.close()

    registry = requests.get(f"{hub.api}/devices/{DEVICE}", headers=hub.headers("nurse"), timeout=5).json()
    assert (registry["online"], registry["paper"], registry["firmware"]) == (False, "out", FIRMWARE)
