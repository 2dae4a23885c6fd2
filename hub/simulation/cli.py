"""`clinicq simulate`: run a scenario day through the real engine and print its figures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import click

from hub.config import ClinicConfig
from hub.simulation.report import render_table, summarize
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
def simulate(scenario_path: Path, seed: int, as_json: bool, database: str, days: int,
             start: datetime | None) -> None:
    """Simulate a clinic day (no sleeping: a virtual clock) and report waits and estimate accuracy."""
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
        _simulate_days(scenario, clinic, seed, database, days, as_json)
        return
    summary = summarize(Simulation(scenario, clinic, seed, database).run())
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(render_table(summary), nl=False)


def _simulate_days(scenario: Scenario, clinic: ClinicConfig, seed: int, database: str, days: int,
                   as_json: bool) -> None:
    """Day after day into one kept database: weeks of history for the reports; one line per day."""
    summaries = []
    for offset in range(days):
        day = scenario.model_copy(update={"date": scenario.date + timedelta(days=offset)})
        record = Simulation(day, clinic, seed + offset, database).run()
        summaries.append(summarize(record))
        if not as_json:
            click.echo(f"{day.date.isoformat()}: {record.visits} visits, {len(record.tickets)} tickets, "
                       f"{record.elapsed_seconds:.1f} s")
    if as_json:
        click.echo(json.dumps(summaries, ensure_ascii=False, indent=2))


def register(group: click.Group) -> None:
    """Add `simulate` to the main `clinicq` command group."""
    group.add_command(simulate)
