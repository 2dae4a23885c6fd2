"""The same day under several clinic practices, side by side (`clinicq simulate --policy A --policy B`)."""

from __future__ import annotations

from typing import Any

from hub.config import ClinicConfig
from hub.simulation.report import summarize
from hub.simulation.runner import Simulation
from hub.simulation.scenario import Scenario


def compare(scenario: Scenario, clinic: ClinicConfig, seed: int, policies: list[str],
            database: str = "memory") -> dict[str, Any]:
    """One row per practice: visit time, share within Decision 1313, waits per service, staff idle share."""
    rows = {}
    for name in policies:
        rows[name] = brief(summarize(Simulation(scenario, clinic, seed, database, policy=name).run()))
    return {"scenario": scenario.name, "seed": seed, "policies": rows}


def brief(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures a practice is judged by, from a full report."""
    visits = summary["visit_time"]
    return {
        "visits": visits["visits"], "without_time": visits["without_time"],
        "visit_mean": visits["minutes"]["mean"], "visit_p90": visits["minutes"]["p90"],
        "within_1313": visits["met_share"],
        "within_1313_by_class": {name: c["met_share"] for name, c in visits["classes"].items() if c["visits"]},
        "rerouted": visits["rerouted"],
        "wait_mean": summary["waits"]["mean"], "wait_p90": summary["waits"]["p90"],
        "waits": {code: {"mean": figures["wait"]["mean"], "p90": figures["wait"]["p90"]}
                  for code, figures in summary["services"].items()},
        "idle_share": summary["staff"]["idle_share"],
        "rooms_opened": summary["manager"]["rooms_opened"],
        "late_returns": summary["late_returns"],
        "p90_coverage": summary["estimate"]["engine"]["p90_coverage"],
        "elapsed_seconds": summary["elapsed_seconds"],
    }


def render_comparison(result: dict[str, Any]) -> str:
    """Practices as columns: the visit figures, then the mean wait of every service."""
    names = list(result["policies"])
    rows = result["policies"]
    width = max(12, *(len(n) + 2 for n in names))
    out = [f"Scenario {result['scenario']} (seed {result['seed']}): the same patients under each practice", ""]

    def line(label: str, values: list[str]) -> str:
        return f"{label:<24}" + "".join(f"{v:>{width}}" for v in values)

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f} %"

    out.append(line("", names))
    out.append("-" * (24 + width * len(names)))
    out.append(line("visits timed", [str(rows[n]["visits"]) for n in names]))
    out.append(line("visit mean (min)", [num(rows[n]["visit_mean"]) for n in names]))
    out.append(line("visit P90 (min)", [num(rows[n]["visit_p90"]) for n in names]))
    out.append(line("within 1313", [pct(rows[n]["within_1313"]) for n in names]))
    classes = sorted({c for n in names for c in rows[n]["within_1313_by_class"]},
                     key=["exam", "one_technique", "two_techniques", "three_techniques"].index)
    for klass in classes:
        out.append(line(f"  {klass}", [pct(rows[n]["within_1313_by_class"].get(klass)) for n in names]))
    out.append(line("visits re-routed", [str(rows[n]["rerouted"]) for n in names]))
    out.append(line("wait mean / P90 (min)", [f"{num(rows[n]['wait_mean'])}/{num(rows[n]['wait_p90'])}"
                                              for n in names]))
    out.append(line("staff idle share", [pct(rows[n]["idle_share"]) for n in names]))
    out.append(line("reserve rooms opened", [str(rows[n].get("rooms_opened", 0)) for n in names]))
    out.append(line("calls missed, back late", [str(rows[n].get("late_returns", 0)) for n in names]))
    out.append(line("estimate P90 coverage", [pct(rows[n]["p90_coverage"]) for n in names]))
    out.append("")
    out.append("wait mean / P90 per service (min)")
    services = list(rows[names[0]]["waits"]) if names else []
    for code in services:
        out.append(line(f"  {code}", [f"{num(rows[n]['waits'].get(code, {}).get('mean'))}/"
                                       f"{num(rows[n]['waits'].get(code, {}).get('p90'))}" for n in names]))
    return "\n".join(out) + "\n"
