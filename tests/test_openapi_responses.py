"""The OpenAPI document describes every operation exactly: a request schema for every body it takes, a
typed schema for every success response, and the real responses of a working day conform to them."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from hub.api.openapi import build_document
from hub.app import create_app
from hub.config import load_config
from hub.core import Hub, build_hub

ROOT = Path(__file__).resolve().parents[1]
TYPED = ("type", "$ref", "oneOf", "anyOf", "allOf", "enum", "const")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    var = tmp_path_factory.mktemp("openapi-responses")
    hub = build_hub(load_config(ROOT / "config", env={}), var_dir=var, db_url=f"sqlite:///{var / 'r.db'}")
    try:
        yield hub
    finally:
        hub.close()


@pytest.fixture(scope="module")
def document(built: Hub) -> dict[str, Any]:
    app = create_app(built, testing=True)
    with app.test_request_context():
        return build_document()


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    return schema


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_validates(document: dict[str, Any]) -> None:
    validate(document)


def test_every_body_and_every_success_has_a_typed_schema(document: dict[str, Any]) -> None:
    checked = 0
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        if method in ("post", "put", "patch"):
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            assert "schema" in body, f"{where}: no request schema"
            assert resolve(document, body["schema"]).get("type") == "object", where
        successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        if not successes:  # a redirect (the offline QR): a 3xx with its Location
            assert any(code.startswith("3") and "Location" in r.get("headers", {})
                       for code, r in operation["responses"].items()), f"{where}: no success response"
            continue
        for code, response in successes.items():
            if code == "204":
                assert "content" not in response, where  # no content, nothing to describe
                continue
            content = response.get("content", {})
            assert content, f"{where} {code}: no schema"
            for media, described in content.items():
                schema = resolve(document, described["schema"])
                if media != "application/json":
                    assert schema.get("type") == "string", f"{where} {code} {media}"
                    continue
                assert schema.get("type") in ("object", "array"), f"{where} {code}: {schema}"
                if schema["type"] == "array":
                    assert any(key in schema.get("items", {}) for key in TYPED), f"{where} {code}: untyped items"
                    continue
                properties = schema.get("properties", {})
                assert properties, f"{where} {code}: a bare object"
                untyped = [name for name, sub in properties.items() if not any(key in sub for key in TYPED)]
                assert untyped == [], f"{where} {code}: untyped {untyped}"
                checked += 1
    assert checked > 100


def conforming_client(built: Hub, document: dict[str, Any], seen: dict[str, int],
                      mismatches: list[str]) -> FlaskClient:
    """A test client whose every JSON success is checked against the document as it is answered."""
    app = create_app(built, testing=True)
    prefix = document["servers"][0]["url"]

    @app.after_request
    def check(response):  # type: ignore[no-untyped-def]
        from flask import request

        rule = request.url_rule
        if rule is None or not rule.rule.startswith(prefix) or not 200 <= response.status_code < 300:
            return response
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(prefix))
        operation = document["paths"][path][request.method.lower()]
        described = operation["responses"].get(str(response.status_code))
        assert described is not None, f"{request.method} {path}: {response.status_code} is not in the document"
        if response.is_json:
            schema = described["content"]["application/json"]["schema"]
            for error in Draft202012Validator({**document, **schema}).iter_errors(response.get_json()):
                mismatches.append(f"{request.method} {path} {response.status_code} {error.json_path}: {error.message}")
        seen[rule.endpoint] = seen.get(rule.endpoint, 0) + 1
        return response

    return app.test_client()


def test_a_working_day_answers_what_the_document_says(built: Hub, document: dict[str, Any]) -> None:
    seen: dict[str, int] = {}
    mismatches: list[str] = []
    client = conforming_client(built, document, seen, mismatches)
    headers = {"Authorization": f"Bearer {built.tokens.create('admin', 'openapi-conformance')}"}

    def call(method: str, path: str, body: dict[str, Any] | None = None, status: int | None = None) -> Any:
        kwargs: dict[str, Any] = {"headers": headers}
        if method != "get":
            kwargs["json"] = body or {}
        response = getattr(client, method)("/api/v1" + path, **kwargs)
        assert response.status_code < 300 if status is None else response.status_code == status, \
            (method, path, response.status_code, response.get_data(as_text=True)[:300])
        return response.get_json(silent=True)

    call("get", "/health")
    call("get", "/openapi.json")
    service = "kham-ngoai"
    counter = next(c["code"] for c in call("get", "/counters")["counters"] if service in c["services"])
    call("post", f"/counters/{counter}/open")
    first, _second, third = (call("post", "/tickets", {"service": service}, status=201) for _ in range(3))
    call("get", "/services")
    call("get", f"/services/{service}/queue")
    call("get", f"/tickets/{first['id']}")
    call("post", f"/counters/{counter}/next")
    call("post", f"/counters/{counter}/recall")
    call("post", f"/counters/{counter}/no-show")
    call("get", f"/counters/{counter}/no-shows")
    call("post", f"/tickets/{first['id']}/return")
    call("post", f"/counters/{counter}/call", {"ticket": third["id"]})
    call("post", f"/counters/{counter}/start")
    call("post", f"/counters/{counter}/pause", {"reason": "nghỉ trưa"})
    call("post", f"/counters/{counter}/resume")
    call("post", f"/counters/{counter}/finish")
    call("post", f"/tickets/{first['id']}/cancel", {"reason": "về trước"})
    call("get", f"/counters/{counter}")
    call("get", f"/counters/{counter}/figures")
    call("get", "/devices")
    call("get", "/devices/kp-p101")
    patient = call("post", "/patients", {"full_name": "Nguyễn Văn Thử", "date_of_birth": "1980-01-02",
                                         "phone": "0912345678", "sex": "Nam"}, status=201)
    call("get", f"/patients/{patient['code']}")
    call("get", "/patients?q=Thử")
    doctors = call("get", "/doctors")["doctors"]
    call("get", f"/doctors/{doctors[0]['code']}/schedule")
    free: list[dict[str, Any]] = []
    for ahead in range(1, 10):
        day = (datetime.date.today() + datetime.timedelta(days=ahead)).isoformat()
        free = [s for s in call("get", f"/slots?service={service}&day={day}")["slots"] if s["free"]]
        if len(free) >= 2:
            break
    booked = call("post", "/appointments", {"patient_code": patient["code"], "slot_start": free[0]["start"],
                                            "doctor": free[0]["doctor"], "status": "pending"}, status=201)
    call("post", f"/appointments/{booked['code']}/confirm")
    call("post", f"/appointments/{booked['code']}/reschedule", {"slot_start": free[1]["start"],
                                                                "doctor": free[1]["doctor"]})
    call("get", f"/appointments/{booked['code']}")
    call("get", f"/patients/{patient['code']}/appointments")
    call("post", f"/appointments/{booked['code']}/cancel", {"reason": "bận"})
    call("post", f"/counters/{counter}/close", status=409 if call("get", f"/counters/{counter}")["ticket"]
         else None)
    assert mismatches == [], "\n".join(mismatches)
    assert len(seen) >= 30, sorted(seen)
