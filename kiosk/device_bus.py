"""The kiosk on the MQTT device bus: status with Last Will, info, heartbeat, paper events, its config and
commands from the hub (reprint).

Clean sessions: after every (re)connect it subscribes again and says who it is; a restarted hub asks
again with `hub/cmd/rebirth`. A command older than its `ttl_s` is dropped, and a command delivered twice
(QoS 1 may) acts once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub import protocol

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
TELE_INTERVAL_S = 30.0
SEEN_COMMANDS = 200  # req_ids remembered to act once on a command delivered twice

CommandHandler = Callable[[str, dict[str, Any]], None]


def broker_address(url: str) -> tuple[str, int, bool]:
    """Host, port and TLS of mqtt://HOST[:PORT] or mqtts://HOST[:PORT]."""
    parsed = urlparse(url if "://" in url else f"mqtt://{url}")
    if parsed.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"expected mqtt://HOST:PORT, got {url!r}")
    tls = parsed.scheme == "mqtts"
    return parsed.hostname or "127.0.0.1", parsed.port or (8883 if tls else 1883), tls


class KioskBus:
    """The kiosk's MQTT client (device type "kiosk")."""

    def __init__(self, url: str, site: str, device_id: str, secret: str | None, *,
                 info: Callable[[], dict[str, Any]], telemetry: Callable[[], dict[str, Any]],
                 on_command: CommandHandler, on_config: Callable[[dict[str, Any]], None] | None = None,
                 tele_interval_s: float = TELE_INTERVAL_S) -> None:
        if not protocol.valid_id(device_id):
            raise ValueError(f"device id {device_id!r} must match {protocol.ID_PATTERN.pattern}")
        self.host, self.port, tls = broker_address(url)
        self.topics = protocol.Topics(site)
        self.device_id = device_id
        self.base = self.topics.device("kiosk", device_id)
        self.info = info
        self.telemetry = telemetry
        self.on_command = on_command
        self.on_config = on_config
        self.tele_interval_s = tele_interval_s
        self.connected = threading.Event()
        self.hub_online: bool | None = None
        self.dropped = 0
        self._paper: str | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._tele_thread = threading.Thread(target=self._heartbeat, name="kiosk-tele", daemon=True)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, clean_session=True,
                                  protocol=mqtt.MQTTv311)
        self.client.on_socket_open = protocol.no_delay
        self.client.username_pw_set(device_id, secret)
        self.client.will_set(self._status_topic, protocol.STATUS_OFFLINE, qos=protocol.MQTT_QOS, retain=True)
        self.client.reconnect_delay_set(1, 30)
        if tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    @property
    def _status_topic(self) -> str:
        return self.topics.device_status("kiosk", self.device_id)

    def start(self) -> KioskBus:
        # connect_async: a kiosk that boots before the broker keeps trying instead of failing.
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()
        self._tele_thread.start()
        return self

    def stop(self) -> None:
        """Say "offline" ourselves (a clean disconnect sends no Last Will), then disconnect."""
        self._stopping.set()
        if self.connected.is_set():
            info = self.client.publish(self._status_topic, protocol.STATUS_OFFLINE, qos=protocol.MQTT_QOS, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def report_paper(self, state: str) -> None:
        """Send `evt/paper` when the paper state changes (the contract has no "unknown": that is not sent)."""
        if state not in ("ok", "low", "out"):
            return
        with self._lock:
            changed, self._paper = state != self._paper, state
        if changed and self.connected.is_set():
            self._publish(self.topics.device_event("kiosk", self.device_id, "paper"), {"state": state})

    # ------------------------------------------------------------------ paho callbacks
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the kiosk's connection: %s", reason)
            return
        qos = protocol.MQTT_QOS
        client.subscribe([(self.topics.hub_status, qos), (self.topics.hub_rebirth, qos),
                          (self.topics.device_config("kiosk", self.device_id), qos), (f"{self.base}/cmd/+", qos)])
        self.connected.set()
        self._birth()
        log.info("kiosk on the device bus at %s:%d", self.host, self.port)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("lost the MQTT broker (%s); reconnecting", reason)

    def _birth(self) -> None:
        """Status, info and the paper state: what a restarted hub or broker needs to know about us."""
        self._publish(self._status_topic, protocol.STATUS_ONLINE, retain=True)
        self._publish(self.topics.device_info("kiosk", self.device_id), self.info(), retain=True)
        with self._lock:
            paper = self._paper
        if paper is not None:
            self._publish(self.topics.device_event("kiosk", self.device_id, "paper"), {"state": paper})

    def _publish(self, topic: str, payload: Any, retain: bool = False, qos: int = protocol.MQTT_QOS) -> None:
        self.client.publish(topic, payload if isinstance(payload, str) else protocol.encode(payload), qos=qos,
                            retain=retain)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Whatever arrives, the network thread must live on: a bad message is dropped (topic logged only).
        try:
            self._route(message.topic, message.payload)
        except Exception:
            self.dropped += 1
            log.exception("failed to handle a message on %s", message.topic[:200])

    def _route(self, topic: str, raw: bytes) -> None:
        if topic == self.topics.hub_status:
            text = raw.decode("utf-8", "replace").strip().strip('"')
            self.hub_online = text == protocol.STATUS_ONLINE if text else None
        elif topic == self.topics.hub_rebirth:
            self._birth()
        elif topic == self.topics.device_config("kiosk", self.device_id):
            if raw and self.on_config is not None:
                body = protocol.decode(raw)
                if isinstance(body, dict):
                    self.on_config(body)
        elif topic.startswith(f"{self.base}/cmd/"):
            self._command(topic.removeprefix(f"{self.base}/cmd/"), raw)

    def _command(self, name: str, raw: bytes) -> None:
        try:
            body = protocol.decode(raw)
        except ValueError:
            body = None
        req_id = body.get("req_id") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(req_id, str) or not 1 <= len(req_id) <= 64:
            self._drop(name, "not a command (JSON object with req_id)")
            return
        if protocol.is_expired(body):
            self._drop(name, "expired (older than its ttl_s) or without ts/ttl_s")
            return
        with self._lock:
            if req_id in self._seen:
                return
            self._seen[req_id] = None
            while len(self._seen) > SEEN_COMMANDS:
                self._seen.popitem(last=False)
        self.on_command(name, body)

    def _drop(self, name: str, why: str) -> None:
        self.dropped += 1
        log.warning("dropped command %s: %s", name[:40], why)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.tele_interval_s):
            if self.connected.is_set():
                self._publish(self.topics.device_tele("kiosk", self.device_id), self.telemetry(), qos=0)
