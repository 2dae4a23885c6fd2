"""`clinicq sim`: run a simulated device fleet (keypads, LEDs, dispensers, speakers) against a hub."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time

import click

from firmware_sim.fleet import FleetOptions, build_fleet, plan_roster, roster_toml
from hub.config import ConfigError, load_config

log = logging.getLogger(__name__)

REPORT_EVERY_S = 10.0
ONLINE_TIMEOUT_S = 15.0


@click.command("sim")
@click.option("--keypads", type=click.IntRange(0), default=None,
              help="Counter keypads (default: those in devices.toml; more are generated, one per counter).")
@click.option("--dispensers", type=click.IntRange(0), default=None, help="Ticket-button dispensers.")
@click.option("--speakers", type=click.IntRange(0), default=None, help="Speaker stubs (one per zone first).")
@click.option("--leds", type=click.IntRange(0), default=None, help="LED number displays above doors.")
@click.option("--arrivals", "arrivals_per_hour", type=click.FloatRange(0), default=60.0, show_default=True,
              help="Patients per simulated hour at the dispensers, all together.")
@click.option("--speedup", type=click.FloatRange(0.01, 10_000), default=1.0, show_default=True,
              help="Simulated seconds per wall-clock second for staff and patients.")
@click.option("--mqtt", "mqtt_url", default=None, help="Broker mqtt://HOST:PORT (default from the config).")
@click.option("--config", "config_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of site.toml, clinic.toml, devices.toml (default ./config).")
@click.option("--duration", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Wall-clock seconds to run; 0: until Ctrl-C.")
@click.option("--seed", type=int, default=None, help="Random seed, for a repeatable run.")
@click.option("--print-devices", is_flag=True,
              help="Print devices.toml entries for the generated devices (a hub ignores unknown ones) and exit.")
def sim_command(keypads: int | None, dispensers: int | None, speakers: int | None, leds: int | None,
                arrivals_per_hour: float, speedup: float, mqtt_url: str | None, config_dir: str | None,
                duration: float, seed: int | None, print_devices: bool) -> None:
    """Simulated devices with simulated staff and patients, for demos and load."""
    try:
        config = load_config(config_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    options = FleetOptions(keypads=keypads, dispensers=dispensers, speakers=speakers, leds=leds,
                           arrivals_per_hour=arrivals_per_hour, speedup=speedup, seed=seed)
    if print_devices:
        specs = plan_roster(config, keypads=keypads, dispensers=dispensers, speakers=speakers, leds=leds)
        click.echo(roster_toml(specs), nl=False)
        return
    try:
        fleet = build_fleet(config, mqtt_url or config.hub.mqtt_url, options)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mqtt") from None
    generated = [spec.device_id for spec in fleet.specs if spec.generated]
    if generated:
        click.echo(f"{len(generated)} generated device(s) unknown to the hub's config: register them with "
                   f"`clinicq sim --print-devices >> config/devices.toml` (same options) or the hub drops them.",
                   err=True)
    done = threading.Event()
    previous_handler = signal.signal(signal.SIGTERM, lambda *_: done.set())  # systemd stops us cleanly too
    fleet.start()
    if not fleet.wait_online(ONLINE_TIMEOUT_S):
        click.echo(f"not every device is connected after {ONLINE_TIMEOUT_S:.0f} s (is the broker at "
                   f"{mqtt_url or config.hub.mqtt_url}?); still trying", err=True)
    started = time.monotonic()
    try:
        while not done.wait(REPORT_EVERY_S if not duration else min(REPORT_EVERY_S, _left(started, duration))):
            if duration and _left(started, duration) <= 0:
                break
            log.info("sim: %s", _short(fleet.summary()))
    except KeyboardInterrupt:
        pass
    finally:
        summary = fleet.summary()  # before stopping, so "online" says how many were connected at the end
        fleet.stop()
        signal.signal(signal.SIGTERM, previous_handler)
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False))


def _left(started: float, duration: float) -> float:
    return max(0.0, duration - (time.monotonic() - started))


def _short(summary: dict[str, object]) -> str:
    keys = ("online", "devices", "printed", "played", "ack_p50_ms", "ack_p99_ms", "resends", "dropped_messages")
    return ", ".join(f"{key} {summary[key]}" for key in keys)


def register(group: click.Group) -> None:
    """Add `sim` to the `clinicq` command group."""
    group.add_command(sim_command)
