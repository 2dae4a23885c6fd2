"""`clinicq structure`: the clinic structure in force, exported as JSON or imported from JSON or config/.

The database is the truth once a site runs; these commands move a structure between sites, keep a
copy under version control, or put the files' structure back in force on purpose (audited as an import).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hub.cli import config_options, load_or_exit


def register(group: click.Group) -> None:
    group.add_command(structure)


@click.group()
def structure() -> None:
    """The clinic structure edited on the admin pages (services, counters, boards, hours, holidays)."""


@structure.command("export")
@config_options
def export(config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Print the structure in force as JSON (importable with `clinicq structure import`)."""
    from hub.core import build_hub
    from hub.domain.structure.service import structure_of

    hub = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    try:
        click.echo(json.dumps({"version": hub.config.version, "structure": structure_of(hub.config.current)},
                              ensure_ascii=False, indent=2))
    finally:
        hub.close()


@structure.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.option("--actor", default="cli", help="who the audit trail names")
@config_options
def import_(source: Path, actor: str, config_dir: str | None, db_url: str | None, var_dir: str) -> None:
    """Put a structure in force: a JSON file from `export`, or a config/ folder's files."""
    from hub.config import ConfigError, load_config
    from hub.core import build_hub
    from hub.domain.common.errors import DomainError
    from hub.domain.structure.service import structure_of

    try:
        if source.is_dir():
            document = structure_of(load_config(source))
        else:
            loaded = json.loads(source.read_text(encoding="utf-8"))
            document = loaded.get("structure", loaded) if isinstance(loaded, dict) else None
            if not isinstance(document, dict):
                raise click.ClickException(f"{source}: expected the JSON object `clinicq structure export` prints")
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    hub = build_hub(load_or_exit(config_dir), var_dir=var_dir, db_url=db_url)
    try:
        applied = hub.structure.change(document, actor=f"cli:{actor}"[:64], action="structure.import")
        click.echo(f"structure version {hub.config.version} in force ({len(applied.services)} services, "
                   f"{len(applied.counters)} counters and rooms); running hubs apply it within seconds")
    except DomainError as exc:
        click.echo(f"clinicq: {exc.message}", err=True)
        sys.exit(1)
    finally:
        hub.close()
