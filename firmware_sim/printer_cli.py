"""`clinicq printer-emulator`: run the network thermal printer emulator from the command line."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import click

from firmware_sim.printer_emulator import PAPER_STATES, PrinterEmulator


@click.command("printer-emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: the LAN).")
@click.option("--port", default=9100, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--out-dir", default="var/printer", show_default=True,
    type=click.Path(file_okay=False, path_type=Path), help="Folder for the printed pages (PNG, one per cut).",
)
@click.option("--width", default="80", show_default=True, type=click.Choice(["80", "58"]), help="Paper width, mm.")
@click.option("--paper", default="ok", show_default=True, type=click.Choice(PAPER_STATES), help="Paper at start.")
def printer_emulator_command(host: str, port: int, out_dir: Path, width: str, paper: str) -> None:
    """Pretend to be a network thermal printer; type ok, low or out to change the paper while it runs."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    emulator = PrinterEmulator(out_dir, width_mm=int(width), host=host, port=port, paper=paper).start()
    bound_host, bound_port = emulator.address
    click.echo(f"Máy in giả lập / printer emulator: {bound_host}:{bound_port}, {width} mm, paper {paper}")
    click.echo(f"Pages go to {out_dir.resolve()}; type ok, low or out + Enter to change the paper, quit to stop.")
    try:
        for line in sys.stdin:
            command = line.strip().lower()
            if command == "quit":
                return
            if command in PAPER_STATES:
                emulator.set_paper(command)
                click.echo(f"paper {command}")
            elif command:
                click.echo(f"unknown command {command!r}: type ok, low, out or quit", err=True)
        # No terminal (stdin closed, as under a service manager): keep serving until interrupted.
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        click.echo(f"stopped; {len(emulator.pages)} page(s) printed, {emulator.discarded_jobs} lost to paper out")


def register(group: click.Group) -> None:
    """Add `printer-emulator` to the `clinicq` command group."""
    group.add_command(printer_emulator_command)
