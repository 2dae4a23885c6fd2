"""`clinicq kiosk`: the touchscreen kiosk agent on a Raspberry Pi (page, printer, scanner, offline issue)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from kiosk.settings import KioskSettings


def register(group: click.Group) -> None:
    """Add the `kiosk` command to the `clinicq` group."""

    @group.command("kiosk")
    @click.option("--hub", "hub_url", envvar="CLINICQ_HUB", required=True, help="The hub, e.g. http://10.0.0.5:8000")
    @click.option("--token", envvar="CLINICQ_TOKEN", required=True,
                  help="A kiosk token (clinicq token create --role kiosk --name ID); env CLINICQ_TOKEN")
    @click.option("--printer", envvar="CLINICQ_PRINTER", required=True,
                  help="network:HOST[:PORT], usb:VID:PID, serial:DEVICE[:BAUD], file:PATH or dummy")
    @click.option("--paper", "paper_mm", envvar="CLINICQ_PAPER_MM", type=click.Choice(["80", "58"]), default="80",
                  show_default=True, help="Paper roll width in mm")
    @click.option("--scanner", envvar="CLINICQ_SCANNER", default=None,
                  help="The QR scanner's serial device, e.g. /dev/ttyACM0")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address the page is served on")
    @click.option("--port", type=int, default=8080, show_default=True, help="Port the page is served on")
    @click.option("--id", "device_id", envvar="CLINICQ_KIOSK_ID", default="kiosk-sanh-a", show_default=True,
                  help="This kiosk's device id (its MQTT login)")
    @click.option("--mqtt", "mqtt_url", envvar="CLINICQ_MQTT_URL", default=None,
                  help="The device bus, mqtt://HOST:PORT (none: no MQTT)")
    @click.option("--secret", envvar="CLINICQ_DEVICE_SECRET", default=None,
                  help="The device's MQTT password; env CLINICQ_DEVICE_SECRET")
    @click.option("--data", "data_dir", type=click.Path(file_okay=False), default="var/kiosk", show_default=True,
                  help="Folder of the kiosk's SQLite file (outbox, leases)")
    @click.option("--services", envvar="CLINICQ_KIOSK_SERVICES", default="",
                  help="Only these services, comma separated (default: all)")
    @click.option("--lease-size", type=click.IntRange(1, 500), default=20, show_default=True,
                  help="Numbers per service held for offline issue")
    @click.option("--poll", "poll_s", type=click.FloatRange(0.2, 60), default=3.0, show_default=True,
                  help="Seconds between reads of the hub's services and counters")
    @click.option("--idle", "idle_s", type=click.IntRange(5, 600), default=45, show_default=True,
                  help="Seconds untouched before the page returns to its start")
    def kiosk(hub_url: str, token: str, printer: str, paper_mm: str, scanner: str | None, host: str, port: int,
              device_id: str, mqtt_url: str | None, secret: str | None, data_dir: str, services: str,
              lease_size: int, poll_s: float, idle_s: int) -> None:
        """Run the kiosk agent: serve the touchscreen page, print tickets, read the scanner."""
        from kiosk.printers import parse_printer_spec

        try:
            parse_printer_spec(printer)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--printer") from None
        # Importing python-escpos calls logging.basicConfig(): take the configuration back.
        logging.basicConfig(level=logging.getLogger().level or logging.INFO, force=True,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per page poll is noise
        settings = KioskSettings(
            hub_url=hub_url, token=token, printer=printer, device_id=device_id, paper_mm=int(paper_mm),
            scanner=scanner, host=host, port=port, mqtt_url=mqtt_url, secret=secret, data_dir=Path(data_dir),
            services=tuple(s.strip() for s in services.split(",") if s.strip()), lease_size=lease_size,
            poll_s=poll_s, idle_s=idle_s)
        run_kiosk(settings)


def run_kiosk(settings: KioskSettings) -> None:
    """Start the agent and its page; stop both on Ctrl-C or SIGTERM."""
    from kiosk.agent import KioskAgent
    from kiosk.web import KioskServer

    log = logging.getLogger("clinicq.kiosk")
    agent = KioskAgent(settings).start()
    server = KioskServer(agent, settings.host, settings.port).start()
    log.info("kiosk %s: page on http://%s:%d, hub %s", settings.device_id, settings.host, server.port,
             settings.hub_url)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    log.info("kiosk stopping")
    server.stop()
    agent.stop()
