"""Least privilege over real HTTP: the access table decides every REST operation for every role; kiosks
see and cancel only their own tickets; a device token acts only at its own counter; the docs' table is
generated from the code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.api.access import OPERATIONS, allowed, role_table_markdown
from hub.app import create_app
from hub.config import load_config
from hub.core import build_hub
from hub.protocol import API_PREFIX, ROLES
from tests.hub_server import ROOT, HubProcess, start_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-access"))
    built = build_hub(load_config(ROOT / "config", env={}), var_dir=process.var_dir, db_url=process.db_url)
    try:
        process.tokens["other-kiosk"] = built.tokens.create("kiosk", "kiosk-khac")
    finally:
        built.close()
    yield process
    assert process.stop() == 0, process.log_tail()


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every REST operation of the real app."""
    var = tmp_path_factory.mktemp("rules")
    built = build_hub(load_config(ROOT / "config", env={}), var_dir=var, db_url=f"sqlite:///{var / 'r.db'}")
    try:
        app = create_app(built, testing=True)
        return [(rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                if rule.rule.startswith(API_PREFIX + "/")
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    finally:
        built.close()


def test_every_operation_is_in_the_table(rules: list[tuple[str, str, str]]) -> None:
    endpoints = {endpoint for endpoint, _, _ in rules}
    assert endpoints - set(OPERATIONS) == set(), "operations missing from hub/api/access.py (denied to all)"
    assert set(OPERATIONS) - endpoints == set(), "the access table names operations that do not exist"
    known = {*ROLES, "anyone", "ticket-link"}
    assert all(set(roles) <= known for roles in OPERATIONS.values())


def test_the_table_decides_every_operation_for_every_role(hub: HubProcess,
                                                          rules: list[tuple[str, str, str]]) -> None:
    checked = 0
    for endpoint, method, rule in rules:
        path = re.sub(r"<int:\w+>", "999999", re.sub(r"<(?:string:)?\w+>", "zz-none", rule))
        for role in (None, *ROLES):
            headers = hub.headers(role) if role else {}
            response = requests.request(method, hub.url + path, headers=headers, timeout=20,
                                        json={} if method != "GET" else None, allow_redirects=False)
            assert response.status_code != 500, (endpoint, role, response.status_code, response.text[:200])
            code = response.json()["error"]["code"] if response.status_code in (401, 403) else None
            refused_by_table = response.status_code == 401 or code == "forbidden"
            assert refused_by_table == (not allowed(endpoint, role)), (endpoint, method, role, response.text[:200])
            checked += 1
    assert checked >= 9 * 85


def issue(hub: HubProcess, role: str = "kiosk", service: str = "kham-ngoai") -> dict:
    response = requests.post(hub.api + "/tickets", json={"service": service}, headers=hub.headers(role), timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_kiosk_reads_and_cancels_only_its_own_tickets(hub: HubProcess) -> None:
    mine = issue(hub)
    at_reception = issue(hub, role="reception")
    other = {"Authorization": f"Bearer {hub.tokens['other-kiosk']}"}
    for ticket in (mine, at_reception):
        cancel = requests.post(hub.api + f"/tickets/{ticket['id']}/cancel", json={}, headers=other, timeout=10)
        assert cancel.status_code == 403 and cancel.json()["error"]["code"] == "not_yours"
        read = requests.get(hub.api + f"/tickets/{ticket['id']}", headers=other, timeout=10)
        assert read.status_code == 403
    assert requests.get(hub.api + f"/tickets/{mine['id']}", headers=hub.headers("kiosk"), timeout=10).ok
    cancel = requests.post(hub.api + f"/tickets/{mine['id']}/cancel", json={"reason": "máy in hết giấy"},
                           headers=hub.headers("kiosk"), timeout=10)
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    # The patient's own link still works without any token.
    link = requests.get(hub.api + f"/tickets/{at_reception['id']}",
                        params={"k": at_reception["status_url"].split("k=")[1]}, timeout=10)
    assert link.status_code == 200
    assert requests.get(hub.api + "/services/kham-ngoai/queue", headers=hub.headers("kiosk"),
                        timeout=10).status_code == 403  # the full line is not a kiosk's business


def test_a_device_token_acts_only_at_its_own_counter(hub: HubProcess) -> None:
    # The test device token is named kp-p103: the keypad of counter p103 (config/devices.toml).
    device = hub.headers("device")
    for action in ("next", "pause", "finish", "open", "close"):
        response = requests.post(hub.api + f"/counters/p101/{action}", json={}, headers=device, timeout=10)
        assert response.status_code == 403 and response.json()["error"]["code"] == "not_yours", action
    transfer = requests.post(hub.api + "/counters/p102/transfer", json={"service": "kham-noi"}, headers=device,
                             timeout=10)
    assert transfer.status_code == 403
    opened = requests.post(hub.api + "/counters/p103/open", json={}, headers=device, timeout=10)
    assert opened.status_code == 200, opened.text


def test_docs_role_table_is_generated_from_the_code() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- role-table:start -->\n(.*?)\n<!-- role-table:end -->", doc, re.DOTALL)
    assert block is not None
    assert block.group(1) == role_table_markdown(), "run: python -m hub.api.access"


def test_unlisted_operation_is_denied(tmp_path: Path) -> None:
    from flask import Blueprint

    var = tmp_path / "v"
    var.mkdir()
    built = build_hub(load_config(ROOT / "config", env={}), var_dir=var, db_url=f"sqlite:///{var / 'r.db'}")
    try:
        app = create_app(built, testing=True)
        extra = Blueprint("extra", __name__)
        extra.add_url_rule("/forgotten", "forgotten", lambda: "secret")
        app.register_blueprint(extra, url_prefix=API_PREFIX)
        client = app.test_client()
        response = client.get(API_PREFIX + "/forgotten", headers={"Authorization": "Bearer x"})
        assert response.status_code == 403 and b"secret" not in response.data
    finally:
        built.close()
