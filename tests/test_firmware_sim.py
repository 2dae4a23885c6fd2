"""The simulated firmware against a real Mosquitto and a tiny fake hub written here.

Timings are shrunk (ack timeout 0.3 s, ticks of 10 ms, backoff from 0.1 s) so the whole module runs in
seconds; each test uses its own site id, so retained topics of one test never reach another.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.devices import (
    BusSettings,
    Device,
    DeviceIdentity,
    Dispenser,
    Keypad,
    LedDisplay,
    SpeakerStub,
    Timing,
)
from firmware_sim.devices.const import GAVE_UP
from firmware_sim.fleet import ClinicModel, FleetOptions, build_fleet, plan_roster, roster_toml
from hub import protocol
from hub.config import ClinicConfig
from tests.mqtt_broker import MosquittoBroker, mosquitto_fixture, running_mosquitto

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[1]
FAST = Timing(ack_timeout_s=0.3, give_up_s=10.0, tele_interval_s=0.2, tick_s=0.01, reconnect_min_s=0.1,
              reconnect_max_s=0.5, keepalive_s=5, stop_flush_s=1.0, seconds_per_char=0.0)
WAIT = 5.0  # upper bound for anything that should happen in milliseconds

mosquitto = mosquitto_fixture()


# ---------------------------------------------------------------------------------------------- fake hub
class FakeHub:
    """Just enough hub: records every message of the site, answers keys and ticket buttons once per req_id,
    keeps a waiting line per service and publishes retained counter states and announcements."""

    def __init__(self, broker: MosquittoBroker, site: str, counter_services: dict[str, tuple[str, ...]] | None = None,
                 prefixes: dict[str, str] | None = None) -> None:
        self.topics = protocol.Topics(site)
        self.counter_services = counter_services or {"p101": ("kham-noi",), "p102": ("kham-noi",)}
        self.prefixes = prefixes or {"kham-noi": "B"}
        self.messages: list[tuple[str, bytes, bool]] = []
        self.skip_keys = 0  # key presses to leave unanswered, to make keypads resend
        self.skip_tickets = 0
        self.double_acks = False  # answer each ticket button twice, as a hub might after a resend
        self.waiting: dict[str, list[str]] = {}
        self.current: dict[str, tuple[str, str] | None] = {}
        self.answers: dict[str, dict[str, Any]] = {}
        self._sequence = 0
        self._changed = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-hub-{uuid.uuid4().hex[:6]}")
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, *_: c.subscribe(f"{self.topics.root}/#", 1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(WAIT)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # recording
    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._changed:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self._changed.notify_all()
        parsed = self.topics.parse_device_topic(message.topic)
        if parsed and parsed[2] == "evt" and not message.retain:
            self._on_event(parsed[0], parsed[1], parsed[3] or "", json.loads(message.payload))

    def payloads(self, topic: str) -> list[bytes]:
        with self._changed:
            return [payload for t, payload, _retained in self.messages if t == topic]

    def events(self, device_type: str, device_id: str, name: str) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.payloads(self.topics.device_event(device_type, device_id, name))]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def publish(self, topic: str, payload: Any, retain: bool = False) -> None:
        raw = payload if isinstance(payload, bytes | str) else protocol.encode(payload)
        self.client.publish(topic, raw, qos=1, retain=retain).wait_for_publish(WAIT)

    def counter_state(self, counter: str, ticket: str | None, status: str | None, waiting: int) -> None:
        self.publish(self.topics.counter_state(counter),
                     {"ticket": ticket, "status": status, "since": time.time(), "state": "open", "waiting": waiting},
                     retain=True)

    # answering devices
    def _on_event(self, device_type: str, device_id: str, name: str, body: dict[str, Any]) -> None:
        req_id = body["req_id"] if name in ("key", "ticket") else None
        if name == "key":
            if self.skip_keys > 0:
                self.skip_keys -= 1
                return
            answer = self.answers.get(req_id) or self._key(device_id, body)
        elif name == "ticket":
            if self.skip_tickets > 0:
                self.skip_tickets -= 1
                return
            answer = self.answers.get(req_id) or self._ticket(body)
        else:
            return
        self.answers[req_id] = answer
        for _ in range(2 if self.double_acks and name == "ticket" else 1):
            self.client.publish(self.topics.device_ack(device_type, device_id, name), protocol.encode(answer), qos=1)

    def _ticket(self, body: dict[str, Any]) -> dict[str, Any]:
        service = body["service"]
        self._sequence += 1
        number = protocol.ticket_number(self.prefixes.get(service, "Z"), self._sequence)
        line = self.waiting.setdefault(service, [])
        line.append(number)
        self._publish_states()
        return {"req_id": body["req_id"], "status": "ok",
                "ticket": {"number": number, "service": service, "status": "waiting", "ahead": len(line) - 1,
                           "estimate": {"p50_minutes": 5, "p90_minutes": 9}}}

    def _key(self, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
        counter = device_id.removeprefix("kp-")
        key, current = body["key"], self.current.get(counter)
        ticket: dict[str, Any] | None = None
        if key == "next":
            services = [s for s in self.counter_services.get(counter, ()) if self.waiting.get(s)]
            if services:
                number = self.waiting[services[0]].pop(0)
                self.current[counter] = (number, "called")
                ticket = {"number": number, "status": "called", "service": services[0]}
                # Not self.publish: waiting for the PUBACK inside paho's own callback would never end.
                self.client.publish(self.topics.announce("tang-1"), protocol.encode({
                    "call_id": uuid.uuid4().hex, "text": f"Mời số {number} đến {counter}", "lang": "vi", "repeat": 1,
                    "ts": time.time(), "ttl_s": 120}), qos=1)
        elif key in ("start", "recall") and current:
            self.current[counter] = (current[0], "serving" if key == "start" else "called")
            ticket = {"number": current[0], "status": self.current[counter][1]}
        elif key in ("finish", "no-show", "transfer") and current:
            self.current[counter] = None
            ticket = {"number": current[0], "status": {"finish": "done", "no-show": "no_show"}.get(key, "waiting")}
            if key == "transfer":
                self.waiting.setdefault(body["service"], []).append(current[0])
        self._publish_states()
        return {"req_id": body["req_id"], "status": "ok", "key": key, "ticket": ticket}

    def _publish_states(self) -> None:
        for counter, services in self.counter_services.items():
            current = self.current.get(counter)
            waiting = sum(len(self.waiting.get(s, [])) for s in services)
            self.client.publish(self.topics.counter_state(counter), protocol.encode({
                "ticket": current[0] if current else None, "status": current[1] if current else None,
                "since": time.time(), "state": "open", "waiting": waiting}), qos=1, retain=True)


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def site() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bus(mosquitto: MosquittoBroker, site: str) -> BusSettings:
    return BusSettings(site=site, host=mosquitto.host, port=mosquitto.port)


@pytest.fixture
def hub(mosquitto: MosquittoBroker, site: str) -> Iterator[FakeHub]:
    fake = FakeHub(mosquitto, site)
    yield fake
    fake.stop()


@pytest.fixture
def started() -> Iterator[Callable[[Device], Any]]:
    """Start devices and wait until connected; all are stopped after the test."""
    devices: list[Device] = []

    def start(device: Device) -> Any:
        devices.append(device)
        device.start()
        assert device.wait_for(lambda: device.ready, WAIT), f"{device.device_id} did not connect"
        return device

    yield start
    for device in devices:
        device.stop()


def keypad(bus: BusSettings, counter: str = "p101", timing: Timing = FAST) -> Keypad:
    return Keypad(DeviceIdentity(f"kp-{counter}", secret="demo-secret", zone="tang-1", counter=counter), bus, timing)


def poll(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    """For conditions that span several devices (each device's wait_for only wakes on its own changes)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def retained(broker: MosquittoBroker, topic: str) -> bytes | None:
    """What a newcomer reads on a retained topic."""
    got: list[bytes] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"reader-{uuid.uuid4().hex[:6]}")
    client.on_message = lambda _c, _u, message: (got.append(message.payload), ready.set())
    client.on_connect = lambda c, *_: c.subscribe(topic, 1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    ready.wait(1.0)
    client.disconnect()
    client.loop_stop()
    return got[0] if got else None


# ---------------------------------------------------------------------------------------------- birth and death
def test_last_will_says_offline_when_the_device_process_is_killed(mosquitto: MosquittoBroker, hub: FakeHub,
                                                                   site: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "firmware_sim.devices", "keypad", "--id", "kp-p101", "--counter", "p101",
         "--zone", "tang-1", "--site", site, "--mqtt", mosquitto.url],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status = hub.topics.device_status("keypad", "kp-p101")
    try:
        info_topic = hub.topics.device_info("keypad", "kp-p101")
        assert hub.wait_for(lambda: b"online" in hub.payloads(status) and hub.payloads(info_topic), 10)
        info = json.loads(hub.payloads(info_topic)[-1])
        assert info["counter"] == "p101" and info["zone"] == "tang-1"
        assert set(info) >= {"model", "firmware", "ip", "capabilities"} and "keys" in info["capabilities"]
        process.send_signal(signal.SIGKILL)
        process.wait(WAIT)
        assert hub.wait_for(lambda: hub.payloads(status)[-1:] == [b"offline"])
        assert retained(mosquitto, status) == b"offline"
    finally:
        process.kill()
        process.wait()
        assert process.stderr is not None
        process.stderr.close()


def test_rebirth_republishes_status_and_info_and_stop_says_offline(mosquitto: MosquittoBroker, bus: BusSettings,
                                                                     hub: FakeHub, started: Callable) -> None:
    led = started(LedDisplay(DeviceIdentity("led-p101", counter="p101", zone="tang-1"), bus, FAST))
    status, info = hub.topics.device_status("led", "led-p101"), hub.topics.device_info("led", "led-p101")
    assert hub.wait_for(lambda: len(hub.payloads(info)) == 1)
    hub.publish(hub.topics.hub_rebirth, {"ts": time.time()})
    assert hub.wait_for(lambda: len(hub.payloads(status)) == 2 and len(hub.payloads(info)) == 2)
    assert led.rebirths == 1
    assert json.loads(hub.payloads(info)[-1])["counter"] == "p101"
    assert hub.wait_for(lambda: len(hub.payloads(hub.topics.device_tele("led", "led-p101"))) >= 1)
    tele = json.loads(hub.payloads(hub.topics.device_tele("led", "led-p101"))[0])
    assert tele["uptime_s"] >= 0 and isinstance(tele["rssi"], int)
    led.stop()
    assert retained(mosquitto, status) == b"offline"


def test_retained_config_moves_a_keypad_to_another_counter(bus: BusSettings, hub: FakeHub,
                                                            started: Callable) -> None:
    hub.counter_state("p102", "B007", "serving", 0)
    hub.publish(hub.topics.device_config("keypad", "kp-p101"),
                {"counter": "p102", "zone": "tang-1", "language": "vi", "brightness": 60, "volume": 80,
                 "services": ["kham-noi"]}, retain=True)
    pad = started(keypad(bus))
    assert pad.wait_for(lambda: pad.counter == "p102" and pad.led.text == "B007", WAIT)
    assert pad.led.steady and pad.brightness == 60
    info = hub.topics.device_info("keypad", "kp-p101")
    assert hub.wait_for(lambda: [json.loads(p)["counter"] for p in hub.payloads(info)][-1:] == ["p102"])


def test_hub_status_is_followed(bus: BusSettings, hub: FakeHub, started: Callable) -> None:
    pad = started(keypad(bus))
    hub.publish(hub.topics.hub_status, "offline", retain=True)
    assert pad.wait_for(lambda: pad.hub_online is False, WAIT)
    hub.publish(hub.topics.hub_status, '"online"', retain=True)  # a JSON string is understood too
    assert pad.wait_for(lambda: pad.hub_online is True, WAIT)


# ---------------------------------------------------------------------------------------------- keypad
def test_keypad_resends_the_same_req_id_until_acked_then_stops(bus: BusSettings, hub: FakeHub,
                                                                started: Callable) -> None:
    hub.waiting["kham-noi"] = ["B001"]
    hub.skip_keys = 2
    pad = started(keypad(bus))
    req_id = pad.press("next")
    ack = pad.wait_ack(req_id, WAIT)
    assert ack is not None and ack["status"] == "ok" and ack["ticket"]["number"] == "B001"
    sent = hub.events("keypad", "kp-p101", "key")
    assert [event["req_id"] for event in sent] == [req_id] * 3
    assert sent[0] == sent[2]  # resent as it was, press time included
    time.sleep(4 * FAST.ack_timeout_s)
    assert len(hub.events("keypad", "kp-p101", "key")) == 3
    assert pad.request(req_id).attempts == 3 and pad.requests.resends == 2 and pad.error_beeps == 0


def test_keypad_gives_up_on_a_stale_press(bus: BusSettings, hub: FakeHub, started: Callable) -> None:
    hub.skip_keys = 1000
    pad = started(keypad(bus, timing=replace(FAST, ack_timeout_s=0.1, give_up_s=0.5)))
    req_id = pad.press("finish")
    assert pad.wait_for(lambda: pad.request(req_id).done, WAIT)
    assert pad.request(req_id).status == GAVE_UP and pad.wait_ack(req_id, 0) is None
    assert pad.error_beeps == 1
    attempts = pad.request(req_id).attempts
    assert hub.wait_for(lambda: len(hub.events("keypad", "kp-p101", "key")) == attempts)  # the last may be in flight
    time.sleep(0.3)
    assert len(hub.events("keypad", "kp-p101", "key")) == attempts and attempts >= 3


def test_keypad_transfer_and_pause_carry_their_fields(bus: BusSettings, hub: FakeHub, started: Callable) -> None:
    pad = started(keypad(bus))
    pad.wait_ack(pad.press("transfer", service="xet-nghiem"), WAIT)
    pad.wait_ack(pad.press("pause", reason="break"), WAIT)
    transfer, pause = hub.events("keypad", "kp-p101", "key")
    assert transfer["service"] == "xet-nghiem" and pause["reason"] == "break"
    assert {"key", "req_id", "ts"} <= set(transfer)
    with pytest.raises(ValueError):
        pad.press("transfer")
    with pytest.raises(ValueError):
        pad.press("self-destruct")


def test_leds_blink_when_called_stay_lit_when_serving_and_go_blank(bus: BusSettings, hub: FakeHub,
                                                                     started: Callable) -> None:
    pad = started(keypad(bus))
    wall = started(LedDisplay(DeviceIdentity("led-p101", counter="p101"), bus, FAST))
    hub.counter_state("p101", "B023", "called", 3)
    for display in (pad, wall):
        assert display.wait_for(lambda d=display: d.led.text == "B023", WAIT)
        assert display.led.blinking
    hub.counter_state("p101", "B023", "serving", 3)
    for display in (pad, wall):
        assert display.wait_for(lambda d=display: d.led.steady, WAIT) and display.led.text == "B023"
    hub.counter_state("p101", "B023", "on_hold", 3)
    assert pad.wait_for(lambda: pad.counter_state.status == "on_hold", WAIT) and pad.led.steady
    hub.counter_state("p101", None, None, 3)
    for display in (pad, wall):
        assert display.wait_for(lambda d=display: d.led.blank, WAIT) and display.led.text == ""


def test_keypad_beeps_when_its_line_goes_from_empty_to_waiting(bus: BusSettings, hub: FakeHub,
                                                                 started: Callable) -> None:
    hub.counter_state("p101", None, None, 2)
    pad = started(keypad(bus))
    assert pad.wait_for(lambda: pad.counter_state.waiting == 2, WAIT)
    assert pad.beeps == 0  # a boot finding people waiting is no news
    for waiting, beeps in ((0, 0), (1, 1), (4, 1), (0, 1), (2, 2)):
        hub.counter_state("p101", None, None, waiting)
        assert pad.wait_for(lambda w=waiting: pad.counter_state.waiting == w, WAIT)
        assert pad.beeps == beeps, f"after waiting={waiting}"


# ---------------------------------------------------------------------------------------------- speaker
def test_speaker_drops_expired_and_duplicate_calls_and_reports_played(bus: BusSettings, hub: FakeHub,
                                                                       started: Callable) -> None:
    speaker = started(SpeakerStub(DeviceIdentity("spk-tang-1", zone="tang-1"), bus, FAST))
    now = time.time()
    stale = {"call_id": "old", "text": "Mời số B001", "lang": "vi", "repeat": 1, "ts": now - 300, "ttl_s": 120}
    fresh = {"call_id": "new", "text": "Mời số B002 đến phòng 101", "lang": "vi", "repeat": 2, "ts": now, "ttl_s": 120}
    for call in (stale, fresh, fresh):
        hub.publish(hub.topics.announce("tang-1"), call)
    hub.publish(hub.topics.announce("tang-2"), {**fresh, "call_id": "elsewhere"})
    played = hub.topics.device_event("speaker", "spk-tang-1", "played")
    assert hub.wait_for(lambda: len(hub.payloads(played)) == 1)
    report = json.loads(hub.payloads(played)[0])
    assert report["call_id"] == "new" and 0 <= report["latency_ms"] < 5000
    time.sleep(0.1)
    assert [call["call_id"] for call in speaker.played] == ["new"]
    assert ("old", "expired on arrival (older than its ttl_s, or no ts/ttl_s)") in speaker.skipped
    assert ("new", "duplicate") in speaker.skipped and len(hub.payloads(played)) == 1


def test_speaker_plays_in_order_and_skips_calls_that_expire_in_its_queue(bus: BusSettings, hub: FakeHub,
                                                                         started: Callable) -> None:
    speaker = started(SpeakerStub(DeviceIdentity("spk-tang-1", zone="tang-1"), bus, FAST,
                                  play_seconds=lambda call: 0.6 if call["call_id"] == "long" else 0.0))
    now = time.time()
    hub.publish(hub.topics.announce("tang-1"), {"call_id": "long", "text": "x", "ts": now, "ttl_s": 60})
    hub.publish(hub.topics.announce("tang-1"), {"call_id": "short-lived", "text": "y", "ts": now, "ttl_s": 0.3})
    hub.publish(hub.topics.announce("tang-1"), {"call_id": "last", "text": "z", "ts": now, "ttl_s": 60})
    assert speaker.wait_for(lambda: len(speaker.played) == 2, WAIT)
    assert [call["call_id"] for call in speaker.played] == ["long", "last"]
    assert ("short-lived", "expired while queued") in speaker.skipped


# ---------------------------------------------------------------------------------------------- robustness
def test_malformed_payloads_are_dropped_and_the_devices_keep_working(bus: BusSettings, hub: FakeHub,
                                                                      started: Callable) -> None:
    pad = started(keypad(bus))
    speaker = started(SpeakerStub(DeviceIdentity("spk-tang-1", zone="tang-1"), bus, FAST))
    t = hub.topics
    state, config = t.counter_state("p101"), t.device_config("keypad", "kp-p101")
    ack, command = t.device_ack("keypad", "kp-p101", "key"), t.device_command("keypad", "kp-p101", "identify")
    garbage: list[tuple[str, Any]] = [
        (state, b"\xff\xfe\x00garbage"), (state, b"not json"), (state, b"[1, 2, 3]"), (state, b"null"),
        (state, {"ticket": 123, "status": "called"}), (state, {"ticket": "B001", "waiting": "many"}),
        (state, {"ticket": "B001", "waiting": True}), (state, {"ticket": "B001", "status": ["called"]}),
        (state, {"ticket": "B0" * 50}), (state, b"{" + b'"x": "' + b"y" * 200_000 + b'"}'),
        (config, {"counter": 5}), (config, {"counter": "Phòng 1"}), (config, {"brightness": "high"}),
        (config, {"volume": 1000}), (config, b"\x00\x01"),
        (ack, {"req_id": 5, "status": "ok"}), (ack, {"req_id": "x", "status": "maybe"}), (ack, b"[]"),
        (ack, {"req_id": "x", "status": "ok", "ticket": "B001"}),
        (command, {"req_id": "c1"}), (command, b"garbage"),
        (t.hub_status, b"maybe"), (t.hub_status, b"\xff" * 100),
        (t.announce("tang-1"), {"call_id": 7, "text": "x", "ts": time.time(), "ttl_s": 60}),
        (t.announce("tang-1"), {"call_id": "c", "text": None, "ts": time.time(), "ttl_s": 60}),
        (t.announce("tang-1"), b"\xc3\x28"),
    ]
    for topic, payload in garbage:
        hub.publish(topic, payload)
    both_hear = sum(1 for topic, _payload in garbage if topic == t.hub_status)  # keypad and speaker drop it
    expected = len(garbage) + both_hear
    assert poll(lambda: pad.dropped + speaker.dropped == expected), (pad.dropped, speaker.dropped, expected)
    assert pad.connected and speaker.connected and pad.counter == "p101" and pad.led.blank
    hub.counter_state("p101", "B009", "called", 0)
    assert pad.wait_for(lambda: pad.led.text == "B009", WAIT)
    assert pad.wait_ack(pad.press("start"), WAIT) is not None


def test_commands_run_once_fresh_and_are_dropped_when_expired(bus: BusSettings, hub: FakeHub,
                                                              started: Callable) -> None:
    pad = started(keypad(bus))
    topic = hub.topics.device_command("keypad", "kp-p101", "identify")
    hub.publish(topic, {"req_id": "a", "ts": time.time() - 60, "ttl_s": 30})
    hub.publish(topic, {"req_id": "b", "ts": time.time(), "ttl_s": 30})
    hub.publish(hub.topics.device_command("keypad", "kp-p101", "format-disk"), {"req_id": "c", "ts": time.time(),
                                                                                "ttl_s": 30})
    assert pad.wait_for(lambda: pad.identified == 1 and pad.dropped == 1, WAIT), (pad.identified, pad.dropped)


def test_devices_reconnect_with_backoff_after_the_broker_restarts(site: str, started: Callable) -> None:
    with running_mosquitto() as broker:
        hub = FakeHub(broker, site)
        try:
            hub.waiting["kham-noi"] = ["B001", "B002"]
            pad = started(keypad(BusSettings(site=site, host=broker.host, port=broker.port)))
            assert pad.wait_ack(pad.press("next"), WAIT) is not None
            broker.stop()
            assert pad.wait_for(lambda: not pad.connected, WAIT)
            req_id = pad.press("finish")  # pressed while the broker is down: sent once it is back
            time.sleep(0.5)  # a few failed attempts, so the backoff grows
            hub.subscribed.clear()
            broker.start()
            assert pad.wait_for(lambda: pad.ready and pad.connections == 2, WAIT)
            status = protocol.Topics(site).device_status("keypad", "kp-p101")
            assert retained(broker, status) == b"online"  # the new broker knows us again: birth on every connect
            assert hub.subscribed.wait(WAIT)
            ack = pad.wait_ack(req_id, WAIT)
            assert ack is not None and ack["status"] == "ok"
        finally:
            hub.stop()


# ---------------------------------------------------------------------------------------------- dispenser
def test_dispenser_prints_once_and_refuses_with_paper_out(bus: BusSettings, hub: FakeHub, started: Callable) -> None:
    printed: list[str] = []
    hub.double_acks = True
    hub.skip_tickets = 1
    dispenser = started(Dispenser(DeviceIdentity("ds-sanh-a-1", zone="sanh-a"), bus, FAST,
                                  printer=lambda ticket: printed.append(ticket["number"]),
                                  paper_capacity=3, low_paper_at=1))
    paper = hub.topics.device_event("kiosk", "ds-sanh-a-1", "paper")
    assert hub.wait_for(lambda: hub.payloads(paper)[-1:] == [b'{"state":"ok"}'])  # told at birth
    req_id = dispenser.press("kham-noi", priority="elderly")
    ack = dispenser.wait_ack(req_id, WAIT)
    assert ack is not None and ack["ticket"]["number"] == "B001"
    sent = hub.events("kiosk", "ds-sanh-a-1", "ticket")
    assert [event["req_id"] for event in sent] == [req_id, req_id] and sent[0]["priority"] == "elderly"
    time.sleep(0.2)  # the second ack of the same request
    assert printed == ["B001"] and [t["number"] for t in dispenser.printed] == ["B001"]
    assert dispenser.wait_ack(dispenser.press("kham-noi"), WAIT) is not None
    assert hub.wait_for(lambda: hub.events("kiosk", "ds-sanh-a-1", "paper")[-1:] == [{"state": "low"}])
    assert dispenser.wait_ack(dispenser.press("kham-noi"), WAIT) is not None
    assert hub.wait_for(lambda: hub.events("kiosk", "ds-sanh-a-1", "paper")[-1:] == [{"state": "out"}])
    presses = len(hub.events("kiosk", "ds-sanh-a-1", "ticket"))
    assert dispenser.press("kham-noi") is None and dispenser.refused == 1
    time.sleep(0.1)
    assert len(hub.events("kiosk", "ds-sanh-a-1", "ticket")) == presses
    dispenser.set_paper("ok")
    assert hub.wait_for(lambda: hub.events("kiosk", "ds-sanh-a-1", "paper")[-1:] == [{"state": "ok"}])
    assert dispenser.wait_ack(dispenser.press("kham-noi"), WAIT) is not None
    assert printed == ["B001", "B002", "B003", "B004"]


# ---------------------------------------------------------------------------------------------- fleet
def test_roster_takes_configured_devices_first_then_generates(clinic: ClinicConfig) -> None:
    specs = plan_roster(clinic, keypads=7, dispensers=2, speakers=4, leds=1)
    by_kind = {kind: [s.device_id for s in specs if s.kind == kind] for kind in ("keypad", "led", "dispenser",
                                                                                    "speaker")}
    assert by_kind["keypad"] == ["kp-p101", "kp-p102", "kp-p103", "kp-q1", "kp-q2", "kp-q3", "kp-q4"]
    assert by_kind["led"] == ["led-p101"]
    assert by_kind["dispenser"] == ["ds-sanh-a-1", "ds-tang-1-1"]
    assert by_kind["speaker"] == ["spk-sanh-a", "spk-tang-1", "spk-tang-2", "spk-sanh-a-2"]
    generated = next(s for s in specs if s.device_id == "kp-q3")
    assert generated.generated and generated.counter == "q3" and generated.zone == "sanh-a"
    many = [s for s in plan_roster(clinic, keypads=100) if s.kind == "keypad"]
    assert len(many) == len(clinic.counters) and many[-1].device_id == "kp-nt1"  # one per counter at most
    # The printed entries are valid devices.toml entries for the hub's own configuration.
    import tomllib

    extra = tomllib.loads(roster_toml(specs))["devices"]
    assert [entry["id"] for entry in extra] == ["kp-q3", "kp-q4", "ds-tang-1-1", "spk-sanh-a-2"]
    merged = clinic.model_dump()
    merged["devices"] = merged["devices"] + extra
    assert ClinicConfig.model_validate(merged).device("kp-q3") is not None


def test_arrivals_go_to_staffed_services(clinic: ClinicConfig) -> None:
    model = ClinicModel.from_config(clinic)
    weights = model.arrival_weights(["q1", "p101", "q4"])
    assert set(weights) == {"tiep-don", "kham-noi", "thu-ngan"}
    assert weights["tiep-don"] > weights["kham-noi"]  # two counters, and three-minute visits
    assert model.service_of("B023").code == "kham-noi"
    assert set(model.transfer_targets("kham-noi", {"xet-nghiem", "thu-ngan", "tiep-don"})) == {"xet-nghiem",
                                                                                              "thu-ngan"}


def test_a_small_fleet_runs_a_clinic_against_the_fake_hub(mosquitto: MosquittoBroker, site: str,
                                                          clinic: ClinicConfig) -> None:
    config = clinic.model_copy(update={"site": clinic.site.model_copy(update={"id": site})})
    model = ClinicModel.from_config(config)
    hub = FakeHub(mosquitto, site, counter_services={"p101": model.counter_services["p101"],
                                                     "p102": model.counter_services["p102"]},
                  prefixes={s.code: s.prefix for s in model.services.values()})
    fleet = build_fleet(config, mosquitto.url, FleetOptions(keypads=2, dispensers=1, speakers=2, leds=0,
                                                            arrivals_per_hour=60, speedup=600, seed=7, timing=FAST))
    try:
        fleet.start()
        assert fleet.wait_online(WAIT)
        assert poll(lambda: fleet.stats.keys["finish"] + fleet.stats.keys["transfer"] >= 3, 15)
    finally:
        fleet.stop()
    hub.stop()
    summary = fleet.summary()
    assert summary["printed"] >= 3 and summary["keys"]["next"] >= 3 and summary["keys"]["start"] >= 3
    assert summary["outcomes"].get("key:ok", 0) >= 6 and summary["dropped_messages"] == 0
    assert summary["played"] >= 1  # the fake hub announces calls in tang-1, where spk-tang-1 is
    assert summary["ack_p99_ms"] is not None


def test_sim_command_prints_generated_devices_and_runs_for_a_duration(mosquitto: MosquittoBroker) -> None:
    from click.testing import CliRunner

    from firmware_sim.sim_cli import sim_command

    runner = CliRunner()
    config = str(ROOT / "config")
    printed = runner.invoke(sim_command, ["--config", config, "--keypads", "6", "--print-devices"])
    assert printed.exit_code == 0 and 'id = "kp-q3"' in printed.output
    result = runner.invoke(sim_command, ["--config", config, "--mqtt", mosquitto.url, "--keypads", "1",
                                         "--dispensers", "1", "--speakers", "1", "--leds", "0", "--speedup", "100",
                                         "--duration", "0.5", "--seed", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["devices"] == 3 and summary["online"] == 3
