"""`clinicq demo`: the sample clinic on one machine, every part running, ready to click through.

The hub runs in this process; the other parts run as they would on their own Raspberry Pis, as child
processes speaking the wire contract: a printer emulator, the touchscreen kiosk agent printing to it,
one speaker per zone writing its announcements as WAV files, and a fleet of simulated counter keypads,
LED displays and ticket dispensers whose simulated staff and patients keep the queues moving.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import click

from hub.broker import connect_url, port_answers
from hub.children import clinicq_command, start_child, stop_child
from hub.config import ClinicConfig
from hub.core import Hub
from hub.domain.common.clock import local_day
from hub.realtime.mqtt_bridge import parse_mqtt_url
from hub.server import serve

log = logging.getLogger(__name__)
DEMO_ROLES = ("kiosk", "nurse", "reception", "doctor", "lab", "cashier", "admin", "device")
# Demo staff accounts (username, full name, role, counter); passwords are generated once.
DEMO_STAFF = (
    ("admin", "Quản trị viên", "admin", None),
    ("tiepdon", "Nguyễn Thị Tiếp Đón", "reception", "q3"),
    ("dieuduong", "Lê Thị Lan", "nurse", "p104"),
    ("bs.an", "BS.CKI Nguyễn Văn An", "doctor", "p101"),
    ("xetnghiem", "Trần Văn Xét", "lab", "p201"),
    ("thungan", "Phạm Thị Thu", "cashier", "q5"),
)
KIOSK_ID = "kiosk-sanh-a"
SPEAKER_ZONES = ("sanh-a", "tang-1", "tang-2")


def demo_tokens(hub: Hub) -> dict[str, str]:
    """One token per role, kept in var/ so the demo prints the same ones on every start."""
    path = hub.var_dir / "demo-tokens.json"
    tokens: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    changed = False
    for role in DEMO_ROLES:
        if role not in tokens or hub.tokens.verify(tokens[role]) is None:
            tokens[role] = hub.tokens.create(role, f"demo-{role}")
            changed = True
    if changed:
        _write_private(path, tokens)
    return tokens


def demo_users(hub: Hub) -> dict[str, str]:
    """Staff accounts for the pages, with passwords generated once and kept in var/ (mode 600)."""
    path = hub.var_dir / "demo-users.json"
    passwords: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    for username, full_name, role, counter in DEMO_STAFF:
        if hub.staff.by_username(username) is None:
            passwords[username] = passwords.get(username) or demo_password()
            hub.staff.add(username, full_name, role, passwords[username], counter=counter)
    _write_private(path, passwords)
    return passwords


def demo_password() -> str:
    """A random password that always meets the staff password rules (letters, digits and a symbol):
    token_urlsafe alone is now and then letters only, which the rules refuse."""
    return f"{secrets.token_urlsafe(9)}-{secrets.randbelow(900) + 100}"


def _write_private(path: Path, content: dict[str, str]) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False))
    path.chmod(0o600)


def open_all_counters(hub: Hub) -> None:
    for counter in hub.config.counters:
        hub.queue.open_counter(counter.code, actor="system:demo")


def lan_address() -> str:
    """This machine's LAN address, so a phone scanning a ticket's QR code reaches the demo."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks a route
        return probe.getsockname()[0]
    return "127.0.0.1"


