"""Ticket issue under saturation, driven by wrk (a C load generator), one connection per wrk thread.

Python kiosks on the same 2 cores take much of the CPU they measure; wrk takes little. The Lua script
counts the 201 answers per thread (`response`) and, in `done`, reads wrk's record of every request's
time (taken in C around each request on its connection) for the p50/p90/p99, printing one JSON line.
Runs at 10 and 50 connections for the given seconds on SQLite (synchronous=FULL, group commit on, and
off for comparison) and on PostgreSQL when one answers at 127.0.0.1:5432. Needs wrk:
`sudo apt-get install wrk` (Debian/Ubuntu). Prints a table and a JSON line; never fails on time.

    .venv/bin/python -m bench.bench_wrk [--seconds 20] [--connections 10,50] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from bench.common import ROOT

LUA = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  samples = {}
  created = 0
  others = 0
  wrk.method = "POST"
  wrk.body = '{"service": "' .. args[1] .. '"}'
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
end
function response(status, headers, body)
  if status == 201 then created = created + 1 else others = others + 1 end
end
function done(summary, latency, requests)
  local created_all, others_all = 0, 0
  for _, thread in ipairs(threads) do
    created_all = created_all + thread:get("created")
    others_all = others_all + thread:get("others")
  end
  io.write(string.format('CLINICQ {"created": %d, "others": %d, "seconds": %.3f, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    created_all, others_all, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def _wrk(url: str, token: str, service: str, connections: int, seconds: float, script: Path) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", str(script),
         url, "--", service, token], capture_output=True, text=True, timeout=seconds + 60)
    line = next((row for row in out.stdout.splitlines() if row.startswith("CLINICQ ")), None)
    if line is None:
        raise RuntimeError(f"wrk said: {out.stdout[-800:]} {out.stderr[-800:]}")
    figures = json.loads(line.removeprefix("CLINICQ "))
    figures["tickets_per_s"] = round(figures["created"] / figures["seconds"], 1)
    return figures


def _postgres_url() -> str | None:
    try:
        from sqlalchemy import create_engine, text

        admin = create_engine(os.environ.get("CLINICQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
                              isolation_level="AUTOCOMMIT")
        name = f"clinicq_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return str(admin.url.set(database=name).render_as_string(hide_password=False))
    except Exception:  # no PostgreSQL here: the SQLite figures alone
        return None


def run(seconds: float, connection_counts: list[int], postgres: bool) -> list[dict]:
    script = Path(tempfile.mkdtemp(prefix="clinicq-wrk-")) / "issue.lua"
    script.write_text(LUA)
    setups = [("SQLite FULL, group commit", None, {}),
              ("SQLite FULL, one commit each", None, {"CLINICQ_GROUP_COMMIT": "0"})]
    if postgres and (url := _postgres_url()):
        setups.append(("PostgreSQL", url, {}))
        # Group commit on PostgreSQL is opt-in (docs/operations.md: safe with one hub process per database).
        if second := _postgres_url():
            setups.append(("PostgreSQL, group commit (=all)", second, {"CLINICQ_GROUP_COMMIT": "all"}))
    rows = []
    for name, db_url, env in setups:
        folder = Path(tempfile.mkdtemp(prefix="clinicq-bench-"))
        hub = _start(folder, db_url, env)
        try:
            token = hub.headers("kiosk")["Authorization"].removeprefix("Bearer ")
            for connections in connection_counts:
                figures = _wrk(hub.api + "/tickets", token, "tiep-don", connections, seconds, script)
                rows.append({"database": name, "connections": connections, **figures})
        finally:
            hub.stop()
    return rows


def _start(folder: Path, db_url: str | None, env: dict[str, str]):  # type: ignore[no-untyped-def]
    from tests.hub_server import HubProcess, free_port

    folder.mkdir(parents=True, exist_ok=True)
    hub = HubProcess(var_dir=folder, db_url=db_url or f"sqlite:///{folder / 'hub.db'}", port=free_port(), env=env)
    hub.create_tokens()
    hub.start(timeout=180)  # a loaded machine can take a minute to import and migrate
    return hub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", default="10,50")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("\n== ticket issue under wrk ==\n  skipped: wrk is not installed. Install it with "
              "`sudo apt-get install wrk` (Debian/Ubuntu) or build it from https://github.com/wg/wrk")
        return
    rows = run(args.seconds, [int(c) for c in args.connections.split(",")], not args.no_postgres)
    print(f"\n== ticket issue under wrk, {args.seconds:g} s per run (per-request times from the Lua script) ==")
    print(f"  {'database':<32} {'conns':>5} {'tickets/s':>9} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'non-201':>7}")
    for row in rows:
        print(f"  {row['database']:<32} {row['connections']:>5} {row['tickets_per_s']:>9} {row['p50_ms']:>7} "
              f"{row['p90_ms']:>7} {row['p99_ms']:>7} {row['max_ms']:>7} {row['others']:>7}")
    print("  (targets: >= 1,500 tickets/s on SQLite synchronous=FULL; p99 < 50 ms at 50 connections)")
    print(json.dumps({"benchmark": "ticket issue under wrk", "rows": rows, "root": str(ROOT)}))


if __name__ == "__main__":
    main()
