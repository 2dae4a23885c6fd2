"""What every simulated device does on the bus: connect, birth and Last Will, rebirth, config, heartbeat.

Subclasses add their own topics (`extra_subscriptions` + `route`), acks, commands and timers. Every
incoming message is handled under the device's lock and inside a guard: a malformed or unexpected
payload is logged and dropped, never allowed to stop the device (paho would let the exception kill
its network thread).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from firmware_sim.devices import const
from firmware_sim.devices.payloads import (
    PayloadError,
    decode_object,
    decode_text,
    optional_id,
    optional_int,
    optional_str,
    required_str,
)
from firmware_sim.devices.ticker import Ticker
from hub import protocol

log = logging.getLogger(__name__)

Handler = Callable[[bytes], None]


@dataclass(frozen=True)
class BusSettings:
    """Which broker to use and which site's topic tree (`clinicq/v1/<site>`)."""

    site: str
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False

    @classmethod
    def from_url(cls, url: str, site: str) -> BusSettings:
        """mqtt://HOST:PORT or mqtts://HOST:PORT (TLS with the system's CAs)."""
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"expected mqtt://HOST:PORT, got {url!r}")
        tls = parsed.scheme == "mqtts"
        return cls(site=site, host=parsed.hostname or "127.0.0.1", port=parsed.port or (8883 if tls else 1883),
                   tls=tls)


@dataclass(frozen=True)
class DeviceIdentity:
    """Who a device is: its id (also its broker login), secret and where it starts out."""

    device_id: str
    secret: str | None = None
    zone: str | None = None
    counter: str | None = None


