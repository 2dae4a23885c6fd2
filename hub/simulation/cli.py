"""`clinicq simulate`: run a scenario day through the real engine and print its figures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import click

from hub.config import ClinicConfig
from hub.simulation.compare import compare, render_comparison
from hub.simulation.policies import DEFAULT_POLICY, POLICIES
from hub.simulation.report import render_table, summarize, visit_list
from hub.simulation.runner import Simulation
from hub.simulation.scenario import Scenario, ScenarioError, load_scenario


@click.command("simulate")
@click.option("--scenario", "scenario_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Scenario file (TOML), see docs/simulation.md.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed: the same seed gives the same day.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--db", "database", default="memory", show_default=True,
              help="SQLite in memory, in a temporary file (WAL, synchronous=FULL, as the hub runs), or the URL "
                   "of a database to keep, e.g. sqlite:///var/history.db (history for the reports).")
@click.option("--days", default=1, show_default=True, type=click.IntRange(1, 366),
              help="Consecutive days from the scenario's date (seed, seed+1, ...) into the --db URL.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The first day (YYYY-MM-DD) instead of the scenario's own date.")
@click.option("--policy", "policies", multiple=True, type=click.Choice([*POLICIES, "all"]),
              help=f"The clinic's practice (default {DEFAULT_POLICY}); give several, or all, to compare them "
                   "on the same patients.")
@click.option("--visits", "with_visits", is_flag=True,
              help="Also list every visit: route, total minutes, Decision 1313 class and whether it met it.")
def simulate(scenario_path: Path, seed: int, as_json: bool, database: str, days: int,
             start: datetime | None, policies: tuple[str, ...], with_visits: bool) -> None:
    """Simulate a clinic day (no sleeping: a virtual clock) and report waits, visit times and estimates."""
    if database not in ("memory", "file") and "://" not in database:
        raise click.BadParameter("memory, file, or a database URL such as sqlite:///var/history.db",
                                 param_hint="--db")
    try:
        scenario, clinic = load_scenario(scenario_path)
    except ScenarioError as exc:
        raise click.ClickException(str(exc)) from None
    if start is not None:
        scenario = scenario.model_copy(update={"date": start.date()})
    if days > 1:
        if "://" not in database:
            raise click.BadParameter("several days need a database URL to keep them in", param_hint="--db")
        if len(policies) > 1 or "all" in policies:
            raise click.BadParameter("several days run under one policy", param_hint="--policy")
        _simulate_days(scenario, clinic, seed, database, days, as_json, (policies or (DEFAULT_POLICY,))[0])
        return
    chosen = list(POLICIES) if "all" in policies else list(dict.fromkeys(policies)) or [DEFAULT_POLICY]
    if len(chosen) > 1:
        if "://" in database:
            raise click.BadParameter("several policies cannot share one kept database", param_hint="--db")
        result = compare(scenario, clinic, seed, chosen, database)
        click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else render_comparison(result))
        return
    record = Simulation(scenario, clinic, seed, database, policy=chosen[0]).run()
    summary = summarize(record)
    if with_visits:
        summary["visit_list"] = visit_list(record)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(render_table(summary), nl=False)
        if with_visits:
            click.echo("\nvisit  minutes  class              target  met  route")
            for row in summary["visit_list"]:
                minutes = "-" if row["minutes"] is None else f"{row['minutes']:.1f}"
                met = {True: "yes", False: "no", None: "-"}[row["met"]]
                click.echo(f"{row['visit']:>5}  {minutes:>7}  {row['class'] or '-':<17}  "
                           f"{row['target_minutes'] or '-':>6}  {met:>3}  {' > '.join(row['route'])}")


def _simulate_days(scenario: Scenario, clinic: ClinicConfig, seed: int, database: str, days: int,
                   as_json: bool, policy: str) -> None:
    """Day after day into one kept database: weeks of history for the reports; one line per day."""
    summaries = []
    for offset in range(days):
        day = scenario.model_copy(update={"date": scenario.date + timedelta(days=offset)})
        record = Simulation(day, clinic, seed + offset, database, policy=policy).run()
        summaries.append(summarize(record))
        if not as_json:
            click.echo(f"{day.date.isoformat()}: {record.visits} visits, {len(record.tickets)} tickets, "
                       f"{record.elapsed_seconds:.1f} s")
    if as_json:
        click.echo(json.dumps(summaries, ensure_ascii=False, indent=2))


def register(group: click.Group) -> None:
    """Add `simulate` to the main `clinicq` command group."""
    group.add_command(simulate)
