"""The device registry: what is on the bus, whether it is online, and what it last said.

Devices are declared in config/devices.toml (demo fleets) or added with `clinicq device add`, which
generates a secret shown once. Secrets are kept only as Mosquitto's own PBKDF2-SHA512 hash, so the
broker's password file can be written from the database without any secret in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import DeviceCommand, Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.devices.models import Device, DeviceRequest
from hub.protocol import DEVICE_TYPES, valid_id

D = Device.__table__
R = DeviceRequest.__table__
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes; device secrets are long random strings
SEEN_WRITE_SECONDS = 60.0  # last_seen is written at most this often per device
PENDING_TAKEOVER_SECONDS = 30.0
REQUEST_KEEP_DAYS = 2
PAPER_STATES = ("ok", "low", "out")
INFO_FIELDS = {"model": 64, "firmware": 64, "ip": 64}


@dataclass(frozen=True)
class DeviceChanged(Event):
    device: dict[str, Any]


@dataclass(frozen=True)
class DeviceReconfigured(Event):
    """A device was added, moved or retired: its retained config and the broker's files follow."""

    device: dict[str, Any]
    retired: bool = False


# What "send a test" does for each type, over the device's own command topic.
TEST_COMMANDS = {"keypad": ("identify", {}), "led": ("identify", {}), "board": ("identify", {}),
                 "speaker": ("say", {"text": "Đây là câu thử loa của hệ thống gọi số.", "lang": "vi"}),
                 "kiosk": ("test_print", {}), "printer": ("test_print", {})}
TEST_TTL_S = 30


@dataclass(frozen=True)
class DeviceAlert(Event):
    """Something staff should act on: a printer low on or out of paper, a device gone offline."""

    device: dict[str, Any]
    kind: str  # paper_low, paper_out, offline
    message: str


