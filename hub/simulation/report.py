"""Figures of a simulated day: waits, service times, throughput and how good the estimates were.

Waits and service times are read back from the database the engine wrote (the ticket rows), not
from the simulator's own plans. The estimate judged is the one the ticket showed when it was issued
(stored with the ticket), against the time until its first call; the baseline next to it is the
rule of thumb used in practice, computed by the simulator from what it saw at that moment.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hub.simulation.runner import DayRecord

UNDER_BY_MINUTES = 10.0
REPORT_VERSION = 1


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def spread(values: Iterable[float]) -> dict[str, float | int | None]:
    """Count, mean, median, P90 and max, in minutes rounded to 0.1."""
    values = list(values)
    if not values:
        return {"count": 0, "mean": None, "median": None, "p90": None, "max": None}
    return {"count": len(values), "mean": round(statistics.fmean(values), 1),
            "median": round(statistics.median(values), 1), "p90": round(percentile(values, 0.9), 1),
            "max": round(max(values), 1)}


def _minutes(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 60


def accuracy(pairs: list[tuple[float, float]]) -> dict[str, float | None]:
    """MAE, bias and share of under-estimates by more than 10 minutes, over (estimate, actual) pairs."""
    if not pairs:
        return {"mae": None, "bias": None, "under_10_share": None}
    errors = [estimate - actual for estimate, actual in pairs]
    return {"mae": round(statistics.fmean(abs(e) for e in errors), 2),
            "bias": round(statistics.fmean(errors), 2),
            "under_10_share": round(sum(1 for e in errors if e < -UNDER_BY_MINUTES) / len(errors), 3)}


def summarize(record: DayRecord) -> dict[str, Any]:
    """The report as a JSON-ready dict (keys documented in docs/simulation.md)."""
    tz = record.clinic.site.tz
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ticket in record.tickets:
        by_service[ticket["service"]].append(ticket)
    services = {}
    for cfg in record.clinic.services:
        rows = by_service.get(cfg.code, [])
        if not rows:
            continue
        services[cfg.code] = {
            "tickets": len(rows),
            "served": sum(1 for t in rows if t["served_at"] is not None),
            "no_show": sum(1 for t in rows if t["status"] == "no_show"),
            "wait": spread(w for t in rows if (w := _minutes(t["issued_at"], t["first_called_at"])) is not None),
            "service_time": spread(m for t in rows if (m := _minutes(t["served_at"], t["finished_at"])) is not None),
        }
    waits = [w for t in record.tickets if (w := _minutes(t["issued_at"], t["first_called_at"])) is not None]
    states: dict[str, int] = defaultdict(int)
    for ticket in record.tickets:
        states[ticket["status"]] += 1
    issued = [t["issued_at"] for t in record.tickets]
    finished = [t["finished_at"] for t in record.tickets if t["finished_at"] is not None]
    span_hours = (max(finished) - min(issued)).total_seconds() / 3600 if issued and finished else 0.0
    served = sum(1 for t in record.tickets if t["served_at"] is not None)
    return {
        "report_version": REPORT_VERSION,
        "scenario": record.scenario.name,
        "seed": record.seed,
        "day": record.scenario.date.isoformat(),
        "database": record.database,
        "elapsed_seconds": round(record.elapsed_seconds, 2),
        "events": record.events,
        "visits": record.visits,
        "visits_completed": states.get("done", 0),
        "tickets": len(record.tickets),
        "final_states": dict(sorted(states.items())),
        "throughput": {
            "first_issue": min(issued).astimezone(tz).strftime("%H:%M") if issued else None,
            "last_finish": max(finished).astimezone(tz).strftime("%H:%M") if finished else None,
            "served": served,
            "served_per_hour": round(served / span_hours, 1) if span_hours else 0.0,
        },
        "waits": spread(waits),
        "services": services,
        "estimate": estimate_accuracy(record),
        "policy": record.policy,
        "visit_time": visit_times(record),
        "staff": staff_figures(record),
        "manager": {"rooms_opened": sum(1 for a in record.advice_acted if a["action"] == "open"),
                    "rooms_closed": sum(1 for a in record.advice_acted if a["action"] == "close"),
                    "nudges": sum(1 for a in record.advice_acted if a["action"] == "nudge"),
                    "actions": [{**a, "at": _clock(a["at"])} for a in record.advice_acted]},
        "late_returns": record.late_returns,
        "warnings": warnings(record, issued, finished),
    }


CLASS_NAMES = ("exam", "one_technique", "two_techniques", "three_techniques")


def visit_times(record: DayRecord) -> dict[str, Any]:
    """Decision 1313: each visit with an exam, first ticket to the end of its last service, against its target.

    The class is the number of kinds of technique the visit needed (lab, imaging, functional tests):
    none 2 h, one 3 h, two 3.5 h, three 4 h (config `[reports]`). Visits whose patient was gone when
    called, or still unfinished at the end, have no total time and are counted apart.
    """
    targets = record.clinic.reports.targets
    classes: dict[str, dict[str, Any]] = {}
    totals: list[float] = []
    met_all = 0
    unfinished = 0
    for index, name in enumerate(CLASS_NAMES):
        rows = [v for v in record.visit_rows if v["exam"] and min(v["techniques"], 3) == index]
        timed = [v["minutes"] for v in rows if v["minutes"] is not None]
        met = sum(1 for m in timed if m <= targets[index])
        unfinished += len(rows) - len(timed)
        totals += timed
        met_all += met
        classes[name] = {"target_minutes": targets[index], "visits": len(timed), "met": met,
                         "met_share": round(met / len(timed), 3) if timed else None, "minutes": spread(timed)}
    return {"visits": len(totals), "without_time": unfinished, "minutes": spread(totals),
            "met": met_all, "met_share": round(met_all / len(totals), 3) if totals else None,
            "rerouted": sum(1 for v in record.visit_rows if v["replans"]), "classes": classes}


def staff_figures(record: DayRecord) -> dict[str, Any]:
    """Share of the counters' open time (idle, calling, serving, paused) spent idle: overall and by service."""
    def share(codes: Iterable[str]) -> float | None:
        idle = total = 0.0
        for code in codes:
            minutes = record.desk_minutes.get(code, {})
            idle += minutes.get("idle", 0.0)
            total += sum(minutes.values())
        return round(idle / total, 3) if total else None

    by_service = {}
    for cfg in record.clinic.services:
        codes = [code for code, services in record.desk_services.items() if cfg.code in services]
        value = share(codes)
        if value is not None:
            by_service[cfg.code] = value
    return {"idle_share": share(record.desk_minutes), "idle_share_by_service": by_service}


