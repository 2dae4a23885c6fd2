"""Call fan-out measured from outside: 300 Socket.IO boards + 300 MQTT devices spread over processes.

bench_mqtt_fanout keeps all 600 receivers in one Python process, so part of what it measures is that
process taking its turn at the CPU. Here the receivers are spread over --workers processes, and each
takes a call's latency as its arrival time minus the call's own `ts` (the hub's clock when it made the
call, carried in every call message): one clock, the machine's, so no receiver-to-driver hand-off is
counted. What is left is the hub's dispatch, the broker and the receivers' sockets. A nurse presses
"next" over HTTP at --counter every --gap seconds. Everything, including other people's work, shares
the 2 cores: the figures are pessimistic. Prints a table and a JSON line; never fails on time.

    .venv/bin/python -m bench.bench_fanout [--boards 300] [--devices 300] [--workers 4] [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from typing import Any

import requests

from bench.common import bench_hub, latency_summary, report
from tests.mqtt_broker import MosquittoBroker, mosquitto_path

SITE = "bvdk-hoa-binh"


def _worker(url: str, mqtt_port: int, boards: int, devices: int, board_id: str, ready: Any, stop: Any,
            results: Any) -> None:
    import paho.mqtt.client as mqtt
    import socketio
    from paho.mqtt.enums import CallbackAPIVersion

    from hub.protocol import Topics, no_delay

    topics = Topics(SITE)
    board_ms: list[float] = []
    device_ms: list[float] = []
    clients = []
    for index in range(devices):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-fan-{id(clients)}-{index}",
                             protocol=mqtt.MQTTv311)
        client.on_socket_open = no_delay

        def on_message(_c: Any, _u: Any, message: Any) -> None:
            arrived = time.time()
            if message.retain:
                return  # a retained call from before the run: not a fan-out
            device_ms.append((arrived - json.loads(message.payload)["ts"]) * 1000)

        client.on_message = on_message
        client.connect("127.0.0.1", mqtt_port, keepalive=60)
        client.subscribe(topics.call, qos=1)
        client.loop_start()
        clients.append(client)

    async def main() -> None:
        sio_clients = []

        async def one() -> Any:
            client = socketio.AsyncClient(reconnection=False)

            @client.on("call")
            async def _call(message: dict[str, Any]) -> None:
                board_ms.append((time.time() - message["ts"]) * 1000)

            await client.connect(url, transports=["websocket"], wait_timeout=60)
            await client.emit("subscribe", {"board": board_id})
            return client

        for start in range(0, boards, 25):
            sio_clients += await asyncio.gather(*(one() for _ in range(min(25, boards - start))))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        for client in sio_clients:
            await client.disconnect()

    asyncio.run(main())
    for client in clients:
        client.loop_stop()
        client.disconnect()
    results.put({"boards": board_ms, "devices": device_ms})


def run(boards: int, devices: int, workers: int, calls: int, gap: float, counter: str, board_id: str) -> dict:
    program = mosquitto_path()
    if program is None:
        raise SystemExit("this benchmark needs Mosquitto (Debian package mosquitto)")
    broker = MosquittoBroker(program)
    broker.start()
    hub = bench_hub(["--mqtt", broker.url])
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    results = context.Queue()
    processes, readies = [], []
    try:
        deadline = time.monotonic() + 15
        while requests.get(hub.api + "/health", timeout=2).json()["mqtt"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.1)
        for _ in range(calls):
            requests.post(hub.api + "/tickets", json={"service": "kham-noi"}, headers=hub.headers("kiosk"), timeout=10)
        for index in range(workers):
            ready = context.Event()
            share_b = boards // workers + (index < boards % workers)
            share_d = devices // workers + (index < devices % workers)
            process = context.Process(target=_worker, args=(hub.url, broker.port, share_b, share_d, board_id,
                                                            ready, stop, results), daemon=True)
            process.start()
            processes.append(process)
            readies.append(ready)
        for ready in readies:
            ready.wait(120)
        time.sleep(1.5)
        session = requests.Session()
        for _ in range(calls):
            session.post(f"{hub.api}/counters/{counter}/next", headers=hub.headers("nurse"), timeout=10)
            session.post(f"{hub.api}/counters/{counter}/start", headers=hub.headers("nurse"), timeout=10)
            time.sleep(gap)
        time.sleep(2.0)
        stop.set()
        gathered = [results.get(timeout=60) for _ in processes]
    finally:
        stop.set()
        for process in processes:
            process.join(10)
        hub.stop()
        broker.stop()
    board_ms = [v for g in gathered for v in g["boards"]]
    device_ms = [v for g in gathered for v in g["devices"]]
    return {"boards": boards, "devices": devices, "receiver_processes": workers, "calls": calls,
            "socketio_boards": latency_summary(board_ms), "mqtt_devices": latency_summary(device_ms),
            "all_p99_ms": latency_summary(board_ms + device_ms)["p99_ms"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", type=int, default=300)
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between calls")
    parser.add_argument("--counter", default="p101")
    parser.add_argument("--board", default="tang-1")
    args = parser.parse_args()
    figures = run(args.boards, args.devices, args.workers, args.calls, args.gap, args.counter, args.board)
    report("call -> boards + devices, receivers in several processes (hub clock in the message)", figures,
           {"all_p99_ms": "< 50"})


if __name__ == "__main__":
    main()
