"""The OpenAPI document is a valid OpenAPI 3.1 document: no dangling refs, security declared for every
operation the access table guards (the /reports* ones too), query parameters declared."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate

from hub.api.access import ANYONE, OPERATIONS
from tests.hub_server import HubProcess, start_hub


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    process: HubProcess = start_hub(tmp_path_factory.mktemp("hub-openapi"))
    try:
        yield requests.get(process.api + "/openapi.json", timeout=10).json()
    finally:
        process.stop()


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_document_validates(document: dict[str, Any]) -> None:
    validate(document)


def test_no_dangling_refs(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    missing = {ref for ref in refs(document) if ref.removeprefix("#/components/schemas/") not in schemas}
    assert missing == set(), missing
    assert "OfflineIssue" in schemas  # the one the issue found dangling


def test_security_follows_the_access_table(document: dict[str, Any]) -> None:
    operations = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    for endpoint, roles in OPERATIONS.items():
        operation = operations.get(endpoint.replace(".", "_"))
        if operation is None:
            continue
        assert ("security" in operation) == (ANYONE not in roles), endpoint
    for path, item in document["paths"].items():
        if path.startswith("/reports"):
            assert all("security" in op for op in item.values()), path


def test_q_parameters_are_declared(document: dict[str, Any]) -> None:
    for path in ("/patients", "/bills", "/icd10"):
        names = [p["name"] for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"]
        assert "q" in names, path
    json.dumps(document)  # plain JSON all the way
