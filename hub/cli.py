"""The `clinicq` command: run the hub or the demo, migrate, manage tokens, and the device agents."""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import click

from hub.config import ClinicConfig, ConfigError, default_config_dir, load_config

log = logging.getLogger("clinicq")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step is noise


def load_or_exit(config_dir: str | None, **overrides: Any) -> ClinicConfig:
    """Load config/ or stop with the validation message (exit status 2)."""
    try:
        return load_config(config_dir, overrides=overrides)
    except ConfigError as exc:
        click.echo(f"clinicq: {exc}", err=True)
        sys.exit(2)


def config_options(function):  # type: ignore[no-untyped-def]
    function = click.option("--config", "config_dir", type=click.Path(file_okay=False), default=None,
                            help="Folder of site.toml, clinic.toml... (default ./config)")(function)
    function = click.option("--db", "db_url", default=None,
                            help="Database URL (default SQLite under var/); env CLINICQ_DATABASE_URL")(function)
    function = click.option("--var", "var_dir", type=click.Path(file_okay=False), default="var",
                            show_default=True, help="Folder for data: database, secret key, logs")(function)
    return function


def server_options(function):  # type: ignore[no-untyped-def]
    function = click.option("--port", type=int, default=None, help="HTTP port (default from config: 8000)")(function)
    function = click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on")(function)
    function = click.option("--mqtt", "mqtt_url", default=None,
                            help="Broker to use (mqtt://HOST:PORT, embedded or off), not the configured one")(function)
    return function


# Commands of the device agents and tools, loaded only when used: `clinicq hub` never imports pygame,
# and a broken agent module cannot stop the hub from starting. Each module has register(group).
AGENT_COMMANDS = {
    "speaker": "display.cli",
    "announce": "display.cli",
    "voice": "display.cli",
    "printer-emulator": "firmware_sim.printer_cli",
    "sim": "firmware_sim.sim_cli",
    "simulate": "hub.simulation.cli",
    "console": "caller_console.cli",
    "kiosk": "kiosk.cli",
    "worker": "hub.worker_cli",
    "structure": "hub.structure_cli",
}


class ClinicqGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        present = {name for name, module in AGENT_COMMANDS.items() if importlib.util.find_spec(module)}
        return sorted(set(super().list_commands(ctx)) | present)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None or name not in AGENT_COMMANDS:
            return command
        try:
            module = importlib.import_module(AGENT_COMMANDS[name])
        except ModuleNotFoundError as exc:
            raise click.ClickException(f"'{name}' is not available: {exc}") from None
        holder = click.Group()
        module.register(holder)
        return holder.commands.get(name)


@click.group(cls=ClinicqGroup)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging")
def cli(verbose: bool) -> None:
    """clinicq: outpatient queues, kiosks, boards and voice calls."""
    _setup_logging(verbose)


# ---------------------------------------------------------------------------------------------- hub
@cli.command()
@config_options
@server_options
def hub(config_dir: str | None, db_url: str | None, var_dir: str, port: int | None, host: str,
        mqtt_url: str | None) -> None:
    """Run the hub: REST API, Socket.IO, staff pages and the device bridge."""
    from hub.server import serve

    config = load_or_exit(config_dir, port=port, mqtt_url=mqtt_url)
    serve(config, host=host, port=config.hub.port, var_dir=Path(var_dir), db_url=db_url)


@cli.command()
@config_options
@server_options
@click.option("--no-devices", is_flag=True, help="Only the hub, the kiosk and its printer: no simulated fleet")
def demo(config_dir: str | None, db_url: str | None, var_dir: str, port: int | None, host: str,
         mqtt_url: str | None, no_devices: bool) -> None:
    """The whole clinic on one machine: hub, kiosk, printer, speakers and a simulated device fleet."""
    from hub.demo import run_demo

    # The demo's own broker (amqtt on loopback, port 1884) unless one is named: it never takes the
    # port of the site's Mosquitto.
    mqtt_url = mqtt_url or os.environ.get("CLINICQ_MQTT_URL") or "embedded"
    config = load_or_exit(config_dir, port=port, mqtt_url=mqtt_url)
    run_demo(config, host=host, port=config.hub.port, var_dir=Path(var_dir), db_url=db_url,
             config_dir=Path(config_dir) if config_dir else default_config_dir(), with_devices=not no_devices)


# ---------------------------------------------------------------------------------------------- db
@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@config_options
def db_upgrade(config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Create or migrate the database to the newest schema."""
    from hub.core import build_hub

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    click.echo(f"database is up to date: {_safe_url(hub_.db.url)}")
    hub_.close()


@db.command("revision")
@click.option("-m", "--message", required=True)
@config_options
def db_revision(message: str, config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """For developers: write a new migration from the models."""
    from hub import migrate
    from hub.core import build_hub

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    migrate.make_revision(hub_.db, message)
    hub_.close()


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"


# ---------------------------------------------------------------------------------------------- tokens
@cli.group()
def token() -> None:
    """API tokens for kiosks, devices, consoles and scripts."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(
    ["kiosk", "nurse", "reception", "doctor", "lab", "cashier", "admin", "device"]))
