"""Requests that want an ack (a key press, a ticket button): resent with the same req_id until answered.

The hub acts once per req_id, so resending is always safe; giving up is not free, though: a "next"
that reaches the hub a minute late calls a patient nobody is waiting for, so a request older than
`give_up_s` is abandoned and the device tells its user (an error beep on a keypad).
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware_sim.devices import const
from firmware_sim.devices.payloads import PayloadError, optional_object, required_str
from hub import protocol

log = logging.getLogger(__name__)

KEEP_FINISHED = 500  # finished requests remembered for wait_ack() and late duplicate acks


@dataclass
class Request:
    """One request and what became of it."""

    req_id: str
    event: str
    body: dict[str, Any]
    created: float
    on_done: Callable[[Request], None] | None = None
    attempts: int = 0
    last_sent: float | None = None
    status: str = const.PENDING
    ack: dict[str, Any] | None = None
    acked_at: float | None = None

    @property
    def done(self) -> bool:
        """Acked (ok or error) or given up."""
        return self.status != const.PENDING

    @property
    def latency_s(self) -> float | None:
        """From the press to its ack."""
        return None if self.acked_at is None else self.acked_at - self.created


class AckedRequests:
    """The requests of one device, keyed by req_id."""

    def __init__(self, device_id: str, publish_event: Callable[[str, dict[str, Any]], Any],
                 timing: const.Timing) -> None:
        self.device_id = device_id
        self.timing = timing
        self._publish_event = publish_event
        self._requests: OrderedDict[str, Request] = OrderedDict()
        self.resends = 0
        self.gave_up = 0

    def create(self, event: str, fields: dict[str, Any], now: float,
               on_done: Callable[[Request], None] | None = None) -> Request:
        """A new request with a fresh req_id and the press time; send it with `send_due`."""
        # A random id, not a counter: it must stay unique across reboots of the device.
        req_id = uuid.uuid4().hex
        body = {**fields, const.KEY_REQ_ID: req_id, const.KEY_TS: protocol.now_ts()}
        request = Request(req_id=req_id, event=event, body=body, created=now, on_done=on_done)
        self._requests[req_id] = request
        self._forget_old()
        return request

    def get(self, req_id: str) -> Request | None:
        """The request with this id, if still remembered."""
        return self._requests.get(req_id)

    @property
    def pending(self) -> int:
        """Requests still waiting for their ack."""
        return sum(1 for request in self._requests.values() if not request.done)

    def send_due(self, now: float, connected: bool) -> None:
        """Send new requests, resend unanswered ones, abandon stale ones."""
        for request in list(self._requests.values()):
            if request.done:
                continue
            if now - request.created >= self.timing.give_up_s:
                self.gave_up += 1
                log.warning("%s: no ack for %s %s after %d attempt(s); gave up", self.device_id, request.event,
                            request.req_id, request.attempts)
                self._finish(request, const.GAVE_UP, None, None)
                continue
            # While offline nothing is published: paho would buffer every resend and flood the hub later.
            if not connected:
                continue
            if request.last_sent is None or now - request.last_sent >= self.timing.ack_timeout_s:
                if request.last_sent is not None:
                    self.resends += 1
                    log.info("%s: no ack for %s %s; resending it", self.device_id, request.event, request.req_id)
                request.attempts += 1
                request.last_sent = now
                self._publish_event(request.event, request.body)

    def resolve(self, event: str, ack: dict[str, Any], now: float) -> Request | None:
        """Match an ack to its request; returns the request it completed, None for unknown or late acks."""
        req_id = required_str(ack, const.KEY_REQ_ID, 64)
        status = ack.get(const.KEY_STATUS)
        if status not in (protocol.ACK_OK, protocol.ACK_ERROR):
            raise PayloadError(f"ack status must be {protocol.ACK_OK!r} or {protocol.ACK_ERROR!r}")
        optional_object(ack, const.KEY_TICKET)
        error = optional_object(ack, const.KEY_ERROR)
        request = self._requests.get(req_id)
        if request is None or request.event != event:
            log.debug("%s: ack for unknown request %s", self.device_id, req_id)
            return None
        if request.done:
            return None  # a second ack for a resent request, or an ack after giving up
        if status == protocol.ACK_ERROR:
            code = (error or {}).get("code")
            log.info("%s: %s %s refused by the hub: %s", self.device_id, request.event, req_id, code)
        self._finish(request, status, ack, now)
        return request

    def _finish(self, request: Request, status: str, ack: dict[str, Any] | None, now: float | None) -> None:
        request.status, request.ack, request.acked_at = status, ack, now
        if request.on_done is not None:
            try:
                request.on_done(request)
            except Exception:  # the caller's callback must not break the device
                log.exception("%s: callback of request %s failed", self.device_id, request.req_id)

    def _forget_old(self) -> None:
        while len(self._requests) > KEEP_FINISHED:
            oldest_id, oldest = next(iter(self._requests.items()))
            if not oldest.done:
                break
            del self._requests[oldest_id]


class AwaitsAcks:
    """For a device that sends requests through `self.requests`: look them up and wait for their acks.

    The device provides `_lock` (guarding `requests`), `requests` (an AckedRequests) and `wait_for`.
    """

    _lock: Any
    requests: AckedRequests
    wait_for: Callable[[Callable[[], bool], float], bool]

    def request(self, req_id: str) -> Request | None:
        """A press and what became of it (attempts, status, ack)."""
        with self._lock:
            return self.requests.get(req_id)

    def wait_ack(self, req_id: str, timeout: float) -> dict[str, Any] | None:
        """The hub's ack of a press, or None when none came within `timeout` (or the device gave up)."""
        request = self.request(req_id)
        if request is None:
            raise KeyError(f"no press {req_id!r}")
        self.wait_for(lambda: request.done, timeout)
        return request.ack
