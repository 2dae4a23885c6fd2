"""Counter-bound number displays: the LED wall display, and the base the keypad shares with it."""

from __future__ import annotations

import logging
import random

from firmware_sim.devices import const
from firmware_sim.devices.base import BusSettings, Device, DeviceIdentity, Handler
from firmware_sim.devices.counter_display import CounterDisplay, CounterState, LedState, parse_counter_state
from hub import protocol

log = logging.getLogger(__name__)


class CounterDisplayDevice(Device):
    """A device that shows its counter's retained `state/counter/<code>`."""

    def __init__(self, identity: DeviceIdentity, bus: BusSettings, timing: const.Timing = const.DEFAULT_TIMING,
                 *, rng: random.Random | None = None) -> None:
        super().__init__(identity, bus, timing, rng=rng)
        self.display = CounterDisplay()
        self.beeps = 0  # "the line is no longer empty" beeps

    @property
    def led(self) -> LedState:
        """What the digits show now."""
        with self._lock:
            return self.display.led

    @property
    def counter_state(self) -> CounterState:
        """The last counter state received."""
        with self._lock:
            return self.display.state

    def extra_subscriptions(self) -> dict[str, int]:
        """The state of the counter this device belongs to (none until the hub assigns one)."""
        return {self.topics.counter_state(self.counter): protocol.MQTT_QOS} if self.counter else {}

    def route(self, topic: str) -> Handler | None:
        """Messages on our counter's state topic."""
        if self.counter and topic == self.topics.counter_state(self.counter):
            return self._on_counter_state
        return None

    def on_placement_changed(self) -> None:
        """A new counter: blank until its retained state arrives."""
        self.display.reset()

    def _on_counter_state(self, raw: bytes) -> None:
        if self.display.apply(parse_counter_state(raw)):
            self.on_waiting()
        log.debug("%s: shows %r (%s)", self.device_id, self.display.led.text, self.display.led.mode)

    def on_waiting(self) -> None:
        """Hook: the counter's line went from empty to waiting."""


class LedDisplay(CounterDisplayDevice):
    """The LED number display above a room door: digits only, no keys, no buzzer."""

    device_type = "led"
    model = const.MODEL_LED
    capabilities = (const.CAP_LED,)
