"""The counter keypad: call/recall, start, no-show, finish, transfer, pause/resume keys, LED digits, buzzer.

A press is an `evt/key` with a fresh req_id, resent with the same req_id until `ack/key` answers it.
The digits follow the counter's retained state, not the ack: every keypad and LED of a counter then
shows the same thing, whoever pressed.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from firmware_sim.devices import const
from firmware_sim.devices.acked import AckedRequests, AwaitsAcks, Request
from firmware_sim.devices.base import BusSettings, DeviceIdentity
from firmware_sim.devices.led import CounterDisplayDevice
from firmware_sim.devices.payloads import decode_object
from hub import protocol

log = logging.getLogger(__name__)


class Keypad(AwaitsAcks, CounterDisplayDevice):
    """A counter keypad with its number display."""

    device_type = "keypad"
    model = const.MODEL_KEYPAD
    capabilities = (const.CAP_KEYS, const.CAP_LED, const.CAP_BUZZER)

    def __init__(self, identity: DeviceIdentity, bus: BusSettings, timing: const.Timing = const.DEFAULT_TIMING,
                 *, rng: random.Random | None = None) -> None:
        super().__init__(identity, bus, timing, rng=rng)
        self.requests = AckedRequests(self.device_id, self.publish_event, self.timing)
        self.error_beeps = 0  # refused or unanswered presses

    def press(self, key: str, *, service: str | None = None, reason: str | None = None,
              on_done: Callable[[Request], None] | None = None) -> str:
        """Press a key; returns its req_id. `on_done` is called (on a network thread) once acked or given up."""
        if key not in protocol.KEYPAD_KEYS:
            raise ValueError(f"unknown key {key!r} (expected one of {protocol.KEYPAD_KEYS})")
        fields: dict[str, Any] = {"key": key}
        if key == "transfer":
            if service is None or not protocol.valid_id(service):
                raise ValueError("transfer needs the code of the service to send the patient to")
            fields["service"] = service
        if key == "pause" and reason:
            fields["reason"] = reason[:200]
        with self._lock:
            now = time.monotonic()
            request = self.requests.create(const.EVT_KEY, fields, now, self._finished_callback(on_done))
            self.requests.send_due(now, self._connected)
            self._changed.notify_all()
        log.debug("%s: key %s (%s)", self.device_id, key, request.req_id)
        return request.req_id

    def on_ack(self, name: str, raw: bytes) -> None:
        """`ack/key` completes a press."""
        if name != const.EVT_KEY:
            log.debug("%s: ignored ack %s", self.device_id, name[:40])
            return
        self.requests.resolve(name, decode_object(raw), time.monotonic())

    def on_tick(self, now: float) -> None:
        """Send and resend presses."""
        self.requests.send_due(now, self._connected)

    def on_waiting(self) -> None:
        """Beep: somebody is waiting again."""
        self.beeps += 1
        log.info("%s: beep (%d waiting for counter %s)", self.device_id, self.display.state.waiting or 0,
                 self.counter)

    def telemetry(self) -> dict[str, Any]:
        """Pending presses and resends, for the hub's device page."""
        return {"pending": self.requests.pending, "resends": self.requests.resends}

    def _finished_callback(self, on_done: Callable[[Request], None] | None) -> Callable[[Request], None]:
        def finished(request: Request) -> None:
            if request.status != protocol.ACK_OK:
                self.error_beeps += 1  # a real keypad sounds a low double beep: the press did nothing
            if on_done is not None:
                on_done(request)

        return finished
