"""Shared bits of the benchmarks: percentiles, the table + JSON report, a hub process to measure."""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.hub_server import HubProcess, start_hub  # noqa: E402  (after the path set-up above)


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 < fraction <= 1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def latency_summary(milliseconds: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(milliseconds),
        "mean_ms": round(statistics.fmean(milliseconds), 2) if milliseconds else math.nan,
        "p50_ms": round(percentile(milliseconds, 0.50), 2),
        "p95_ms": round(percentile(milliseconds, 0.95), 2),
        "p99_ms": round(percentile(milliseconds, 0.99), 2),
        "max_ms": round(max(milliseconds), 2) if milliseconds else math.nan,
    }


def report(name: str, figures: dict[str, Any], targets: dict[str, str] | None = None) -> None:
    """Print a readable table, then the same figures as one JSON line (for scripts)."""
    width = max(len(key) for key in figures)
    print(f"\n== {name} ==")
    for key, value in figures.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        target = f"   (target {targets[key]})" if targets and key in targets else ""
        print(f"  {key:<{width}}  {shown}{target}")
    print(json.dumps({"benchmark": name, **figures}, ensure_ascii=False))


def bench_hub(extra_args: list[str] | None = None) -> HubProcess:
    """A fresh hub on SQLite in a temporary folder (MQTT off unless asked)."""
    folder = Path(tempfile.mkdtemp(prefix="clinicq-bench-"))
    return start_hub(folder, extra_args=extra_args or ["--mqtt", "off"])


def post_tickets(api: str, headers: dict[str, str], clients: int, seconds: float, services: Sequence[str],
                 rate: float | None = None) -> tuple[list[float], int, float]:
    """Kiosks posting tickets for `seconds`: (latencies of the issued ones in ms, failures, elapsed s).

    Kiosk i asks for services[i % len(services)]. With no `rate` each kiosk posts again as soon as it has
    its answer; with `rate` the kiosks together offer that many tickets/s at a steady pace.
    """
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
        body = json.dumps({"service": services[index % len(services)]})
        interval = clients / rate if rate else 0.0
        start_gate.wait()
        next_at = time.perf_counter() + (index * interval / clients)
        while time.perf_counter() < deadline:
            if interval:
                pause = next_at - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                next_at += interval
            began = time.perf_counter()
            try:
                ok = session.post(api + "/tickets", data=body, headers=headers, timeout=10).status_code == 201
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
    return latencies, errors, time.perf_counter() - began