def free_port_near(preferred: int) -> int:
    """The preferred port if nothing listens there, else one the system picks."""
    if not port_answers("127.0.0.1", preferred, timeout=0.2):
        return preferred
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class DemoAgents:
    """The device agents of the demo, each a child process with its own log under var/demo/."""

    config: ClinicConfig
    hub_url: str
    folder: Path
    kiosk_token: str
    config_dir: Path
    with_devices: bool = True
    printer_port: int = 0
    slip_printer_port: int = 0  # the rooms' and reception's slips (order slip, return to the doctor)
    kiosk_port: int = 0
    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        mqtt_url = connect_url(self.config.hub.mqtt_url) if self.config.hub.mqtt_url else ""
        self.printer_port = free_port_near(9100)
        self.kiosk_port = free_port_near(8080)
        self.slip_printer_port = free_port_near(9110)
        self._spawn("slip-printer", "printer-emulator", "--port", str(self.slip_printer_port),
                    "--out-dir", str(self.folder / "slips"))
        self._spawn("printer", "printer-emulator", "--port", str(self.printer_port),
                    "--out-dir", str(self.folder / "printer"))
        kiosk = self.config.device(KIOSK_ID)
        kiosk_args = ["--hub", self.hub_url, "--token", self.kiosk_token, "--id", KIOSK_ID,
                      "--printer", f"network:127.0.0.1:{self.printer_port}", "--port", str(self.kiosk_port),
                      "--data", str(self.folder / "kiosk"), "--mqtt", mqtt_url or "none"]
        if kiosk is not None and kiosk.secret:
            kiosk_args += ["--secret", kiosk.secret]
        self._spawn("kiosk", "kiosk", *kiosk_args)
        if not mqtt_url or not self.with_devices:
            return
        for zone in SPEAKER_ZONES:
            speaker = next((d for d in self.config.devices if d.type == "speaker" and d.zone == zone), None)
            args = ["--zone", zone, "--hub-mqtt", mqtt_url, "--out-dir", str(self.folder / "speaker" / zone),
                    "--site", self.config.site.id]
            if speaker is not None:
                args += ["--id", speaker.id] + (["--secret", speaker.secret] if speaker.secret else [])
            self._spawn(f"speaker-{zone}", "speaker", *args)
        # Simulated keypads, LEDs and dispensers, ten times faster than life so the demo moves.
        self._spawn("fleet", "sim", "--mqtt", mqtt_url, "--config", str(self.config_dir), "--speakers", "0",
                    "--speedup", "10", "--arrivals", "90")

    def _spawn(self, name: str, *args: str) -> None:
        command = clinicq_command(*args)
        try:
            process = start_child(command, self.folder / f"{name}.log")
        except OSError as exc:
            log.warning("demo: could not start %s: %s", name, exc)
            return
        self.children.append((name, process))

    def stop(self) -> None:
        for _name, process in reversed(self.children):
            stop_child(process)
        self.children.clear()


def with_simulated_zalo(config: ClinicConfig) -> tuple[ClinicConfig, str | None]:
    """Unless a real Zalo OA is configured, messages go first to a simulated ZNS server (hub/notify/zalo_sim.py)
    that accepts every configured template, so the demo shows the Zalo channel and its records."""
    from hub.notify.zalo_sim import TOKEN, SimState, ZaloSimulator

    settings = config.notifications
    if settings.zalo.enabled:
        return config, None
    templates: dict[str, set[str]] = {t.template_id: set() for t in settings.zalo.templates.values()}
    simulator = ZaloSimulator(SimState(templates=templates), port=free_port_near(8095)).start()
    zalo = settings.zalo.model_copy(update={"enabled": True, "url": simulator.url, "access_token": TOKEN})
    channels = list(dict.fromkeys(["zalo", *settings.channels]))
    notifications = settings.model_copy(update={"zalo": zalo, "channels": channels})
    return config.model_copy(update={"notifications": notifications}), simulator.url
def wire_demo_slip_printers(hub: Hub, port: int) -> None:
    """Every doctor's room and reception counter without a printer of its own prints its slips to the
    demo's slip emulator (one PNG per slip)."""
    from hub.printing.slip_printer import EscposSlipPrinter

    config = hub.config
    wanted = {s.code for s in config.services if s.kind in ("exam", "reception")}
    counters = [c if c.printer or not wanted.intersection(c.services)
                else c.model_copy(update={"printer": "demo-slips"}) for c in config.counters]
    printers = {**config.printers, "demo-slips": f"network:127.0.0.1:{port}"}
    wired = config.model_copy(update={"counters": counters, "printers": printers})
    hub.clinical.slips.clinic = wired
    hub.clinical.slips.printer = EscposSlipPrinter(wired)