class Device:
    """A simulated device speaking the clinicq MQTT contract."""

    device_type: ClassVar[str] = ""
    model: ClassVar[str] = ""
    capabilities: ClassVar[tuple[str, ...]] = ()

    def __init__(self, identity: DeviceIdentity, bus: BusSettings, timing: const.Timing = const.DEFAULT_TIMING,
                 *, rng: random.Random | None = None) -> None:
        if not protocol.valid_id(identity.device_id):
            raise ValueError(f"device id {identity.device_id!r} must match {protocol.ID_PATTERN.pattern}")
        if self.device_type not in protocol.DEVICE_TYPES:
            raise TypeError(f"{type(self).__name__} has no valid device_type")
        self.device_id = identity.device_id
        self.zone = identity.zone
        self.counter = identity.counter
        self.language: str | None = None
        self.brightness: int | None = None
        self.volume: int | None = None
        self.bus = bus
        self.timing = timing
        self.topics = protocol.Topics(bus.site)
        self.hub_online: bool | None = None  # None until the hub's retained status arrives
        self.connections = 0  # successful connects, counting reconnects
        self.rebirths = 0
        self.dropped = 0  # messages dropped as malformed, expired or failing
        self.identified = 0
        self.ip = ""
        self._rng = rng or random.Random()
        self._rssi = -45 - self._rng.randint(0, 30)  # a fixed simulated Wi-Fi signal, with some jitter later
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._connected = False
        self._ready = False
        self._subscribe_mid: int | None = None
        self._stopping = False
        self._started_at = time.monotonic()
        self._next_tele: float | None = None
        self._subscribed: dict[str, int] = {}
        self._ticker: Ticker | None = None
        self._own_ticker = False
        self.client = self._make_client(identity.secret)

    # ------------------------------------------------------------------ topics
    @property
    def base_topic(self) -> str:
        """`clinicq/v1/<site>/dev/<type>/<id>`."""
        return self.topics.device(self.device_type, self.device_id)

    @property
    def status_topic(self) -> str:
        """Retained online/offline, also the Last Will."""
        return self.topics.device_status(self.device_type, self.device_id)

    def subscriptions(self) -> dict[str, int]:
        """Every topic this device listens to, with its QoS."""
        qos = protocol.MQTT_QOS
        wanted = {self.topics.hub_status: qos, self.topics.hub_rebirth: qos,
                  self.topics.device_config(self.device_type, self.device_id): qos,
                  f"{self.base_topic}/cmd/#": qos, f"{self.base_topic}/ack/#": qos}
        wanted.update(self.extra_subscriptions())
        return wanted

    def extra_subscriptions(self) -> dict[str, int]:
        """Topics of this kind of device (a counter's state, a zone's announcements)."""
        return {}

    def route(self, topic: str) -> Handler | None:
        """The handler of one of `extra_subscriptions`' topics."""
        return None

    # ------------------------------------------------------------------ life cycle
    @property
    def connected(self) -> bool:
        """True between a successful CONNACK and the next disconnect."""
        return self._connected

    @property
    def ready(self) -> bool:
        """Connected and subscribed (the broker acknowledged): messages sent to the device now reach it."""
        return self._connected and self._ready

    def start(self, ticker: Ticker | None = None) -> Device:
        """Connect in the background (a broker that is down is retried with backoff) and start the timers."""
        self._stopping = False
        if ticker is None:
            ticker, self._own_ticker = Ticker(self.timing.tick_s, name=f"ticker-{self.device_id}"), True
        self._ticker = ticker
        ticker.add(self.tick)
        ticker.start()
        # connect_async + loop_start: a device that boots before the broker keeps trying instead of failing.
        self.client.connect_async(self.bus.host, self.bus.port, keepalive=self.timing.keepalive_s)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        """Publish a retained "offline" (a clean disconnect sends no Last Will), then disconnect."""
        with self._lock:
            self._stopping = True
        if self._ticker is not None:
            self._ticker.remove(self.tick)
            if self._own_ticker:
                self._ticker.stop()
            self._ticker = None
        if self._connected:
            info = self.client.publish(self.status_topic, protocol.STATUS_OFFLINE, qos=protocol.MQTT_QOS, retain=True)
            try:
                info.wait_for_publish(self.timing.stop_flush_s)
            except (RuntimeError, ValueError):
                pass  # The broker went away meanwhile: the Last Will says "offline" for us.
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` holds (checked after every state change) or `timeout` passes."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ publishing
    def publish(self, topic: str, payload: Any, *, qos: int = protocol.MQTT_QOS,
                retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Publish a JSON payload (str and bytes are sent as they are)."""
        raw = payload if isinstance(payload, str | bytes) else protocol.encode(payload)
        return self.client.publish(topic, raw, qos=qos, retain=retain)

    def publish_event(self, name: str, body: dict[str, Any]) -> mqtt.MQTTMessageInfo:
        """`dev/<type>/<id>/evt/<name>`, QoS 1, not retained."""
        return self.publish(self.topics.device_event(self.device_type, self.device_id, name), body)

    def info(self) -> dict[str, Any]:
        """The retained description the hub's registry keeps."""
        body: dict[str, Any] = {"model": self.model, "firmware": const.FIRMWARE_VERSION, "ip": self.ip,
                                "zone": self.zone, "capabilities": list(self.capabilities)}
        if self.counter is not None:
            body["counter"] = self.counter
        return body

    def telemetry(self) -> dict[str, Any]:
        """What this kind of device adds to its heartbeat."""
        return {}

    def publish_birth(self) -> None:
        """Retained status "online" and info, then whatever the kind of device announces after them."""
        self.publish(self.status_topic, protocol.STATUS_ONLINE, retain=True)
        self.publish(self.topics.device_info(self.device_type, self.device_id), self.info(), retain=True)
        self.after_birth()

    def after_birth(self) -> None:
        """Hook: state the hub should learn again after a reconnect or a rebirth (paper, for instance)."""

    # ------------------------------------------------------------------ timers
    def tick(self, now: float) -> None:
        """Called by the ticker: the heartbeat, then the subclass's timers."""
        with self._lock:
            if self._connected and self._next_tele is not None and now >= self._next_tele:
                self._next_tele = now + self.timing.tele_interval_s
                body = {"uptime_s": round(now - self._started_at), "rssi": self._rssi - self._rng.randint(0, 4)}
                body.update(self.telemetry())
                # QoS 0: a missed heartbeat is replaced by the next one, it is not worth buffering.
                self.publish(self.topics.device_tele(self.device_type, self.device_id), body, qos=0)
            self.on_tick(now)
            # Timers change state too (a press given up, a call played): wake whoever waits on it.
            self._changed.notify_all()

    def on_tick(self, now: float) -> None:
        """Hook: the subclass's timers, called under the device's lock."""

    # ------------------------------------------------------------------ connection callbacks
    def _make_client(self, secret: str | None) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device_id, clean_session=True,
                             protocol=mqtt.MQTTv311)
        client.on_socket_open = protocol.no_delay
        client.username_pw_set(self.device_id, secret)
        client.will_set(self.status_topic, protocol.STATUS_OFFLINE, qos=protocol.MQTT_QOS, retain=True)
        # A little jitter on the first delay so a whole fleet does not hit a restarted broker at the same instant.
        first_delay = self.timing.reconnect_min_s * self._rng.uniform(1.0, 1.5)
        client.reconnect_delay_set(first_delay, max(first_delay, self.timing.reconnect_max_s))
        if self.bus.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("%s: broker refused the connection: %s", self.device_id, reason)
            return
        with self._lock:
            self._connected = True
            self.connections += 1
            self.ip = _local_ip(client)
            # Subscribing here, not once after connect(), makes every reconnect subscribe again.
            self._subscribed = self.subscriptions()
            self._ready = False
            _result, self._subscribe_mid = client.subscribe(list(self._subscribed.items()))
            self.publish_birth()
            self._next_tele = time.monotonic() + self.timing.tele_interval_s
            self.on_connected()
            self._changed.notify_all()
        log.info("%s: connected to %s:%d", self.device_id, self.bus.host, self.bus.port)

    def on_connected(self) -> None:
        """Hook: called under the lock after each successful connect and birth."""

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, _codes: Any, _props: Any) -> None:
        with self._lock:
            if mid == self._subscribe_mid:
                self._ready = True
                self._changed.notify_all()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        with self._lock:
            self._connected = False
            self._changed.notify_all()
        if not self._stopping:
            log.warning("%s: lost the broker (%s); reconnecting with backoff", self.device_id, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        with self._lock:
            try:
                handler = self._handler(topic)
                if handler is None:
                    log.debug("%s: no handler for %s", self.device_id, topic)
                    return
                handler(message.payload)
            except PayloadError as exc:
                self.drop(topic, str(exc))
            except Exception:  # whatever arrives, a device keeps running: log it and carry on
                self.dropped += 1
                log.exception("%s: failed to handle a message on %s", self.device_id, topic)
            finally:
                self._changed.notify_all()

    def drop(self, topic: str, why: str) -> None:
        """Count and log a message that cannot be used (topic only: payloads may carry personal data)."""
        self.dropped += 1
        log.warning("%s: dropped a message on %s: %s", self.device_id, topic[:200], why)

    def _handler(self, topic: str) -> Handler | None:
        if topic == self.topics.hub_status:
            return self._on_hub_status
        if topic == self.topics.hub_rebirth:
            return self._on_rebirth
        if topic == self.topics.device_config(self.device_type, self.device_id):
            return self._on_config
        for kind, handle in (("cmd", self._on_command), ("ack", self.on_ack)):
            prefix = f"{self.base_topic}/{kind}/"
            if topic.startswith(prefix):
                name = topic[len(prefix):]
                return functools.partial(handle, name)
        return self.route(topic)

    # ------------------------------------------------------------------ what the hub says
    def _on_hub_status(self, raw: bytes) -> None:
        if not raw:
            self.hub_online = None  # the retained status was cleared
            return
        word = decode_text(raw)
        if word not in (protocol.STATUS_ONLINE, protocol.STATUS_OFFLINE):
            raise PayloadError(f"hub status {word[:20]!r} is neither online nor offline")
        self.hub_online = word == protocol.STATUS_ONLINE

    def _on_rebirth(self, _raw: bytes) -> None:
        # The payload does not matter: a restarted hub asks every device to say who it is again.
        self.rebirths += 1
        self.publish_birth()

    def _on_config(self, raw: bytes) -> None:
        if not raw:
            return  # the hub cleared our config: keep running as we are
        body = decode_object(raw)
        counter, zone = optional_id(body, const.KEY_COUNTER), optional_id(body, const.KEY_ZONE)
        language = optional_str(body, const.KEY_LANGUAGE, 8)
        if language is not None and language not in const.LANGUAGES:
            raise PayloadError(f"language must be one of {const.LANGUAGES}")
        brightness = optional_int(body, const.KEY_BRIGHTNESS, 0, 100)
        volume = optional_int(body, const.KEY_VOLUME, 0, 100)
        before = (self.counter, self.zone, self.language, self.brightness, self.volume)
        self.counter = counter if counter is not None else self.counter
        self.zone = zone if zone is not None else self.zone
        self.language = language if language is not None else self.language
        self.brightness = brightness if brightness is not None else self.brightness
        self.volume = volume if volume is not None else self.volume
        if before[:2] != (self.counter, self.zone):
            log.info("%s: configured for counter %s, zone %s", self.device_id, self.counter, self.zone)
            self.on_placement_changed()
            self._resubscribe()
        if before != (self.counter, self.zone, self.language, self.brightness, self.volume):
            self.publish(self.topics.device_info(self.device_type, self.device_id), self.info(), retain=True)

    def on_placement_changed(self) -> None:
        """Hook: the hub moved this device to another counter or zone; forget what it showed."""

    def _resubscribe(self) -> None:
        wanted = self.subscriptions()
        if self._connected:
            gone = [topic for topic in self._subscribed if topic not in wanted]
            new = [(topic, qos) for topic, qos in wanted.items() if topic not in self._subscribed]
            if gone:
                self.client.unsubscribe(gone)
            if new:
                self.client.subscribe(new)
        self._subscribed = wanted

    def _on_command(self, name: str, raw: bytes) -> None:
        body = decode_object(raw)
        required_str(body, const.KEY_REQ_ID, 64)
        if protocol.is_expired(body):
            self.drop(f"{self.base_topic}/cmd/{name}", "expired (older than its ttl_s) or without ts/ttl_s")
            return
        if name == const.CMD_IDENTIFY:
            self.identified += 1
            log.info("%s: identify requested (blinks and beeps)", self.device_id)
        elif not self.handle_command(name, body):
            log.info("%s: ignored unknown command %s", self.device_id, name[:40])

    def handle_command(self, name: str, body: dict[str, Any]) -> bool:
        """Hook: handle a command of this kind of device; False when unknown."""
        return False

    def on_ack(self, name: str, raw: bytes) -> None:
        """Hook: an `ack/<name>` from the hub."""
        log.debug("%s: ignored ack %s", self.device_id, name[:40])


def _local_ip(client: mqtt.Client) -> str:
    """The address this device reaches the broker from, as a real device would report its DHCP lease."""
    try:
        sock = client.socket()
        return str(sock.getsockname()[0]) if sock is not None else ""
    except (OSError, AttributeError):
        return ""
