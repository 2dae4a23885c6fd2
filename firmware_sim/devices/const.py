"""Constants of the simulated firmware: timings, payload keys, models and capabilities, in one place."""

from __future__ import annotations

from dataclasses import dataclass

FIRMWARE_VERSION = "sim-0.1.0"

# Models reported in `info`: the hardware each simulation stands for (docs/firmware_sim.md).
MODEL_KEYPAD = "clinicq-sim-keypad (esp32 + max7219)"
MODEL_LED = "clinicq-sim-led (esp32 + max7219)"
MODEL_DISPENSER = "clinicq-sim-dispenser (esp32 + 58mm printer)"
MODEL_SPEAKER = "clinicq-sim-speaker"

# Capabilities reported in `info`.
CAP_KEYS, CAP_LED, CAP_BUZZER = "keys", "led", "buzzer"
CAP_BUTTON, CAP_PRINTER = "button", "printer"
CAP_AUDIO = "audio"

# Payload keys shared by several devices.
KEY_REQ_ID, KEY_TS, KEY_TTL = "req_id", "ts", "ttl_s"
KEY_STATUS, KEY_TICKET, KEY_ERROR = "status", "ticket", "error"
KEY_COUNTER, KEY_ZONE, KEY_LANGUAGE = "counter", "zone", "language"
KEY_BRIGHTNESS, KEY_VOLUME = "brightness", "volume"
KEY_WAITING = "waiting"

# Device events (the `<name>` of `dev/<type>/<id>/evt/<name>` and `ack/<name>`).
EVT_KEY, EVT_TICKET, EVT_PAPER, EVT_PLAYED = "key", "ticket", "paper", "played"

# Commands every device understands (`dev/<type>/<id>/cmd/<name>`).
CMD_IDENTIFY = "identify"

PAPER_OK, PAPER_LOW, PAPER_OUT = "ok", "low", "out"
PAPER_STATES = (PAPER_OK, PAPER_LOW, PAPER_OUT)
LANGUAGES = ("vi", "en")

# Request outcomes kept by a device that waits for acks.
PENDING, ACKED_OK, ACKED_ERROR, GAVE_UP = "pending", "ok", "error", "gave_up"

# The LED modes a counter display can be in.
LED_BLANK, LED_BLINK, LED_STEADY = "blank", "blink", "steady"
TICKET_MAX_CHARS = 8  # a display number is a prefix and a sequence: "AB1234" at most in practice

# Defaults of the timings below.
ACK_TIMEOUT_S = 2.0
GIVE_UP_S = 20.0
TELE_INTERVAL_S = 30.0
TICK_S = 0.05
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0
KEEPALIVE_S = 30
STOP_FLUSH_S = 2.0
SECONDS_PER_CHAR = 0.06  # roughly how long a Vietnamese call takes to say, per character of its text


@dataclass(frozen=True)
class Timing:
    """Every time-dependent constant of a device, injectable so tests run in milliseconds."""

    ack_timeout_s: float = ACK_TIMEOUT_S  # resend a request with the same req_id after this long without ack
    give_up_s: float = GIVE_UP_S  # a press older than this is abandoned: a stale "next" is worse than none
    tele_interval_s: float = TELE_INTERVAL_S
    tick_s: float = TICK_S  # how often timers (resends, heartbeats, playback) are looked at
    reconnect_min_s: float = RECONNECT_MIN_S
    reconnect_max_s: float = RECONNECT_MAX_S
    keepalive_s: int = KEEPALIVE_S
    stop_flush_s: float = STOP_FLUSH_S  # how long stop() waits for the retained "offline" to leave
    seconds_per_char: float = SECONDS_PER_CHAR  # simulated speaking time; 0 plays at once


DEFAULT_TIMING = Timing()
