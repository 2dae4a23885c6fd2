"""`clinicq demo`: the sample clinic running on one machine, ready to click through."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from pathlib import Path

import click

from hub.config import ClinicConfig
from hub.core import Hub
from hub.server import serve

log = logging.getLogger(__name__)
DEMO_ROLES = ("kiosk", "nurse", "reception", "doctor", "admin", "device")


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
        path.write_text(json.dumps(tokens, indent=2))
        path.chmod(0o600)
    return tokens


def open_all_counters(hub: Hub) -> None:
    for counter in hub.config.counters:
        hub.queue.open_counter(counter.code, actor="system:demo")


def lan_address() -> str:
    """This machine's LAN address, so a phone scanning a ticket's QR code reaches the demo."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks a route
        return probe.getsockname()[0]
    return "127.0.0.1"


def run_demo(config: ClinicConfig, *, host: str, port: int, var_dir: Path, db_url: str | None = None) -> None:
    db_url = db_url or f"sqlite:///{(var_dir / 'demo.db').resolve()}"
    if config.site.public_url == "http://127.0.0.1:8000":
        site = config.site.model_copy(update={"public_url": f"http://{lan_address()}:{port}"})
        config = config.model_copy(update={"site": site})

    def started(hub: Hub) -> None:
        open_all_counters(hub)
        tokens = demo_tokens(hub)
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            f"  clinicq demo — {config.site.name}",
            f"  Trang chủ / start page:   {base}/",
            f"  API:                      {base}/api/v1/openapi.json",
            *[f"  Bảng / board {d.id:<12} {base}/board/{d.id}" for d in config.displays],
            "  Tokens (Authorization: Bearer ...):",
            *[f"    {role:<10} {value}" for role, value in tokens.items()],
            f"  Try: curl -X POST -H 'Authorization: Bearer {tokens['kiosk']}' -H 'Content-Type: application/json' "
            f"-d '{{\"service\": \"kham-noi\"}}' {base}/api/v1/tickets",
            "  Ctrl-C to stop.",
            "",
        ]
        click.echo("\n".join(lines))

    serve(config, host=host, port=port, var_dir=var_dir, db_url=db_url, on_started=started)
