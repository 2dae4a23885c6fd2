"""Helpers for tests that need an outside service (PostgreSQL, Mosquitto, Chromium, espeak-ng...).

On a developer's machine a missing service skips its tests with a message. In CI
(CLINICQ_REQUIRE_SERVICES=1, set by .ci/run) a missing service fails the run instead: a skipped test
proves nothing.
"""

from __future__ import annotations

import os
import socket
from contextlib import closing

import pytest


def strict() -> bool:
    return os.environ.get("CLINICQ_REQUIRE_SERVICES") == "1"


def require_service(name: str, available: bool, why: str = "") -> None:
    if available:
        return
    message = f"{name} is not available: {why}" if why else f"{name} is not available"
    if strict():
        pytest.fail(message + " (CLINICQ_REQUIRE_SERVICES=1: CI must run this test)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
