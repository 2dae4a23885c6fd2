"""`clinicq mqtt-acl`: Mosquitto's password and ACL files, written from the device registry.

Each device logs in with its id and secret and may publish only under its own
`clinicq/v1/<site>/dev/<type>/<id>/`; it reads its own config, commands and acks, the hub's status
and rebirth command, and what its type needs (a keypad its counter's state, a speaker its zone's
announcements...). The hub has its own account with the whole tree.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

from hub.config import ClinicConfig
from hub.domain.common.events import EventBus
from hub.domain.devices.registry import DeviceReconfigured, DeviceRegistry, mosquitto_hash
from hub.protocol import Topics

log = logging.getLogger(__name__)


def device_reads(topics: Topics, device: dict[str, Any]) -> list[str]:
    """Topics a device may read besides its own config/cmd/ack and the hub's status, by its type."""
    device_type, zone, counter = device["type"], device.get("zone"), device.get("counter")
    if device_type in ("keypad", "led"):
        return [topics.counter_state(counter)] if counter else []
    if device_type == "speaker":
        return [topics.announce(zone)] if zone else [topics.announce("+")]
    if device_type == "board":
        return [f"{topics.root}/state/#", topics.call]
    if device_type == "kiosk":
        return [f"{topics.root}/state/service/+"]
    return []


def acl_rules(topics: Topics, devices: list[dict[str, Any]], hub_user: str) -> dict[str, dict[str, list[str]]]:
    """Who may read and write what: login -> {"read": [...], "write": [...]} (MQTT topic filters).

    One rule set for both brokers: Mosquitto's acl file (acl_text) and the embedded amqtt's
    (hub/broker.py)."""
    rules = {hub_user: {"read": [f"{topics.root}/#"], "write": [f"{topics.root}/#"]}}
    for device in devices:
        own = topics.device(device["type"], device["code"])
        rules[device["code"]] = {
            "write": [f"{own}/status", f"{own}/info", f"{own}/tele", f"{own}/evt/#"],
            "read": [f"{own}/config", f"{own}/cmd/#", f"{own}/ack/#", topics.hub_status, topics.hub_rebirth,
                     *device_reads(topics, device)]}
    return rules


def acl_text(topics: Topics, devices: list[dict[str, Any]], hub_user: str) -> str:
    lines = ["# Written by `clinicq mqtt-acl`; do not edit by hand: run it again after adding devices.", ""]
    for user, rule in acl_rules(topics, devices, hub_user).items():
        lines.append(f"user {user}")
        both = [topic for topic in rule["write"] if topic in rule["read"]]
        lines += [f"topic readwrite {topic}" for topic in both]
        lines += [f"topic write {topic}" for topic in rule["write"] if topic not in both]
        lines += [f"topic read {topic}" for topic in rule["read"] if topic not in both]
        lines.append("")
    return "\n".join(lines)


def write_broker_files(out_dir: Path, config: ClinicConfig, devices: list[dict[str, Any]],
                       hub_password: str) -> tuple[Path, Path]:
    """Write `passwd` and `acl` (mode 600) for Mosquitto's password_file and acl_file."""
    if not hub_password:
        raise ValueError("the hub needs a broker password: set CLINICQ_MQTT_PASSWORD or [hub].mqtt_password")
    topics = Topics(config.site.id)
    hub_user = config.hub.mqtt_username
    out_dir.mkdir(parents=True, exist_ok=True)
    passwd, acl = out_dir / "passwd", out_dir / "acl"
    entries = [f"{hub_user}:{mosquitto_hash(hub_password)}"] + [f"{d['code']}:{d['secret_hash']}" for d in devices]
    passwd.write_text("\n".join(entries) + "\n")
    acl.write_text(acl_text(topics, devices, hub_user))
    for path in (passwd, acl):
        path.chmod(0o600)
    (out_dir / "clinicq.conf").write_text(listener_config(out_dir))
    return passwd, acl


def listener_config(out_dir: Path, port: int = 1883) -> str:
    """Mosquitto settings for the devices' listener, with the files above.

    `use_username_as_clientid` makes the client id the login name: a device logged in with its own
    secret can no longer take another device's client id and knock it off the broker."""
    folder = out_dir.resolve()
    return ("# Written by `clinicq mqtt-acl`: include it from mosquitto.conf (or copy these lines).\n"
            f"listener {port}\n"
            "set_tcp_nodelay true\n"
            "allow_anonymous false\n"
            "use_username_as_clientid true\n"
            f"password_file {folder / 'passwd'}\n"
            f"acl_file {folder / 'acl'}\n")


class BrokerFiles:
    """Keeps the broker's password and ACL files in step with the registry, and has the broker reload them.

    Mosquitto re-reads both files on SIGHUP: a retired device's next login is refused and its
    publishes are refused at once; a moved keypad reads its new counter's state.
    """

    def __init__(self, config: ClinicConfig, registry: DeviceRegistry, var_dir: Path) -> None:
        self.config = config
        self.registry = registry
        directory = Path(config.hub.broker_files_dir)
        self.directory = directory if directory.is_absolute() else var_dir / directory
        self.pid_file = Path(config.hub.broker_pid_file) if config.hub.broker_pid_file else None

    def install(self, bus: EventBus) -> BrokerFiles:
        bus.subscribe(DeviceReconfigured, lambda _event: self.refresh())
        return self

    def refresh(self) -> None:
        write_broker_files(self.directory, self.config, self.registry.credentials(), self.config.hub.mqtt_password)
        self._reload_broker()

    def _reload_broker(self) -> None:
        if self.pid_file is None:
            return
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            log.warning("could not ask the broker (pid file %s) to reload its files: %s", self.pid_file, exc)
