"""Devices on the admin pages against a real Mosquitto with password and ACL files kept by the hub:
a device added on the page logs in with the secret shown once, a retired keypad's login is refused,
a moved keypad's retained config names its new counter, and a test command reaches the device.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import requests

from hub import protocol as p
from hub.config import load_config
from hub.core import build_hub
from hub.mqtt_acl import BrokerFiles
from tests.hub_server import HubProcess
from tests.mqtt_broker import MosquittoBroker, mosquitto_path
from tests.support import free_port, require_service
from tests.test_device_bus import Peer

pytestmark = pytest.mark.mqtt
HUB_PASSWORD = "hub-secret-for-tests"
ADMIN, ADMIN_PASSWORD = "quan.tri", "quan-tri-456"
T = p.Topics("bvdk-hoa-binh")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, MosquittoBroker]]:
    program = mosquitto_path()
    require_service("mosquitto", program is not None, "install the Debian package mosquitto")
    assert program is not None
    root = tmp_path_factory.mktemp("admin-devices")
    var_dir, files, pid_file = root / "var", root / "broker", root / "mosquitto.pid"
    env = {"CLINICQ_MQTT_PASSWORD": HUB_PASSWORD, "CLINICQ_BROKER_FILES_DIR": str(files),
           "CLINICQ_BROKER_PID_FILE": str(pid_file)}
    process = HubProcess(var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", port=free_port(), env=env)
    var_dir.mkdir()
    process.create_tokens()
    setup = build_hub(load_config(process.config_dir, env=env), var_dir=var_dir, db_url=process.db_url)
    try:
        setup.staff.add(ADMIN, "Trần Văn Quản", "admin", ADMIN_PASSWORD)
        BrokerFiles(setup.config, setup.devices, var_dir).refresh()  # the broker needs its files to start
    finally:
        setup.close()
    broker = MosquittoBroker(program, workdir=root / "mosq", extra_config=(
        f"allow_anonymous false\npassword_file {files / 'passwd'}\nacl_file {files / 'acl'}\npid_file {pid_file}\n"))
    broker.workdir.mkdir()
    broker.start()
    process.extra_args = ["--mqtt", broker.url]
    process.start()
    deadline = time.monotonic() + 20
    while requests.get(process.api + "/health", timeout=2).json()["mqtt"] != "ok":
        assert time.monotonic() < deadline, process.log_tail()
        time.sleep(0.2)
    yield process, broker
    process.stop()
    broker.stop()


def admin_session(hub: HubProcess) -> tuple[requests.Session, str]:
    session = requests.Session()
    token = csrf(session.get(hub.url + "/login", timeout=5).text)
    response = session.post(hub.url + "/login", data={"username": ADMIN, "password": ADMIN_PASSWORD,
                                                      "csrf_token": token}, timeout=10)
    assert response.status_code == 200, response.text
    return session, csrf(session.get(hub.url + "/admin/devices", timeout=5).text)


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def login_refused(port: int, username: str, password: str, timeout: float = 5.0) -> bool:
    """True once the broker refuses this login (it reloads its files on the hub's SIGHUP)."""
    deadline = time.monotonic() + timeout
    while True:
        peer = Peer(port, client_id=username, username=username, password=password)
        refused = not peer.connected and peer.refused is not None
        peer.close()
        if refused or time.monotonic() > deadline:
            return refused
        time.sleep(0.2)


def test_retired_keypad_is_refused_by_the_broker(fleet: tuple[HubProcess, MosquittoBroker]) -> None:
    hub, broker = fleet
    keypad = Peer(broker.port, client_id="kp-p101", username="kp-p101", password="demo-secret-kp-p101")
    assert keypad.connected, broker.log_text()
    keypad.close()
    session, token = admin_session(hub)
    page = session.post(hub.url + "/admin/devices/kp-p101/retire", data={"csrf_token": token}, timeout=10)
    assert page.status_code == 200 and "Đã ngừng dùng kp-p101" in page.text
    assert login_refused(broker.port, "kp-p101", "demo-secret-kp-p101"), broker.log_text()
    assert "user kp-p101\n" not in (hub.var_dir.parent / "broker" / "acl").read_text()
    # The registry keeps it as retired (the audit trail names it), the page lists it so.
    listed = requests.get(hub.api + "/devices", headers=hub.headers("nurse"), timeout=5).json()["devices"]
    assert "kp-p101" not in [d["id"] for d in listed]
    assert 'data-device="kp-p101"' in page.text.split('id="retired"')[1]
    other = Peer(broker.port, client_id="kp-p102", username="kp-p102", password="demo-secret-kp-p102")
    assert other.connected  # the other keypads were not touched
    other.close()


def test_a_device_added_on_the_page_logs_in_with_the_secret_shown_once(
        fleet: tuple[HubProcess, MosquittoBroker]) -> None:
    hub, broker = fleet
    session, token = admin_session(hub)
    page = session.post(hub.url + "/admin/devices", data={
        "csrf_token": token, "type": "keypad", "id": "kp-p104", "name": "Bàn phím Phòng 104", "counter": "p104"},
        timeout=10)
    assert page.status_code == 201, page.text
    secret = re.search(r'<code class="password">([^<]+)</code>', page.text).group(1)
    assert secret not in session.get(hub.url + "/admin/devices", timeout=5).text  # shown once
    deadline = time.monotonic() + 5
    while True:
        keypad = Peer(broker.port, client_id="kp-p104", username="kp-p104", password=secret)
        if keypad.connected or time.monotonic() > deadline:
            break
        keypad.close()
        time.sleep(0.2)
    assert keypad.connected, broker.log_text()
    # Its ACL lets it read its own counter's state, as a keypad of config/devices.toml.
    keypad.subscribe(T.counter_state("p104"))
    hub_peer = Peer(broker.port, client_id="hub-test", username="clinicq-hub", password=HUB_PASSWORD)
    hub_peer.publish(T.counter_state("p104"), {"ticket": "C001"}, retain=True)
    state, _ = keypad.expect(T.counter_state("p104"), where=lambda m: m.get("ticket") == "C001")
    assert state["ticket"] == "C001"
    for peer in (keypad, hub_peer):
        peer.close()
    bad = session.post(hub.url + "/admin/devices", data={"csrf_token": token, "type": "keypad", "id": "kp-x",
                                                         "name": "Không có quầy"}, timeout=10)
    assert bad.status_code == 422 and "cần quầy/phòng" in bad.text


def test_moved_keypad_gets_its_new_counter_and_a_test_blinks_it(fleet: tuple[HubProcess, MosquittoBroker]) -> None:
    hub, broker = fleet
    keypad = Peer(broker.port, client_id="kp-p102", username="kp-p102", password="demo-secret-kp-p102")
    config_topic, command_topic = T.device_config("keypad", "kp-p102"), T.device_command("keypad", "kp-p102",
                                                                                           "identify")
    keypad.subscribe(config_topic)
    keypad.subscribe(command_topic)
    first, _ = keypad.expect(config_topic)
    assert first["counter"] == "p102"
    session, token = admin_session(hub)
    moved = session.post(hub.url + "/admin/devices/kp-p102/move", data={"csrf_token": token, "counter": "p103",
                                                                        "zone": ""}, timeout=10)
    assert moved.status_code == 200 and "Đã chuyển kp-p102" in moved.text
    config, _ = keypad.expect(config_topic, where=lambda m: m.get("counter") == "p103")
    assert config["services"] == ["kham-ngoai"] and config["zone"] == "tang-1"
    tested = session.post(hub.url + "/admin/devices/kp-p102/test", data={"csrf_token": token}, timeout=10)
    assert "Nháy đèn" in tested.text
    command, _ = keypad.expect(command_topic)  # the LED blinks on `identify` (firmware_sim/devices/base.py)
    assert command["req_id"].startswith("test-") and not p.is_expired(command)
    keypad.close()
    audit = requests.get(hub.url + "/admin/audit?kind=device", cookies=session.cookies, timeout=5).text
    for action in ("Ngừng dùng thiết bị", "Chuyển thiết bị", "Gửi lệnh thử"):
        assert action in audit


def test_devices_page_shows_local_times_and_vietnamese_names(fleet: tuple[HubProcess, MosquittoBroker]) -> None:
    hub, broker = fleet
    speaker = Peer(broker.port, client_id="spk-tang-1", username="spk-tang-1", password="demo-secret-spk-tang-1")
    speaker.client.publish(T.device_status("speaker", "spk-tang-1"), "online", qos=1, retain=True)
    time.sleep(1.0)
    session, _ = admin_session(hub)
    html = session.get(hub.url + "/admin/devices", timeout=5).text
    row = html.split('data-device="spk-tang-1"')[1].split("</tr>")[0]
    assert "Loa gọi số" in row and "Trực tuyến" in row
    assert re.search(r"từ \d{2}:\d{2} \d{2}/\d{2}/\d{4}", row), row
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", row)
    speaker.close()