def visit_list(record: DayRecord) -> list[dict[str, Any]]:
    """Every visit with its route, total minutes, 1313 class, target and whether it met it."""
    targets = record.clinic.reports.targets
    out = []
    for row in record.visit_rows:
        index = min(row["techniques"], 3)
        minutes = row["minutes"]
        out.append({"visit": row["visit"], "route": row["route"],
                    "minutes": round(minutes, 1) if minutes is not None else None,
                    "class": CLASS_NAMES[index] if row["exam"] else None,
                    "target_minutes": targets[index] if row["exam"] else None,
                    "met": (minutes <= targets[index]) if row["exam"] and minutes is not None else None})
    return out


def warnings(record: DayRecord, issued: list[datetime], finished: list[datetime]) -> list[str]:
    """What makes the day's figures doubtful: usually a clinic with too few counters for its patients."""
    out = []
    tz = record.clinic.site.tz
    if issued and finished and max(finished).astimezone(tz).date() > min(issued).astimezone(tz).date():
        out.append("the day ran past midnight: the clinic has too few counters for this many patients")
    if record.unserved:
        out.append(f"{record.unserved} tickets were still waiting when the day ended and were cancelled")
    return out


def estimate_accuracy(record: DayRecord) -> dict[str, Any]:
    """The engine's issue-time estimate against the baseline, on every ticket that was called."""
    overall = _Judged()
    by_service: dict[str, _Judged] = defaultdict(_Judged)
    for ticket in record.tickets:
        actual = _minutes(ticket["issued_at"], ticket["first_called_at"])
        if actual is None:
            continue
        for judged in (overall, by_service[ticket["service"]]):
            judged.add(ticket, actual, record.baseline[ticket["id"]])
    figures = overall.figures()
    figures["by_service"] = {code: judged.figures(brief=True) for code, judged in by_service.items()}
    return figures


class _Judged:
    """Estimates and actual waits of a set of tickets."""

    def __init__(self) -> None:
        self.engine: list[tuple[float, float]] = []
        self.baseline: list[tuple[float, float]] = []
        self.covered = 0
        self.missing = 0

    def add(self, ticket: dict[str, Any], actual: float, baseline: float) -> None:
        if ticket["estimate_p50_min"] is None:
            self.missing += 1
            return
        self.engine.append((ticket["estimate_p50_min"], actual))
        self.baseline.append((baseline, actual))
        self.covered += actual <= ticket["estimate_p90_min"]

    def figures(self, brief: bool = False) -> dict[str, Any]:
        engine, baseline = accuracy(self.engine), accuracy(self.baseline)
        engine["p90_coverage"] = round(self.covered / len(self.engine), 3) if self.engine else None
        reduction = None
        if engine["mae"] is not None and baseline["mae"]:
            reduction = round(1 - engine["mae"] / baseline["mae"], 3)
        if brief:
            return {"tickets": len(self.engine), "mae": engine["mae"], "baseline_mae": baseline["mae"],
                    "p90_coverage": engine["p90_coverage"], "mae_reduction": reduction}
        return {"tickets": len(self.engine), "without_estimate": self.missing, "engine": engine,
                "baseline": baseline, "mae_reduction": reduction}


