"""A real Mosquitto for tests: started on a free port, restartable on the same port, stopped afterwards.

Use the fixture factory in a test module:

    from tests.mqtt_broker import mosquitto_fixture
    mosquitto = mosquitto_fixture()          # one broker per test module

    def test_something(mosquitto): client.connect(mosquitto.host, mosquitto.port) ...

or `with running_mosquitto() as broker:` anywhere. `broker.restart()` stops the broker and starts it
again on the same port, for reconnect tests. Without Mosquitto the tests skip (fail in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import free_port, port_open, require_service

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def mosquitto_path() -> str | None:
    """Where the mosquitto program is, if installed."""
    for candidate in MOSQUITTO_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return shutil.which("mosquitto")


class MosquittoBroker:
    """One Mosquitto process listening on 127.0.0.1 with anonymous access."""

    def __init__(self, program: str, port: int | None = None, workdir: Path | None = None,
                 extra_config: str = "") -> None:
        self.program = program
        # Lines appended to mosquitto.conf, e.g. password_file and acl_file for security tests.
        self.extra_config = extra_config
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="clinicq-mosquitto-"))
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """mqtt://HOST:PORT, as clinicq's --mqtt options take it."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until the port accepts connections."""
        # As root Mosquitto would switch to its own user, which cannot read the test's private files.
        run_as = "user root\n" if os.geteuid() == 0 else ""
        self.config_path.write_text(
            # set_tcp_nodelay: as in docs/devices.md; without it every small packet waits on delayed ACKs.
            f"{run_as}listener {self.port} {self.host}\nset_tcp_nodelay true\npersistence false\n"
            f"log_dest file {self.log_path}\nlog_type error\nlog_type warning\nlog_type notice\n"
            + (self.extra_config or "allow_anonymous true\n"),
            encoding="utf-8",
        )
        self._process = subprocess.Popen([self.program, "-c", str(self.config_path)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise RuntimeError(f"mosquitto exited at start: {error.strip() or self.log_text()}")
            if port_open(self.host, self.port, timeout=0.2):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL) and wait for it."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout)
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, optionally stay down a while, and start again on the same port."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()

    def log_text(self) -> str:
        """The broker's log, for assertion messages."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.is_file() else ""


@contextmanager
def running_mosquitto() -> Iterator[MosquittoBroker]:
    """A started broker, stopped and cleaned up on exit; skips (fails in CI) without Mosquitto."""
    program = mosquitto_path()
    require_service("mosquitto", program is not None, "install the Debian package mosquitto")
    assert program is not None
    broker = MosquittoBroker(program)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(broker.workdir, ignore_errors=True)


def mosquitto_fixture(scope: str = "module") -> Callable[..., Iterator[MosquittoBroker]]:
    """A pytest fixture giving a MosquittoBroker; assign it to a name in a test module or conftest."""

    @pytest.fixture(scope=scope)  # type: ignore[arg-type]
    def mosquitto() -> Iterator[MosquittoBroker]:
        with running_mosquitto() as broker:
            yield broker

    return mosquitto
