"""The follow-up figures against values worked out by hand on a small, known set of follow-ups.

Ordered on Monday 23 November (seven orders, one of them a series of three booked one by one):
  A1 bs-an Mon 30/11  confirmed by link, attended      A4  bs-cuong Wed 2/12  attended -> A4b Wed 16/12 (ahead)
  A2 bs-an Tue 1/12   cancelled through the link       A5  bs-an Mon 30/11    no-show
  A3 bs-cuong Mon 30/11 confirmed by link, no-show     A6  bs-an Mon 30/11    confirmed by link, attended
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from hub.config import ClinicConfig
from hub.core import Hub
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Invalid
from hub.domain.follow_ups.analysis import lead_bucket
from tests.follow_up_support import MONDAY, at, attend, hub_on, patient_with_visit

FIRST, LAST = MONDAY, date(2026, 12, 20)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(at(MONDAY, "08:00"))


def order(hub: Hub, n: int, doctor: str, day: date, **series: int | str) -> dict:  # type: ignore[type-arg]
    _, visit = patient_with_visit(hub, name=f"Bệnh nhân {n}", doctor=doctor, phone=f"091000000{n}")
    return hub.follow_ups.order(visit, actor=f"user:{doctor}", on=day, **series)["appointments"][0]  # type: ignore[arg-type]


def confirm(hub: Hub, appointment: dict) -> None:  # type: ignore[type-arg]
    hub.follow_ups.replies.confirm(hub.follow_ups.replies.token_for(appointment))


@pytest.fixture
def known(tmp_path: Path, clinic: ClinicConfig, clock: VirtualClock, any_db: Database) -> Iterator[Hub]:
    hub = hub_on(tmp_path, clinic, clock, db_url=any_db.url)  # SQLite and PostgreSQL
    monday, tuesday, wednesday = date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)
    a1 = order(hub, 1, "bs-an", monday)
    a2 = order(hub, 2, "bs-an", tuesday)
    a3 = order(hub, 3, "bs-cuong", monday)
    a4 = order(hub, 4, "bs-cuong", wednesday, count=3, every_days=14, mode="next")
    order(hub, 5, "bs-an", monday)  # A5: no-show
    a6 = order(hub, 6, "bs-an", monday)
    for appointment in (a1, a3, a6):
        confirm(hub, appointment)
    hub.follow_ups.replies.cancel(hub.follow_ups.replies.token_for(a2))
    clock.set(at(monday, "07:25"))
    attend(hub, a1["code"], "p101")
    attend(hub, a6["code"], "p101")
    hub.follow_ups.close_day(at(monday, "18:00"))  # A3 and A5
    clock.set(at(wednesday, "07:20"))
    attend(hub, a4["code"], "p103")  # books A4b for 16 December
    clock.set(at(date(2026, 12, 7), "08:00"))
    yield hub
    hub.close()


def test_lead_time_buckets() -> None:
    assert [lead_bucket(d) for d in (0, 7, 8, 14, 15, 30, 31, 60, 61, 400)] == [
        "0–7", "0–7", "8–14", "8–14", "15–30", "15–30", "31–60", "31–60", "> 60", "> 60"]


def test_figures_match_the_hand_count(known: Hub) -> None:
    figures = known.follow_ups.analysis.figures(FIRST, LAST)
    assert figures["follow_up_rate"] == {"orders": 6, "ordered": 8, "booked": 7, "attended": 3,
                                         "booked_rate": 0.875, "attended_rate": 0.375}
    assert figures["overall"] == {"total": 7, "confirmed": 3, "cancelled": 1, "no_show": 2, "attended": 3, "ahead": 1,
                                  "confirmation_rate": 0.4286, "cancellation_rate": 0.1429, "no_show_rate": 0.4,
                                  "attendance_rate": 0.6}
    by = figures["by"]
    services = {g["key"]: g for g in by["service"]}
    assert (services["kham-noi"]["total"], services["kham-noi"]["confirmation_rate"],
            services["kham-noi"]["cancellation_rate"], services["kham-noi"]["no_show_rate"]) == (4, 0.5, 0.25, 0.3333)
    assert (services["kham-ngoai"]["total"], services["kham-ngoai"]["ahead"], services["kham-ngoai"]["no_show_rate"],
            services["kham-ngoai"]["cancellation_rate"]) == (3, 1, 0.5, 0.0)
    assert services["kham-noi"]["name"] == "Khám Nội tổng quát"
    assert [(g["key"], g["total"]) for g in by["doctor"]] == [("bs-an", 4), ("bs-cuong", 3)]  # by name
    assert [(g["name"], g["total"], g["no_show_rate"]) for g in by["weekday"]] == [
        ("Thứ Hai", 4, 0.5), ("Thứ Ba", 1, None), ("Thứ Tư", 2, 0.0)]
    assert [(g["key"], g["total"]) for g in by["lead_time"]] == [("0–7", 4), ("8–14", 3)]
    effect = figures["reminder_effect"]
    assert (effect["confirmed"]["attended"], effect["confirmed"]["no_show"],
            effect["confirmed"]["attendance_rate"]) == (2, 1, 0.6667)
    assert (effect["not_confirmed"]["attended"], effect["not_confirmed"]["no_show"],
            effect["not_confirmed"]["attendance_rate"]) == (1, 1, 0.5)
    english = known.follow_ups.analysis.figures(FIRST, LAST, language="en")
    assert english["by"]["weekday"][0]["name"] == "Monday"


def test_the_period_selects_by_appointment_day(known: Hub) -> None:
    first_week = known.follow_ups.analysis.figures(date(2026, 11, 30), date(2026, 12, 6))
    assert first_week["overall"]["total"] == 6  # A4b (16/12) is outside
    assert first_week["follow_up_rate"]["orders"] == 0  # ordered on 23/11
    with pytest.raises(Invalid):
        known.follow_ups.analysis.figures(date(2026, 12, 6), date(2026, 11, 30))
    with pytest.raises(Invalid):
        known.follow_ups.analysis.figures(date(2025, 1, 1), date(2026, 12, 6))


def test_csv_is_utf8_with_a_bom(known: Hub) -> None:
    analysis = known.follow_ups.analysis
    text = analysis.csv_text(analysis.figures(FIRST, LAST))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0][:3] == ["muc", "nhom", "tong"]
    assert rows[1][:8] == ["Tất cả", "", "7", "3", "1", "2", "3", "1"]
    internal = ["Chuyên khoa", "Khám Nội tổng quát", "4", "2", "1", "1", "2", "0", "0.5", "0.25", "0.3333", "0.6667"]
    assert internal in rows
    assert rows[-1] == ["6", "8", "7", "3", "0.875", "0.375"]