def mosquitto_hash(secret: str, salt: bytes | None = None) -> str:
    """Hash a secret the way `mosquitto_passwd` does ($7$: PBKDF2-HMAC-SHA512, 101 rounds)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    return f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_mosquitto_hash(secret: str, stored: str) -> bool:
    try:
        _, kind, rounds, salt, digest = stored.split("$")
        if kind != "7":
            return False
        computed = hashlib.pbkdf2_hmac("sha512", secret.encode("utf-8"), base64.b64decode(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(base64.b64encode(computed).decode(), digest)


class DeviceRegistry:
    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.bus = bus
        self.clock = clock
        self._last_seen_write: dict[str, float] = {}

    # ------------------------------------------------------------------ set-up
    def sync_config(self) -> None:
        """Devices of config/devices.toml are registered (and updated) at every start."""
        now = self.clock.now()
        with self.db.write() as connection:
            existing = {row.code: row for row in connection.execute(select(D.c.code, D.c.secret_hash, D.c.retired_at))}
            for cfg in self.clinic.devices:
                if cfg.id in existing and existing[cfg.id].retired_at is not None:
                    continue  # retired on the admin pages: a redeploy must not bring it back
                values: dict[str, Any] = {"type": cfg.type, "name": cfg.name, "zone": cfg.zone,
                                          "counter": cfg.counter, "display": cfg.display, "from_config": True,
                                          "active": True}
                current = existing.get(cfg.id)
                if cfg.secret and not (current and current.secret_hash
                                       and check_mosquitto_hash(cfg.secret, current.secret_hash)):
                    values["secret_hash"] = mosquitto_hash(cfg.secret)
                if current is None:
                    connection.execute(insert(D).values(code=cfg.id, online=False, created_at=now, **values))
                else:
                    connection.execute(update(D).where(D.c.code == cfg.id).values(**values))

    def add(self, device_type: str, code: str, name: str, *, zone: str | None = None,
            counter: str | None = None, display: str | None = None, actor: str = "cli") -> str:
        """Register a device and return its new secret (shown once)."""
        if device_type not in DEVICE_TYPES:
            raise Invalid("unknown_type", f"device type must be one of {list(DEVICE_TYPES)}")
        if not isinstance(code, str) or not valid_id(code):
            raise Invalid("bad_id", "Mã thiết bị: chữ thường a-z, số và '-', tối đa 64 ký tự / a device id is "
                                    "lowercase a-z, 0-9 and '-', up to 64 characters")
        name = (name or "").strip()
        if not name or len(name) > 120 or "\x00" in name:
            raise Invalid("bad_name", "Cần tên thiết bị 1-120 ký tự / a name of 1 to 120 characters is needed")
        zone, counter = self._check_place(device_type, zone, counter)
        secret = secrets.token_urlsafe(24)
        try:
            with self.db.write() as connection:
                if connection.execute(select(D.c.id).where(D.c.code == code)).first() is not None:
                    raise Conflict("device_exists", f"Đã có thiết bị {code!r} (kể cả đã ngừng dùng) / a device "
                                                    f"{code!r} already exists (retired ones keep their id)")
                connection.execute(insert(D).values(
                    code=code, type=device_type, name=name, zone=zone, counter=counter, display=display,
                    secret_hash=mosquitto_hash(secret), online=False, from_config=False, active=True,
                    created_at=self.clock.now()))
                self._audit(connection, actor, "device.add", code, {
                    "after": {"type": device_type, "name": name, "zone": zone, "counter": counter}})
                view = _view(connection.execute(select(D).where(D.c.code == code)).one())
        except IntegrityError:
            raise Conflict("device_exists", f"a device {code!r} already exists") from None
        self.bus.publish(DeviceReconfigured(view))
        return secret

    def retire(self, code: str, *, actor: str) -> dict[str, Any]:
        """Out of service: its broker login goes from the password file; the row stays for the records."""
        with self.db.write() as connection:
            row = connection.execute(select(D).where(D.c.code == code, D.c.active.is_(True))).first()
            if row is None:
                raise NotFound("unknown_device", f"Không có thiết bị {code!r} / no device {code!r}")
            connection.execute(update(D).where(D.c.id == row.id).values(active=False, online=False,
                                                                        retired_at=self.clock.now()))
            self._audit(connection, actor, "device.retire", code, {"before": {"active": True},
                                                                   "after": {"active": False}})
            view = _view(connection.execute(select(D).where(D.c.id == row.id)).one())
        self.bus.publish(DeviceReconfigured(view, retired=True))
        return view

    def move(self, code: str, *, zone: str | None, counter: str | None, actor: str) -> dict[str, Any]:
        """To another counter or zone: its retained config (and a keypad's ACL) follow at once."""
        with self.db.write() as connection:
            row = connection.execute(select(D).where(D.c.code == code, D.c.active.is_(True))).first()
            if row is None:
                raise NotFound("unknown_device", f"Không có thiết bị {code!r} / no device {code!r}")
            zone, counter = self._check_place(row.type, zone, counter)
            before = {"zone": row.zone, "counter": row.counter}
            after = {"zone": zone, "counter": counter}
            connection.execute(update(D).where(D.c.id == row.id).values(**after))
            self._audit(connection, actor, "device.move", code, {"before": before, "after": after})
            view = _view(connection.execute(select(D).where(D.c.id == row.id)).one())
        self.bus.publish(DeviceReconfigured(view))
        self.bus.publish(DeviceChanged(view))
        return view

    def send_test(self, code: str, *, actor: str) -> dict[str, Any]:
        """Blink a keypad's LED, have a speaker say a test phrase, have a kiosk print a test slip."""
        device = self.get(code)
        if device is None:
            raise NotFound("unknown_device", f"Không có thiết bị {code!r} / no device {code!r}")
        name, extra = TEST_COMMANDS[device["type"]]
        payload = {"req_id": f"test-{secrets.token_hex(6)}", "ts": time.time(), "ttl_s": TEST_TTL_S, **extra}
        with self.db.write() as connection:
            self._audit(connection, actor, "device.test", code, {"command": name})
        self.bus.publish(DeviceCommand(device["type"], code, name, payload))
        return {"device": code, "command": name, "req_id": payload["req_id"]}

    def _check_place(self, device_type: str, zone: str | None, counter: str | None) -> tuple[str | None, str | None]:
        zone, counter = (zone or None), (counter or None)
        if counter is not None:
            configured = self.clinic.counter(counter)
            if configured is None:
                raise NotFound("unknown_counter", f"Không có quầy/phòng {counter!r} / unknown counter {counter!r}")
            zone = zone or configured.zone
        if zone is not None and not valid_id(zone):
            raise Invalid("bad_zone", "Khu vực: chữ thường a-z, số và '-' / a zone is lowercase a-z, 0-9 and '-'")
        if device_type in ("keypad", "led") and counter is None:
            raise Invalid("counter_required", "Bàn phím và đèn số cần quầy/phòng của nó / a keypad or LED display "
                                              "needs its counter")
        if device_type == "speaker" and zone is None:
            raise Invalid("zone_required", "Loa cần khu vực của nó / a speaker needs its zone")
        return zone, counter

    def _audit(self, connection: Any, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        connection.execute(insert(AuditEntry).values(at=self.clock.now(), actor=actor[:64], action=action,
                                                     subject=subject[:64], detail=detail))

    def retired(self) -> list[dict[str, Any]]:
        with self.db.read() as connection:
            rows = connection.execute(select(D).where(D.c.active.is_(False)).order_by(D.c.retired_at.desc())).all()
        return [_view(row) for row in rows]

    def rotate_secret(self, code: str) -> str:
        secret = secrets.token_urlsafe(24)
        with self.db.write() as connection:
            if not connection.execute(update(D).where(D.c.code == code)
                                      .values(secret_hash=mosquitto_hash(secret))).rowcount:
                raise NotFound("unknown_device", f"no device {code!r}")
        return secret

    # ------------------------------------------------------------------ reading
    def get(self, code: str) -> dict[str, Any] | None:
        with self.db.read() as connection:
            row = connection.execute(select(D).where(D.c.code == code, D.c.active.is_(True))).first()
        return _view(row) if row else None

    def list(self) -> list[dict[str, Any]]:
        with self.db.read() as connection:
            rows = connection.execute(select(D).where(D.c.active.is_(True)).order_by(D.c.type, D.c.code)).all()
        return [_view(row) for row in rows]

    def credentials(self) -> list[dict[str, Any]]:
        """Active devices that have a secret: code, type, zone, counter and secret hash (broker files)."""
        with self.db.read() as connection:
            rows = connection.execute(select(D.c.code, D.c.type, D.c.zone, D.c.counter, D.c.secret_hash).where(
                D.c.active.is_(True), D.c.secret_hash.is_not(None)).order_by(D.c.code)).all()
        return [dict(row._mapping) for row in rows]

    # ------------------------------------------------------------------ what devices report
    def set_status(self, device_type: str, code: str, online: bool) -> None:
        now = self.clock.now()
        with self.db.write() as connection:
            row = self._require(connection, device_type, code)
            if row.online == online:
                connection.execute(update(D).where(D.c.id == row.id).values(last_seen=now))
                return
            connection.execute(update(D).where(D.c.id == row.id).values(online=online, status_since=now,
                                                                        last_seen=now))
            view = _view(connection.execute(select(D).where(D.c.id == row.id)).one())
        self.bus.publish(DeviceChanged(view))
        if not online and self.in_opening_hours(now):
            self.bus.publish(DeviceAlert(view, "offline", f"{view['name']} mất kết nối / went offline"))

    def update_info(self, device_type: str, code: str, info: dict[str, Any]) -> None:
        values: dict[str, Any] = {"info": _bounded(info), "last_seen": self.clock.now()}
        for key, limit in INFO_FIELDS.items():
            value = info.get(key)
            if isinstance(value, str):
                values[key] = value[:limit]
        with self.db.write() as connection:
            row = self._require(connection, device_type, code)
            connection.execute(update(D).where(D.c.id == row.id).values(**values))
            view = _view(connection.execute(select(D).where(D.c.id == row.id)).one())
        self.bus.publish(DeviceChanged(view))

    def seen(self, device_type: str, code: str) -> None:
        """A heartbeat or any message: note it, but write at most once a minute per device."""
        last = self._last_seen_write.get(code, 0.0)
        if time.monotonic() - last < SEEN_WRITE_SECONDS:
            return
        self._last_seen_write[code] = time.monotonic()
        with self.db.write() as connection:
            row = self._require(connection, device_type, code)
            connection.execute(update(D).where(D.c.id == row.id).values(last_seen=self.clock.now()))

    def set_paper(self, device_type: str, code: str, state: str) -> None:
        if state not in PAPER_STATES:
            raise Invalid("bad_paper_state", f"paper state must be one of {list(PAPER_STATES)}")
        with self.db.write() as connection:
            row = self._require(connection, device_type, code)
            previous = row.paper
            connection.execute(update(D).where(D.c.id == row.id).values(paper=state, last_seen=self.clock.now()))
            view = _view(connection.execute(select(D).where(D.c.id == row.id)).one())
        if previous == state:
            return
        self.bus.publish(DeviceChanged(view))
        if state == "low":
            self.bus.publish(DeviceAlert(view, "paper_low", f"{view['name']}: sắp hết giấy / paper low"))
        elif state == "out":
            self.bus.publish(DeviceAlert(view, "paper_out", f"{view['name']}: hết giấy in / out of paper"))

    def _require(self, connection: Any, device_type: str, code: str) -> Any:
        row = connection.execute(select(D.c.id, D.c.type, D.c.online, D.c.paper).where(
            D.c.code == code, D.c.active.is_(True))).first()
        if row is None:
            raise NotFound("unknown_device", f"no device {code!r}")
        if row.type != device_type:
            raise Invalid("wrong_device_type", f"device {code!r} is a {row.type}, not a {device_type}")
        return row

    def in_opening_hours(self, instant: datetime) -> bool:
        local_instant = instant.astimezone(self.clinic.site.tz)
        if self.clinic.closed_on(local_instant.date()) is not None:
            return False
        local = local_instant.time()
        return any(start <= local < end for start, end in self.clinic.site_hours())

    # ------------------------------------------------------------------ idempotent requests
    def claim_request(self, code: str, req_id: str) -> tuple[str, dict[str, Any] | None]:
        """("new", None) to act on a request; ("done", response) if it was answered before;
        ("busy", None) while another hub process is acting on it."""
        now = self.clock.now()
        with self.db.write() as connection:
            device_id = connection.execute(select(D.c.id).where(D.c.code == code)).scalar_one()
            row = connection.execute(select(R.c.id, R.c.claimed_at, R.c.response).where(
                R.c.device_id == device_id, R.c.req_id == req_id)).first()
            if row is None:
                connection.execute(insert(R).values(device_id=device_id, req_id=req_id, claimed_at=now))
                return "new", None
            if row.response is not None:
                return "done", row.response
            if (now - row.claimed_at).total_seconds() > PENDING_TAKEOVER_SECONDS:
                # The process that claimed it died before answering: take it over.
                connection.execute(update(R).where(R.c.id == row.id).values(claimed_at=now))
                return "new", None
            return "busy", None

    def complete_request(self, code: str, req_id: str, response: dict[str, Any]) -> None:
        with self.db.write() as connection:
            device_id = connection.execute(select(D.c.id).where(D.c.code == code)).scalar_one()
            connection.execute(update(R).where(R.c.device_id == device_id, R.c.req_id == req_id)
                               .values(response=response))

    def forget_old_requests(self) -> int:
        cutoff = self.clock.now() - timedelta(days=REQUEST_KEEP_DAYS)
        with self.db.write() as connection:
            return connection.execute(delete(R).where(R.c.claimed_at < cutoff)).rowcount


def _bounded(info: dict[str, Any]) -> dict[str, Any]:
    """Keep a device's info small and flat: it comes from the network."""
    out: dict[str, Any] = {}
    for key, value in list(info.items())[:20]:
        if not isinstance(key, str) or len(key) > 32:
            continue
        if isinstance(value, str):
            out[key] = value[:120]
        elif isinstance(value, bool | int | float) or value is None:
            out[key] = value
        elif isinstance(value, list):
            out[key] = [v[:32] for v in value[:16] if isinstance(v, str)]
    return out


def _view(row: Any) -> dict[str, Any]:
    return {
        "id": row.code, "type": row.type, "name": row.name, "zone": row.zone, "counter": row.counter,
        "display": row.display, "online": bool(row.online),
        "status_since": row.status_since.isoformat() if row.status_since else None,
        "last_seen": row.last_seen.isoformat() if row.last_seen else None,
        "model": row.model, "firmware": row.firmware, "ip": row.ip, "paper": row.paper,
        "info": row.info or {}, "has_secret": row.secret_hash is not None, "active": bool(row.active),
        "retired_at": row.retired_at.isoformat() if getattr(row, "retired_at", None) else None,
    }
