"""The embedded MQTT broker: amqtt as a child process, for a machine where no broker is configured at all.

It starts only when the config says so (`mqtt_url = "embedded"`), on its own port (1884 unless
`embedded://127.0.0.1:PORT` names another), bound to the loopback address, and never as a fallback
for a configured broker: a hub whose Mosquitto is down keeps retrying it and /health says so, so an
anonymous broker can never take the port Mosquitto should own. amqtt speaks MQTT 3.1.1.

It is never anonymous: every client logs in as on Mosquitto, with the hub's account or a device's id and
secret (the registry's hashes), and reads and writes only the topics `clinicq mqtt-acl` would give it
(hub/mqtt_acl.acl_rules), through the plugins of hub/broker_plugins.py, which also tie each device's
client id to its login as Mosquitto's `use_username_as_clientid` does. Without a configured hub
password the hub makes one for each start.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hub.children import start_child, stop_child
from hub.mqtt_acl import acl_rules
from hub.protocol import Topics

log = logging.getLogger(__name__)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
EMBEDDED = "embedded"
EMBEDDED_PORT = 1884  # not 1883: that port belongs to the site's Mosquitto, running or not
_EMBEDDED_URL = re.compile(r"embedded://(127\.0\.0\.1|localhost):(\d{1,5})/?")


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_embedded(url: str) -> bool:
    """True when the config asks for the embedded broker ("embedded" or embedded://127.0.0.1:PORT)."""
    return url == EMBEDDED or bool(_EMBEDDED_URL.fullmatch(url))


def embedded_port(url: str) -> int:
    match = _EMBEDDED_URL.fullmatch(url)
    return int(match.group(2)) if match else EMBEDDED_PORT


def connect_url(url: str) -> str:
    """The mqtt:// address clients use for a configured mqtt_url (the embedded one is on loopback)."""
    return f"mqtt://127.0.0.1:{embedded_port(url)}" if is_embedded(url) else url


class EmbeddedBroker:
    def __init__(self, port: int, var_dir: Path, *, site: str, hub_user: str, hub_password: str = "") -> None:
        self.host, self.port = "127.0.0.1", port
        self.config_path = var_dir / "amqtt.yaml"
        self.rules_path = var_dir / "amqtt-rules.json"
        self.log_path = var_dir / "amqtt.log"
        self.topics = Topics(site)
        self.hub_user = hub_user
        # The hub's own login; made up for this start when none is configured (only the hub needs it).
        self.hub_password = hub_password or secrets.token_urlsafe(24)
        self.process: subprocess.Popen | None = None

    def write_rules(self, devices: list[dict[str, Any]]) -> None:
        """Logins (Mosquitto hashes) and topic rules for the broker's plugins; they re-read the file when
        it changes, so this can run while the broker does (a device added or retired)."""
        from hub.domain.devices.registry import mosquitto_hash

        known = [d for d in devices if d.get("secret_hash")]
        users = {self.hub_user: mosquitto_hash(self.hub_password), **{d["code"]: d["secret_hash"] for d in known}}
        content = {"users": users, "hub_user": self.hub_user, "rules": acl_rules(self.topics, known, self.hub_user)}
        partial = self.rules_path.with_suffix(".tmp")
        # Created private: it holds password hashes.
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            json.dump(content, out)
        os.replace(partial, self.rules_path)  # the broker never reads a half-written file

    def config(self) -> dict[str, Any]:
        plugin = {"rules_file": str(self.rules_path.resolve())}
        return {"listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                "plugins": {"hub.broker_plugins.CredentialsAuthPlugin": plugin,
                            "hub.broker_plugins.TopicRulesPlugin": plugin}}

    def start(self, devices: list[dict[str, Any]], timeout: float = 15.0) -> None:
        if port_answers(self.host, self.port):
            # Something else owns the port: never share or shadow it.
            raise RuntimeError(f"port {self.port} is already in use: the embedded broker needs its own port")
        self.write_rules(devices)
        self.config_path.write_text(json.dumps(self.config(), indent=2))  # JSON is YAML
        executable = Path(sys.executable).with_name("amqtt")
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "amqtt.scripts.broker_script"]
        self.process = start_child([*command, "-c", str(self.config_path)], self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited (see {self.log_path})")
            if port_answers(self.host, self.port):
                log.warning("embedded MQTT broker (amqtt, logins and topic rules, loopback only) listening on "
                            "%s:%d", self.host, self.port)
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the embedded broker did not start within {timeout}s (see {self.log_path})")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_child(self.process)
        log.info("embedded MQTT broker stopped")


def ensure_broker(url: str, var_dir: Path, *, site: str, hub_user: str, hub_password: str,
                  devices: list[dict[str, Any]]) -> EmbeddedBroker | None:
    """Start amqtt when, and only when, the configured mqtt_url is the embedded broker."""
    if not is_embedded(url):
        return None
    broker = EmbeddedBroker(embedded_port(url), var_dir, site=site, hub_user=hub_user, hub_password=hub_password)
    broker.start(devices)
    return broker
