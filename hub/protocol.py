"""The wire contract between the hub, its pages, agents and devices (see docs/protocol.md).

Standard library only: kiosks, speakers and simulated firmware import this module and nothing else
from the hub, so they keep working against any hub that speaks the same contract version.
"""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

PROTOCOL_VERSION = "v1"
API_PREFIX = "/api/v1"
TOPIC_ROOT = "clinicq/" + PROTOCOL_VERSION

# Ticket states and the transitions the hub allows (DESIGN.md, "Ticket").
WAITING, CALLED, SERVING, ON_HOLD, DONE = "waiting", "called", "serving", "on_hold", "done"
NO_SHOW, CANCELLED, TRANSFERRED = "no_show", "cancelled", "transferred"
TICKET_STATES = (WAITING, CALLED, SERVING, ON_HOLD, DONE, NO_SHOW, CANCELLED, TRANSFERRED)
TERMINAL_STATES = (DONE, CANCELLED, TRANSFERRED)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    WAITING: (CALLED, CANCELLED),
    CALLED: (CALLED, SERVING, NO_SHOW, WAITING),  # CALLED->CALLED is a recall; ->WAITING when a counter closes
    SERVING: (DONE, TRANSFERRED, ON_HOLD),
    ON_HOLD: (SERVING,),
    NO_SHOW: (WAITING,),
    DONE: (),
    CANCELLED: (),
    TRANSFERRED: (),
}

COUNTER_OPEN, COUNTER_PAUSED, COUNTER_CLOSED = "open", "paused", "closed"
COUNTER_STATES = (COUNTER_OPEN, COUNTER_PAUSED, COUNTER_CLOSED)

# Roles carried by API tokens and staff accounts.
ROLES = ("kiosk", "nurse", "reception", "doctor", "lab", "cashier", "admin", "device")

# Socket.IO events.
SIO_SUBSCRIBE = "subscribe"
SIO_SNAPSHOT = "snapshot"
SIO_CALL = "call"
SIO_QUEUE = "queue"
SIO_TICKET = "ticket"
SIO_COUNTER = "counter"
SIO_DEVICE = "device"
SIO_ALERT = "alert"
SIO_STAFFING = "staffing"  # staffing advice changed (ops pages, in the staff "devices" room)
SIO_INBOX = "inbox"  # an in-app message for a patient's portal page ({"patient", "token"} subscription)
SIO_ORDER = "order"  # a lab/imaging order changed: staff pages refetch it over REST
SIO_APPOINTMENT = "appointment"  # a booking changed ({"appointments": true}, staff): pages refetch over REST
SIO_ERROR = "error"

# MQTT.
DEVICE_TYPES = ("kiosk", "board", "speaker", "keypad", "led", "printer")
KEYPAD_KEYS = ("next", "recall", "start", "no-show", "finish", "transfer", "pause", "resume")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
STATUS_ONLINE, STATUS_OFFLINE = "online", "offline"
ACK_OK, ACK_ERROR = "ok", "error"
MQTT_QOS = 1
MAX_PAYLOAD_BYTES = 16 * 1024


def valid_id(value: str) -> bool:
    """Ids in topics are lowercase a-z, 0-9 and '-'."""
    return bool(ID_PATTERN.match(value))


