"""Key press to call: a keypad's "next" over MQTT, to the call on N MQTT devices and N Socket.IO boards.

Target (DESIGN.md): p99 under 50 ms with 300 boards and 300 devices connected, on this 2-core
machine — where the 600 simulated receivers share the cores with the hub and the broker. Times are
taken from the keypad's publish to each receiver's arrival. Prints a table and a JSON line.

    .venv/bin/python -m bench.bench_mqtt_fanout [--devices 300] [--boards 300] [--presses 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import requests
import socketio
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import bench_hub, latency_summary, report
from hub.protocol import Topics, no_delay
from tests.mqtt_broker import MosquittoBroker, mosquitto_path

TOPICS = Topics("bvdk-hoa-binh")


def mqtt_client(port: int, name: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv311)
    client.on_socket_open = no_delay  # as real devices do (hub.protocol.no_delay)
    client.connect("127.0.0.1", port, keepalive=60)
    return client


def run(devices: int, boards: int, presses: int) -> dict[str, Any]:
    program = mosquitto_path()
    if program is None:
        raise SystemExit("this benchmark needs Mosquitto (Debian package mosquitto)")
    broker = MosquittoBroker(program)
    broker.start()
    hub = bench_hub(["--mqtt", broker.url])
    deadline = time.monotonic() + 15
    while requests.get(hub.api + "/health", timeout=2).json()["mqtt"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.1)
    for _ in range(presses):
        requests.post(hub.api + "/tickets", json={"service": "kham-noi"}, headers=hub.headers("kiosk"), timeout=10)

    pressed: dict[str, float] = {}  # ticket number -> press time, filled from the keypad's acks
    press_times: dict[str, float] = {}  # req_id -> press time
    device_arrivals: list[tuple[str, float]] = []
    board_arrivals: list[tuple[str, float]] = []
    lock = threading.Lock()

    receivers = []
    for index in range(devices):
        client = mqtt_client(broker.port, f"bench-led-{index}")

        def on_message(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
            arrived = time.perf_counter()
            with lock:
                device_arrivals.append((json.loads(message.payload)["ticket"], arrived))

        client.on_message = on_message
        client.subscribe(TOPICS.call, qos=1)
        client.loop_start()
        receivers.append(client)

    keypad = mqtt_client(broker.port, "kp-p101")
    acked = threading.Event()

    def on_ack(_c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        ack = json.loads(message.payload)
        if ack.get("ticket") and ack.get("key") == "next":
            pressed.setdefault(ack["ticket"]["number"], press_times[ack["req_id"]])
        acked.set()

    keypad.on_message = on_ack
    keypad.subscribe(TOPICS.device_ack("keypad", "kp-p101", "key"), qos=1)
    keypad.loop_start()

    async def boards_and_presses() -> None:
        clients = []

        async def one() -> socketio.AsyncClient:
            client = socketio.AsyncClient(reconnection=False)

            @client.on("call")
            async def _call(message: dict[str, Any]) -> None:
                board_arrivals.append((message["ticket"]["number"], time.perf_counter()))

            await client.connect(hub.url, transports=["websocket"], wait_timeout=30)
            await client.emit("subscribe", {"board": "tang-1"})
            return client

        for start in range(0, boards, 25):
            clients += await asyncio.gather(*(one() for _ in range(min(25, boards - start))))
        await asyncio.sleep(1.5)
        for key in ["next", "start"] * presses:
            req_id = uuid.uuid4().hex
            acked.clear()
            press_times[req_id] = time.perf_counter()
            keypad.publish(TOPICS.device_event("keypad", "kp-p101", "key"), json.dumps({"key": key, "req_id": req_id}),
                           qos=1)
            await asyncio.get_running_loop().run_in_executor(None, acked.wait, 10)
            await asyncio.sleep(0.2 if key == "start" else 0.05)
        await asyncio.sleep(2.0)
        for client in clients:
            await client.disconnect()

    asyncio.run(boards_and_presses())
    for client in [*receivers, keypad]:
        client.loop_stop()
        client.disconnect()
    hub.stop()
    broker.stop()
    device_ms = [(t - pressed[n]) * 1000 for n, t in device_arrivals if n in pressed]
    board_ms = [(t - pressed[n]) * 1000 for n, t in board_arrivals if n in pressed]
    return {"devices": devices, "boards": boards, "calls": len(pressed),
            "mqtt_devices": latency_summary(device_ms), "socketio_boards": latency_summary(board_ms),
            "all_p99_ms": latency_summary(device_ms + board_ms)["p99_ms"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--boards", type=int, default=300)
    parser.add_argument("--presses", type=int, default=30)
    args = parser.parse_args()
    report("keypad -> MQTT devices + Socket.IO boards", run(args.devices, args.boards, args.presses),
           {"all_p99_ms": "< 50"})


if __name__ == "__main__":
    main()
