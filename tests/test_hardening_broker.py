"""Attacks on the broker link: no anonymous amqtt on a configured broker's port, a frozen or returning
broker noticed within seconds (a real hub process, a real Mosquitto)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import requests

from tests.hub_server import HubProcess, start_hub
from tests.mqtt_broker import MosquittoBroker, mosquitto_path
from tests.support import free_port, port_open, require_service


def health(process: HubProcess) -> dict:
    return requests.get(process.api + "/health", timeout=3).json()


def wait_for_mqtt(process: HubProcess, state: str, within: float) -> float:
    """Seconds until /health says mqtt == state (fails after `within`)."""
    start = time.monotonic()
    while (current := health(process))["mqtt"] != state:
        assert time.monotonic() - start < within, f"mqtt stayed {current} for {within}s\n{process.log_tail()}"
        time.sleep(0.1)
    return time.monotonic() - start


def test_absent_broker_is_not_replaced_then_return_and_freeze_are_seen(tmp_path: Path) -> None:
    program = mosquitto_path()
    require_service("mosquitto", program is not None, "install the Debian package mosquitto")
    port = free_port()
    process = start_hub(tmp_path / "hub", extra_args=["--mqtt", f"mqtt://127.0.0.1:{port}"],
                        env={"CLINICQ_MQTT_URL": ""})
    (tmp_path / "mosquitto").mkdir()
    broker = MosquittoBroker(program, port=port, workdir=tmp_path / "mosquitto")
    try:
        time.sleep(2.0)  # the old hub started amqtt here within a second
        state = health(process)
        assert state["mqtt"] == "down" and state["broker"] == "external"
        assert not port_open("127.0.0.1", port), "something listens on the configured broker's port"
        assert not (process.var_dir / "amqtt.yaml").exists(), "the hub started the embedded broker"
        broker.start()  # Mosquitto can still take its own port
        took = wait_for_mqtt(process, "ok", within=10)
        assert took < 4, f"the hub took {took:.1f}s to use the returning broker (retries every second)"
        pid = broker._process.pid  # the test's own child
        os.kill(pid, signal.SIGSTOP)  # frozen: TCP stays open, nothing answers
        try:
            wait_for_mqtt(process, "degraded", within=8)
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for_mqtt(process, "ok", within=10)
    finally:
        process.stop()
        broker.stop()


def test_busy_broker_port_gets_no_embedded_broker(tmp_path: Path) -> None:
    # Something that accepts TCP on the configured port but speaks no MQTT (a wedged Mosquitto).
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(16)
    port = squatter.getsockname()[1]
    process = start_hub(tmp_path / "hub", extra_args=["--mqtt", f"mqtt://127.0.0.1:{port}"],
                        env={"CLINICQ_MQTT_URL": ""})
    try:
        time.sleep(2.0)
        state = health(process)
        assert state["mqtt"] != "ok" and state["broker"] == "external"
        assert not (process.var_dir / "amqtt.yaml").exists()
        assert "embedded MQTT broker" not in process.log_tail(200)
    finally:
        process.stop()
        squatter.close()


def test_embedded_broker_refuses_a_taken_port(tmp_path: Path) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(1)
    port = squatter.getsockname()[1]
    try:
        try:
            start_hub(tmp_path / "hub", extra_args=["--mqtt", f"embedded://127.0.0.1:{port}"])
        except RuntimeError as exc:
            assert "already in use" in str(exc)
        else:
            raise AssertionError("the hub started an embedded broker on a port something else owns")
    finally:
        squatter.close()


def test_embedded_broker_refuses_anonymous_and_strangers_topics(tmp_path: Path) -> None:
    """The embedded amqtt the hub starts: no anonymous client, no wrong secret, no other device's topics;
    the device with its own credentials is served (a key press acknowledged)."""
    from tests.test_device_bus import Peer, T, issue, press

    port = free_port()
    process = start_hub(tmp_path / "hub", extra_args=["--mqtt", f"embedded://127.0.0.1:{port}"])
    peers: list[Peer] = []
    try:
        wait_for_mqtt(process, "ok", within=20)
        assert health(process)["broker"] == "embedded"
        anonymous = Peer(port, client_id="anyone")
        stranger = Peer(port, client_id="x", username="nobody", password="guess-guess")
        wrong = Peer(port, client_id="kp-p103x", username="kp-p103", password="not-its-secret")
        peers += [anonymous, stranger, wrong]
        for peer in (anonymous, stranger, wrong):
            assert not peer.connected and peer.refused is not None
        # The attack of the issue: an anonymous "next" on a keypad's topic must call nobody.
        ticket = issue(process, "kham-ngoai")
        keypad = Peer(port, client_id="kp-p103", username="kp-p103", password="demo-secret-kp-p103")
        other = Peer(port, client_id="kp-p101", username="kp-p101", password="demo-secret-kp-p101")
        peers += [keypad, other]
        assert keypad.connected and other.connected
        ack_topic = T.device_ack("keypad", "kp-p103", "key")
        keypad.subscribe(ack_topic)
        other.subscribe(ack_topic)  # another keypad's acks: refused by the topic rules
        time.sleep(0.5)
        press(other, "kp-p103", "next", req_id="forged-by-kp-p101")  # publishing as another device
        time.sleep(1.0)
        admin = {"Authorization": f"Bearer {process.tokens['admin']}"}
        status = requests.get(process.api + f"/tickets/{ticket['id']}", headers=admin, timeout=3).json()["status"]
        assert status == "waiting", "another device's forged key press called a ticket"
        req_id = press(keypad, "kp-p103", "next")
        ack, _ = keypad.expect(ack_topic, where=lambda m: m["req_id"] == req_id)
        assert ack["status"] == "ok" and ack["ticket"]["number"] == ticket["number"]
        assert other.messages.empty(), "a keypad read another keypad's acknowledgements"
        # Client-id takeover: a refused client, then another device, both naming the keypad's client id.
        for thief in (Peer(port, client_id="kp-p103"),
                      Peer(port, client_id="kp-p103", username="kp-p101", password="demo-secret-kp-p101")):
            peers.append(thief)
            time.sleep(1.0)
            thief.close()
            req_id = press(keypad, "kp-p103", "recall")
            ack, _ = keypad.expect(ack_topic, where=lambda m, r=req_id: m["req_id"] == r)
            assert ack["status"] == "ok", "the keypad was knocked off or deafened by a stolen client id"
        rules = process.var_dir / "amqtt-rules.json"
        assert rules.stat().st_mode & 0o077 == 0, "the broker's password hashes are readable by others"
        assert "demo-secret" not in rules.read_text()
    finally:
        for peer in peers:
            peer.close()
        process.stop()


def test_topic_rules_never_widen_a_wildcard() -> None:
    from hub.broker_plugins import filter_allows

    assert filter_allows("a/b/#", "a/b/c/d") and filter_allows("a/b/#", "a/b/#")
    assert filter_allows("a/+/c", "a/x/c") and filter_allows("a/+/c", "a/+/c")
    assert not filter_allows("a/+", "a/#"), "a/# reads more than a/+"
    assert not filter_allows("a/b", "a/+") and not filter_allows("a/b", "#")
    assert not filter_allows("a/b/c", "a/b") and not filter_allows("a/b", "a/b/c")


def test_embedded_broker_follows_the_registry_while_it_runs(tmp_path: Path) -> None:
    """A keypad retired on the admin page is refused by the running amqtt at its next login."""
    from hub.config import load_config
    from hub.core import build_hub
    from tests.test_admin_devices import ADMIN, ADMIN_PASSWORD, admin_session, login_refused
    from tests.test_device_bus import Peer

    port = free_port()
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    process = HubProcess(var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", port=free_port(),
                         extra_args=["--mqtt", f"embedded://127.0.0.1:{port}"])
    process.create_tokens()
    setup = build_hub(load_config(process.config_dir, env={}), var_dir=var_dir, db_url=process.db_url)
    try:
        setup.staff.add(ADMIN, "Trần Văn Quản", "admin", ADMIN_PASSWORD)
    finally:
        setup.close()
    process.start()
    try:
        wait_for_mqtt(process, "ok", within=20)
        keypad = Peer(port, client_id="kp-p101", username="kp-p101", password="demo-secret-kp-p101")
        assert keypad.connected
        keypad.close()
        session, token = admin_session(process)
        page = session.post(process.url + "/admin/devices/kp-p101/retire", data={"csrf_token": token}, timeout=10)
        assert page.status_code == 200
        assert login_refused(port, "kp-p101", "demo-secret-kp-p101"), (process.var_dir / "amqtt.log").read_text()
        other = Peer(port, client_id="kp-p102", username="kp-p102", password="demo-secret-kp-p102")
        assert other.connected, "the other devices keep their logins"
        other.close()
    finally:
        process.stop()
