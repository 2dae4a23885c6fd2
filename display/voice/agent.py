"""The speaker agent: MQTT in (`evt/announce/<zone>`, its retained config, rebirth), audio out, `played` back.

Wire contract: DESIGN.md "MQTT" and hub/protocol.py. Clean sessions: after a reconnect the agent
resubscribes in on_connect, republishes its status and info, and gets its retained config again.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from display.voice.player import MAX_REPEAT, Announcement, AnnouncementPlayer, PlayRecord, Renderer, Sink
from display.voice.settings import VoiceSettings
from hub import protocol
from hub.protocol import Topics

log = logging.getLogger(__name__)

DEVICE_TYPE = "speaker"
MODEL = "clinicq-speaker"
FIRMWARE = "0.1.0"
LANGUAGE_SETS = {"vi": ("vi",), "en": ("en",), "vi+en": ("vi", "en")}
REMEMBERED_CALLS = 256  # QoS 1 may deliver a call twice; remember enough ids to say it once.


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """mqtt://[user:password@]HOST[:PORT] -> (host, port, user, password)."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"expected mqtt://HOST:PORT, got {url!r}")
    return parts.hostname, parts.port or 1883, parts.username, parts.password


def parse_announcement(raw: bytes) -> Announcement:
    """Check an `evt/announce/<zone>` payload; ValueError says what is wrong with it."""
    payload = protocol.decode(raw)
    if not isinstance(payload, dict):
        raise ValueError("payload is not a JSON object")
    call_id, text, lang = payload.get("call_id"), payload.get("text"), payload.get("lang", "vi")
    if not isinstance(call_id, str | int) or isinstance(call_id, bool) or str(call_id) == "":
        raise ValueError("call_id is missing")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text is missing or empty")
    if lang not in ("vi", "en"):
        raise ValueError(f"lang must be 'vi' or 'en', got {lang!r}")
    repeat = payload.get("repeat")
    if repeat is not None and (isinstance(repeat, bool) or not isinstance(repeat, int)
                               or not 1 <= repeat <= MAX_REPEAT):
        raise ValueError(f"repeat must be 1..{MAX_REPEAT}, got {repeat!r}")
    text_en = payload.get("text_en")
    if text_en is not None and not isinstance(text_en, str):
        raise ValueError("text_en must be a string")
    try:
        ts, ttl_s = float(payload["ts"]), float(payload["ttl_s"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("ts and ttl_s must be numbers") from None
    return Announcement(str(call_id), text, lang, repeat, ts, ttl_s, (text_en or "").strip() or None)


def in_languages(announcement: Announcement, languages: tuple[str, ...]) -> Announcement | None:
    """What a speaker configured for `languages` says of a call; None when it says nothing."""
    if announcement.lang in languages:
        keep_english = announcement.lang != "en" and "en" in languages
        return announcement if keep_english else replace(announcement, text_en=None)
    if announcement.text_en and "en" in languages:
        return replace(announcement, text=announcement.text_en, lang="en", text_en=None)
    return None


def _local_ip(host: str, port: int) -> str:
    # The address this device uses to reach the broker is the one staff can find it at.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, port))
            return probe.getsockname()[0]
    except OSError:
        return ""


class SpeakerAgent:
    """One speaker (one zone) on the device bus."""

    def __init__(self, site: str, speaker_id: str, zone: str, speech: Renderer, sink: Sink,
                 settings: VoiceSettings, *, host: str = "127.0.0.1", port: int = 1883,
                 secret: str | None = None, username: str | None = None, chime: bytes = b"",
                 engines: list[str] | None = None, heartbeat_s: float = 30.0,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not protocol.valid_id(speaker_id):
            raise ValueError(f"speaker id {speaker_id!r} must match {protocol.ID_PATTERN.pattern}")
        if not protocol.valid_id(zone):
            raise ValueError(f"zone {zone!r} must match {protocol.ID_PATTERN.pattern}")
        self.topics = Topics(site)
        self.speaker_id = speaker_id
        self.zone = zone
        self.settings = settings
        self.languages: tuple[str, ...] = LANGUAGE_SETS["vi+en"]
        self.config_volume: int | None = None
        self.host, self.port = host, port
        self.engines = engines or []
        self.heartbeat_s = heartbeat_s
        self._now = now
        self._started = time.monotonic()
        self._recent_calls: deque[str] = deque(maxlen=REMEMBERED_CALLS)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._heartbeat: threading.Thread | None = None
        self.sink = sink
        self.player = AnnouncementPlayer(speech, sink, chime=chime, gap_ms=settings.announce.gap_ms,
                                         default_repeat=settings.announce.repeat, volume=self.volume,
                                         on_played=self._publish_played)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{DEVICE_TYPE}-{speaker_id}",
                                  clean_session=True, protocol=mqtt.MQTTv311)
        self.client.on_socket_open = protocol.no_delay
        if secret is not None or username is not None:
            self.client.username_pw_set(username or speaker_id, secret)
        self.client.will_set(self.status_topic, protocol.encode(protocol.STATUS_OFFLINE),
                             qos=protocol.MQTT_QOS, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.connected = threading.Event()  # set once the broker has confirmed the subscriptions
        self._subscribe_mid: int | None = None

    # topics
    @property
    def status_topic(self) -> str:
        """Retained online/offline."""
        return self.topics.device_status(DEVICE_TYPE, self.speaker_id)

    @property
    def info_topic(self) -> str:
        """Retained description of this speaker."""
        return self.topics.device_info(DEVICE_TYPE, self.speaker_id)

    @property
    def config_topic(self) -> str:
        """Retained settings from the hub."""
        return self.topics.device_config(DEVICE_TYPE, self.speaker_id)

    # life cycle
    def start(self) -> None:
        """Start playing and connect in the background; a broker that is down is retried forever."""
        self.player.start()
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._heartbeat = threading.Thread(target=self._beat, name="speaker-heartbeat", daemon=True)
        self._heartbeat.start()

    def stop(self) -> None:
        """Say goodbye (retained offline), disconnect, stop playing."""
        self._stopping.set()
        if self.client.is_connected():
            try:
                self.client.publish(self.status_topic, protocol.encode(protocol.STATUS_OFFLINE),
                                    qos=protocol.MQTT_QOS, retain=True).wait_for_publish(2)
            except (RuntimeError, ValueError):
                pass  # Lost the broker meanwhile: the Last Will says "offline" for us.
        self.client.disconnect()
        self.client.loop_stop()
        self.player.stop()
        self.sink.close()

    def volume(self) -> float:
        """Volume now, 0..1: the hub's config (or voice.toml), lowered during quiet hours."""
        return self.settings.audio.volume_at(self._now(), self.config_volume) / 100

    def info(self) -> dict[str, Any]:
        """What `dev/speaker/<id>/info` says."""
        return {
            "model": MODEL, "firmware": FIRMWARE, "ip": _local_ip(self.host, self.port), "zone": self.zone,
            "capabilities": ["announce", *(f"lang:{lang}" for lang in self.languages)],
            "engines": self.engines, "output": self.sink.name,
        }

    # MQTT callbacks (paho's network thread)
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the speaker: %s", reason_code)
            return
        _, self._subscribe_mid = client.subscribe([(self.topics.announce(self.zone), protocol.MQTT_QOS),
                                                   (self.topics.hub_rebirth, protocol.MQTT_QOS),
                                                   (self.config_topic, protocol.MQTT_QOS),
                                                   (self.say_topic, protocol.MQTT_QOS)])
        self._publish_birth()
        log.info("speaker %s connected to %s:%s, zone %s", self.speaker_id, self.host, self.port, self.zone)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        if mid == self._subscribe_mid:
            self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("speaker lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic == self.topics.announce(self.zone):
                self._on_announce(message.payload)
            elif message.topic == self.config_topic:
                self._on_config(message.payload)
            elif message.topic == self.topics.hub_rebirth:
                self._publish_birth()
            elif message.topic == self.say_topic:
                self._on_say(message.payload)
        except Exception:
            # paho stops its loop on an exception in a callback: a bad message must never mute the speaker.
            log.exception("could not handle a message on %s", message.topic)

    # handlers
    def _on_announce(self, raw: bytes) -> None:
        try:
            announcement = parse_announcement(raw)
        except ValueError as exc:
            log.warning("dropped a malformed announcement: %s", exc)
            return
        if announcement.expired():
            log.info("dropped call %s: older than its ttl_s of %s s", announcement.call_id, announcement.ttl_s)
            return
        spoken = in_languages(announcement, self.languages)
        if spoken is None:
            log.info("skipped call %s in %s: this speaker says %s", announcement.call_id, announcement.lang,
                     "+".join(self.languages))
            return
        with self._lock:
            if announcement.call_id in self._recent_calls:
                log.info("skipped call %s: already queued or played", announcement.call_id)
                return
            self._recent_calls.append(announcement.call_id)
        self.player.submit(spoken)

    @property
    def say_topic(self) -> str:
        """`cmd/say`: the admin page's speaker test ("say this phrase"), played like a call."""
        return self.topics.device_command(DEVICE_TYPE, self.speaker_id, "say")

    def _on_say(self, raw: bytes) -> None:
        try:
            command = protocol.decode(raw)
            if not isinstance(command, dict) or not isinstance(command.get("req_id"), str):
                raise ValueError("a command is a JSON object with req_id")
        except ValueError as exc:
            log.warning("dropped a malformed say command: %s", exc)
            return
        # The same checks as a call (expiry, language, one play per id): a test sounds as a call would.
        self._on_announce(protocol.encode({"call_id": command["req_id"][:64], "text": command.get("text"),
                                           "lang": command.get("lang", "vi"), "repeat": 1,
                                           "ts": command.get("ts"), "ttl_s": command.get("ttl_s")}))

    def _on_config(self, raw: bytes) -> None:
        if not raw:  # The hub cleared the retained config: back to voice.toml.
            self.config_volume, self.languages = None, LANGUAGE_SETS["vi+en"]
            return
        try:
            config = protocol.decode(raw)
            if not isinstance(config, dict):
                raise ValueError("config is not a JSON object")
        except ValueError as exc:
            log.warning("ignored a malformed config: %s", exc)
            return
        volume = config.get("volume")
        if volume is not None:
            if isinstance(volume, bool) or not isinstance(volume, int | float) or not 0 <= volume <= 100:
                log.warning("ignored config volume %r: expected a percentage 0..100", volume)
            else:
                self.config_volume = round(volume)
        language = config.get("language")
        if language is not None:
            if language in LANGUAGE_SETS:
                self.languages = LANGUAGE_SETS[language]
            else:
                log.warning("ignored config language %r: expected one of %s", language, sorted(LANGUAGE_SETS))
        zone = config.get("zone")
        if zone is not None and zone != self.zone:
            if isinstance(zone, str) and protocol.valid_id(zone):
                self._move_to_zone(zone)
            else:
                log.warning("ignored config zone %r: not a valid id", zone)
        self._publish_info()

    def _move_to_zone(self, zone: str) -> None:
        old_topic = self.topics.announce(self.zone)
        self.zone = zone
        self.client.unsubscribe(old_topic)
        self.client.subscribe(self.topics.announce(zone), protocol.MQTT_QOS)
        log.info("speaker %s now announces for zone %s", self.speaker_id, zone)

    # publishing
    def _publish_birth(self) -> None:
        self.client.publish(self.status_topic, protocol.encode(protocol.STATUS_ONLINE),
                            qos=protocol.MQTT_QOS, retain=True)
        self._publish_info()

    def _publish_info(self) -> None:
        self.client.publish(self.info_topic, protocol.encode(self.info()), qos=protocol.MQTT_QOS, retain=True)

    def _publish_played(self, record: PlayRecord) -> None:
        self.client.publish(self.topics.device_event(DEVICE_TYPE, self.speaker_id, "played"),
                            protocol.encode({"call_id": record.call_id, "latency_ms": record.latency_ms}),
                            qos=protocol.MQTT_QOS)

    def _beat(self) -> None:
        while not self._stopping.wait(self.heartbeat_s):
            if self.client.is_connected():
                tele = {"uptime_s": round(time.monotonic() - self._started), "queued": self.player.pending,
                        "played": self.player.played_count, "volume": round(self.volume() * 100)}
                self.client.publish(self.topics.device_tele(DEVICE_TYPE, self.speaker_id), protocol.encode(tele),
                                    qos=0)
