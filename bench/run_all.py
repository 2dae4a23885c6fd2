"""`make bench`: every benchmark at a size that finishes in a few minutes. Figures only, never a verdict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = [
    ["-m", "bench.bench_ticket_issue", "--clients", "50", "--seconds", "10"],
    ["-m", "bench.bench_ticket_issue", "--clients", "50", "--seconds", "10", "--rate", "500"],
    ["-m", "bench.bench_growth", "--clients", "10", "--seconds", "5"],
    ["-m", "bench.bench_wrk", "--seconds", "20"],
    ["bench/ticket_cpu.py", "--tickets", "1500"],
    ["-m", "bench.bench_call_latency", "--boards", "300", "--calls", "30"],
    ["-m", "bench.bench_mqtt_fanout", "--devices", "300", "--boards", "300", "--presses", "20"],
    ["-m", "bench.bench_fanout", "--boards", "300", "--devices", "300", "--workers", "4", "--calls", "20"],
    ["-m", "bench.bench_simulation"],
    ["-m", "bench.bench_p90_coverage", "--seed", "1"],
    ["bench/bench_voice.py", "--calls", "30"],
]


def main() -> int:
    failures = 0
    for args in RUNS:
        print(f"\n$ python {' '.join(args)}", flush=True)
        result = subprocess.run([sys.executable, *args], cwd=ROOT)
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
