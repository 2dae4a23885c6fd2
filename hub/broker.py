"""The embedded MQTT broker: amqtt as a child process, for machines with nothing installed.

Production sites run Mosquitto (with the password and ACL files from `clinicq mqtt-acl`); when the
configured broker does not answer and `embedded_broker` is on, the hub starts amqtt on that address
so `clinicq demo` works out of the box. amqtt speaks MQTT 3.1.1 and allows anonymous clients here:
it is a convenience for one machine, not a security boundary.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

from hub.children import start_child, stop_child

log = logging.getLogger(__name__)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    def __init__(self, host: str, port: int, var_dir: Path) -> None:
        self.host, self.port = host, port
        self.config_path = var_dir / "amqtt.yaml"
        self.log_path = var_dir / "amqtt.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> None:
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
                log.info("embedded MQTT broker (amqtt) listening on %s:%d", self.host, self.port)
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the embedded broker did not start within {timeout}s (see {self.log_path})")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        stop_child(self.process)
        log.info("embedded MQTT broker stopped")


def ensure_broker(host: str, port: int, var_dir: Path, allowed: bool) -> EmbeddedBroker | None:
    """Start amqtt when nothing answers at a local address and config allows it."""
    if port_answers(host, port):
        return None
    if not allowed or host not in LOCAL_HOSTS:
        log.warning("no MQTT broker answers at %s:%d; devices stay offline until one does", host, port)
        return None
    broker = EmbeddedBroker("127.0.0.1" if host in ("localhost", "0.0.0.0") else host, port, var_dir)
    broker.start()
    return broker
