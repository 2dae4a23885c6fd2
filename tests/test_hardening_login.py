"""Staff login under attack over real HTTP (a real hub process): per-account and per-address lockout,
and the Secure session-cookie setting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import build_hub
from hub.domain.staff.accounts import MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS
from tests.hub_server import HubProcess, start_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-login"), staff=(
        ("quan.tri", "Trần Văn Quản", "admin", "quan-tri-456"),
        ("lan.nguyen", "Nguyễn Thị Lan", "nurse", "dieu-duong-123")))
    yield process
    assert process.stop() == 0, process.log_tail()


def attempt(hub: HubProcess, username: str, password: str, address: str | None = None) -> int:
    session = requests.Session()
    page = session.get(hub.url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = session.post(hub.url + "/login", data={"username": username, "password": password,
                                                      "csrf_token": token}, allow_redirects=False, timeout=20)
    return response.status_code


def test_brute_force_on_one_account_locks_it(hub: HubProcess) -> None:
    statuses = [attempt(hub, "quan.tri", f"guess-{n}") for n in range(MAX_FAILURES_PER_ACCOUNT)]
    assert statuses == [401] * MAX_FAILURES_PER_ACCOUNT
    assert attempt(hub, "quan.tri", "quan-tri-456") == 429  # the right password, too late
    assert attempt(hub, "QUAN.TRI", "guess-again") == 429


def test_one_address_spraying_many_accounts_is_stopped(hub: HubProcess) -> None:
    # Every request comes from 127.0.0.1: after the account test's failures, spraying reaches the limit.
    statuses = [attempt(hub, f"user-{n}", "Matkhau-2026") for n in range(MAX_FAILURES_PER_ADDRESS)]
    assert 429 in statuses and set(statuses) <= {401, 429}
    assert attempt(hub, "lan.nguyen", "dieu-duong-123") == 429


def test_secure_cookie_setting(tmp_path: Path, clinic: ClinicConfig) -> None:
    settings = clinic.hub.model_copy(update={"session_cookie_secure": True})
    built = build_hub(clinic.model_copy(update={"hub": settings}), var_dir=tmp_path,
                      db_url=f"sqlite:///{tmp_path / 's.db'}")
    try:
        built.staff.add("lan.nguyen", "Nguyễn Thị Lan", "nurse", "dieu-duong-123")
        client = create_app(built, testing=True).test_client()
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        response = client.post("/login", data={"username": "lan.nguyen", "password": "dieu-duong-123",
                                               "csrf_token": token})
        cookies = response.headers.getlist("Set-Cookie")
        assert cookies and all("Secure" in cookie for cookie in cookies), cookies
    finally:
        built.close()
