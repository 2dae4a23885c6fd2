"""What a counter's number display shows, from the retained `state/counter/<code>`: no MQTT here.

Blinking while the ticket is called (the patient should come), steady while serving or on hold,
blank with no ticket. A keypad beeps when its counter's line goes from empty to waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware_sim.devices import const
from firmware_sim.devices.payloads import PayloadError, decode_object, optional_int, optional_str
from hub import protocol


@dataclass(frozen=True)
class LedState:
    """The digits and how they are lit."""

    text: str = ""
    mode: str = const.LED_BLANK

    @property
    def blinking(self) -> bool:
        """True while a called ticket waits for its patient."""
        return self.mode == const.LED_BLINK

    @property
    def steady(self) -> bool:
        """True while a ticket is being served (or on hold)."""
        return self.mode == const.LED_STEADY

    @property
    def blank(self) -> bool:
        """True when the counter has no ticket."""
        return self.mode == const.LED_BLANK


BLANK = LedState()


@dataclass(frozen=True)
class CounterState:
    """One retained `state/counter/<code>` message, checked."""

    ticket: str | None = None
    status: str | None = None
    counter_state: str | None = None  # open, paused or closed, when the hub says
    waiting: int | None = None  # tickets waiting in the counter's services; None when not sent
    since: Any = None


def parse_counter_state(raw: bytes) -> CounterState:
    """Decode and check a counter state; an empty payload (retained topic cleared) is a blank counter."""
    if not raw:
        return CounterState()
    body = decode_object(raw)
    ticket = optional_str(body, const.KEY_TICKET, const.TICKET_MAX_CHARS)
    status = optional_str(body, const.KEY_STATUS, 32)
    counter_state = optional_str(body, "state", 32)
    waiting = optional_int(body, const.KEY_WAITING, 0, 1_000_000)
    since = body.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int | float | str)):
        raise PayloadError("since must be a number or a string")
    if ticket is not None and not ticket.isalnum():
        raise PayloadError("ticket must be letters and digits")
    return CounterState(ticket=ticket or None, status=status, counter_state=counter_state, waiting=waiting,
                        since=since)


def led_for(state: CounterState) -> LedState:
    """The display for a counter state."""
    if state.ticket is None:
        return BLANK
    if state.status == protocol.CALLED:
        return LedState(state.ticket, const.LED_BLINK)
    # Serving, on hold, or a status newer than this firmware: show the number without drawing attention.
    return LedState(state.ticket, const.LED_STEADY)


class CounterDisplay:
    """The display's state machine: apply each new counter state, learn whether to beep."""

    def __init__(self) -> None:
        self.state = CounterState()
        self.led = BLANK

    def apply(self, state: CounterState) -> bool:
        """Show `state`; True when the line went from empty to waiting (the keypad should beep)."""
        before = self.state.waiting
        self.state, self.led = state, led_for(state)
        # Unknown -> N (a boot, a new counter) is no news for the staff: only a real 0 -> N is.
        return before == 0 and (state.waiting or 0) > 0

    def reset(self) -> None:
        """Forget everything (moved to another counter)."""
        self.state, self.led = CounterState(), BLANK