def render_table(summary: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    out = [f"Scenario {summary['scenario']} (seed {summary['seed']}, {summary['day']}, {summary['database']}): "
           f"{summary['visits']} visits, {summary['tickets']} tickets, {summary['events']} events "
           f"in {summary['elapsed_seconds']:.1f} s",
           "final states: " + ", ".join(f"{k} {v}" for k, v in summary["final_states"].items()),
           f"day: first ticket {summary['throughput']['first_issue']}, last finish "
           f"{summary['throughput']['last_finish']}, {summary['throughput']['served_per_hour']} served per hour",
           ""]
    header = f"{'service':<14}{'tickets':>8}{'served':>8}{'no-show':>8}  {'wait mean':>9}{'median':>8}{'P90':>7}" \
             f"  {'service mean':>12}{'P90':>7}  {'MAE':>6}{'base':>6}{'cover':>7}"
    out += [header, "-" * len(header)]

    def cell(value: float | None, width: int) -> str:
        return f"{value:>{width}.1f}" if value is not None else f"{'-':>{width}}"

    judged = summary["estimate"]["by_service"]
    for code, figures in summary["services"].items():
        wait, service = figures["wait"], figures["service_time"]
        est = judged.get(code, {"mae": None, "baseline_mae": None, "p90_coverage": None})
        out.append(f"{code:<14}{figures['tickets']:>8}{figures['served']:>8}{figures['no_show']:>8}  "
                   f"{cell(wait['mean'], 9)}{cell(wait['median'], 8)}{cell(wait['p90'], 7)}  "
                   f"{cell(service['mean'], 12)}{cell(service['p90'], 7)}  {cell(est['mae'], 6)}"
                   f"{cell(est['baseline_mae'], 6)}{_share(est['p90_coverage'], 7)}")
    waits = summary["waits"]
    out.append(f"{'all':<14}{summary['tickets']:>8}{summary['throughput']['served']:>8}"
               f"{summary['final_states'].get('no_show', 0):>8}  {cell(waits['mean'], 9)}"
               f"{cell(waits['median'], 8)}{cell(waits['p90'], 7)}")
    est = summary["estimate"]
    engine, baseline = est["engine"], est["baseline"]
    out += ["", f"Wait estimate at issue ({est['tickets']} called tickets, {est['without_estimate']} without estimate)",
            f"{'':<12}{'MAE min':>9}{'bias':>8}{'under >10 min':>15}{'P90 coverage':>14}",
            f"{'engine':<12}{cell(engine['mae'], 9)}{cell(engine['bias'], 8)}"
            f"{_share(engine['under_10_share']):>15}{_share(engine['p90_coverage']):>14}",
            f"{'baseline':<12}{cell(baseline['mae'], 9)}{cell(baseline['bias'], 8)}"
            f"{_share(baseline['under_10_share']):>15}{'-':>14}",
            f"MAE {_share(est['mae_reduction'])} below the baseline" if est["mae_reduction"] is not None else ""]
    visits = summary["visit_time"]
    out += ["", f"Visit time, first ticket to last service (Decision 1313; policy {summary['policy']}): "
            f"{visits['visits']} visits, {_share(visits['met_share'])} within target, "
            f"{visits['without_time']} without a time (gone or unfinished)",
            f"{'class':<18}{'target':>7}{'visits':>8}{'mean':>7}{'P90':>7}{'met':>9}"]
    for name, figures in visits["classes"].items():
        minutes = figures["minutes"]
        out.append(f"{name:<18}{figures['target_minutes']:>7}{figures['visits']:>8}{cell(minutes['mean'], 7)}"
                   f"{cell(minutes['p90'], 7)}{_share(figures['met_share'], 9)}")
    out.append(f"staff idle share (of open time): {_share(summary['staff']['idle_share'])}")
    out += [f"warning: {text}" for text in summary["warnings"]]
    return "\n".join(out).rstrip() + "\n"


def _share(value: float | None, width: int = 0) -> str:
    text = f"{100 * value:.1f} %" if value is not None else "-"
    return f"{text:>{width}}"


def _clock(minutes: float) -> str:
    """Minutes after midnight as local time of day ("09:05")."""
    whole = round(minutes)
    return f"{whole // 60:02d}:{whole % 60:02d}"
