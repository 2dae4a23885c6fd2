"""MQTT bridge: domain events out to devices, device events in to the domain services.

Out: every call goes to `evt/call` and, worded for the speakers, to `evt/announce/<zone>`; what a
counter's LED shows and each service's line go to retained `state/...` topics, and each device's
settings to its retained `config`. In: key presses and dispenser buttons act through the same
QueueService calls as the REST API, once per `req_id`, and are acknowledged on `ack/<name>`; status,
info, heartbeats and paper state update the device registry.

The network loop only queues incoming messages; a worker thread (a greenlet under gevent) handles
them, so a slow database never stalls the connection. Nothing from the network can stop the bridge:
every message is parsed defensively and a bad one is logged (topic only: payloads may carry personal
data) and dropped. The broker may come and go: paho reconnects by itself, QoS 1 messages published
meanwhile are sent after reconnecting, and all retained state is published again on every connect.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.exc import DataError

from display.announcement import compose_announcement
from hub import protocol as p
from hub.core import Hub
from hub.domain.common.errors import DomainError
from hub.domain.common.events import CounterChanged, DeviceCommand, QueueChanged, TicketCalled
from hub.domain.devices.registry import DeviceReconfigured, DeviceRegistry
from hub.domain.structure.service import StructureChanged

log = logging.getLogger(__name__)
INBOX_LIMIT = 10_000
KEEPALIVE_S = 10
# A frozen broker keeps the TCP connection open and answers nothing: paho would notice only after
# 1.5 keepalives. The hub sends a QoS 1 probe every PROBE_INTERVAL_S; when its PUBACK has not come
# back after PROBE_STALE_S, /health says the broker is "degraded".
PROBE_INTERVAL_S = 1.0
PROBE_STALE_S = 3.0
# Retry the broker every second: a returning Mosquitto is used again within about a second
# (paho's default back-off grows to 15 s).
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 1
REQ_ID_MAX = 64
# After the broker comes back, calls made while it was away are sent again once devices have had
# time to reconnect and subscribe (clean sessions: the broker kept nothing for them). Devices
# ignore a call_id they already played, and drop calls older than their ttl_s.
REPLAY_DELAY_S = 3.0
# A key press older than this is refused: the keypad gave up on it (after 20 s) and the nurse may
# have pressed again; acting now would call a patient nobody is looking for.
KEY_PRESS_MAX_AGE_S = 30.0
STATE_REFRESH_INTERVAL_S = 0.3


def _under_gevent() -> bool:
    from gevent.monkey import is_module_patched

    return is_module_patched("socket") and is_module_patched("threading")


def parse_mqtt_url(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "127.0.0.1", parsed.port or 1883


class MqttBridge:
    def __init__(self, hub: Hub, registry: DeviceRegistry, url: str, *, username: str | None = None,
                 password: str | None = None) -> None:
        self.hub = hub
        self.registry = registry
        self.topics = p.Topics(hub.config.site.id)
        self.host, self.port = parse_mqtt_url(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311, clean_session=True,
                                  client_id=f"clinicq-hub-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.will_set(self.topics.hub_status, "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=RECONNECT_MIN_S, max_delay=RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_socket_open = p.no_delay
        self.connected = threading.Event()
        self.rejected = 0  # messages dropped as malformed or unknown, for tests and health
        self.played_latencies_ms: list[int] = []
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue(maxsize=INBOX_LIMIT)
        self._dirty_services: set[str] = set()
        self._republish_all = threading.Event()
        self._state_wake = threading.Event()
        self._waiting: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self._unsent_calls: list[tuple[float, str, dict[str, Any]]] = []
        self._probe: tuple[mqtt.MQTTMessageInfo, float] | None = None  # the last probe and when it was sent
        self._loop: threading.Thread | None = None  # our own network loop (under gevent), see start()
        # First: one publish that the broker fans out to every device, ahead of the Socket.IO rooms'
        # per-client sends (300 boards took ~25 ms of the loop before the devices' message left).
        hub.bus.subscribe(TicketCalled, self.on_called, first=True)
        hub.bus.subscribe(CounterChanged, self.on_counter_changed)
        hub.bus.subscribe(QueueChanged, self.on_queue_changed)
        hub.bus.subscribe(DeviceCommand, self.on_device_command)
        hub.bus.subscribe(StructureChanged, self.on_structure)
        hub.bus.subscribe(DeviceReconfigured, self.on_device_reconfigured)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for target, name in ((self._inbox_worker, "mqtt-inbox"), (self._state_worker, "mqtt-state"),
                             (self._probe_worker, "mqtt-probe")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        # connect_async + a network loop that retries: the hub starts even while the broker is down.
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        if _under_gevent():
            # paho's own loop_start() thread makes every publish wait for that thread to write it: under
            # gevent, until the publishing greenlet yields, i.e. after a call's Socket.IO fan-out to
            # hundreds of boards. Running loop_forever in a thread of our own lets paho write a publish
            # at once from the greenlet that makes it (greenlets do not preempt one another, so the two
            # never write at the same time). With real threads paho's loop_start() stays.
            self._loop = threading.Thread(target=self.client.loop_forever, kwargs={"retry_first_connection": True},
                                          name="mqtt-loop", daemon=True)
            self._loop.start()
        else:
            self.client.loop_start()

    def stop(self) -> None:
        self._stopped = True
        if self.connected.is_set():
            info = self.client.publish(self.topics.hub_status, "offline", qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        if self._loop is not None:
            self._loop.join(timeout=5)  # loop_forever returns once disconnected
        else:
            self.client.loop_stop()
        self._inbox.put(None)
        self._state_wake.set()

    def status(self) -> str:
        if not self.connected.is_set():
            return "down"
        probe = self._probe
        if probe is not None and not probe[0].is_published() and time.monotonic() - probe[1] > PROBE_STALE_S:
            return "degraded"  # connected, but the broker has not answered for seconds: frozen
        return "ok"

    def _probe_worker(self) -> None:
        while not self._stopped:
            time.sleep(PROBE_INTERVAL_S)
            probe = self._probe
            if self._stopped or not self.connected.is_set() or (probe is not None and not probe[0].is_published()):
                continue  # one probe in flight at a time: its age is the broker's silence
            try:
                info = self.client.publish(self.topics.hub_probe, b"", qos=1)
            except Exception as exc:  # a probe must never stop the bridge
                log.warning("MQTT probe not sent: %s", exc)
                continue
            self._probe = (info, time.monotonic())

    # ------------------------------------------------------------------ connection callbacks
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the hub's connection: %s", reason)
            return
        log.info("connected to MQTT broker %s:%d", self.host, self.port)
        dev = f"{self.topics.root}/dev/+/+"
        client.subscribe([(f"{dev}/status", 1), (f"{dev}/info", 1), (f"{dev}/tele", 0), (f"{dev}/evt/+", 1)])
        client.publish(self.topics.hub_status, "online", qos=1, retain=True)
        client.publish(self.topics.hub_rebirth, p.encode({"ts": p.now_ts()}), qos=1)
        self.connected.set()
        self._republish_all.set()
        self._state_wake.set()
        with self._lock:
            pending = bool(self._unsent_calls)
        if pending:
            timer = threading.Timer(REPLAY_DELAY_S, self._replay_calls)
            timer.daemon = True
            timer.start()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected.clear()
        self._probe = None  # a new connection starts a fresh probe
        if not self._stopped:
            log.warning("lost the MQTT broker (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self._inbox.put_nowait((message.topic, message.payload))
        except queue.Full:
            self.rejected += 1
            log.warning("MQTT inbox full: dropped a message on %s", message.topic)

    def publish(self, topic: str, payload: Any, *, retain: bool = False, qos: int = p.MQTT_QOS) -> None:
        self.client.publish(topic, payload if isinstance(payload, str | bytes) else p.encode(payload),
                            qos=qos, retain=retain)

    def _publish_call(self, topic: str, message: dict[str, Any]) -> None:
        if not self.connected.is_set():
            # Kept for the replay only: publishing now too would have paho send its buffered copy on
            # reconnect and the replay another, the same call_id twice to every subscriber.
            with self._lock:
                self._unsent_calls.append((message["ts"] + message["ttl_s"], topic, message))
            return
        self.publish(topic, message)

    def _replay_calls(self) -> None:
        if not self.connected.is_set():
            return  # lost again: the next connect schedules another replay
        with self._lock:
            unsent, self._unsent_calls = self._unsent_calls, []
        now = p.now_ts()
        for expires, topic, message in unsent:
            if expires > now:
                self.publish(topic, message)

    # ------------------------------------------------------------------ domain events -> topics
    def on_called(self, event: TicketCalled) -> None:
        ticket, counter = event.ticket, event.counter
        ttl = self.hub.config.queue.call_ttl_s
        self._publish_call(self.topics.call, {
            "call_id": event.call_id, "ticket": ticket["number"], "counter": counter["code"],
            "counter_name": counter["name"], "zone": counter["zone"], "recall": event.recall,
            "ts": event.at, "ttl_s": ttl,
        })
        announce = self.hub.config.announce
        message = {
            "call_id": event.call_id, "lang": "vi", "repeat": announce.repeat, "ts": event.at, "ttl_s": ttl,
            "ticket": ticket["number"], "counter_name": counter["name"], "recall": event.recall,
            "text": compose_announcement(ticket["number"], counter["name"], lang="vi", style=announce.style,
                                         number_reading=announce.number_reading),
        }
        if announce.english:
            message["text_en"] = compose_announcement(ticket["number"], counter["name_en"], lang="en")
        configured = self.hub.config.counter(counter["code"])
        zone = (configured.speaker_zone if configured else None) or counter["zone"]
        self._publish_call(self.topics.announce(zone), message)

    def on_device_command(self, event: DeviceCommand) -> None:
        # Never retained: a device that is offline now must not act on it when it comes back.
        self.publish(self.topics.device_command(event.device_type, event.device_id, event.name), event.payload)

    def on_structure(self, event: StructureChanged) -> None:
        """Keypads, LEDs and dispensers keep retained config and state: republish it for the new structure
        (the process that made the change does; retained topics are the broker's, shared by all)."""
        if not event.local:
            return
        for code in event.removed_counters:
            self.publish(self.topics.counter_state(code), b"", retain=True)  # empty retained clears it
        for code in event.removed_services:
            self.publish(self.topics.service_state(code), b"", retain=True)
        self._republish_all.set()
        self._state_wake.set()

    def on_device_reconfigured(self, event: DeviceReconfigured) -> None:
        device = event.device
        topic = self.topics.device_config(device["type"], device["id"])
        # A retired device's retained config is cleared: a spare unit given its id later starts blank.
        self.publish(topic, b"" if event.retired else self._device_config(device), retain=True)

    def on_counter_changed(self, event: CounterChanged) -> None:
        self._publish_counter_state(event.counter)

    def on_queue_changed(self, event: QueueChanged) -> None:
        with self._lock:
            self._dirty_services.add(event.service)
        self._state_wake.set()

    def _publish_counter_state(self, counter: dict[str, Any]) -> None:
        ticket = counter.get("ticket") or {}
        services = counter.get("services") or []
        with self._lock:
            waiting = sum(self._waiting.get(s, 0) for s in services)
        self.publish(self.topics.counter_state(counter["code"]), {
            "ticket": ticket.get("number"), "status": ticket.get("status"), "since": ticket.get("since"),
            "state": counter["state"], "waiting": waiting,
        }, retain=True)

    def _state_worker(self) -> None:
        """Retained state that needs the database, coalesced: one refresh per burst of changes."""
        while not self._stopped:
            self._state_wake.wait(timeout=5)
            self._state_wake.clear()
            if self._stopped:
                return
            try:
                if self._republish_all.is_set():
                    self._republish_all.clear()
                    self._publish_everything()
                    continue
                with self._lock:
                    dirty, self._dirty_services = self._dirty_services, set()
                if dirty:
                    self._publish_services(sorted(dirty))
                    # Coalesce a busy line's changes: LEDs and dispensers need a few updates a second.
                    time.sleep(STATE_REFRESH_INTERVAL_S)
            except Exception:  # the next change or reconnect retries; the worker must live on
                log.exception("publishing retained state failed")

    def _publish_services(self, codes: list[str]) -> None:
        overview = self.hub.queue.services_overview(codes)
        for service in overview:
            with self._lock:
                self._waiting[service["code"]] = service["waiting"]
            self.publish(self.topics.service_state(service["code"]), {
                "waiting": service["waiting"], "last_issued": service["last_issued"],
                "estimate": service["estimate"], "serving": service["serving"],
            }, retain=True)
        touched = set(codes)
        for counter in self.hub.queue.counters():
            if touched & set(counter["services"]):
                self._publish_counter_state(counter)

    def _publish_everything(self) -> None:
        self._publish_services([s.code for s in self.hub.config.services])
        for device in self.registry.list():
            self.publish(self.topics.device_config(device["type"], device["id"]), self._device_config(device),
                         retain=True)

    def _device_config(self, device: dict[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {"zone": device["zone"], "language": self.hub.config.site.language,
                                  "brightness": 80, "volume": 80}
        if device["counter"]:
            counter = self.hub.config.counter(device["counter"])
            config["counter"] = device["counter"]
            config["services"] = list(counter.services) if counter else []
        if device["display"]:
            config["display"] = device["display"]
        return config

    # ------------------------------------------------------------------ devices -> domain
    def _inbox_worker(self) -> None:
        while True:
            item = self._inbox.get()
            if item is None:
                return
            topic, payload = item
            try:
                self.handle_message(topic, payload)
            except (ValueError, TypeError, KeyError, DomainError, DataError) as exc:
                # Bad input from the network: one line (topic only: payloads may carry personal data).
                self._reject(topic, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
            except Exception:  # one bad message must not stop the bridge; a real fault keeps its traceback
                self.rejected += 1
                log.exception("failed to handle a message on %s", topic)

    def handle_message(self, topic: str, payload: bytes) -> None:
        parsed = self.topics.parse_device_topic(topic)
        if parsed is None:
            return self._reject(topic, "not a device topic")
        device_type, code, kind, name = parsed
        device = self.registry.get(code)
        if device is None or device["type"] != device_type:
            return self._reject(topic, "unknown device")
        if kind == "status":
            text = payload.decode("utf-8", "replace").strip().strip('"')
            if text not in (p.STATUS_ONLINE, p.STATUS_OFFLINE):
                return self._reject(topic, "status is neither online nor offline")
            self.registry.set_status(device_type, code, text == p.STATUS_ONLINE)
            return None
        try:
            body = p.decode(payload) if payload else None
        except ValueError as exc:
            return self._reject(topic, str(exc))
        if kind == "info":
            if not isinstance(body, dict):
                return self._reject(topic, "info must be a JSON object")
            self.registry.update_info(device_type, code, body)
        elif kind == "tele":
            self.registry.seen(device_type, code)
        elif kind == "evt":
            if not isinstance(body, dict):
                return self._reject(topic, "an event must be a JSON object")
            self.registry.seen(device_type, code)
            self._on_device_event(device, name or "", body)
        return None

    def _reject(self, topic: str, why: str) -> None:
        self.rejected += 1
        log.warning("dropped MQTT message on %s: %s", topic[:200], why)

    def _on_device_event(self, device: dict[str, Any], name: str, body: dict[str, Any]) -> None:
        topic = self.topics.device_event(device["type"], device["id"], name)
        if name == "key" and device["type"] == "keypad":
            self._on_key(device, body)
        elif name == "ticket" and device["type"] == "kiosk":
            self._on_ticket_button(device, body)
        elif name == "paper" and device["type"] in ("kiosk", "printer"):
            state = body.get("state")
            if state not in ("ok", "low", "out"):
                return self._reject(topic, "paper state must be ok, low or out")
            self.registry.set_paper(device["type"], device["id"], state)
        elif name == "played" and device["type"] == "speaker":
            latency = body.get("latency_ms")
            if isinstance(latency, int | float) and not isinstance(latency, bool) and 0 <= latency < 3_600_000:
                self.played_latencies_ms = [*self.played_latencies_ms[-999:], int(latency)]
        else:
            return self._reject(topic, f"no event {name!r} for a {device['type']}")
        return None

    def _ack(self, device: dict[str, Any], name: str, response: dict[str, Any]) -> None:
        self.publish(self.topics.device_ack(device["type"], device["id"], name), response)

    def _on_key(self, device: dict[str, Any], body: dict[str, Any]) -> None:
        req_id, key = body.get("req_id"), body.get("key")
        topic = self.topics.device_event("keypad", device["id"], "key")
        if not isinstance(req_id, str) or not 1 <= len(req_id) <= REQ_ID_MAX:
            return self._reject(topic, "req_id must be a string of 1 to 64 characters")
        if key not in p.KEYPAD_KEYS:
            self._ack(device, "key", _error(req_id, "unknown_key", f"unknown key {str(key)[:20]!r}"))
            return None
        sent = body.get("ts")
        if isinstance(sent, int | float) and not isinstance(sent, bool) and p.now_ts() - sent > KEY_PRESS_MAX_AGE_S:
            self._ack(device, "key", _error(req_id, "expired", "this key press is too old to act on"))
            return None
        if not device["counter"]:
            self._ack(device, "key", _error(req_id, "no_counter", "this keypad is not assigned to a counter"))
            return None
        state, previous = self.registry.claim_request(device["id"], req_id)
        if state == "done":
            self._ack(device, "key", previous or {})
            return None
        if state == "busy":
            return None
        try:
            ticket = self._press(device, key, body)
            response: dict[str, Any] = {"req_id": req_id, "status": p.ACK_OK, "key": key,
                                        "ticket": _ticket_summary(ticket) if ticket else None}
        except DomainError as exc:
            response = _error(req_id, exc.code, exc.message)
            response["key"] = key
        self.registry.complete_request(device["id"], req_id, response)
        self._ack(device, "key", response)
        return None

    def _press(self, device: dict[str, Any], key: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """One key, one domain call: exactly what the console's button does over REST."""
        queue_service, counter, actor = self.hub.queue, device["counter"], f"device:{device['id']}"
        if key == "next":
            return queue_service.call_next(counter, actor=actor)
        if key == "transfer":
            service = body.get("service")
            if not isinstance(service, str):
                raise DomainError("invalid_request", "transfer needs the target service")
            return queue_service.transfer(counter, service, actor=actor)
        if key == "pause":
            reason = body.get("reason")
            queue_service.pause(counter, actor=actor, reason=reason[:200] if isinstance(reason, str) else None)
            return None
        if key == "resume":
            queue_service.resume(counter, actor=actor)
            return None
        method = {"recall": queue_service.recall, "start": queue_service.start,
                  "no-show": queue_service.no_show, "finish": queue_service.finish}[key]
        return method(counter, actor=actor)

    def _on_ticket_button(self, device: dict[str, Any], body: dict[str, Any]) -> None:
        req_id = body.get("req_id")
        topic = self.topics.device_event("kiosk", device["id"], "ticket")
        if not isinstance(req_id, str) or not 1 <= len(req_id) <= REQ_ID_MAX:
            return self._reject(topic, "req_id must be a string of 1 to 64 characters")
        service, priority = body.get("service"), body.get("priority", "normal")
        try:
            if not isinstance(service, str) or not isinstance(priority, str):
                raise DomainError("invalid_request", "service and priority must be strings")
            # The ticket's idempotency key makes a resent press return the same ticket.
            ticket = self.hub.queue.issue(service, priority=priority, source="dispenser",
                                          source_device=device["id"], idempotency_key=f"{device['id']}:{req_id}"[:64],
                                          actor=f"device:{device['id']}")
            summary = _ticket_summary(ticket)
            summary["status_url"] = self.hub.status_url(ticket["id"])
            response: dict[str, Any] = {"req_id": req_id, "status": p.ACK_OK, "ticket": summary}
        except DomainError as exc:
            response = _error(req_id, exc.code, exc.message)
        self._ack(device, "ticket", response)
        return None


def _error(req_id: str, code: str, message: str) -> dict[str, Any]:
    return {"req_id": req_id, "status": p.ACK_ERROR, "error": {"code": code, "message": message}}


def _ticket_summary(ticket: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "number", "service", "service_name", "priority", "status", "counter", "counter_name", "ahead",
            "estimate", "call_count", "issued_at")
    return {k: ticket.get(k) for k in keys}
