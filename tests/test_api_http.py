"""The REST API through a real hub process over real HTTP: the contract and every class of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.hub_server import HubProcess, start_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-api"))
    yield process
    assert process.stop() == 0, process.log_tail()


def post(hub: HubProcess, path: str, body: object = None, role: str | None = "kiosk",
         **kwargs: object) -> requests.Response:
    headers = {**(hub.headers(role) if role else {}), **kwargs.pop("headers", {})}  # type: ignore[dict-item]
    if body is not None and "data" not in kwargs:
        kwargs["json"] = body
    return requests.post(hub.api + path, headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


def error_of(response: requests.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]


def drain(hub: HubProcess, counter: str) -> None:
    """Call and finish everything waiting at a counter, so tests start from an empty line."""
    while True:
        response = post(hub, f"/counters/{counter}/next", role="nurse")
        if response.status_code == 204:
            return
        assert response.status_code == 200, response.text
        assert post(hub, f"/counters/{counter}/start", role="nurse").status_code == 200


# ------------------------------------------------------------------------------------------ contract
def test_health_reports_database_and_broker(hub: HubProcess) -> None:
    response = requests.get(hub.api + "/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok", "mqtt": "disabled"}


def test_issue_ticket_returns_the_contract_fields(hub: HubProcess) -> None:
    response = post(hub, "/tickets", {"service": "kham-tmh", "priority": "elderly"})
    assert response.status_code == 201, response.text
    ticket = response.json()
    for key in ("id", "number", "service", "priority", "status", "ahead", "estimate", "issued_at", "status_url"):
        assert key in ticket
    assert ticket["number"].startswith("G") and len(ticket["number"]) == 4
    assert ticket["service"] == "kham-tmh" and ticket["priority"] == "elderly" and ticket["status"] == "waiting"
    assert ticket["service_name"] == "Khám Tai Mũi Họng"
    assert set(ticket["estimate"]) == {"p50_minutes", "p90_minutes"}
    assert ticket["estimate"]["p90_minutes"] >= ticket["estimate"]["p50_minutes"]
    assert f"/t/{ticket['id']}?k=" in ticket["status_url"]


def test_numbers_follow_each_other_per_service(hub: HubProcess) -> None:
    first = post(hub, "/tickets", {"service": "nha-thuoc"}).json()
    second = post(hub, "/tickets", {"service": "nha-thuoc"}).json()
    other = post(hub, "/tickets", {"service": "thu-ngan"}).json()
    assert int(second["number"][1:]) == int(first["number"][1:]) + 1
    assert other["number"].startswith("T")
    assert second["ahead"] == first["ahead"] + 1


def test_ticket_status_with_token_or_link(hub: HubProcess) -> None:
    ticket = post(hub, "/tickets", {"service": "kham-ngoai"}).json()
    by_token = requests.get(f"{hub.api}/tickets/{ticket['id']}", headers=hub.headers("nurse"), timeout=5)
    assert by_token.status_code == 200 and by_token.json()["number"] == ticket["number"]
    link_token = ticket["status_url"].split("k=")[1]
    by_link = requests.get(f"{hub.api}/tickets/{ticket['id']}", params={"token": link_token}, timeout=5)
    assert by_link.status_code == 200 and by_link.json()["status"] == "waiting"
    other = post(hub, "/tickets", {"service": "kham-ngoai"}).json()
    wrong = requests.get(f"{hub.api}/tickets/{other['id']}", params={"token": link_token}, timeout=5)
    assert wrong.status_code == 403 and error_of(wrong)["code"] == "forbidden"
    anonymous = requests.get(f"{hub.api}/tickets/{ticket['id']}", timeout=5)
    assert anonymous.status_code == 401
    page = requests.get(ticket["status_url"].replace("http://127.0.0.1:8000", hub.url), timeout=5)
    assert page.status_code == 200 and ticket["number"] in page.text


def test_counter_flow_next_recall_start_finish(hub: HubProcess) -> None:
    drain(hub, "p104")
    issued = [post(hub, "/tickets", {"service": "kham-nhi"}).json() for _ in range(2)]
    called = post(hub, "/counters/p104/next", role="nurse")
    assert called.status_code == 200 and called.json()["id"] == issued[0]["id"]
    assert called.json()["status"] == "called" and called.json()["counter"] == "p104"
    recalled = post(hub, "/counters/p104/recall", role="nurse").json()
    assert recalled["id"] == issued[0]["id"] and recalled["call_count"] == 2
    assert post(hub, "/counters/p104/start", role="nurse").json()["status"] == "serving"
    assert post(hub, "/counters/p104/finish", role="nurse").json()["status"] == "done"
    counter = requests.get(hub.api + "/counters/p104", timeout=5).json()
    assert counter["state"] == "open" and counter["ticket"] is None
    assert post(hub, "/counters/p104/next", role="nurse").json()["id"] == issued[1]["id"]
    post(hub, "/counters/p104/no-show", role="nurse")
    assert post(hub, "/counters/p104/next", role="nurse").status_code == 204


def test_transfer_creates_a_ticket_in_the_other_service(hub: HubProcess) -> None:
    drain(hub, "p103")
    ticket = post(hub, "/tickets", {"service": "kham-ngoai"}).json()
    post(hub, "/counters/p103/next", role="doctor")
    post(hub, "/counters/p103/start", role="doctor")
    moved = post(hub, "/counters/p103/transfer", {"service": "xet-nghiem", "note": "Công thức máu"}, role="doctor")
    assert moved.status_code == 200, moved.text
    new = moved.json()
    assert new["service"] == "xet-nghiem" and new["status"] == "waiting" and new["transferred_from"] == ticket["id"]
    old = requests.get(f"{hub.api}/tickets/{ticket['id']}", headers=hub.headers("nurse"), timeout=5).json()
    assert old["status"] == "transferred"


def test_pause_and_resume(hub: HubProcess) -> None:
    drain(hub, "q5")
    paused = post(hub, "/counters/q5/pause", {"reason": "Nghỉ giải lao"}, role="cashier")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    again = post(hub, "/counters/q5/pause", role="cashier")
    assert again.status_code == 409 and error_of(again)["code"] == "illegal_transition"
    assert post(hub, "/counters/q5/resume", role="cashier").json()["state"] == "open"


def test_services_list_counts_waiting(hub: HubProcess) -> None:
    before = {s["code"]: s for s in requests.get(hub.api + "/services", timeout=5).json()["services"]}
    post(hub, "/tickets", {"service": "cdha"})
    after = {s["code"]: s for s in requests.get(hub.api + "/services", timeout=5).json()["services"]}
    assert after["cdha"]["waiting"] == before["cdha"]["waiting"] + 1
    assert set(after["cdha"]["estimate"]) == {"p50_minutes", "p90_minutes"}
    assert len(after) == 10


def test_idempotency_key_issues_once(hub: HubProcess) -> None:
    body = {"service": "kham-san", "idempotency_key": "kiosk-1:000123"}
    first = post(hub, "/tickets", body).json()
    second = post(hub, "/tickets", body)
    assert second.status_code == 201 and second.json()["id"] == first["id"]
    header = post(hub, "/tickets", {"service": "kham-san"}, headers={"Idempotency-Key": "kiosk-1:000124"}).json()
    again = post(hub, "/tickets", {"service": "kham-san"}, headers={"Idempotency-Key": "kiosk-1:000124"}).json()
    assert header["id"] == again["id"] != first["id"]


def test_openapi_document_describes_the_contract(hub: HubProcess) -> None:
    document = requests.get(hub.api + "/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path, method in (("/health", "get"), ("/services", "get"), ("/tickets", "post"),
                         ("/tickets/{ticket_id}", "get"), ("/counters", "get"), ("/counters/{code}/next", "post"),
                         ("/counters/{code}/recall", "post"), ("/counters/{code}/no-show", "post"),
                         ("/counters/{code}/start", "post"), ("/counters/{code}/finish", "post"),
                         ("/counters/{code}/pause", "post"), ("/counters/{code}/resume", "post"),
                         ("/counters/{code}/transfer", "post")):
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from OpenAPI"
    body = paths["/tickets"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][body.rsplit("/", 1)[1]]
    # `service` may be left out only with an appointment_code (the booking decides the service); the
    # missing-service case below checks that it is required otherwise.
    assert {"service", "appointment_code"} <= set(schema["properties"])


# ------------------------------------------------------------------------------------------ bad input
BAD_TICKETS = [
    pytest.param({"service": 12}, 422, "invalid_request", id="wrong-type-service"),
    pytest.param({"service": "kham-noi", "priority": 3}, 422, "invalid_request", id="wrong-type-priority"),
    pytest.param({"service": "x" * 5000}, 422, "invalid_request", id="oversized-string"),
    pytest.param({"service": "kham-noi", "note": "n" * 201}, 422, "invalid_request", id="oversized-note"),
    pytest.param({"service": "kham-noi", "colour": "red"}, 422, "invalid_request", id="unknown-field"),
    pytest.param({}, 422, "invalid_request", id="missing-service"),
    pytest.param({"service": None}, 422, "invalid_request", id="null-service"),
    pytest.param({"service": "khong-co"}, 404, "unknown_service", id="unknown-service"),
    pytest.param({"service": "kham-noi", "priority": "vip"}, 422, "unknown_priority", id="unknown-priority"),
    pytest.param({"service": "kham-noi", "source": "fax"}, 422, "invalid_request", id="bad-source"),
    pytest.param({"service": "kham-noi", "patient_code": "BN-KHONG-CO"}, 404, "unknown_patient", id="unknown-patient"),
    pytest.param([{"service": "kham-noi"}], 422, "invalid_request", id="array-body"),
    pytest.param("kham-noi", 422, "invalid_request", id="string-body"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_TICKETS)
def test_bad_ticket_requests_get_a_clear_4xx(hub: HubProcess, body: object, status: int, code: str) -> None:
    response = post(hub, "/tickets", body)
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code


@pytest.mark.parametrize("raw", [b"{bad json", b"\xff\xfe\x00", b'{"service": "kham-noi"', b"null}"])
def test_malformed_json_is_400(hub: HubProcess, raw: bytes) -> None:
    response = post(hub, "/tickets", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_huge_body_is_413(hub: HubProcess) -> None:
    response = post(hub, "/tickets", data=json.dumps({"service": "a" * 200_000}),
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_form_body_is_415(hub: HubProcess) -> None:
    response = post(hub, "/tickets", data={"service": "kham-noi"})
    assert response.status_code == 415


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer cq_not-a-real-token"}, 401),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
    ({"Authorization": "Bearer " + "x" * 5000}, 401),
])
def test_missing_or_bad_token_is_401(hub: HubProcess, headers: dict[str, str], status: int) -> None:
    response = requests.post(hub.api + "/tickets", json={"service": "kham-noi"}, headers=headers, timeout=5)
    assert response.status_code == status
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(("role", "path", "status"), [
    ("kiosk", "/counters/p101/next", 403),
    ("lab", "/tickets", 403),
    ("cashier", "/tickets", 403),
    ("admin", "/counters/p106/open", 200),
])
def test_roles_are_enforced(hub: HubProcess, role: str, path: str, status: int) -> None:
    body = {"service": "kham-noi"} if path == "/tickets" else None
    response = post(hub, path, body, role=role)
    assert response.status_code == status, response.text
    if status == 403:
        assert error_of(response)["code"] == "forbidden"


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/counters/p202/start", None, 409, "no_current_ticket"),
    ("/counters/p202/finish", None, 409, "no_current_ticket"),
    ("/counters/p202/recall", None, 409, "no_current_ticket"),
    ("/counters/p202/resume", None, 409, "illegal_transition"),
    ("/counters/khong-co/next", None, 404, "unknown_counter"),
    ("/counters/p202/transfer", {"service": 5}, 422, "invalid_request"),
    ("/counters/p202/transfer", {"service": "khong-co"}, 404, "unknown_service"),
    ("/counters/p202/next", {"unexpected": True}, 422, "invalid_request"),
    ("/counters/p202/call", {"ticket": "Z999"}, 404, "unknown_ticket"),
    ("/counters/p202/call", {"ticket": 1.5}, 422, "invalid_request"),
])
def test_counter_errors(hub: HubProcess, path: str, body: object, status: int, code: str) -> None:
    drain(hub, "p202")
    response = post(hub, path, body, role="lab")
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code


def test_cancel_twice_is_409(hub: HubProcess) -> None:
    ticket = post(hub, "/tickets", {"service": "nha-thuoc"}).json()
    assert post(hub, f"/tickets/{ticket['id']}/cancel", {"reason": "Bệnh nhân về"}).json()["status"] == "cancelled"
    again = post(hub, f"/tickets/{ticket['id']}/cancel")
    assert again.status_code == 409 and error_of(again)["code"] == "illegal_transition"


def test_unknown_route_and_method_are_json(hub: HubProcess) -> None:
    missing = requests.get(hub.api + "/khong-co", timeout=5)
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    wrong_method = requests.delete(hub.api + "/tickets", timeout=5)
    assert wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"
    assert requests.get(hub.api + "/tickets/999999", headers=hub.headers("nurse"), timeout=5).status_code == 404


def test_hub_still_consistent_after_bad_input(hub: HubProcess) -> None:
    """After all the garbage above, numbering still continues without a gap."""
    first = post(hub, "/tickets", {"service": "xet-nghiem"}).json()
    for body in ({"service": 1}, {"service": "x" * 999}, {"service": "xet-nghiem", "priority": "vip"}):
        post(hub, "/tickets", body)
    post(hub, "/tickets", data=b"{", headers={"Content-Type": "application/json"})
    second = post(hub, "/tickets", {"service": "xet-nghiem"}).json()
    assert int(second["number"][1:]) == int(first["number"][1:]) + 1


def test_sigterm_stops_the_hub_cleanly(tmp_path: Path) -> None:
    process = start_hub(tmp_path / "stop")
    assert process.stop() == 0, process.log_tail()
