"""Report pages on a month of a 10,000-visit-a-day hospital: how long they take to answer.

One central-hospital day is simulated through the real engine (`bench/scenarios/central-hospital.toml`),
then copied day after day with shifted dates until the month is full (simulating thirty days would take
an hour on two cores; the copies have the same shape, which is all timing needs). Payments, follow-ups and
one doctor per exam room are added so every section has rows. Then:
- the daily rollup: one day computed cold, the whole month cold (what the nightly job spreads out);
- the pages and exports, warm (rollups stored), through the Flask test client: median and max of N runs;
- today's live figures (a day computed from its tickets, cached for a minute afterwards).
Target (the issue): the report pages answer in under a second on the warm month. Prints figures; never fails.

    .venv/bin/python -m bench.bench_reports [--days 30] [--runs 5] [--db /tmp/month.db]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, func, insert, select, text, update

from bench.common import ROOT, report
from hub.app import create_app
from hub.config import ClinicConfig
from hub.core import build_hub
from hub.db import Database
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.common.clock import VirtualClock
from hub.domain.common.models import UTCDateTime
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Ticket, TicketTransition, Visit
from hub.domain.reports.service import Period, ReportService
from hub.simulation.runner import Simulation
from hub.simulation.scenario import load_scenario

SCENARIO = ROOT / "bench" / "scenarios" / "central-hospital.toml"
FOLLOW_UPS_PER_DAY = 300
FOLLOW_UP_STATES = ("booked", "fulfilled", "fulfilled", "noshow", "cancelled", "arrived")


def copy_statement(table: Any, where: str, offsets: dict[str, str]) -> str:
    """INSERT ... SELECT copying rows to another day (SQLite): ids offset, dates and instants shifted."""
    names, values = [], []
    for column in table.columns:
        names.append(column.name)
        if column.name in offsets:
            values.append(f"{column.name} + {offsets[column.name]}")
        elif isinstance(column.type, UTCDateTime):
            # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff': shift the date and time, keep the microseconds.
            values.append(f"strftime('%Y-%m-%d %H:%M:%S', {column.name}, :shift) || substr({column.name}, 20)")
        elif isinstance(column.type, Date):
            values.append(f"date({column.name}, :shift)")
        elif column.name == "idempotency_key":
            values.append("NULL")
        else:
            values.append(column.name)
    return (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(values)} FROM {table.name} "
            f"WHERE {where} ORDER BY id")


def fill_month(db: Database, first: date, days: int) -> None:
    """Copy the simulated first day onto the following days."""
    V, T, TT = Visit.__table__, Ticket.__table__, TicketTransition.__table__
    with db.write() as connection:
        top = {name: connection.execute(select(func.max(table.c.id))).scalar() or 0
               for name, table in (("v", V), ("t", T), ("tt", TT))}
        day_of_first = "day = :base"
        of_first_tickets = "ticket_id IN (SELECT id FROM tickets WHERE day = :base)"
        for offset in range(1, days):
            params = {"base": first.isoformat(), "shift": f"+{offset} days",
                      **{f"o{name}": offset * value for name, value in top.items()}}
            connection.execute(text(copy_statement(V, day_of_first, {"id": ":ov"})), params)
            connection.execute(text(copy_statement(T, day_of_first, {
                "id": ":ot", "visit_id": ":ov", "transferred_from_id": ":ot"})), params)
            connection.execute(text(copy_statement(TT, of_first_tickets, {"id": ":ott", "ticket_id": ":ot"})),
                               params)


def add_money_doctors_follow_ups(connection: Connection, clinic: ClinicConfig, first: date, days: int) -> None:
    """What the simulator does not make: a payment per cashier visit, a doctor per exam room, follow-ups."""
    connection.execute(text(
        "INSERT INTO payments (visit_id, kind, method, amount, status, actor, at) "
        "SELECT t.visit_id, 'payment', CASE t.visit_id % 4 WHEN 0 THEN 'cash' WHEN 1 THEN 'card' "
        "WHEN 2 THEN 'ewallet' ELSE 'bank_qr' END, 50000 + (t.visit_id % 9) * 25000, 'approved', 'bench', "
        "t.finished_at FROM tickets t JOIN services s ON s.id = t.service_id "
        "WHERE s.kind = 'cashier' AND t.status IN ('done', 'transferred')"))
    exams = {s.code for s in clinic.services if s.kind == "exam"}
    doctors = [{"code": f"bs-{c.code}"[:32], "name": f"BS phòng {c.name}"[:120], "service": c.services[0],
                "room": c.code, "active": True} for c in clinic.counters if c.services[0] in exams]
    connection.execute(insert(Doctor), doctors)
    doctor_id = connection.execute(select(Doctor.id).limit(1)).scalar_one()
    patient_id = connection.execute(insert(Patient).values(
        code="BN-BENCH", full_name="Bệnh nhân mẫu", created_at=datetime.now().astimezone()).returning(Patient.id)
    ).scalar_one()
    tz = clinic.site.tz
    rows = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        for number in range(FOLLOW_UPS_PER_DAY):
            slot = datetime.combine(day, datetime.min.time(), tzinfo=tz) + timedelta(hours=7, minutes=number)
            rows.append({"code": f"B{offset:03d}{number:04d}", "patient_id": patient_id, "doctor_id": doctor_id,
                         "service": doctors[number % len(doctors)]["service"], "slot_start": slot,
                         "slot_minutes": 15, "status": FOLLOW_UP_STATES[number % len(FOLLOW_UP_STATES)],
                         "channel": "doctor", "kind": "follow_up", "booked_by": "bench",
                         "created_at": slot - timedelta(days=14)})
    connection.execute(insert(Appointment), rows)


def timed(call: Any, runs: int) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - began)
    return {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3)}


def build_history(scenario_path: Path, path: Path, days: int, seed: int) -> tuple[ClinicConfig, date, float]:
    scenario, clinic = load_scenario(scenario_path)
    # The hub's SQLite syncs every transaction to disk (a printed number must survive a power cut); the
    # simulated day is played on a RAM disk when there is one, so the bench measures reports, not fsync.
    scratch = Path(tempfile.mkdtemp(prefix="clinicq-sim-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    began = time.perf_counter()
    record = Simulation(scenario, clinic, seed, f"sqlite:///{scratch / 'day.db'}").run()
    simulated = time.perf_counter() - began
    for part in scratch.iterdir():
        shutil.move(part, path.parent / part.name.replace("day.db", path.name))
    scratch.rmdir()
    url = f"sqlite:///{path}"
    print(f"simulated {scenario.date}: {record.visits} visits, {len(record.tickets)} tickets in {simulated:.0f} s",
          flush=True)
    db = Database(url)
    try:
        fill_month(db, scenario.date, days)
    finally:
        db.dispose()
    return clinic, scenario.date, simulated


def run(scenario_path: Path, days: int, runs: int, seed: int, keep: Path | None) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="clinicq-bench-reports-"))
    path = keep or folder / "month.db"
    fresh = not path.exists()
    scenario, clinic = load_scenario(scenario_path)
    first, simulated = scenario.date, None
    if fresh:
        began = time.perf_counter()
        clinic, first, simulated = build_history(scenario_path, path, days, seed)
        print(f"copied to {days} days in {time.perf_counter() - began - simulated:.0f} s", flush=True)
    last = first + timedelta(days=days - 1)
    clock = VirtualClock(datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=clinic.site.tz)
                         + timedelta(hours=8))
    hub = build_hub(clinic, var_dir=folder, db_url=f"sqlite:///{path}", clock=clock)
    try:
        with hub.db.write() as connection:
            if fresh:
                add_money_doctors_follow_ups(connection, clinic, first, days)
            # The hub's start retires doctors missing from its config: the bench's own are put back.
            connection.execute(update(Doctor).where(Doctor.code.like("bs-%")).values(active=True))
        with hub.db.read() as connection:
            counts = {name: connection.execute(select(func.count()).select_from(table)).scalar()
                      for name, table in (("visits", Visit), ("tickets", Ticket), ("transitions", TicketTransition))}
        service = ReportService(hub.db, clinic, clock)
        month = Period.between(first, last)
        began = time.perf_counter()
        service.store.store(first)
        one_day = time.perf_counter() - began
        service.store.forget(first, last)
        began = time.perf_counter()
        service.store.ensure(month.days)
        cold_month = time.perf_counter() - began

        app = create_app(hub, testing=True)
        client = app.test_client()
        admin = {"Authorization": f"Bearer {hub.tokens.create('admin', 'bench')}"}
        span = f"from={first.isoformat()}&to={last.isoformat()}"
        if fresh:
            hub.staff.add("bench.admin", "Bench", "admin", "bench-admin-123")
        page_client = app.test_client()
        login_page = page_client.get("/login").text
        token = login_page.split('name="csrf_token" value="')[1].split('"')[0]
        page_client.post("/login", data={"username": "bench.admin", "password": "bench-admin-123",
                                         "csrf_token": token})

        def get(client_: Any, url: str, **kwargs: Any) -> None:
            reply = client_.get(url, **kwargs)
            assert reply.status_code == 200, (url, reply.status_code, reply.text[:200])

        checks = {
            "page /reports (month, by service)": lambda: get(page_client, f"/reports?{span}&by=service"),
            "page /reports (month, by counter)": lambda: get(page_client, f"/reports?{span}&by=counter"),
            "page /reports (month, by doctor)": lambda: get(page_client, f"/reports?{span}&by=doctor"),
            "page /reports/daily": lambda: get(page_client, f"/reports/daily?date={last.isoformat()}"),
            "api /reports (all 11 tables, JSON)": lambda: get(client, f"/api/v1/reports?{span}", headers=admin),
            "csv by_counter": lambda: get(client, f"/api/v1/reports/by_counter?{span}&format=csv", headers=admin),
            "xlsx workbook (all tables)": lambda: get(client, f"/api/v1/reports/workbook?{span}", headers=admin),
            "api /ops (live)": lambda: get(client, "/api/v1/ops", headers=admin),
        }
        warm = {name: timed(call, runs) for name, call in checks.items()}

        # Today: the last day seen as the current one, computed from its tickets (cached for a minute after).
        live_clock = VirtualClock(datetime.combine(last, datetime.min.time(), tzinfo=clinic.site.tz)
                                  + timedelta(hours=17))
        live = ReportService(hub.db, clinic, live_clock)
        live.store.forget(last, last)
        began = time.perf_counter()
        live.report(Period.between(last - timedelta(days=days - 1), last), ("service", "hour"))
        today_cold = time.perf_counter() - began
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    finally:
        hub.close()
    figures: dict[str, Any] = {
        "days": days, **counts, "database_mb": round(size_mb),
        "simulated_day_s": round(simulated, 1) if simulated else "reused",
        "rollup_one_day_s": round(one_day, 3), "rollup_cold_month_s": round(cold_month, 2),
        "month_with_today_live_first_s": round(today_cold, 3),
    }
    figures.update({name: value for name, value in warm.items()})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIO)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, default=None, help="keep the month here (reused if it exists)")
    args = parser.parse_args()
    figures = run(args.scenario, args.days, args.runs, args.seed, args.db)
    report(f"reports: {args.days} days of {args.scenario.stem} (SQLite)", figures,
           {name: "< 1 s" for name in figures if name.startswith(("page", "api /reports"))})


if __name__ == "__main__":
    main()
