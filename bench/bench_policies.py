"""The bundled scenarios under every clinic practice: visit time, Decision 1313, waits, idle staff.

The same seed gives the same arrivals, patients and staff under every practice (hub/simulation/policies.py);
only the clinic's choices differ. Prints one comparison table per scenario, then a summary table and a
JSON line. Target (DESIGN.md): the 10,000-visit central day in under a minute per practice.

    .venv/bin/python -m bench.bench_policies [--scenario NAME_OR_FILE ...] [--policy NAME ...] [--seed 1]
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

from bench.bench_simulation import DEFAULT, scenario_path  # noqa: E402  (after the path set-up above)
from hub.simulation.compare import brief, render_comparison  # noqa: E402
from hub.simulation.policies import POLICIES  # noqa: E402
from hub.simulation.report import summarize  # noqa: E402
from hub.simulation.runner import Simulation  # noqa: E402
from hub.simulation.scenario import load_scenario  # noqa: E402

DAY_TARGET_SECONDS = 60.0


def run(name: str, seed: int, policies: list[str]) -> dict[str, Any]:
    """One scenario under each practice, with the CPU time each day took."""
    scenario, clinic = load_scenario(scenario_path(name))
    rows = {}
    for policy in policies:
        cpu = time.process_time()
        row = brief(summarize(Simulation(scenario, clinic, seed, policy=policy).run()))
        row["cpu_seconds"] = round(time.process_time() - cpu, 1)
        rows[policy] = row
    return {"scenario": scenario.name, "seed": seed, "policies": rows}


def summary_table(results: list[dict[str, Any]]) -> str:
    header = ("| scenario | policy | visits | visit mean | visit P90 | within 1313 | wait mean | wait P90 "
              "| idle staff | re-routed | rooms opened | back late | CPU s |")
    out = [header, "|" + "---|" * 13]
    for result in results:
        for policy, row in result["policies"].items():
            share = "-" if row["within_1313"] is None else f"{100 * row['within_1313']:.1f} %"
            idle = "-" if row["idle_share"] is None else f"{100 * row['idle_share']:.1f} %"
            out.append(f"| {result['scenario']} | {policy} | {row['visits']:,} | {row['visit_mean']} | "
                       f"{row['visit_p90']} | {share} | {row['wait_mean']} | {row['wait_p90']} | {idle} | "
                       f"{row['rerouted']} | {row['rooms_opened']} | {row['late_returns']} | {row['cpu_seconds']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", help="a bundled name or a TOML file (repeatable)")
    parser.add_argument("--policy", action="append", choices=list(POLICIES), help="(repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    results = []
    for name in args.scenario or DEFAULT:
        result = run(name, args.seed, args.policy or list(POLICIES))
        print(render_comparison(result), flush=True)
        results.append(result)
    print(summary_table(results))
    slow = [f"{r['scenario']}/{p}" for r in results for p, row in r["policies"].items()
            if row["visits"] > 5000 and row["cpu_seconds"] > DAY_TARGET_SECONDS]
    if slow:
        print(f"\nover the {DAY_TARGET_SECONDS:.0f} s per-day target: {', '.join(slow)}")
    print(json.dumps({"bench": "policies", "results": results}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
