"""Login flood: does password hashing stall ticket issue? POST /tickets latency alone, then while N
clients log in as fast as they can (right passwords: each one costs an argon2 verification; wrong ones
are stopped by the lockout after a few tries). Prints the latency ratio; never fails on time.

    .venv/bin/python -m bench.bench_login_flood [--clients 16] [--seconds 8]
"""

from __future__ import annotations

import argparse
import re
import threading
import time

import requests

from bench.common import bench_hub, latency_summary, report
from hub.config import load_config
from hub.core import build_hub
from tests.hub_server import ROOT

USER, PASSWORD = "bench.nurse", "dieu-duong-bench-1"


def issue_latencies(hub, seconds: float) -> list[float]:  # type: ignore[no-untyped-def]
    headers = {**hub.headers("kiosk"), "Content-Type": "application/json"}
    out: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        requests.post(hub.api + "/tickets", data='{"service": "kham-noi"}', headers=headers, timeout=30)
        out.append((time.perf_counter() - start) * 1000)
        time.sleep(0.05)
    return out


def flood(hub, stop: threading.Event, counts: list[int]) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        session = requests.Session()
        page = session.get(hub.url + "/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        session.post(hub.url + "/login", data={"username": USER, "password": PASSWORD, "csrf_token": token},
                     allow_redirects=False, timeout=30)
        counts.append(1)


def run(clients: int, seconds: float) -> dict[str, object]:
    hub = bench_hub()
    built = build_hub(load_config(ROOT / "config", env={}), var_dir=hub.var_dir, db_url=hub.db_url)
    try:
        built.staff.add(USER, "Bench Nurse", "nurse", PASSWORD)
    finally:
        built.close()
    try:
        quiet = issue_latencies(hub, seconds)
        stop, counts = threading.Event(), []
        threads = [threading.Thread(target=flood, args=(hub, stop, counts), daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        time.sleep(1)
        loaded = issue_latencies(hub, seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        hub.stop()
    before, during = latency_summary(quiet), latency_summary(loaded)
    return {"login_clients": clients, "logins": len(counts), "issue_alone": before, "issue_during_flood": during,
            "p50_ratio": round(during["p50_ms"] / before["p50_ms"], 2),
            "p99_ratio": round(during["p99_ms"] / before["p99_ms"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    report("login flood vs ticket issue", run(args.clients, args.seconds),
           {"p50_ratio": "close to 1 (argon2 off the event loop)"})


if __name__ == "__main__":
    main()
