"""A speaker without sound: takes its zone's announcements, "plays" them in order, reports `evt/played`.

It stands in for display/voice's speaker agent in load tests and demos without a sound card, and
behaves like it on the bus: one call at a time in arrival order, duplicates (QoS 1 may deliver twice)
and calls older than their `ttl_s` dropped, both on arrival and when their turn comes.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable
from typing import Any

from firmware_sim.devices import const
from firmware_sim.devices.base import BusSettings, Device, DeviceIdentity, Handler
from firmware_sim.devices.payloads import decode_object, optional_int, optional_str, required_str
from hub import protocol

log = logging.getLogger(__name__)

REMEMBERED_CALLS = 200  # call_ids kept to recognise a duplicate delivery
TEXT_MAX_CHARS = 2000

PlaySeconds = Callable[[dict[str, Any]], float]


class SpeakerStub(Device):
    """A zone's loudspeaker, simulated."""

    device_type = "speaker"
    model = const.MODEL_SPEAKER
    capabilities = (const.CAP_AUDIO,)

    def __init__(self, identity: DeviceIdentity, bus: BusSettings, timing: const.Timing = const.DEFAULT_TIMING,
                 *, rng: random.Random | None = None, play_seconds: PlaySeconds | None = None) -> None:
        super().__init__(identity, bus, timing, rng=rng)
        self.play_seconds = play_seconds or self._speaking_time
        self.played: list[dict[str, Any]] = []  # {"call_id", "text", "lang", "latency_ms"}
        self.skipped: list[tuple[str, str]] = []  # (call_id, why): expired or duplicate
        self._queue: deque[dict[str, Any]] = deque()
        self._playing: dict[str, Any] | None = None
        self._play_ends = 0.0
        self._recent: deque[str] = deque(maxlen=REMEMBERED_CALLS)

    @property
    def queued(self) -> int:
        """Calls waiting for their turn, not counting the one playing."""
        with self._lock:
            return len(self._queue)

    def extra_subscriptions(self) -> dict[str, int]:
        """The announcements of this speaker's zone."""
        return {self.topics.announce(self.zone): protocol.MQTT_QOS} if self.zone else {}

    def route(self, topic: str) -> Handler | None:
        """Messages on our zone's announcement topic."""
        if self.zone and topic == self.topics.announce(self.zone):
            return self._on_announce
        return None

    def on_placement_changed(self) -> None:
        """Another zone: calls queued for the old one are not ours to say any more."""
        self._queue.clear()

    def telemetry(self) -> dict[str, Any]:
        """Queue length and counts, for the hub's device page."""
        return {"queued": len(self._queue), "played": len(self.played), "volume": self.volume}

    def _on_announce(self, raw: bytes) -> None:
        body = decode_object(raw)
        call_id = required_str(body, "call_id", 64)
        required_str(body, "text", TEXT_MAX_CHARS)
        optional_str(body, "lang", 16)
        optional_int(body, "repeat", 0, 10)
        if call_id in self._recent:
            self.skipped.append((call_id, "duplicate"))
            return
        self._recent.append(call_id)
        if protocol.is_expired(body):
            self._skip(call_id, "expired on arrival (older than its ttl_s, or no ts/ttl_s)")
            return
        self._queue.append(body)

    def on_tick(self, now: float) -> None:
        """Finish the call playing, then start the next one that is still fresh."""
        while True:
            if self._playing is not None:
                if now < self._play_ends:
                    return
                self._finish(self._playing)
                self._playing = None
            if not self._queue:
                return
            call = self._queue.popleft()
            if protocol.is_expired(call):
                self._skip(call["call_id"], "expired while queued")
                continue
            self._playing = call
            call["latency_ms"] = max(0, round((protocol.now_ts() - float(call["ts"])) * 1000))
            self._play_ends = now + max(0.0, self.play_seconds(call))
            log.debug("%s: playing %s", self.device_id, call["call_id"])

    def _finish(self, call: dict[str, Any]) -> None:
        self.played.append({"call_id": call["call_id"], "text": call["text"], "lang": call.get("lang"),
                            "latency_ms": call["latency_ms"]})
        self.publish_event(const.EVT_PLAYED, {"call_id": call["call_id"], "latency_ms": call["latency_ms"]})
        self._changed.notify_all()
        log.info("%s: said %r", self.device_id, call["text"][:80])

    def _skip(self, call_id: str, why: str) -> None:
        self.skipped.append((call_id, why))
        self.drop(self.topics.announce(self.zone or "?"), f"call {call_id}: {why}")

    def _speaking_time(self, call: dict[str, Any]) -> float:
        repeat = call.get("repeat") or 1
        return self.timing.seconds_per_char * len(call["text"]) * repeat
