"""The ticket dispenser: a button per service and a thermal printer, no screen.

A press is an `evt/ticket` resent with the same req_id until `ack/ticket` brings the ticket, which is
then printed once. With the paper out the button does nothing (no request: a number nobody can
hold would only be called as a no-show); paper changes are reported on `evt/paper`.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from firmware_sim.devices import const
from firmware_sim.devices.acked import AckedRequests, AwaitsAcks, Request
from firmware_sim.devices.base import BusSettings, Device, DeviceIdentity
from firmware_sim.devices.payloads import PayloadError, decode_object, optional_object
from hub import protocol

log = logging.getLogger(__name__)

PrinterHook = Callable[[dict[str, Any]], None]


class Dispenser(AwaitsAcks, Device):
    """A button-and-printer ticket dispenser (device type "kiosk")."""

    device_type = "kiosk"
    model = const.MODEL_DISPENSER
    capabilities = (const.CAP_BUTTON, const.CAP_PRINTER)

    def __init__(self, identity: DeviceIdentity, bus: BusSettings, timing: const.Timing = const.DEFAULT_TIMING,
                 *, rng: random.Random | None = None, printer: PrinterHook | None = None,
                 paper_capacity: int | None = None, low_paper_at: int = 20) -> None:
        super().__init__(identity, bus, timing, rng=rng)
        self.requests = AckedRequests(self.device_id, self.publish_event, timing)
        self.printer = printer  # called with each ticket to print; None: the printout is only logged
        self.paper = const.PAPER_OK
        self.paper_capacity = paper_capacity  # tickets per roll; None: the roll never ends
        self.paper_left = paper_capacity
        self.low_paper_at = low_paper_at
        self.printed: list[dict[str, Any]] = []
        self.unprinted: list[dict[str, Any]] = []  # issued by the hub, lost to the printer: staff reprint them
        self.refused = 0

    def press(self, service: str, *, priority: str | None = None,
              on_done: Callable[[Request], None] | None = None) -> str | None:
        """Press a service's button; returns the req_id, or None when refused (paper out)."""
        if not protocol.valid_id(service):
            raise ValueError(f"service {service!r} is not a valid code")
        if priority is not None and not protocol.valid_id(priority):
            raise ValueError(f"priority {priority!r} is not a valid code")
        fields: dict[str, Any] = {"service": service}
        if priority is not None:
            fields["priority"] = priority
        with self._lock:
            if self.paper == const.PAPER_OUT:
                self.refused += 1
                log.info("%s: paper out, button %s ignored", self.device_id, service)
                return None
            now = time.monotonic()
            request = self.requests.create(const.EVT_TICKET, fields, now, on_done)
            self.requests.send_due(now, self._connected)
            self._changed.notify_all()
        return request.req_id

    def set_paper(self, state: str) -> None:
        """Change the paper state (a sensor, or staff loading a roll) and report it."""
        if state not in const.PAPER_STATES:
            raise ValueError(f"paper state must be one of {const.PAPER_STATES}")
        with self._lock:
            if state == const.PAPER_OK and self.paper_capacity is not None:
                self.paper_left = self.paper_capacity  # a new roll
            if state == self.paper:
                return
            self.paper = state
            log.info("%s: paper %s", self.device_id, state)
            if self._connected:  # offline, the next birth reports it
                self.publish_event(const.EVT_PAPER, {"state": state})
            self._changed.notify_all()

    def after_birth(self) -> None:
        """A restarted hub learns the paper state again with the status and info."""
        self.publish_event(const.EVT_PAPER, {"state": self.paper})

    def on_ack(self, name: str, raw: bytes) -> None:
        """`ack/ticket` brings the ticket to print."""
        if name != const.EVT_TICKET:
            log.debug("%s: ignored ack %s", self.device_id, name[:40])
            return
        body = decode_object(raw)
        ticket = optional_object(body, const.KEY_TICKET)
        number = (ticket or {}).get("number")
        if body.get(const.KEY_STATUS) == protocol.ACK_OK and not isinstance(number, str):
            raise PayloadError("an ok ticket ack needs ticket.number")
        request = self.requests.resolve(name, body, time.monotonic())
        if request is not None and request.status == protocol.ACK_OK and ticket is not None:
            self._print(ticket)

    def on_tick(self, now: float) -> None:
        """Send and resend presses."""
        self.requests.send_due(now, self._connected)

    def telemetry(self) -> dict[str, Any]:
        """Paper and counts, for the hub's device page."""
        return {"paper": self.paper, "printed": len(self.printed), "pending": self.requests.pending}

    def _print(self, ticket: dict[str, Any]) -> None:
        if self.paper == const.PAPER_OUT:
            self.unprinted.append(ticket)
            log.warning("%s: ticket %s issued but the paper ran out: not printed", self.device_id, ticket["number"])
            return
        try:
            if self.printer is not None:
                self.printer(ticket)
        except Exception:  # a printer fault loses the printout, never the ticket: the hub has it
            self.unprinted.append(ticket)
            log.exception("%s: printing ticket %s failed", self.device_id, ticket["number"])
            return
        self.printed.append(ticket)
        log.info("%s: printed %s (%s, %s ahead)", self.device_id, ticket["number"], ticket.get("service"),
                 ticket.get("ahead"))
        if self.paper_left is not None:
            self.paper_left -= 1
            if self.paper_left <= 0:
                self.set_paper(const.PAPER_OUT)
            elif self.paper_left <= self.low_paper_at:
                self.set_paper(const.PAPER_LOW)
