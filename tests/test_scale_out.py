"""Scaling out: two hub processes on one PostgreSQL database, sharing Socket.IO rooms through Redis."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import requests

from hub.config import load_config
from hub.core import build_hub
from tests.conftest import CONFIG_DIR
from tests.hub_server import ROLES, HubProcess
from tests.sio_client import Listener
from tests.support import free_port, port_open, require_service

REDIS = ("127.0.0.1", 6379)


@pytest.fixture(scope="module")
def hubs(tmp_path_factory: pytest.TempPathFactory, pg_url: str) -> Iterator[tuple[HubProcess, HubProcess]]:
    require_service("redis", port_open(*REDIS), "no Redis on 127.0.0.1:6379")
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    queue = f"redis://{REDIS[0]}:{REDIS[1]}/0"
    channel = f"clinicq-test-{uuid.uuid4().hex[:8]}"  # apart from any other run on this Redis
    folder = tmp_path_factory.mktemp("scale-out")
    tokens: dict[str, str] = {}
    hub = build_hub(load_config(CONFIG_DIR, env={}), var_dir=folder / "a", db_url=pg_url)
    try:
        for role in ROLES:
            tokens[role] = hub.tokens.create(role, f"scale-{role}")
    finally:
        hub.close()
    (folder / "b").mkdir()
    (folder / "b" / "secret_key").write_text((folder / "a" / "secret_key").read_text())  # one secret for both
    processes = []
    for name in ("a", "b"):
        process = HubProcess(var_dir=folder / name, db_url=pg_url, port=free_port(), tokens=tokens,
                             env={"CLINICQ_SOCKETIO_QUEUE": queue, "CLINICQ_SOCKETIO_CHANNEL": channel})
        process.start()
        processes.append(process)
    yield processes[0], processes[1]
    for process in processes:
        process.stop()


def test_a_board_on_one_hub_sees_a_call_made_on_the_other(hubs: tuple[HubProcess, HubProcess]) -> None:
    first, second = hubs
    board = Listener(first.url, {"board": "tang-1"})
    try:
        board.next("snapshot")
        ticket = requests.post(second.api + "/tickets", json={"service": "kham-noi"},
                               headers=second.headers("kiosk"), timeout=10).json()
        called = requests.post(second.api + "/counters/p101/next", headers=second.headers("nurse"), timeout=10)
        assert called.status_code == 200 and called.json()["number"] == ticket["number"]
        call = board.next("call", where=lambda m: m["ticket"]["number"] == ticket["number"])
        assert call["counter"]["code"] == "p101"
        # A ticket's status link signed by one hub opens on the other (they share the secret key).
        status = requests.get(ticket["status_url"].replace("http://127.0.0.1:8000", first.url), timeout=10)
        assert status.status_code == 200 and ticket["number"] in status.text
    finally:
        board.close()


def test_counters_on_both_hubs_never_call_the_same_ticket(hubs: tuple[HubProcess, HubProcess]) -> None:
    first, second = hubs
    for _ in range(24):
        requests.post(first.api + "/tickets", json={"service": "xet-nghiem"}, headers=first.headers("kiosk"),
                      timeout=10)
    called: list[str] = []
    lock = threading.Lock()

    def counter(hub: HubProcess, code: str) -> None:
        for _ in range(12):
            response = requests.post(f"{hub.api}/counters/{code}/next", headers=hub.headers("lab"), timeout=10)
            if response.status_code == 200:
                requests.post(f"{hub.api}/counters/{code}/start", headers=hub.headers("lab"), timeout=10)
                with lock:
                    called.append(response.json()["number"])

    threads = [threading.Thread(target=counter, args=(first, "p201")),
               threading.Thread(target=counter, args=(second, "p202"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(called) == len(set(called)) == 24
