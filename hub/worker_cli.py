"""`clinicq worker`: the scheduled jobs (notification sending, reminders, end of day) in their own process."""

from __future__ import annotations

import json
import signal

import click

from hub.cli import config_options, load_or_exit


def register(group: click.Group) -> None:
    group.add_command(worker)


@click.command()
@config_options
@click.option("--once", is_flag=True, help="Run one tick (the due jobs, if this process leads) and exit")
@click.option("--status", is_flag=True, help="Print the last run of each job and exit")
def worker(config_dir: str | None, db_url: str | None, var_dir: str, once: bool, status: bool) -> None:
    """Run the scheduler: one process among hubs and workers runs the jobs, elected by a database lease."""
    from hub.core import build_hub

    hub = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    scheduler = hub.scheduler
    try:
        if status:
            runs = {name: {key: str(value) for key, value in run.items()} for name, run in scheduler.job_runs().items()}
            click.echo(json.dumps({"jobs": sorted(scheduler.jobs), "runs": runs,
                                   "outbox": hub.notifications.counts()}, ensure_ascii=False, indent=2))
            return
        if once:
            ran = scheduler.run_pending()
            click.echo(json.dumps({"leader": scheduler.is_leader, "ran": ran}))
            return
        # Signal handlers only raise a flag: the loop finishes its tick, then the lease is released.
        signal.signal(signal.SIGTERM, lambda *_: scheduler.request_stop())
        signal.signal(signal.SIGINT, lambda *_: scheduler.request_stop())
        scheduler.run_forever()
    finally:
        scheduler.stop()
        hub.close()
