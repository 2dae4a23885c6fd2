"""Socket.IO against a running hub with a real client: snapshot, live events, resync after reconnect."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.hub_server import HubProcess, start_hub
from tests.sio_client import Listener


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(tmp_path_factory.mktemp("hub-sio"))
    yield process
    process.stop()


def api_post(hub: HubProcess, path: str, body: dict | None = None, role: str = "nurse") -> requests.Response:
    return requests.post(hub.api + path, json=body, headers=hub.headers(role), timeout=10)


def test_board_gets_snapshot_then_calls(hub: HubProcess) -> None:
    board = Listener(hub.url, {"board": "tang-1"})
    try:
        snapshot = board.next("snapshot")
        assert snapshot["kind"] == "board" and snapshot["board"]["id"] == "tang-1"
        assert {c["code"] for c in snapshot["counters"]} == {"p101", "p102", "p103", "p104", "p105", "p106"}
        assert "Phòng 101" in {c["name"] for c in snapshot["counters"]}
        ticket = api_post(hub, "/tickets", {"service": "kham-noi"}, role="kiosk").json()
        called = api_post(hub, "/counters/p101/next").json()
        assert called["id"] == ticket["id"]
        call = board.next("call")
        assert call["ticket"]["number"] == ticket["number"] and call["counter"]["code"] == "p101"
        assert call["recall"] is False and call["call_id"]
        api_post(hub, "/counters/p101/recall")
        recall = board.next("call")
        assert recall["recall"] is True and recall["ticket"]["number"] == ticket["number"]
        assert recall["call_id"] != call["call_id"]
        update = board.next("queue", where=lambda m: m["service"]["code"] == "kham-noi")
        assert "waiting" in update["service"] and "next" in update["service"]
    finally:
        board.close()


def test_board_never_carries_patient_data(hub: HubProcess) -> None:
    board = Listener(hub.url, {"board": "sanh-a"})
    try:
        board.next("snapshot")
        api_post(hub, "/tickets", {"service": "tiep-don", "note": "Nguyễn Văn An đau bụng"}, role="reception")
        api_post(hub, "/counters/q1/next")
        call = board.next("call")
        assert "Nguyễn" not in repr(call) and "visit_id" not in call["ticket"]
    finally:
        board.close()


def test_counter_subscription_sees_its_queue(hub: HubProcess) -> None:
    anonymous = Listener(hub.url, {"counter": "p105"})
    try:
        assert anonymous.next("error")["code"] == "forbidden"  # the line has ids and priorities
    finally:
        anonymous.close()
    anonymous = Listener(hub.url, {"service": "kham-san"})
    try:
        assert anonymous.next("error")["code"] == "forbidden"
    finally:
        anonymous.close()
    console = Listener(hub.url, {"counter": "p105", "token": hub.tokens["nurse"]})
    try:
        snapshot = console.next("snapshot")
        assert snapshot["kind"] == "counter" and snapshot["counter"]["code"] == "p105"
        before = len(snapshot["queue"])
        ticket = api_post(hub, "/tickets", {"service": "kham-san", "priority": "pregnant"}, role="kiosk").json()
        update = console.next("queue", where=lambda m: any(t["id"] == ticket["id"] for t in m.get("queue", [])))
        assert len(update["queue"]) == before + 1
        assert update["queue"][0]["priority"] == "pregnant"
    finally:
        console.close()


def test_ticket_subscription_needs_its_token(hub: HubProcess) -> None:
    ticket = api_post(hub, "/tickets", {"service": "kham-tmh"}, role="kiosk").json()
    token = ticket["status_url"].split("k=")[1]
    intruder = Listener(hub.url, {"ticket": ticket["id"], "token": "forged"})
    try:
        assert intruder.next("error")["code"] == "forbidden"
    finally:
        intruder.close()
    follower = Listener(hub.url, {"ticket": ticket["id"], "token": token}, transports=["polling"])
    try:
        assert follower.next("snapshot")["ticket"]["status"] == "waiting"
        api_post(hub, "/counters/p106/next")
        called = follower.next("call")
        assert called["counter"]["name"] == "Phòng 106"
    finally:
        follower.close()


@pytest.mark.parametrize("message", [None, 42, "board", {}, {"board": 7}, {"board": "tang-1", "counter": "p101"},
                                     {"board": "khong-co"}, {"ticket": "1", "token": "x"}, {"service": "x" * 500}])
def test_bad_subscriptions_get_an_error_event(hub: HubProcess, message: Any) -> None:
    client = Listener(hub.url, message)
    try:
        error = client.next("error")
        assert error["code"] in ("bad_subscribe", "unknown_board", "forbidden", "unknown_service")
    finally:
        client.close()


def test_resync_after_reconnect_shows_what_happened_meanwhile(hub: HubProcess) -> None:
    board = Listener(hub.url, {"board": "tang-2"})
    try:
        board.next("snapshot")
        board.client.disconnect()
        ticket = api_post(hub, "/tickets", {"service": "cdha"}, role="kiosk").json()
        api_post(hub, "/counters/p203/next", role="lab")
        board.client.connect(hub.url, transports=["websocket"], wait_timeout=10)
        snapshot = board.next("snapshot")
        p203 = next(c for c in snapshot["counters"] if c["code"] == "p203")
        assert p203["ticket"]["number"] == ticket["number"]
        assert snapshot["last_calls"][0]["ticket"] == ticket["number"]
    finally:
        board.close()


def test_board_resyncs_after_hub_restart(hub: HubProcess) -> None:
    board = Listener(hub.url, {"board": "tong-hop"})
    try:
        board.next("snapshot")
        before = api_post(hub, "/tickets", {"service": "thu-ngan"}, role="kiosk").json()
        api_post(hub, "/counters/q5/next", role="cashier")
        board.next("call", where=lambda m: m["ticket"]["number"] == before["number"])
        connects = board.connects
        hub.stop()
        hub.start()
        # The client reconnects by itself and subscribes again: a fresh snapshot with the state kept
        # across the restart, then live calls again.
        deadline = time.monotonic() + 20
        while board.connects == connects and time.monotonic() < deadline:
            time.sleep(0.1)
        assert board.connects > connects, "client did not reconnect"
        snapshot = board.next("snapshot")
        q5 = next(c for c in snapshot["counters"] if c["code"] == "q5")
        assert q5["ticket"]["number"] == before["number"]
        after = api_post(hub, "/tickets", {"service": "nha-thuoc"}, role="kiosk").json()
        api_post(hub, "/counters/nt1/next", role="cashier")
        call = board.next("call", where=lambda m: m["ticket"]["number"] == after["number"])
        assert call["counter"]["code"] == "nt1"
    finally:
        board.close()
