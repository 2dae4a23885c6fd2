"""Shared bits of the benchmarks: percentiles, the table + JSON report, a hub process to measure."""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
