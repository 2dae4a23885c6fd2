"""Simulated clinic days through the real engine: how long a day takes, and how good the estimates are.

Targets (DESIGN.md): the day of a 10,000-visit hospital simulated in under a minute; the wait estimate's
mean absolute error at least 30 % below the rule of thumb used in practice. P90 coverage (the share of
waits at or under the P90 shown) should be 85-95 %. Prints a table and a JSON line; never fails on time.
Wall time counts whatever else the machine runs; CPU time is the process's own.

    .venv/bin/python -m bench.bench_simulation [--scenario NAME_OR_FILE ...] [--seed 1] [--db memory|file]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hub.simulation.report import summarize  # noqa: E402  (after the path set-up above)
from hub.simulation.runner import Simulation  # noqa: E402
from hub.simulation.scenario import load_scenario  # noqa: E402

SCENARIOS = ROOT / "bench" / "scenarios"
DEFAULT = ("small-clinic", "district-hospital", "central-hospital")
DAY_TARGET_SECONDS = 60.0
MAE_TARGET = 0.30


def scenario_path(name: str) -> Path:
    path = Path(name)
    return path if path.suffix == ".toml" else SCENARIOS / f"{name}.toml"


def run(name: str, seed: int, database: str) -> dict[str, Any]:
    """One simulated day: the figures the table and the JSON show."""
    scenario, clinic = load_scenario(scenario_path(name))
    cpu = time.process_time()
    summary = summarize(Simulation(scenario, clinic, seed, database).run())
    estimate = summary["estimate"]
    return {
        "scenario": summary["scenario"], "seed": seed, "database": summary["database"],
        "visits": summary["visits"], "tickets": summary["tickets"], "events": summary["events"],
        "wall_seconds": summary["elapsed_seconds"], "cpu_seconds": round(time.process_time() - cpu, 2),
        "wait_mean": summary["waits"]["mean"], "wait_p90": summary["waits"]["p90"],
        "mae": estimate["engine"]["mae"], "baseline_mae": estimate["baseline"]["mae"],
        "mae_reduction": estimate["mae_reduction"], "p90_coverage": estimate["engine"]["p90_coverage"],
        "under_10_share": estimate["engine"]["under_10_share"],
        "baseline_under_10_share": estimate["baseline"]["under_10_share"],
        "without_estimate": estimate["without_estimate"],
    }


def table(rows: list[dict[str, Any]]) -> str:
    header = (f"{'scenario':<20}{'visits':>7}{'tickets':>8}{'wall s':>8}{'cpu s':>7}{'wait':>7}"
              f"{'MAE':>7}{'base':>7}{'below':>8}{'P90 cov':>9}{'under10':>9}")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row['scenario']:<20}{row['visits']:>7}{row['tickets']:>8}{row['wall_seconds']:>8.1f}"
            f"{row['cpu_seconds']:>7.1f}{row['wait_mean']:>7.1f}{row['mae']:>7.1f}{row['baseline_mae']:>7.1f}"
            f"{100 * row['mae_reduction']:>7.1f}%{100 * row['p90_coverage']:>8.1f}%"
            f"{100 * row['under_10_share']:>8.1f}%")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="name in bench/scenarios or a .toml path (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=["memory", "file"], default="memory")
    args = parser.parse_args(argv)
    rows = []
    for name in args.scenario or DEFAULT:
        print(f"simulating {name} (seed {args.seed})...", flush=True)
        rows.append(run(name, args.seed, args.db))
    print("\n== simulated clinic days ==")
    print(table(rows))
    biggest = max(rows, key=lambda row: row["visits"])
    print(f"\nbiggest day: {biggest['visits']} visits in {biggest['wall_seconds']:.1f} s wall, "
          f"{biggest['cpu_seconds']:.1f} s CPU (target under {DAY_TARGET_SECONDS:.0f} s for 10,000 visits); "
          f"MAE target: {100 * MAE_TARGET:.0f} % below the baseline; P90 coverage 85-95 %")
    print(json.dumps({"benchmark": "simulation", "scenarios": rows}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