CHILD_AGE_YEARS = 3  # the demo's insured children: old enough to talk, years from their card's end


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def redate_child_cards(cards: list[dict[str, Any]], today: date) -> None:
    """A child's card (TE) ends the day before the sixth birthday, so a child born on a fixed date would
    turn into a second expired card some year: in the demo each child is CHILD_AGE_YEARS old whatever
    the date, the card running from birth to that end."""
    for card in cards:
        if not str(card.get("card_code") or "").startswith("TE"):
            continue
        born = _years_later(today, -CHILD_AGE_YEARS)
        card.update(date_of_birth=born, valid_from=born, valid_to=_years_later(born, 6) - timedelta(days=1))


def run_demo(config: ClinicConfig, *, host: str, port: int, var_dir: Path, config_dir: Path,
             db_url: str | None = None, with_devices: bool = True) -> None:
    db_url = db_url or f"sqlite:///{(var_dir / 'demo.db').resolve()}"
    if config.site.public_url == "http://127.0.0.1:8000":
        site = config.site.model_copy(update={"public_url": f"http://{lan_address()}:{port}"})
        config = config.model_copy(update={"site": site})

    config, zalo_url = with_simulated_zalo(config)

    def started(hub: Hub) -> None:
        open_all_counters(hub)
        if hub.insurance is not None:  # insured and fee-paying patients in the simulated fleet
            from hub.domain.insurance.demo import install_demo_payers

            cards = getattr(hub.insurance.gateway, "cards", None)  # the simulated gateway's, not a portal's
            if isinstance(cards, list):
                redate_child_cards(cards, local_day(hub.clock.now(), hub.config.site.tz))

            install_demo_payers(hub.bus, hub.insurance, {s.code for s in hub.config.services if s.kind == "exam"})
        tokens = demo_tokens(hub)
        users = demo_users(hub)
        base = f"http://127.0.0.1:{port}"
        agents = DemoAgents(config, base, var_dir / "demo", tokens["kiosk"], config_dir,
                            with_devices=with_devices)
        agents.start()
        hub.closers.append(agents.stop)
        wire_demo_slip_printers(hub, agents.slip_printer_port)
        mqtt = connect_url(config.hub.mqtt_url) if config.hub.mqtt_url else ""
        if mqtt:
            mqtt_host, mqtt_port = parse_mqtt_url(mqtt)
            mqtt = f"{mqtt} ({'answering' if port_answers(mqtt_host, mqtt_port) else 'starting'})"
        lines = [
            "",
            f"  clinicq demo — {config.site.name}",
            f"  Trang chủ / start page      {base}/",
            f"  Nhân viên / staff login     {base}/login",
            *[f"      {name:<10} {password}" for name, password in users.items()],
            f"  Kiosk (touchscreen)         http://127.0.0.1:{agents.kiosk_port}/",
            *[f"  Bảng / board {d.id:<14} {base}/board/{d.id}" for d in config.displays],
            f"  Cổng bệnh nhân / portal     {base}/portal",
            f"  API                         {base}/api/v1/openapi.json",
            f"  MQTT                        {mqtt or 'off'}",
            f"  Zalo ZNS (simulated)        {zalo_url or 'configured: the real OA'}",
            f"  Printed tickets (PNG)       {var_dir / 'demo' / 'printer'}",
            f"  Slips of rooms/reception    {var_dir / 'demo' / 'slips'}",
            f"  Announcements (WAV)         {var_dir / 'demo' / 'speaker'}",
            "  API tokens (Authorization: Bearer ...):",
            *[f"      {role:<10} {value}" for role, value in tokens.items()],
            "  Ctrl-C to stop.",
            "",
        ]
        click.echo("\n".join(lines))

    serve(config, host=host, port=port, var_dir=var_dir, db_url=db_url, on_started=started)