class Topics:
    """Topic builders for one site: `clinicq/v1/<site>/...`."""

    def __init__(self, site: str) -> None:
        if not valid_id(site):
            raise ValueError(f"site id {site!r} must match {ID_PATTERN.pattern}")
        self.site = site
        self.root = f"{TOPIC_ROOT}/{site}"

    # hub
    @property
    def hub_status(self) -> str:
        return f"{self.root}/hub/status"

    @property
    def hub_probe(self) -> str:
        """The hub's liveness probe to its broker (QoS 1, nobody subscribes: the PUBACK is the answer)."""
        return f"{self.root}/hub/probe"

    @property
    def hub_rebirth(self) -> str:
        return f"{self.root}/hub/cmd/rebirth"

    # state (retained)
    def counter_state(self, counter: str) -> str:
        return f"{self.root}/state/counter/{counter}"

    def service_state(self, service: str) -> str:
        return f"{self.root}/state/service/{service}"

    # events
    @property
    def call(self) -> str:
        return f"{self.root}/evt/call"

    def announce(self, zone: str) -> str:
        return f"{self.root}/evt/announce/{zone}"

    # devices
    def device(self, device_type: str, device_id: str) -> str:
        return f"{self.root}/dev/{device_type}/{device_id}"

    def device_status(self, device_type: str, device_id: str) -> str:
        return self.device(device_type, device_id) + "/status"

    def device_info(self, device_type: str, device_id: str) -> str:
        return self.device(device_type, device_id) + "/info"

    def device_config(self, device_type: str, device_id: str) -> str:
        return self.device(device_type, device_id) + "/config"

    def device_tele(self, device_type: str, device_id: str) -> str:
        return self.device(device_type, device_id) + "/tele"

    def device_event(self, device_type: str, device_id: str, name: str) -> str:
        return self.device(device_type, device_id) + f"/evt/{name}"

    def device_command(self, device_type: str, device_id: str, name: str) -> str:
        return self.device(device_type, device_id) + f"/cmd/{name}"

    def device_ack(self, device_type: str, device_id: str, name: str) -> str:
        return self.device(device_type, device_id) + f"/ack/{name}"

    def parse_device_topic(self, topic: str) -> tuple[str, str, str, str | None] | None:
        """Split `.../dev/<type>/<id>/<kind>[/<name>]` into (type, id, kind, name); None if not one."""
        prefix = f"{self.root}/dev/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix):].split("/")
        if len(parts) not in (3, 4) or parts[0] not in DEVICE_TYPES or not valid_id(parts[1]):
            return None
        kind = parts[2]
        if len(parts) == 3 and kind in ("status", "info", "config", "tele"):
            return parts[0], parts[1], kind, None
        if len(parts) == 4 and kind in ("evt", "cmd", "ack") and valid_id(parts[3]):
            return parts[0], parts[1], kind, parts[3]
        return None


def no_delay(_client: Any, _userdata: Any, sock: Any) -> None:
    """For paho's `on_socket_open`: send small MQTT packets at once.

    paho leaves Nagle's algorithm on, so a packet written right after another (an ack after a call, a
    key press after a heartbeat) waits for the peer's delayed ACK: tens of milliseconds per hop.
    """
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # a websocket or TLS wrapper without the option
        pass


def now_ts() -> float:
    """Wall-clock seconds, as carried in the `ts` field of calls and commands."""
    return time.time()


def is_expired(payload: dict[str, Any], now: float | None = None) -> bool:
    """A call or command older than its `ttl_s` must be dropped, never replayed."""
    try:
        sent, ttl = float(payload["ts"]), float(payload["ttl_s"])
    except (KeyError, TypeError, ValueError):
        return True
    return (now if now is not None else now_ts()) - sent > ttl


def encode(payload: Any) -> bytes:
    """UTF-8 JSON, keeping Vietnamese letters as they are."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# Limits every JSON input (MQTT payloads and REST bodies) is held to before anything acts on it:
# databases overflow past 64-bit integers, PostgreSQL text cannot hold NUL, and Python's parser
# raises RecursionError (not ValueError) on deep nesting.
MAX_JSON_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
# C0 controls and DEL; tab, newline and carriage return are ordinary text (notes, addresses).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: str) -> Any:
    """json.loads held to the limits above; raises ValueError (never RecursionError) on bad input."""
    if _nesting_depth(text) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    check_json_value(value)
    return value


def _nesting_depth(text: str) -> int:
    """The deepest bracket nesting outside strings: checked before parsing, so depth costs nothing."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def check_json_value(value: Any, where: str = "") -> None:
    """Raise ValueError for an integer past 64 bits or text with control characters, anywhere inside."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise ValueError(f"{where or 'value'}: integer out of range")
    elif isinstance(value, str):
        if CONTROL_CHARACTERS.search(value):
            raise ValueError(f"{where or 'value'}: control characters are not allowed in text")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_value(key, where)
            check_json_value(item, f"{where}.{key}" if where else str(key)[:40])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, f"{where}[{index}]")


def decode(raw: bytes | str, max_bytes: int = MAX_PAYLOAD_BYTES) -> Any:
    """Parse a payload; raises ValueError for oversized, non-UTF-8, non-JSON or out-of-bounds input."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > max_bytes:
        raise ValueError(f"payload of {len(raw)} bytes exceeds {max_bytes}")
    try:
        return parse_json(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"payload is not UTF-8 JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"payload is not UTF-8 JSON: {exc}") from None


def ticket_number(prefix: str, sequence: int) -> str:
    """Display number: the service prefix and a daily sequence of at least three digits (A023)."""
    return f"{prefix}{sequence:03d}"
