"""Attacks with bad input over real HTTP (a real hub process): every class gets a clear 4xx, one log
line, never a 500 or a traceback."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from hub.app import create_app
from hub.config import load_config
from hub.core import build_hub
from hub.protocol import API_PREFIX
from tests.hub_server import ROOT, HubProcess, start_hub

TOO_BIG = "9223372036854775808"  # 2**63


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-input"))
    yield process
    assert process.stop() == 0, process.log_tail()
    assert "Traceback" not in process.log_tail(5000), process.log_tail(200)


def api_rules(tmp_path: Path) -> list[tuple[str, str]]:
    """(method, rule) of every REST operation with an integer in its path, from the real app."""
    var = tmp_path / "rules"
    var.mkdir()
    built = build_hub(load_config(ROOT / "config", env={}), var_dir=var, db_url=f"sqlite:///{var / 'r.db'}")
    try:
        app = create_app(built, testing=True)
        return [(method, rule.rule) for rule in app.url_map.iter_rules()
                if rule.rule.startswith(API_PREFIX) and "<int:" in rule.rule
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    finally:
        built.close()


def send(hub: HubProcess, method: str, path: str, **kwargs: object) -> requests.Response:
    headers = {**hub.headers("admin"), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    return requests.request(method, hub.api + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_integers_past_64_bits_in_every_path_are_refused(hub: HubProcess, tmp_path: Path) -> None:
    rules = api_rules(tmp_path)
    assert len(rules) >= 25
    for method, rule in rules:
        path = re.sub(r"<int:\w+>", TOO_BIG, re.sub(r"<(?:string:)?\w+>", "x", rule)).removeprefix(API_PREFIX)
        response = send(hub, method, path, json={} if method != "GET" else None)
        # 405 where another method's rule has the same shape (werkzeug checks methods before converters)
        assert response.status_code in (404, 405), (method, path, response.status_code, response.text[:200])
        assert response.json()["error"]["code"] in ("not_found", "method_not_allowed")


@pytest.mark.parametrize(("path", "body"), [
    ("/counters/p101/call", {"ticket": int(TOO_BIG)}),
    ("/counters/p101/call", {"ticket": -(2**70)}),
    ("/tickets", {"service": "kham-ngoai", "note": "a\u0000b"}),
    ("/tickets", {"service": "kham-ngoai\u0000"}),
    ("/tickets", {"service": "kham-ngoai", "note": "bell\u0007"}),
    ("/tickets", {"service": "kham-ngoai", "x": nested(40)}),
])
def test_bad_values_in_bodies_are_refused(hub: HubProcess, path: str, body: object) -> None:
    response = send(hub, "POST", path, json=body)
    assert response.status_code == 422, response.text[:300]


def test_nesting_1000_deep_is_refused(hub: HubProcess) -> None:
    deep = '{"service": "kham-ngoai", "note": ' + "[" * 1000 + "]" * 1000 + "}"
    response = send(hub, "POST", "/tickets", data=deep, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422) and "nested" in response.json()["error"]["message"]
    response = send(hub, "POST", "/tickets", data="1" * 5000, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)


def test_control_characters_and_big_integers_in_queries(hub: HubProcess) -> None:
    assert send(hub, "GET", "/patients", params={"q": "Nguy\u0000n"}).status_code == 422
    assert send(hub, "GET", "/bills", params={"q": "\u001b[31m"}).status_code == 422
    assert send(hub, "GET", "/patients", params={"q": TOO_BIG + "0"}).status_code == 422
    assert send(hub, "GET", "/services/kham%00ngoai/queue").status_code == 422
    assert send(hub, "GET", "/patients", params={"q": "Nguyễn\tVăn"}).status_code == 200  # tab is text


def test_nul_text_is_never_stored(hub: HubProcess) -> None:
    response = send(hub, "POST", "/patients", json={"full_name": "Trần\u0000Thị", "phone": "0901234567"})
    assert response.status_code == 422
    listed = send(hub, "GET", "/patients", params={"q": "Trần"}).json()
    assert all("\u0000" not in str(patient) for patient in listed.get("patients", listed))


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "text/plain"},
                                     {"Content-Type": "application/x-www-form-urlencoded"}])
def test_a_json_body_needs_its_content_type(hub: HubProcess, headers: dict[str, str]) -> None:
    response = requests.post(hub.api + "/tickets", data=b'{"service": "kham-ngoai"}',
                             headers={**hub.headers("kiosk"), **headers}, timeout=10)
    assert response.status_code == 415, response.text[:200]
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("key", ["short", "has space in it", "x" * 65, "ngoại-trú-01", "nul\u0001key-123"])
def test_idempotency_key_header_follows_the_body_rule(hub: HubProcess, key: str) -> None:
    # http.client sends any header bytes but CR/LF (requests refuses control characters before sending).
    connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)
    try:
        connection.putrequest("POST", API_PREFIX + "/tickets")
        for name, value in {**hub.headers("admin"), "Content-Type": "application/json"}.items():
            connection.putheader(name, value)
        body = json.dumps({"service": "kham-ngoai"}).encode()
        connection.putheader("Idempotency-Key", key.encode("utf-8"))
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    assert response.status == 422, text[:200]
    good = send(hub, "POST", "/tickets", json={"service": "kham-ngoai"}, headers={"Idempotency-Key": "kiosk-1:0001"})
    assert good.status_code in (200, 201)


def test_method_not_allowed_names_the_allowed_ones(hub: HubProcess) -> None:
    response = send(hub, "DELETE", "/tickets/1")
    assert response.status_code == 405
    assert "GET" in {method.strip() for method in response.headers["Allow"].split(",")}
    assert response.json()["error"]["code"] == "method_not_allowed"
