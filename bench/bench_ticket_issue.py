"""Ticket issue throughput and latency: concurrent kiosks posting to a real hub over HTTP.

Target (DESIGN.md): 500 tickets/s sustained on SQLite, p99 under 50 ms, with 50 concurrent kiosks.
Two measurements: with no --rate, every kiosk posts again as soon as it has its answer (the most the
hub can issue; latency is then mostly waiting in line, by Little's law); with --rate R the kiosks
together offer R tickets/s at a steady pace, and the latency is what a patient would see at that
load. The clients run on the same machine as the hub, so on a 2-core box they take CPU from it.
Prints a table and a JSON line; never fails on time.

    .venv/bin/python -m bench.bench_ticket_issue [--clients 50] [--seconds 10] [--rate 500]
"""

from __future__ import annotations

import argparse

import requests

from bench.common import bench_hub, latency_summary, post_tickets, report

SERVICES = ("tiep-don", "kham-noi", "kham-ngoai", "kham-nhi", "xet-nghiem", "thu-ngan")


def run(clients: int, seconds: float, rate: float | None = None) -> dict[str, object]:
    hub = bench_hub()
    headers = {**hub.headers("kiosk"), "Content-Type": "application/json"}
    latencies, errors, elapsed = post_tickets(hub.api, headers, clients, seconds, SERVICES, rate)
    numbers = requests.get(hub.api + "/services", timeout=10).json()["services"]
    hub.stop()
    issued = sum(int(s["last_issued"][1:]) for s in numbers if s["last_issued"])
    return {"clients": clients, "offered_per_s": rate or "as fast as answered", "seconds": round(elapsed, 2),
            "tickets": len(latencies), "errors": errors,
            "tickets_per_s": round(len(latencies) / elapsed, 1), "numbers_issued": issued,
            **latency_summary(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=None, help="tickets/s offered by all kiosks together")
    args = parser.parse_args()
    name = "ticket issue (HTTP, SQLite)" + (f" at {args.rate:g}/s offered" if args.rate else ", flat out")
    report(name, run(args.clients, args.seconds, args.rate), {"tickets_per_s": ">= 500", "p99_ms": "< 50"})


if __name__ == "__main__":
    main()
