"""Ticket issue as the waiting line grows: tickets/s and latency at 0, 1,000, 5,000 and 20,000 waiting.

Target (issue 20): the figures at 20,000 waiting within 20 % of those at 0. Kiosks post to one service
of a real hub over HTTP (SQLite, synchronous=FULL) as fast as they are answered, for a few seconds at
each level; between levels the line is filled to the next level straight through the engine in this
process (on the hub's own database file, so the hub sees it arrive as another process's writes). Every
ticket issued lands at the end of the line: the worst case for anything that counts the people ahead.
The kiosks run on the same 2 cores as the hub (and other people's tests may too): absolute figures are
pessimistic, the ratio between levels is the point. Prints a table and a JSON line; never fails on time.

    .venv/bin/python -m bench.bench_growth [--clients 10] [--seconds 5] [--levels 0,1000,5000,20000]
"""

from __future__ import annotations

import argparse
import json

import requests

from bench.common import bench_hub, latency_summary, post_tickets
from hub.config import load_config
from hub.core import build_hub

SERVICE = "tiep-don"


def _waiting(api: str) -> int:
    services = requests.get(api + "/services", timeout=30).json()["services"]
    return next(s["waiting"] for s in services if s["code"] == SERVICE)


def _fill(filler, count: int, batch: int = 500) -> None:  # type: ignore[no-untyped-def]
    """Put `count` more tickets in the line, `batch` per transaction (one fsync each)."""
    queue = filler.queue
    cfg = queue.service_config(SERVICE)
    while count > 0:
        now = min(batch, count)
        with queue._transaction() as txn:
            for _ in range(now):
                queue._issue(txn, cfg, priority="normal", actor="bench-fill", source="reception")
        count -= now


def run(clients: int, seconds: float, levels: list[int]) -> list[dict[str, object]]:
    hub = bench_hub()
    headers = {**hub.headers("kiosk"), "Content-Type": "application/json"}
    filler = build_hub(load_config(hub.config_dir, env={}), var_dir=hub.var_dir / "filler", db_url=hub.db_url)
    rows = []
    try:
        for level in levels:
            waiting = _waiting(hub.api)
            if level > waiting:
                _fill(filler, level - waiting)
            at_start = _waiting(hub.api)
            post_tickets(hub.api, headers, clients, 1.0, [SERVICE])  # warm up (the hub loads the grown line once)
            at_start = _waiting(hub.api)
            latencies, errors, elapsed = post_tickets(hub.api, headers, clients, seconds, [SERVICE])
            summary = latency_summary(latencies)
            rows.append({"waiting_at_start": at_start, "waiting_at_end": _waiting(hub.api), "clients": clients,
                         "tickets": len(latencies), "errors": errors,
                         "tickets_per_s": round(len(latencies) / elapsed, 1),
                         "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"], "max_ms": summary["max_ms"]})
    finally:
        filler.close()
        hub.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--levels", default="0,1000,5000,20000")
    args = parser.parse_args()
    levels = sorted(int(level) for level in args.levels.split(","))
    rows = run(args.clients, args.seconds, levels)
    print("\n== ticket issue as the line grows (HTTP, SQLite synchronous=FULL, one service) ==")
    print(f"  {'waiting':>15}  {'tickets/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}  {'max ms':>7}  {'vs first':>8}")
    base = rows[0]["tickets_per_s"] or 1
    for row in rows:
        span = f"{row['waiting_at_start']}-{row['waiting_at_end']}"
        ratio = f"{row['tickets_per_s'] / base:.0%}"  # type: ignore[operator]
        print(f"  {span:>15}  {row['tickets_per_s']:>9}  {row['p50_ms']:>7}  {row['p99_ms']:>7}  "
              f"{row['max_ms']:>7}  {ratio:>8}")
    print("  (target: tickets/s and p99 at 20,000 waiting within 20 % of those at 0)")
    print(json.dumps({"benchmark": "ticket issue as the line grows", "rows": rows}))


if __name__ == "__main__":
    main()
