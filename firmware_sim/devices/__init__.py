"""Simulated embedded devices speaking the clinicq MQTT contract (docs/firmware_sim.md).

They import only the wire contract (hub.protocol), like real firmware would.
"""

from firmware_sim.devices.base import BusSettings, Device, DeviceIdentity
from firmware_sim.devices.const import DEFAULT_TIMING, Timing
from firmware_sim.devices.counter_display import CounterState, LedState
from firmware_sim.devices.dispenser import Dispenser
from firmware_sim.devices.keypad import Keypad
from firmware_sim.devices.led import LedDisplay
from firmware_sim.devices.speaker_stub import SpeakerStub
from firmware_sim.devices.ticker import Ticker

DEVICE_CLASSES: dict[str, type[Device]] = {"keypad": Keypad, "led": LedDisplay, "dispenser": Dispenser,
                                           "speaker": SpeakerStub}

__all__ = ["DEFAULT_TIMING", "DEVICE_CLASSES", "BusSettings", "CounterState", "Device", "DeviceIdentity",
           "Dispenser", "Keypad", "LedDisplay", "LedState", "SpeakerStub", "Ticker", "Timing"]