@click.option("--name", required=True, help="Who or what holds it, e.g. kiosk-sanh-a")
@config_options
def token_create(role: str, name: str, config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Create a token; prints the token alone on stdout (it is not shown again)."""
    from hub.core import build_hub

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    try:
        click.echo(hub_.tokens.create(role, name))
    finally:
        hub_.close()


@token.command("list")
@config_options
def token_list(config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """List tokens (names and roles; the secrets are not stored)."""
    from hub.core import build_hub

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    click.echo(json.dumps(hub_.tokens.list(), ensure_ascii=False, indent=2))
    hub_.close()


@token.command("revoke")
@click.option("--name", required=True)
@config_options
def token_revoke(name: str, config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Revoke every active token with this name."""
    from hub.core import build_hub
    from hub.domain.common.errors import NotFound

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    try:
        click.echo(f"revoked {hub_.tokens.revoke(name)} token(s)")
    except NotFound as exc:
        raise click.ClickException(exc.message) from None
    finally:
        hub_.close()


def stop_on_signals(stop: Any) -> None:
    """Ctrl-C and SIGTERM (systemd) both stop cleanly."""
    try:
        import gevent

        gevent.signal_handler(signal.SIGTERM, stop)
        gevent.signal_handler(signal.SIGINT, stop)
    except ImportError:  # pragma: no cover - gevent is a dependency; keep the CLI usable without it
        signal.signal(signal.SIGTERM, lambda *_: stop())


# ---------------------------------------------------------------------------------------------- devices
@cli.command("mqtt-acl")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for passwd and acl")
@config_options
def mqtt_acl(out_dir: str, config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Write Mosquitto's password and ACL files from the device registry."""
    from hub.core import build_hub
    from hub.mqtt_acl import write_broker_files

    config = load_or_exit(config_dir)
    hub_ = build_hub(config, var_dir=var_dir, db_url=db_url)
    try:
        passwd, acl = write_broker_files(Path(out_dir), config, hub_.devices.credentials(),
                                         config.hub.mqtt_password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        hub_.close()
    click.echo(f"wrote {passwd} and {acl}\nin mosquitto.conf:\n  allow_anonymous false\n"
               f"  password_file {passwd.resolve()}\n  acl_file {acl.resolve()}")


@cli.group()
def device() -> None:
    """The device registry."""


@device.command("add")
@click.option("--type", "device_type", required=True,
              type=click.Choice(["kiosk", "board", "speaker", "keypad", "led", "printer"]))
@click.option("--id", "code", required=True, help="lowercase id, e.g. kp-p101")
@click.option("--name", required=True)
@click.option("--zone", default=None)
@click.option("--counter", default=None)
@config_options
def device_add(device_type: str, code: str, name: str, zone: str | None, counter: str | None,
               config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Register a device; prints its generated secret alone (shown once)."""
    from hub.core import build_hub
    from hub.domain.common.errors import DomainError

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    try:
        click.echo(hub_.devices.add(device_type, code, name, zone=zone, counter=counter))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        hub_.close()


@device.command("list")
@config_options
def device_list(config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Devices with their state."""
    from hub.core import build_hub

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    click.echo(json.dumps(hub_.devices.list(), ensure_ascii=False, indent=2))
    hub_.close()


# ---------------------------------------------------------------------------------------------- staff
@cli.group()
def user() -> None:
    """Staff accounts for the pages."""


@user.command("add")
@click.option("--role", required=True, type=click.Choice(["reception", "nurse", "doctor", "lab", "cashier", "admin"]))
@click.option("--username", required=True, help="login name, e.g. lan.nguyen")
@click.option("--name", "full_name", required=True, help="full name as shown on pages")
@click.option("--counter", default=None, help="the counter or room they usually work at")
@click.option("--password", default=None, help="default: asked for (twice), not echoed")
@config_options
def user_add(role: str, username: str, full_name: str, counter: str | None, password: str | None,
             config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Create a staff account (the password is stored as an argon2id hash)."""
    from hub.core import build_hub
    from hub.domain.common.errors import DomainError

    if password is None:
        password = click.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True)
    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    try:
        staff = hub_.staff.add(username, full_name, role, password, counter=counter)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        hub_.close()
    click.echo(f"created {staff.username} ({staff.role})")


@user.command("list")
@config_options
def user_list(config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Staff accounts."""
    from hub.core import build_hub

    hub_ = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    click.echo(json.dumps([s.as_dict() for s in hub_.staff.list()], ensure_ascii=False, indent=2))
    hub_.close()
