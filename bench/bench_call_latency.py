"""Call-next to board: latency from a nurse's "next" to the `call` event on N connected boards.

Target (DESIGN.md): p99 under 50 ms with 300 boards connected. The boards are Socket.IO clients in
one asyncio process on the same machine as the hub, so their own work is included in the figure.
Prints a table and a JSON line; never fails on time.

    .venv/bin/python -m bench.bench_call_latency [--boards 300] [--calls 40]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import requests
import socketio

from bench.common import bench_hub, latency_summary, report

COUNTERS = ("p101", "p102", "p103", "p104", "p105", "p106")
SERVICE_OF = {"p101": "kham-noi", "p102": "kham-noi", "p103": "kham-ngoai", "p104": "kham-nhi",
              "p105": "kham-san", "p106": "kham-tmh"}


async def connect_boards(url: str, count: int, received: dict[str, list[float]]) -> list[socketio.AsyncClient]:
    clients = []

    async def one() -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("call")
        async def _call(message: dict[str, Any]) -> None:
            received.setdefault(message["ticket"]["number"], []).append(time.perf_counter())

        await client.connect(url, transports=["websocket"], wait_timeout=30)
        await client.emit("subscribe", {"board": "tang-1"})
        return client

    for start in range(0, count, 25):  # connect in small waves: 300 handshakes at once overwhelm 2 cores
        clients += await asyncio.gather(*(one() for _ in range(min(25, count - start))))
    return clients


async def measure(boards: int, calls: int) -> dict[str, Any]:
    hub = bench_hub()
    session = requests.Session()
    for index in range(calls):
        session.post(hub.api + "/tickets", json={"service": SERVICE_OF[COUNTERS[index % len(COUNTERS)]]},
                     headers=hub.headers("kiosk"), timeout=10)
    received: dict[str, list[float]] = {}
    clients = await connect_boards(hub.url, boards, received)
    await asyncio.sleep(1.0)
    sent: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    for index in range(calls):
        counter = COUNTERS[index % len(COUNTERS)]
        began = time.perf_counter()
        response = await loop.run_in_executor(None, lambda c=counter: session.post(
            f"{hub.api}/counters/{c}/next", headers=hub.headers("nurse"), timeout=10))
        if response.status_code == 200:
            sent[response.json()["number"]] = began
            # The patient walks in: the counter's next "next" then finishes them and calls a new number.
            await loop.run_in_executor(None, lambda c=counter: session.post(
                f"{hub.api}/counters/{c}/start", headers=hub.headers("nurse"), timeout=10))
        await asyncio.sleep(0.25)  # calls come seconds apart in a clinic; keep them from piling up
    await asyncio.sleep(2.0)
    latencies = [(t - sent[number]) * 1000 for number, times in received.items() if number in sent for t in times]
    missing = len(sent) * boards - len(latencies)
    for client in clients:
        await client.disconnect()
    hub.stop()
    return {"boards": boards, "calls": len(sent), "deliveries": len(latencies), "missing": missing,
            **latency_summary(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=300)
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    report("call-next -> Socket.IO boards", asyncio.run(measure(args.boards, args.calls)), {"p99_ms": "< 50"})


if __name__ == "__main__":
    main()
