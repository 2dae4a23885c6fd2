"""Shared fixtures: the sample clinic, fresh databases (SQLite and PostgreSQL), an engine on a virtual clock."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hub import migrate
from hub.config import ClinicConfig, load_config
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.common.events import Event, EventBus
from hub.domain.queue.engine import QueueService
from tests.support import require_service

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
SITE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PG_ADMIN_URL = os.environ.get("CLINICQ_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# No test starts this close to the site's midnight (17:00 UTC): a test issues a ticket, then calls it, and
# tickets belong to their local day, so a test across midnight would find none to call. Longer runs
# (tests/test_patient_day.py) keep a wider margin of their own.
MIDNIGHT_MARGIN_S = 90


@pytest.fixture(autouse=True)
def _never_across_midnight() -> None:
    now = datetime.now(SITE_TZ)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=SITE_TZ)
    left = (midnight - now).total_seconds()
    if left < MIDNIGHT_MARGIN_S:
        time.sleep(left + 2)


@pytest.fixture(scope="session")
def clinic() -> ClinicConfig:
    return load_config(CONFIG_DIR, env={})


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throw-away PostgreSQL database for this test session (fails in CI if PostgreSQL is absent)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"clinicq_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        require_service("postgresql", False, f"no PostgreSQL at {PG_ADMIN_URL}: {exc.orig}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'clinicq.db'}")
    else:
        url = request.getfixturevalue("pg_url")
        db = Database(url)
        from sqlalchemy import text
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(db)
    return db


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The engine tests run on both databases."""
    db = _fresh_database(request.param, tmp_path, request)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    db = _fresh_database("sqlite", tmp_path, request)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    """Monday 23 November 2026, 08:00 in Hanoi: inside opening hours."""
    return VirtualClock(datetime(2026, 11, 23, 8, 0, tzinfo=SITE_TZ))


class RecordingBus(EventBus):
    """An event bus that also keeps what was published, for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Event] = []
        self.subscribe(Event, self.seen.append)

    def of(self, kind: type) -> list:
        return [e for e in self.seen if isinstance(e, kind)]


def make_queue(db: Database, clinic: ClinicConfig, clock: VirtualClock) -> tuple[QueueService, RecordingBus]:
    bus = RecordingBus()
    queue = QueueService(db, clinic, bus, clock)
    queue.sync_config()
    return queue, bus


@pytest.fixture
def engine(any_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> tuple[QueueService, RecordingBus]:
    return make_queue(any_db, clinic, clock)


@pytest.fixture
def sqlite_engine(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> tuple[QueueService, RecordingBus]:
    return make_queue(sqlite_db, clinic, clock)
