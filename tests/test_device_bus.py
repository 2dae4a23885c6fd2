"""The device bus end to end: a real hub process, a real Mosquitto, devices speaking the wire contract."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion

from hub.protocol import Topics
from tests.hub_server import HubProcess, start_hub
from tests.mqtt_broker import MosquittoBroker, mosquitto_fixture, mosquitto_path
from tests.support import free_port, port_open, require_service

SITE = "bvdk-hoa-binh"
T = Topics(SITE)
mosquitto = mosquitto_fixture()


class Peer:
    """A bare MQTT client standing in for a device or a listener."""

    def __init__(self, port: int, client_id: str | None = None, username: str | None = None,
                 password: str | None = None, will: tuple[str, str] | None = None) -> None:
        self.messages: queue.Queue[tuple[str, Any, bool]] = queue.Queue()
        self.connected = False
        self.refused: Any = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"peer-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv311, clean_session=True)
        if username:
            self.client.username_pw_set(username, password)
        if will:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.subscriptions: list[str] = []
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=10)
        self.client.loop_start()
        deadline = time.monotonic() + 10
        while not self.connected and self.refused is None and time.monotonic() < deadline:
            time.sleep(0.02)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.refused = reason
            return
        self.connected = True
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            payload: Any = json.loads(message.payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = message.payload.decode("utf-8", "replace")
        self.messages.put((message.topic, payload, message.retain))

    def subscribe(self, topic: str) -> None:
        self.subscriptions.append(topic)
        result, _mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        raw = payload if isinstance(payload, bytes | str) else json.dumps(payload, ensure_ascii=False)
        self.client.publish(topic, raw, qos=1, retain=retain).wait_for_publish(timeout=5)

    def expect(self, topic: str, where: Any = None, timeout: float = 10.0) -> tuple[Any, bool]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"nothing on {topic} within {timeout}s")
            try:
                got_topic, payload, retained = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if mqtt.topic_matches_sub(topic, got_topic) and (where is None or where(payload)):
                return payload, retained

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoBroker) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-bus"), extra_args=["--mqtt", mosquitto.url])
    deadline = time.monotonic() + 15
    while requests.get(process.api + "/health", timeout=2).json()["mqtt"] != "ok":
        assert time.monotonic() < deadline, "hub did not connect to the broker"
        time.sleep(0.1)
    yield process
    process.stop()


def press(peer: Peer, device: str, key: str, req_id: str | None = None, **extra: Any) -> str:
    req_id = req_id or uuid.uuid4().hex
    peer.publish(T.device_event("keypad", device, "key"), {"key": key, "req_id": req_id, **extra})
    return req_id


def issue(hub: HubProcess, service: str, **body: Any) -> dict[str, Any]:
    response = requests.post(hub.api + "/tickets", json={"service": service, **body}, headers=hub.headers("kiosk"),
                             timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def test_hub_is_online_and_healthy(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    listener = Peer(mosquitto.port)
    try:
        listener.subscribe(T.hub_status)
        status, retained = listener.expect(T.hub_status)
        assert status == "online" and retained
    finally:
        listener.close()
    assert requests.get(hub.api + "/health", timeout=5).json() == {"status": "ok", "db": "ok", "mqtt": "ok",
                                                                   "broker": "external"}


def test_key_press_calls_announces_and_retains_state(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    keypad = Peer(mosquitto.port, client_id="kp-p101")
    keypad.subscribe(T.device_ack("keypad", "kp-p101", "key"))
    listener = Peer(mosquitto.port)
    listener.subscribe(T.call)
    listener.subscribe(T.announce("tang-1"))
    try:
        ticket = issue(hub, "kham-noi")
        req_id = press(keypad, "kp-p101", "next")
        ack, _ = keypad.expect(T.device_ack("keypad", "kp-p101", "key"), where=lambda m: m["req_id"] == req_id)
        assert ack["status"] == "ok" and ack["ticket"]["number"] == ticket["number"]
        call, _ = listener.expect(T.call)
        assert call["ticket"] == ticket["number"] and call["counter"] == "p101" and call["zone"] == "tang-1"
        assert call["recall"] is False and call["ttl_s"] > 0 and call["ts"] <= time.time() + 1
        announce, _ = listener.expect(T.announce("tang-1"))
        assert announce["call_id"] == call["call_id"] and announce["lang"] == "vi"
        assert announce["text"].startswith("Mời số") and "phòng một trăm linh một" in announce["text"]
        # A late subscriber (a rebooted LED display) gets the counter's state from the retained topic.
        late = Peer(mosquitto.port)
        late.subscribe(T.counter_state("p101"))
        state, retained = late.expect(T.counter_state("p101"), where=lambda m: m["ticket"] == ticket["number"])
        assert retained and state["status"] == "called"
        late.close()
        # Same contract as REST: the ticket is called at p101.
        seen = requests.get(f"{hub.api}/tickets/{ticket['id']}", headers=hub.headers("nurse"), timeout=5).json()
        assert seen["status"] == "called" and seen["counter"] == "p101"
    finally:
        keypad.close()
        listener.close()


def test_duplicate_req_id_acts_once(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    keypad = Peer(mosquitto.port, client_id="kp-p102")
    keypad.subscribe(T.device_ack("keypad", "kp-p102", "key"))
    try:
        first, second = issue(hub, "kham-noi"), issue(hub, "kham-noi")
        ack_topic = T.device_ack("keypad", "kp-p102", "key")
        # Drain whatever p102 had, then call with one req_id twice.
        req_id = press(keypad, "kp-p102", "next")
        ack, _ = keypad.expect(ack_topic, where=lambda m: m["req_id"] == req_id)
        while ack["ticket"] and ack["ticket"]["number"] not in (first["number"], second["number"]):
            press(keypad, "kp-p102", "start")
            req_id = press(keypad, "kp-p102", "next")
            ack, _ = keypad.expect(ack_topic, where=lambda m, r=req_id: m["req_id"] == r)
        called = ack["ticket"]["number"]
        press(keypad, "kp-p102", "next", req_id=req_id)  # the keypad resends: no ack came in time
        again, _ = keypad.expect(ack_topic, where=lambda m: m["req_id"] == req_id)
        assert again["ticket"]["number"] == called and again["ticket"]["call_count"] == ack["ticket"]["call_count"]
        counter = requests.get(hub.api + "/counters/p102", timeout=5).json()
        assert counter["ticket"]["number"] == called and counter["ticket"]["call_count"] == 1
    finally:
        keypad.close()


def test_key_errors_are_acknowledged(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    keypad = Peer(mosquitto.port, client_id="kp-q2")
    ack_topic = T.device_ack("keypad", "kp-q2", "key")
    keypad.subscribe(ack_topic)
    try:
        req_id = press(keypad, "kp-q2", "finish")
        ack, _ = keypad.expect(ack_topic, where=lambda m: m["req_id"] == req_id)
        assert ack["status"] == "error" and ack["error"]["code"] == "no_current_ticket"
        req_id = press(keypad, "kp-q2", "dance")
        ack, _ = keypad.expect(ack_topic, where=lambda m: m["req_id"] == req_id)
        assert ack["status"] == "error" and ack["error"]["code"] == "unknown_key"
        issue(hub, "tiep-don")
        req_id = press(keypad, "kp-q2", "next", ts=time.time() - 120)  # the keypad gave up long ago
        ack, _ = keypad.expect(ack_topic, where=lambda m: m["req_id"] == req_id)
        assert ack["status"] == "error" and ack["error"]["code"] == "expired"
        assert requests.get(hub.api + "/counters/q2", timeout=5).json()["ticket"] is None
    finally:
        keypad.close()


def test_dispenser_button_issues_once_per_request(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    dispenser = Peer(mosquitto.port, client_id="ds-sanh-a-1")
    ack_topic = T.device_ack("kiosk", "ds-sanh-a-1", "ticket")
    dispenser.subscribe(ack_topic)
    try:
        dispenser.publish(T.device_event("kiosk", "ds-sanh-a-1", "ticket"), {"service": "tiep-don", "req_id": "b-1"})
        ack, _ = dispenser.expect(ack_topic, where=lambda m: m["req_id"] == "b-1")
        assert ack["status"] == "ok" and ack["ticket"]["number"].startswith("A")
        assert "/t/" in ack["ticket"]["status_url"]
        dispenser.publish(T.device_event("kiosk", "ds-sanh-a-1", "ticket"), {"service": "tiep-don", "req_id": "b-1"})
        again, _ = dispenser.expect(ack_topic, where=lambda m: m["req_id"] == "b-1")
        assert again["ticket"]["id"] == ack["ticket"]["id"]
        dispenser.publish(T.device_event("kiosk", "ds-sanh-a-1", "ticket"), {"service": "khong-co", "req_id": "b-2"})
        bad, _ = dispenser.expect(ack_topic, where=lambda m: m["req_id"] == "b-2")
        assert bad["status"] == "error" and bad["error"]["code"] == "unknown_service"
    finally:
        dispenser.close()


def test_status_info_paper_and_last_will(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    status_topic = T.device_status("kiosk", "kiosk-sanh-a")
    script = (
        "import sys, time, paho.mqtt.client as m\n"
        "from paho.mqtt.enums import CallbackAPIVersion as V\n"
        "c = m.Client(V.VERSION2, client_id='kiosk-sanh-a')\n"
        f"c.will_set('{status_topic}', 'offline', qos=1, retain=True)\n"
        f"c.connect('127.0.0.1', {mosquitto.port}, keepalive=2)\n"
        "c.loop_start()\n"
        f"c.publish('{status_topic}', 'online', qos=1, retain=True).wait_for_publish()\n"
        f"c.publish('{T.device_info('kiosk', 'kiosk-sanh-a')}', "
        "'{\"model\": \"Pi 4\", \"firmware\": \"1.2.0\", \"ip\": \"10.0.0.9\"}', qos=1,"
        " retain=True).wait_for_publish()\n"
        f"c.publish('{T.device_event('kiosk', 'kiosk-sanh-a', 'paper')}', '{{\"state\": \"low\"}}',"
        " qos=1).wait_for_publish()\n"
        "print('up', flush=True)\n"
        "time.sleep(600)\n")
    device = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert device.stdout is not None and device.stdout.readline().strip() == b"up"
        deadline = time.monotonic() + 10
        while True:
            state = requests.get(hub.api + "/devices/kiosk-sanh-a", headers=hub.headers("nurse"), timeout=5).json()
            if state["online"] and state["firmware"] == "1.2.0" and state["paper"] == "low":
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        os.kill(device.pid, signal.SIGKILL)  # no clean disconnect: the broker sends the Last Will
        deadline = time.monotonic() + 15
        while requests.get(hub.api + "/devices/kiosk-sanh-a", headers=hub.headers("nurse"), timeout=5).json()["online"]:
            assert time.monotonic() < deadline, "Last Will did not mark the device offline"
            time.sleep(0.2)
    finally:
        device.kill()
        device.wait()


def test_garbage_leaves_the_hub_serving_and_consistent(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    attacker = Peer(mosquitto.port)
    try:
        before = issue(hub, "nha-thuoc")
        key_topic = T.device_event("keypad", "kp-q1", "key")
        payloads: list[Any] = [
            b"\xff\xfe\xfd", b"{not json", b"", b"[]", b"null", b"42", "x" * 100_000,
            {"key": 5, "req_id": "a"}, {"key": "next"}, {"key": "next", "req_id": 7},
            {"key": "next", "req_id": "r" * 500},
            {"key": ["next"], "req_id": "x1"}, {"key": "transfer", "req_id": "x2", "service": {"a": 1}},
        ]
        topics = [key_topic, T.device_event("keypad", "khong-co", "key"), T.device_status("keypad", "kp-q1"),
                  T.device_info("keypad", "kp-q1"), T.device_event("kiosk", "ds-sanh-a-1", "ticket"),
                  T.device_event("kiosk", "ds-sanh-a-1", "paper"), f"{T.root}/dev/toaster/t1/evt/key",
                  f"{T.root}/dev/keypad/KP_BAD/evt/key", T.device_event("speaker", "spk-tang-1", "played")]
        for index in range(1000):
            payload = payloads[index % len(payloads)]
            raw = payload if isinstance(payload, bytes | str) else json.dumps(payload)
            attacker.client.publish(topics[index % len(topics)], raw, qos=0)
        time.sleep(2)
        assert requests.get(hub.api + "/health", timeout=5).json()["mqtt"] == "ok"
        after = issue(hub, "nha-thuoc")
        assert int(after["number"][1:]) == int(before["number"][1:]) + 1
        keypad = Peer(mosquitto.port, client_id="kp-q1")
        keypad.subscribe(T.device_ack("keypad", "kp-q1", "key"))
        req_id = press(keypad, "kp-q1", "next")
        ack, _ = keypad.expect(T.device_ack("keypad", "kp-q1", "key"), where=lambda m: m["req_id"] == req_id)
        assert ack["status"] == "ok"
        keypad.close()
    finally:
        attacker.close()


def test_broker_restart_loses_no_accepted_call(hub: HubProcess, mosquitto: MosquittoBroker) -> None:
    listener = Peer(mosquitto.port)
    listener.client.reconnect_delay_set(min_delay=0.2, max_delay=0.5)
    listener.subscribe(T.call)
    watcher = Peer(mosquitto.port)  # apart: `expect` drops what it skips, and the replay comes seconds later
    watcher.client.reconnect_delay_set(min_delay=0.2, max_delay=0.5)
    watcher.subscribe(T.counter_state("p103"))
    try:
        ticket = issue(hub, "kham-ngoai")
        mosquitto.stop()
        deadline = time.monotonic() + 10
        while requests.get(hub.api + "/health", timeout=5).json()["mqtt"] != "down":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # The hub keeps serving web clients while the broker is away.
        response = requests.post(hub.api + "/counters/p103/next", headers=hub.headers("doctor"), timeout=10)
        assert response.status_code == 200 and response.json()["number"] == ticket["number"]
        mosquitto.start()
        call, _ = listener.expect(T.call, where=lambda m: m["ticket"] == ticket["number"], timeout=25)
        assert call["counter"] == "p103"
        state, _ = watcher.expect(T.counter_state("p103"), where=lambda m: m["ticket"] == ticket["number"])
        assert state["status"] == "called"
        deadline = time.monotonic() + 15
        while requests.get(hub.api + "/health", timeout=5).json()["mqtt"] != "ok":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        # Delivered once: paho's buffered copy and the replay must not both go out under one call_id.
        try:
            again, _ = listener.expect(T.call, where=lambda m: m["call_id"] == call["call_id"], timeout=6)
        except AssertionError:
            again = None
        assert again is None, "the same call was delivered twice"
    finally:
        listener.close()
        watcher.close()


def test_acl_keeps_devices_in_their_own_topics(tmp_path: Path) -> None:
    program = mosquitto_path()
    require_service("mosquitto", program is not None, "install the Debian package mosquitto")
    env = {**os.environ, "CLINICQ_MQTT_PASSWORD": "hub-secret-for-tests"}
    var_dir = tmp_path / "var"
    root = Path(__file__).resolve().parents[1]
    clinicq = Path(sys.executable).with_name("clinicq")
    common = ["--config", str(root / "config"), "--var", str(var_dir), "--db", f"sqlite:///{var_dir / 'acl.db'}"]
    added = subprocess.run([str(clinicq), "device", "add", "--type", "led", "--id", "led-p105", "--name",
                            "Đèn số Phòng 105", "--counter", "p105", *common], capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    led_secret = added.stdout.strip()
    result = subprocess.run([str(clinicq), "mqtt-acl", "--out", str(tmp_path / "broker"), *common],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    acl = (tmp_path / "broker" / "acl").read_text()
    assert "user kp-p101" in acl and f"topic write {T.device('keypad', 'kp-p101')}/evt/#" in acl
    assert (tmp_path / "broker" / "passwd").stat().st_mode & 0o077 == 0
    broker = MosquittoBroker(program, workdir=tmp_path / "mosq", extra_config=(
        f"allow_anonymous false\npassword_file {tmp_path / 'broker' / 'passwd'}\n"
        f"acl_file {tmp_path / 'broker' / 'acl'}\n"))
    broker.workdir.mkdir()
    broker.start()
    try:
        hub_peer = Peer(broker.port, client_id="hub-test", username="clinicq-hub", password="hub-secret-for-tests")
        assert hub_peer.connected
        hub_peer.subscribe(f"{T.root}/dev/+/+/evt/#")
        time.sleep(0.3)
        kp101 = Peer(broker.port, client_id="kp-p101", username="kp-p101", password="demo-secret-kp-p101")
        assert kp101.connected
        kp101.publish(T.device_event("keypad", "kp-p102", "key"), {"key": "next", "req_id": "forged"})
        kp101.publish(T.device_event("keypad", "kp-p101", "key"), {"key": "next", "req_id": "own"})
        payload, _ = hub_peer.expect(f"{T.root}/dev/+/+/evt/#")
        assert payload["req_id"] == "own", "a device published under another device's topic"
        time.sleep(0.5)
        assert hub_peer.messages.empty(), "the forged press reached the hub"
        # A keypad reads its counter's state but not another's.
        kp101.subscribe(T.counter_state("p102"))
        kp101.subscribe(T.counter_state("p101"))
        hub_peer.publish(T.counter_state("p102"), {"ticket": "B999"}, retain=True)
        hub_peer.publish(T.counter_state("p101"), {"ticket": "B001"}, retain=True)
        state, _ = kp101.expect(f"{T.root}/state/counter/+")
        assert state["ticket"] == "B001"
        # A device added with `clinicq device add` reads its own counter from the registry.
        led = Peer(broker.port, client_id="led-p105", username="led-p105", password=led_secret)
        assert led.connected
        led.subscribe(T.counter_state("p105"))
        hub_peer.publish(T.counter_state("p105"), {"ticket": "E001"}, retain=True)
        state, _ = led.expect(T.counter_state("p105"))
        assert state["ticket"] == "E001"
        led.close()
        intruder = Peer(broker.port, client_id="intruder", username="nobody", password="guess")
        assert not intruder.connected and intruder.refused is not None
        wrong = Peer(broker.port, client_id="kp-p101b", username="kp-p101", password="wrong-secret")
        assert not wrong.connected
        for peer in (hub_peer, kp101, intruder, wrong):
            peer.close()
    finally:
        broker.stop()


def test_embedded_broker_when_configured(tmp_path: Path) -> None:
    port = free_port()
    process = start_hub(tmp_path / "embedded", extra_args=["--mqtt", f"embedded://127.0.0.1:{port}"])
    try:
        deadline = time.monotonic() + 20
        while (health := requests.get(process.api + "/health", timeout=2).json())["mqtt"] != "ok":
            assert time.monotonic() < deadline, process.log_tail()
            time.sleep(0.2)
        assert health["broker"] == "embedded"
        ticket = issue(process, "kham-ngoai")
        keypad = Peer(port, client_id="kp-p103", username="kp-p103", password="demo-secret-kp-p103")
        ack_topic = T.device_ack("keypad", "kp-p103", "key")
        keypad.subscribe(ack_topic)
        time.sleep(0.3)
        req_id = press(keypad, "kp-p103", "next")
        ack, _ = keypad.expect(ack_topic, where=lambda m: m["req_id"] == req_id)
        assert ack["status"] == "ok" and ack["ticket"]["number"] == ticket["number"]
        keypad.close()
    finally:
        process.stop()
    assert not port_open("127.0.0.1", port), "the embedded broker outlived the hub"


def test_a_device_cannot_take_another_devices_client_id(tmp_path: Path) -> None:
    program = mosquitto_path()
    require_service("mosquitto", program is not None, "install the Debian package mosquitto")
    env = {**os.environ, "CLINICQ_MQTT_PASSWORD": "hub-secret-for-tests"}
    var_dir = tmp_path / "var"
    root = Path(__file__).resolve().parents[1]
    clinicq = Path(sys.executable).with_name("clinicq")
    common = ["--config", str(root / "config"), "--var", str(var_dir), "--db", f"sqlite:///{var_dir / 'id.db'}"]
    result = subprocess.run([str(clinicq), "mqtt-acl", "--out", str(tmp_path / "broker"), *common],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    generated = (tmp_path / "broker" / "clinicq.conf").read_text()
    assert "use_username_as_clientid true" in generated
    # The generated lines minus the listener and nodelay (the test broker writes its own on a free port).
    settings = "".join(line + "\n" for line in generated.splitlines()
                       if line and not line.startswith(("#", "listener", "set_tcp_nodelay")))
    broker = MosquittoBroker(program, workdir=tmp_path / "mosq", extra_config=settings)
    broker.workdir.mkdir()
    broker.start()
    try:
        victim = Peer(broker.port, client_id="kp-p101", username="kp-p101", password="demo-secret-kp-p101")
        assert victim.connected
        drops: list[object] = []
        victim.client.on_disconnect = lambda *args: drops.append(args[3])  # paho would reconnect silently
        for _ in range(5):  # the attack of the issue: log in as yourself, claim the victim's client id
            attacker = Peer(broker.port, client_id="kp-p101", username="kp-p102", password="demo-secret-kp-p102")
            time.sleep(0.3)
            attacker.close()
        time.sleep(0.5)
        assert drops == [] and victim.client.is_connected(), f"the keypad was knocked off: {drops}"
        victim.close()
    finally:
        broker.stop()
