"""CPU per POST /tickets through the whole web application, in-process: Flask, access table, input
guards, the engine and SQLite, without the gevent server (`process_time`, so fsync waits and other
processes do not count). Compare two trees by PYTHONPATH, run alternately on a shared machine:

    PYTHONPATH=. .venv/bin/python bench/ticket_cpu.py [--tickets 1500]
    PYTHONPATH=/path/to/other/tree .venv/bin/python bench/ticket_cpu.py
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

from hub.app import create_app
from hub.config import load_config
from hub.core import build_hub

CONFIG = Path(__file__).resolve().parents[1] / "config"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1500)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="clinicq-ticket-cpu-"))
    hub = build_hub(load_config(CONFIG, env={}), var_dir=folder, db_url=f"sqlite:///{folder / 'hub.db'}")
    token = hub.tokens.create("kiosk", "bench-kiosk")
    app = create_app(hub, async_mode="threading")
    body = json.dumps({"service": "tiep-don"}).encode()
    environ = EnvironBuilder(path="/api/v1/tickets", method="POST", data=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"}).get_environ()

    def post() -> None:
        statuses: list[str] = []
        request = {**environ, "wsgi.input": io.BytesIO(body)}
        b"".join(app(request, lambda status, _headers, _exc=None: statuses.append(status)))
        if not statuses[0].startswith("201"):
            raise SystemExit(f"POST /tickets answered {statuses[0]}")

    for _ in range(200):  # warm caches, prepared statements and the line index
        post()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(args.tickets):
        post()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    figures = {"benchmark": "POST /tickets CPU in-process", "tickets": args.tickets,
               "cpu_ms_per_ticket": round(cpu * 1000 / args.tickets, 3),
               "wall_ms_per_ticket": round(wall * 1000 / args.tickets, 3), "load": round(os.getloadavg()[0], 1)}
    print(json.dumps(figures))
    hub.close()


if __name__ == "__main__":
    main()
