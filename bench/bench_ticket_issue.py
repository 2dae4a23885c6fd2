"""Ticket issue throughput and latency: concurrent kiosks posting to a real hub over HTTP.

Target (DESIGN.md): 500 tickets/s sustained on SQLite, p99 under 50 ms, with 50 concurrent kiosks.
The clients run on the same machine as the hub, so on a 2-core box they take CPU from it: the figure
is a floor for what the hub does on its own hardware. Prints a table and a JSON line; never fails.

    .venv/bin/python bench/bench_ticket_issue.py [--clients 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import threading
import time

import requests

from bench.common import bench_hub, latency_summary, report

SERVICES = ("tiep-don", "kham-noi", "kham-ngoai", "kham-nhi", "xet-nghiem", "thu-ngan")


def run(clients: int, seconds: float) -> dict[str, object]:
    hub = bench_hub()
    headers = {**hub.headers("kiosk"), "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    deadline = 0.0

    def kiosk(index: int) -> None:
        nonlocal errors
        session = requests.Session()
        mine: list[float] = []
        failed = 0
        body = f'{{"service": "{SERVICES[index % len(SERVICES)]}"}}'
        start_gate.wait()
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                response = session.post(hub.api + "/tickets", data=body, headers=headers, timeout=10)
                ok = response.status_code == 201
            except requests.RequestException:
                ok = False
            if ok:
                mine.append((time.perf_counter() - began) * 1000)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=kiosk, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline = time.perf_counter() + seconds
    start_gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    numbers = requests.get(hub.api + "/services", timeout=10).json()["services"]
    hub.stop()
    issued = sum(int(s["last_issued"][1:]) for s in numbers if s["last_issued"])
    return {"clients": clients, "seconds": round(elapsed, 2), "tickets": len(latencies), "errors": errors,
            "tickets_per_s": round(len(latencies) / elapsed, 1), "numbers_issued": issued,
            **latency_summary(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    report("ticket issue (HTTP, SQLite)", run(args.clients, args.seconds),
           {"tickets_per_s": ">= 500", "p99_ms": "< 50"})


if __name__ == "__main__":
    main()
