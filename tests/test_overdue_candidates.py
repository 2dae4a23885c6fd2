"""The once-a-minute count of tickets past their P90 (forecast `_calibrated_scale`) lets the database
pick the candidates; what it keeps after the exact test must be what a full scan keeps, on SQLite and
PostgreSQL, including tickets right at their P90 (not overdue) and just past it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from hub.db_fast import execute as fast
from hub.domain.common.clock import VirtualClock, local_day, to_ms
from hub.domain.queue.core import T
from hub.domain.queue.engine import QueueService
from hub.domain.queue.forecast import _OVERDUE_CANDIDATES, _WAITING_WITH_P90
from tests.conftest import RecordingBus


def _overdue(rows, now_ms: int) -> set[int]:  # type: ignore[no-untyped-def]
    return {row.id for row in rows if (now_ms - to_ms(row.issued_at)) / 60_000 > row.estimate_p90_min}


def test_database_candidates_keep_exactly_the_overdue(engine: tuple[QueueService, RecordingBus],
                                                      clock: VirtualClock) -> None:
    queue, _bus = engine
    start = clock.now()
    ids = []
    for _ in range(12):
        ids.append(queue.issue("tiep-don")["id"])
        clock.advance(61)
    now = clock.now()
    # Ages run from 732 s down to 61 s; P90s chosen around them: exactly at it, 0.5 s under, well past...
    with queue.db.write() as connection:
        for index, ticket_id in enumerate(ids):
            age_min = (now - (start + timedelta(seconds=61 * index))).total_seconds() / 60
            p90 = [age_min, age_min + 0.5 / 60, age_min - 0.5 / 60, age_min / 2, age_min * 3, 0.0][index % 6]
            connection.execute(update(T).where(T.c.id == ticket_id).values(estimate_p90_min=p90))
    service_id = queue._service_ids["tiep-don"]
    day = local_day(now, queue.tz)
    with queue.db.read() as connection:
        full = fast(connection, _WAITING_WITH_P90, {"b_service": service_id, "b_day": day}).all()
        statement = _OVERDUE_CANDIDATES[connection.dialect.name]
        candidates = fast(connection, statement, {"b_service": service_id, "b_day": day, "b_now": now}).all()
    expected = _overdue(full, to_ms(now))
    assert len(full) == 12 and 0 < len(expected) < 12
    assert {row.id for row in candidates} >= expected  # a superset...
    assert len(candidates) < len(full)  # ...that leaves the clearly-not-overdue behind
    assert _overdue(candidates, to_ms(now)) == expected
