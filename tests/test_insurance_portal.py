"""The national-portal adapter against a tiny local stand-in server (the real portal is never called)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from hub.domain.insurance.gateway import CardQuery, GatewayDown, PortalGateway
from tests.support import free_port


class StandIn(BaseHTTPRequestHandler):
    """Answers like the portal: a token for the right account, then a card lookup result."""

    answers: dict[str, dict[str, Any]] = {}
    seen: list[tuple[str, dict[str, Any], str | None]] = []
    sleep_s = 0.0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StandIn.seen.append((self.path, body, self.headers.get("Authorization")))
        if self.path == "/api/token/take":
            ok = body == {"username": "01001_BV", "password": "s3cret"}
            self._send(200, {"maKetQua": "200", "APIKey": {"access_token": "tok-1"}} if ok else {"maKetQua": "401"})
            return
        if self.headers.get("Authorization") != "Bearer tok-1":
            self._send(401, {})
            return
        if StandIn.sleep_s:
            threading.Event().wait(StandIn.sleep_s)
        self._send(200, StandIn.answers.get(body["maThe"], {"maKetQua": "050"}))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the slow case: the adapter gave up waiting, as it should
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def portal() -> Iterator[str]:
    StandIn.seen, StandIn.sleep_s = [], 0.0
    StandIn.answers = {"DN4010123456789": {
        "maKetQua": "000", "maThe": "DN4010123456789", "hoTen": "Nguyễn Văn An", "ngaySinh": "14/03/1985",
        "gtTheTu": "01/01/2026", "gtTheDen": "31/12/2026", "maDKBD": "01001"},
        "GD4010444555666": {"maKetQua": "060", "maThe": "GD4010444555666"}}
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_logs_in_then_maps_the_answer(portal: str) -> None:
    gateway = PortalGateway(portal, "01001_BV", "s3cret")
    answer = gateway.check(CardQuery("DN4010123456789", full_name="Nguyễn Văn An", date_of_birth=date(1985, 3, 14),
                                     day=date(2026, 11, 23)), timeout_s=2)
    assert (answer.status, answer.holder_name, answer.benefit_level, answer.valid_to, answer.facility_code) == (
        "eligible", "Nguyễn Văn An", 4, date(2026, 12, 31), "01001")
    assert [path for path, _body, _auth in StandIn.seen] == ["/api/token/take", "/api/egw/KQNhanLichSuKCB2018"]
    assert StandIn.seen[1][1] == {"maThe": "DN4010123456789", "hoTen": "Nguyễn Văn An", "ngaySinh": "14/03/1985"}
    assert StandIn.seen[1][2] == "Bearer tok-1"
    # The token is kept: the next check does not log in again.
    gateway.check(CardQuery("DN4010123456789", day=date(2026, 11, 23)), timeout_s=2)
    assert len(StandIn.seen) == 3


def test_refusal_codes_and_expiry_on_the_day(portal: str) -> None:
    gateway = PortalGateway(portal, "01001_BV", "s3cret")
    assert gateway.check(CardQuery("GD4010444555666"), timeout_s=2).reason == "expired"
    assert gateway.check(CardQuery("DN4019999999999"), timeout_s=2).reason == "not_found"
    late = gateway.check(CardQuery("DN4010123456789", day=date(2027, 1, 2)), timeout_s=2)
    assert (late.status, late.reason) == ("refused", "expired")


def test_wrong_password_slow_portal_and_no_portal_are_gateway_down(portal: str) -> None:
    with pytest.raises(GatewayDown):
        PortalGateway(portal, "01001_BV", "wrong").check(CardQuery("DN4010123456789"), timeout_s=2)
    StandIn.sleep_s = 1.0
    with pytest.raises(GatewayDown):
        PortalGateway(portal, "01001_BV", "s3cret").check(CardQuery("DN4010123456789"), timeout_s=0.3)
    with pytest.raises(GatewayDown):
        PortalGateway(f"http://127.0.0.1:{free_port()}", "u", "p").check(CardQuery("DN4010123456789"), timeout_s=1)
    with pytest.raises(ValueError, match="password"):
        PortalGateway(portal, "01001_BV", "")
