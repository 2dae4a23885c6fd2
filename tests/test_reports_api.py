"""Report API and pages: roles, JSON, CSV and XLSX read back, the live operations view and its alerts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from hub.app import create_app
from hub.config import ReportSettings, load_config
from hub.core import Hub, build_hub
from hub.domain.common.clock import VirtualClock
from tests.conftest import CONFIG_DIR
from tests.test_reports import reporting_clinic
from tests.test_reports_history import LOCAL, MONDAY, TODAY, write_week

WEEK_ARGS = "period=week&date=2026-11-16"
PASSWORD = "bao-cao-123"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    folder = tmp_path_factory.mktemp("reports-api")
    clock = VirtualClock(datetime.combine(TODAY, time(8), tzinfo=LOCAL))
    hub = build_hub(reporting_clinic(load_config(CONFIG_DIR, env={})), var_dir=folder,
                    db_url=f"sqlite:///{folder / 'reports.db'}", clock=clock)
    write_week(hub)
    hub.staff.add("quan.ly", "Trần Quản Lý", "admin", PASSWORD)
    hub.staff.add("dieu.duong", "Lê Điều Dưỡng", "nurse", PASSWORD, counter="p101")
    yield hub
    hub.close()


@pytest.fixture(scope="module")
def client(hub: Hub) -> FlaskClient:
    return create_app(hub, testing=True).test_client()


@pytest.fixture(scope="module")
def tokens(hub: Hub) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {hub.tokens.create(role, 'test-' + role)}"}
            for role in ("admin", "nurse", "reception", "cashier")}


def log_in(hub: Hub, username: str) -> FlaskClient:
    client = create_app(hub, testing=True).test_client()
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
                       ).status_code == 302
    return client


def test_roles(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> None:
    assert client.get("/api/v1/reports").status_code == 401
    assert client.get("/api/v1/reports", headers=tokens["nurse"]).status_code == 403
    assert client.get("/api/v1/ops", headers=tokens["cashier"]).status_code == 403
    for role in ("nurse", "reception", "admin"):
        assert client.get("/api/v1/ops", headers=tokens[role]).status_code == 200


def test_json_tables(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> None:
    reply = client.get(f"/api/v1/reports?{WEEK_ARGS}&tables=by_service,targets&lang=en", headers=tokens["admin"])
    assert reply.status_code == 200, reply.text
    body = reply.json
    assert body["period"] == {"from": "2026-11-16", "to": "2026-11-22", "kind": "week"}
    assert set(body["tables"]) == {"by_service", "targets"}
    service = body["tables"]["by_service"]
    assert service["title"] == "By service" and service["total"]["issued"] == 13
    assert body["tables"]["targets"]["total"]["met_share"] == 80.0
    one = client.get("/api/v1/reports/estimates?from=2026-11-16&to=2026-11-22", headers=tokens["admin"]).json
    assert one["table"]["total"]["mae"] == 7.0 and one["table"]["title"].startswith("Độ chính xác")


def test_csv_reads_back_in_excel_terms(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> None:
    reply = client.get(f"/api/v1/reports/by_service?{WEEK_ARGS}&format=csv", headers=tokens["admin"])
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    assert 'filename="clinicq-by_service-2026-11-16_2026-11-22.csv"' in reply.headers["Content-Disposition"]
    assert reply.data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8 and shows Vietnamese
    rows = list(csv.reader(io.StringIO(reply.data.decode("utf-8-sig"))))
    table = client.get(f"/api/v1/reports/by_service?{WEEK_ARGS}", headers=tokens["admin"]).json["table"]
    assert rows[0] == [c["title"] for c in table["columns"]] and rows[0][1] == "Dịch vụ"
    expected = [*table["rows"], table["total"]]
    assert len(rows) == 1 + len(expected)
    for line, row in zip(rows[1:], expected, strict=True):
        assert line == ["" if row[c["key"]] is None else str(row[c["key"]]) for c in table["columns"]]
    assert rows[2][:2] == ["kham-noi", "Khám Nội tổng quát"]


def test_xlsx_reads_back(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> None:
    reply = client.get(f"/api/v1/reports/payments?{WEEK_ARGS}&format=xlsx&lang=en", headers=tokens["admin"])
    assert reply.status_code == 200 and reply.data[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(reply.data)).worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    table = client.get(f"/api/v1/reports/payments?{WEEK_ARGS}&lang=en", headers=tokens["admin"]).json["table"]
    assert values[0] == [c["title"] for c in table["columns"]]
    for line, row in zip(values[1:5], [*table["rows"], table["total"]], strict=True):
        assert line == [row[c["key"]] for c in table["columns"]]
    assert isinstance(values[4][-1], int) and values[4][-1] == 660_000  # typed numbers, not text
    assert values[-1][0] == "Payments by day and method · Bệnh viện Đa khoa Hòa Bình · 2026-11-16 – 2026-11-22"


def test_workbook_has_every_table(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> None:
    reply = client.get(f"/api/v1/reports/workbook?{WEEK_ARGS}", headers=tokens["admin"])
    assert reply.status_code == 200
    workbook = load_workbook(io.BytesIO(reply.data))
    assert len(workbook.sheetnames) == 12 and len(set(workbook.sheetnames)) == 12  # 12th: BHYT (issue 14)
    assert all(len(name) <= 31 for name in workbook.sheetnames)
    assert workbook.sheetnames[0] == "Theo ngày" and "Chuẩn 1313" in workbook.sheetnames
    assert workbook["Chuẩn 1313"].cell(row=1, column=1).value == "Loại lượt khám"


@pytest.mark.parametrize(("query", "status"), [
    ("from=2026-13-01&to=2026-11-20", 422), ("from=2026-11-20&to=2026-11-01", 422),
    ("from=2024-01-01&to=2026-01-01", 422), ("period=year", 422), ("date=yesterday", 422),
])
def test_bad_periods(client: FlaskClient, tokens: dict[str, dict[str, str]], query: str, status: int) -> None:
    reply = client.get(f"/api/v1/reports?{query}", headers=tokens["admin"])
    assert reply.status_code == status and "error" in reply.json


def test_unknown_table_and_format(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> None:
    assert client.get("/api/v1/reports/nothing", headers=tokens["admin"]).status_code == 404
    assert client.get("/api/v1/reports/days?format=pdf", headers=tokens["admin"]).status_code == 422
    assert client.get("/api/v1/reports?tables=days,nothing", headers=tokens["admin"]).status_code == 422


def test_refresh_forgets_and_the_next_read_recomputes(client: FlaskClient, tokens: dict[str, dict[str, str]]) -> None:
    reply = client.post("/api/v1/reports/refresh", json={"from": "2026-11-16", "to": "2026-11-16"},
                        headers=tokens["admin"])
    assert reply.status_code == 200 and reply.json["removed_rows"] > 0
    table = client.get(f"/api/v1/reports/days?{WEEK_ARGS}", headers=tokens["admin"]).json["table"]
    assert table["rows"][0]["issued"] == 11
    assert client.post("/api/v1/reports/refresh", json={"from": "x"}, headers=tokens["admin"]).status_code == 422


def test_openapi_describes_the_endpoints(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/ops", "/reports", "/reports/{name}", "/reports/workbook", "/reports/refresh"} <= set(paths)


def test_pages(hub: Hub) -> None:
    admin = log_in(hub, "quan.ly")
    page = admin.get(f"/reports?{WEEK_ARGS}&by=counter")
    assert page.status_code == 200
    html = page.text
    for marker in ('id="chart-hours"', 'id="chart-days"', 'id="chart-groups"', 'id="table-by_counter"',
                   'id="table-heatmap"', "vendor/chart.min.js", "format=xlsx", "Quyết định 1313"):
        assert marker in html, marker
    assert "cdn" not in html.lower()
    english = admin.get(f"/reports?{WEEK_ARGS}&lang=en").text
    assert "Visit time against Decision 1313" in english and "₫660,000" in english
    daily = admin.get("/reports/daily?date=2026-11-16&lang=vi")  # the English choice above sticks otherwise
    assert daily.status_code == 200 and "16/11/2026" in daily.text and "400.000\u00a0₫" in daily.text
    assert admin.get("/reports?by=nothing").status_code == 400
    assert admin.get("/reports?date=2026-99-01").status_code == 400
    nurse = log_in(hub, "dieu.duong")
    assert nurse.get("/ops").status_code == 200
    assert nurse.get("/reports").status_code == 403
    assert "/ops" in nurse.get("/staff").text and "/reports" not in nurse.get("/staff").text


# ---------------------------------------------------------------------- live operations
@pytest.fixture
def live_hub(tmp_path: Path) -> Iterator[Hub]:
    """A Monday morning in opening hours, an alert threshold of 10 minutes."""
    clinic = load_config(CONFIG_DIR, env={})
    clinic = clinic.model_copy(update={"reports": ReportSettings(estimate_alert_minutes=10)})
    clock = VirtualClock(datetime.combine(MONDAY, time(8), tzinfo=LOCAL))
    hub = build_hub(clinic, var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'live.db'}", clock=clock)
    yield hub
    hub.close()


def ops(hub: Hub) -> dict[str, Any]:
    client = create_app(hub, testing=True).test_client()
    token = hub.tokens.create("nurse", "ops")
    reply = client.get("/api/v1/ops", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    return reply.json


def test_live_lines_counters_and_alerts(live_hub: Hub) -> None:
    queue, clock = live_hub.queue, live_hub.clock
    for _ in range(4):
        queue.issue("kham-tmh", actor="test")
    view = ops(live_hub)
    tmh = {s["code"]: s for s in view["services"]}["kham-tmh"]
    assert (tmh["waiting"], tmh["counters_open"], tmh["counters_closed"]) == (4, 0, 1)
    kinds = {(a["kind"], a["subject"]) for a in view["alerts"]}
    assert ("no_counter_open", "kham-tmh") in kinds
    # Devices never connected are offline: in opening hours that is an alert, one for all of them.
    assert ("device_offline", "*") in kinds and view["devices"]["offline"] == view["devices"]["total"] == 12
    types = {device["id"]: device["type"] for device in live_hub.devices.list()}
    for code in ("kp-p101", "kp-p102", "kp-p103", "kp-q1", "kp-q2", "led-p101", "led-q1", "ds-sanh-a-1",
                 "spk-sanh-a"):
        live_hub.devices.set_status(types[code], code, True)
    offline = {a["subject"] for a in ops(live_hub)["alerts"] if a["kind"] == "device_offline"}
    assert offline == {"kiosk-sanh-a", "spk-tang-1", "spk-tang-2"}

    clock.advance(600)
    queue.call_next("p106", actor="test")  # opens the room
    queue.start("p106", actor="test")
    clock.advance(300)
    queue.finish("p106", actor="test")
    live_hub.devices.set_paper("kiosk", "kiosk-sanh-a", "out")
    view = ops(live_hub)
    tmh = {s["code"]: s for s in view["services"]}["kham-tmh"]
    assert (tmh["waiting"], tmh["served_this_hour"], tmh["counters_open"]) == (3, 1, 1)
    assert tmh["longest_wait_minutes"] == 15.0
    room = {c["code"]: c for c in view["counters"]}["p106"]
    assert (room["state"], room["served_this_hour"]) == ("open", 1)
    kinds = {(a["kind"], a["subject"]) for a in view["alerts"]}
    assert ("no_counter_open", "kham-tmh") not in kinds
    assert ("queue_estimate", "kham-tmh") in kinds  # three ahead at ~6 minutes each passes 10 minutes
    assert ("paper_out", "kiosk-sanh-a") in kinds
    assert view["devices"]["paper"] == [{"id": "kiosk-sanh-a", "type": "kiosk", "name": view["devices"]["paper"][0][
        "name"], "paper": "out"}]


def test_out_of_hours_an_offline_device_is_no_alert(live_hub: Hub) -> None:
    live_hub.clock.set(datetime.combine(MONDAY, time(21), tzinfo=LOCAL))
    view = ops(live_hub)
    assert not [a for a in view["alerts"] if a["kind"] == "device_offline"]
    assert view["devices"]["offline"] > 0


def test_a_custom_range_pages_by_its_own_length(hub: Hub) -> None:
    html = log_in(hub, "quan.ly").get("/reports?from=2026-11-16&to=2026-11-18&lang=vi").text
    assert "?from=2026-11-13&amp;to=2026-11-15&amp;by=service" in html
    assert "?from=2026-11-19&amp;to=2026-11-21&amp;by=service" in html
