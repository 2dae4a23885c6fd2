"""The embedded MQTT broker: amqtt as a child process, for a machine where no broker is configured at all.

It starts only when the config says so (`mqtt_url = "embedded"`), on its own port (1884 unless
`embedded://127.0.0.1:PORT` names another), bound to the loopback address, and never as a fallback
for a configured broker: a hub whose Mosquitto is down keeps retrying it and /health says so, so an
anonymous broker can never take the port Mosquitto should own. amqtt speaks MQTT 3.1.1 and allows
anonymous clients; bound to 127.0.0.1 only processes on this machine (the demo's agents) reach it.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from hub.children import start_child, stop_child

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
    def __init__(self, port: int, var_dir: Path) -> None:
        self.host, self.port = "127.0.0.1", port
        self.config_path = var_dir / "amqtt.yaml"
        self.log_path = var_dir / "amqtt.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> None:
        if port_answers(self.host, self.port):
            # Something else owns the port: never share or shadow it.
            raise RuntimeError(f"port {self.port} is already in use: the embedded broker needs its own port")
        self.config_path.write_text(
            "listeners:\n"
            "  default:\n"
            "    type: tcp\n"
            f"    bind: {self.host}:{self.port}\n"
            "plugins:\n"
            "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
            "    allow_anonymous: true\n")
        executable = Path(sys.executable).with_name("amqtt")
        command = [str(executable)] if executable.exists() else [sys.executable, "-m", "amqtt.scripts.broker_script"]
        self.process = start_child([*command, "-c", str(self.config_path)], self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the embedded broker exited (see {self.log_path})")
            if port_answers(self.host, self.port):
                log.warning("embedded MQTT broker (amqtt, anonymous, loopback only) listening on %s:%d",
                            self.host, self.port)
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the embedded broker did not start within {timeout}s (see {self.log_path})")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_child(self.process)
        log.info("embedded MQTT broker stopped")


def ensure_broker(url: str, var_dir: Path) -> EmbeddedBroker | None:
    """Start amqtt when, and only when, the configured mqtt_url is the embedded broker."""
    if not is_embedded(url):
        return None
    broker = EmbeddedBroker(embedded_port(url), var_dir)
    broker.start()
    return broker
