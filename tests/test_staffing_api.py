"""GET /api/v1/ops/staffing: roles, the payload, the OpenAPI entry, and the ops page's advice panel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time

import pytest
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import load_config
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from tests.conftest import CONFIG_DIR, SITE_TZ

DAY = datetime(2026, 11, 23).date()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("staffing-api")
    clock = VirtualClock(datetime.combine(DAY, time(8), tzinfo=SITE_TZ))
    hub = build_hub(load_config(CONFIG_DIR, env={}), var_dir=folder, db_url=f"sqlite:///{folder / 'hub.db'}",
                    clock=clock)
    for _ in range(30):  # a morning rush at reception with one counter open
        hub.queue.issue("tiep-don")
        clock.advance(10)
    hub.queue.call_next("q1", actor="test")
    yield hub
    hub.close()


@pytest.fixture(scope="module")
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


def test_roles(client: FlaskClient, hub: Hub) -> None:
    assert client.get("/api/v1/ops/staffing").status_code == 401
    cashier = {"Authorization": f"Bearer {hub.tokens.create('cashier', 'c')}"}
    assert client.get("/api/v1/ops/staffing", headers=cashier).status_code == 403
    for role in ("nurse", "reception", "admin"):
        headers = {"Authorization": f"Bearer {hub.tokens.create(role, role)}"}
        assert client.get("/api/v1/ops/staffing", headers=headers).status_code == 200


def test_the_rush_at_reception_asks_for_another_counter(client: FlaskClient, hub: Hub) -> None:
    headers = {"Authorization": f"Bearer {hub.tokens.create('nurse', 'n')}"}
    body = client.get("/api/v1/ops/staffing", headers=headers).json
    reception = next(s for s in body["services"] if s["service"] == "tiep-don")
    assert reception["waiting"] == 29
    assert [p["in_minutes"] for p in reception["predictions"]] == list(range(0, 121, 15))
    assert reception["predictions"][0]["p90_minutes"] >= reception["predictions"][0]["p50_minutes"] > 0
    opened = [a for a in body["advice"] if a["kind"] == "open_counter" and a["service"] == "tiep-don"]
    assert opened and opened[0]["message"].startswith("Mở thêm một quầy")


def test_the_openapi_document_lists_it(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/ops/staffing"]
    assert "nurse" in paths["/ops/staffing"]["get"]["description"]
