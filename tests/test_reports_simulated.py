"""`clinicq simulate --db URL --days N` keeps days of history, and the reports read them."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from hub.config import load_config
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.queue.models import Ticket
from hub.domain.reports.service import Period, ReportService
from hub.domain.reports.tables import build
from hub.simulation.cli import simulate
from tests.conftest import CONFIG_DIR, ROOT, SITE_TZ

FIRST = date(2026, 11, 2)


def tiny_scenario(folder: Path) -> Path:
    """The small clinic's scenario with a tenth of its patients: two days play in a few seconds."""
    text = (ROOT / "bench" / "scenarios" / "small-clinic.toml").read_text(encoding="utf-8")
    for line in ("kham-noi = 65", "kham-ngoai = 34", "kham-nhi = 35", "kham-san = 30", "kham-tmh = 45",
                 "xet-nghiem = 55", "nha-thuoc = 35"):
        name, count = line.split(" = ")
        text = text.replace(line, f"{name} = {max(int(count) // 10, 1)}")
    path = folder / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_days_of_history_for_the_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    result = CliRunner().invoke(simulate, ["--scenario", str(tiny_scenario(tmp_path)), "--db", url, "--days", "2",
                                           "--start", FIRST.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("2026-11-02: ") and "\n2026-11-03: " in result.output
    db = Database(url)
    try:
        with db.read() as connection:
            per_day = dict(connection.execute(select(Ticket.day, func.count()).group_by(Ticket.day)).all())
        assert set(per_day) == {FIRST, date(2026, 11, 3)}
        clock = VirtualClock(datetime.combine(date(2026, 11, 10), time(8), tzinfo=SITE_TZ))
        report = ReportService(db, load_config(CONFIG_DIR, env={}), clock).report(Period.around("week", FIRST), ())
        days = {row["day"]: row for row in build(report, "days").rows}
        assert days["2026-11-02"]["issued"] == per_day[FIRST] and days["2026-11-03"]["issued"] == per_day[
            date(2026, 11, 3)]
        assert days["2026-11-02"]["served"] > 0 and days["2026-11-02"]["wait_median"] is not None
    finally:
        db.dispose()


def test_several_days_need_a_database_to_keep(tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate, ["--scenario", str(tiny_scenario(tmp_path)), "--days", "2"])
    assert result.exit_code != 0 and "database URL" in result.output
