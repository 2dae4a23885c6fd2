"""A real hub in a child process (gevent server, real HTTP and Socket.IO) for integration tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from hub.config import load_config
from hub.core import Hub, build_hub
from hub.domain.common.clock import Clock
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]
CLINICQ = Path(sys.executable).with_name("clinicq")
DEVICE_TOKEN_NAME = "kp-p103"  # config/devices.toml: the keypad of counter p103
ROLES = ("kiosk", "nurse", "reception", "doctor", "lab", "cashier", "admin", "device")
# A staff account to seed: (username, full name, role, password) or the same with the counter last.
Account = tuple[str, str, str, str] | tuple[str, str, str, str, str | None]


@dataclass
class HubProcess:
    """A running `clinicq hub`; stop() and start() keep its database and port."""

    var_dir: Path
    db_url: str
    port: int
    config_dir: Path = ROOT / "config"
    extra_args: list[str] = field(default_factory=lambda: ["--mqtt", "off"])
    env: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def create_tokens(self) -> None:
        hub = build_hub(load_config(self.config_dir, env={}), var_dir=self.var_dir, db_url=self.db_url)
        try:
            for role in ROLES:
                # A device token acts only as its device: this one is the keypad of counter p103.
                self.tokens[role] = hub.tokens.create(role, DEVICE_TOKEN_NAME if role == "device" else f"test-{role}")
        finally:
            hub.close()

    @contextmanager
    def offline(self, clock: Clock | None = None) -> Iterator[Hub]:
        """The hub's services on its database while the process is not running: to seed staff, patients, days."""
        hub = build_hub(load_config(self.config_dir, env=self.env), var_dir=self.var_dir, db_url=self.db_url,
                        clock=clock)
        try:
            yield hub
        finally:
            hub.close()

    def add_staff(self, *accounts: Account) -> None:
        with self.offline() as hub:
            for username, full_name, role, password, *counter in accounts:
                hub.staff.add(username, full_name, role, password, counter=counter[0] if counter else None)

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.var_dir / "hub.log", "ab")  # noqa: SIM115 - lives as long as the process
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.process = subprocess.Popen(
            [str(CLINICQ), "hub", "--host", "127.0.0.1", "--port", str(self.port), "--config", str(self.config_dir),
             "--var", str(self.var_dir), "--db", self.db_url, *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.var_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hub exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if requests.get(self.api + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"hub did not answer within {timeout}s: {self.log_tail()}")

    def wait_for_mqtt(self, timeout: float = 15.0) -> str:
        """The hub's MQTT state once it says "ok" (it connects in the background, retrying every second)."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = requests.get(self.api + "/health", timeout=5).json()["mqtt"]
            if state == "ok":
                break
            time.sleep(0.2)
        return state

    def stop(self) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        path = self.var_dir / "hub.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def new_hub(var_dir: Path, **kwargs: object) -> HubProcess:
    """A hub on a new SQLite file in var_dir, its tokens made, not started yet (seed it, then start())."""
    var_dir.mkdir(parents=True, exist_ok=True)
    hub = HubProcess(var_dir=var_dir, db_url=f"sqlite:///{var_dir / 'hub.db'}", port=free_port(), **kwargs)
    hub.create_tokens()
    return hub


def start_hub(var_dir: Path, *, staff: tuple[Account, ...] = (), start_timeout: float = 30.0,
              **kwargs: object) -> HubProcess:
    """A running hub on a new SQLite file, with these staff accounts."""
    hub = new_hub(var_dir, **kwargs)
    if staff:
        hub.add_staff(*staff)
    hub.start(timeout=start_timeout)
    return hub


@contextmanager
def dummy_printer_kiosk(hub: HubProcess, data_dir: Path, until: str = "ready") -> Iterator[str]:
    """`clinicq kiosk` for page tests (its printer a dummy), yielding its URL once its state says `until`."""
    port = free_port()
    log = open(data_dir / "kiosk.log", "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [str(CLINICQ), "kiosk", "--hub", hub.url, "--token", hub.tokens["kiosk"], "--printer", "dummy",
         "--port", str(port), "--data", str(data_dir), "--poll", "0.5"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            assert process.poll() is None, (data_dir / "kiosk.log").read_text()
            try:
                if requests.get(url + "/api/state", timeout=1).json().get(until):
                    break
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
