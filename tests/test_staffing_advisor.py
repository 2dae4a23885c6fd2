"""Staffing advisor: predictions from the forward model, and advice that fires and clears on constructed cases."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.config import ClinicConfig
from hub.domain.common.clock import VirtualClock
from hub.domain.queue import advisor
from hub.domain.queue.engine import QueueService
from hub.domain.queue.estimates import Estimate
from hub.domain.queue.staffing import StaffingChanged
from tests.conftest import SITE_TZ, RecordingBus

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=SITE_TZ)
NURSE = "nurse:test"


def line(minutes_per_ticket: float, counters: int = 1):  # type: ignore[no-untyped-def]
    """A forward model of a plain line: position k is called after k x minutes / counters."""
    def for_position(k: float) -> Estimate:
        p50 = k * minutes_per_ticket / counters
        return Estimate(p50, p50 * 1.4 + 2)
    return for_position


def thresholds(_: str) -> advisor.Thresholds:
    return advisor.Thresholds(p90_minutes=45, idle_minutes=10, free_minutes=5)


def test_predictions_add_the_arrivals_and_subtract_the_time_until_the_ticket_is_taken() -> None:
    # 10 waiting, 1 patient every 5 min, 10 min each at one counter: the line grows by 1 ticket per 10 minutes.
    outlook = advisor.predict("kham", "Khám", "exam", 10, 0.2, line(10))
    by_minute = dict(outlook.predictions)
    assert by_minute[0].p50_minutes == 100
    assert by_minute[60].p50_minutes == (10 + 12) * 10 - 60
    assert by_minute[120].p50_minutes > by_minute[0].p50_minutes  # the line is growing
    assert len(outlook.predictions) == 9  # every 15 minutes for two hours


def test_open_a_counter_fires_when_the_p90_reaches_the_threshold_and_says_when() -> None:
    # 2 waiting, 1 every 3 min, 6 min each: the P90 reaches 45 min some time later.
    outlook = advisor.predict("tiep-don", "Tiếp đón", "reception", 2, 1 / 3, line(6))
    advice = advisor.advise(NOW, [outlook], [], thresholds, SITE_TZ)
    assert [a.kind for a in advice] == ["open_counter"]
    first = next(m for m, e in outlook.predictions if e and e.p90_minutes >= 45)
    assert first > 0 and advice[0].at == NOW + timedelta(minutes=first)
    assert "Mở thêm một quầy Tiếp đón ngay: P90 lên" in advice[0].message
    assert advice[0].message_en.startswith("Open one more Tiếp đón counter now: P90 reaches")


def test_the_advice_clears_when_the_line_is_short() -> None:
    calm = advisor.predict("tiep-don", "Tiếp đón", "reception", 2, 0.05, line(3, counters=3))
    assert advisor.advise(NOW, [calm], [], thresholds, SITE_TZ) == []
    busy = advisor.predict("tiep-don", "Tiếp đón", "reception", 30, 0.5, line(3))
    fired, cleared = advisor.changes([], advisor.advise(NOW, [busy], [], thresholds, SITE_TZ))
    assert [a.key for a in fired] == ["open:tiep-don"]
    fired, cleared = advisor.changes(advisor.advise(NOW, [busy], [], thresholds, SITE_TZ),
                                     advisor.advise(NOW, [calm], [], thresholds, SITE_TZ))
    assert fired == [] and cleared == ["open:tiep-don"]


def test_no_counter_advice_while_nobody_works_or_nobody_comes() -> None:
    # At night the wait is the closed hours: the "no counter open" alert says so, not the advisor.
    night = advisor.predict("kham", "Khám", "exam", 0, 0.0, lambda k: Estimate(370 + k, 375 + k), open_counters=0)
    empty = advisor.predict("kham", "Khám", "exam", 0, 0.0, lambda k: Estimate(370 + k, 375 + k), open_counters=1)
    assert advisor.advise(NOW, [night], [], thresholds, SITE_TZ) == []
    assert advisor.advise(NOW, [empty], [], thresholds, SITE_TZ) == []


def test_an_idle_open_counter_is_flagged_after_the_threshold_only() -> None:
    outlook = advisor.predict("thu-ngan", "Thu ngân", "cashier", 3, 0.0, line(2))
    idle = advisor.CounterState("q5", "Quầy 5", ("thu-ngan",), "open", busy=False, last_call_minutes_ago=12.4)
    recent = advisor.CounterState("q6", "Quầy 6", ("thu-ngan",), "open", busy=False, last_call_minutes_ago=4)
    serving = advisor.CounterState("q7", "Quầy 7", ("thu-ngan",), "open", busy=True, last_call_minutes_ago=30)
    advice = advisor.advise(NOW, [outlook], [idle, recent, serving], thresholds, SITE_TZ)
    assert [(a.kind, a.counter) for a in advice] == [("idle_counter", "q5")]
    assert advice[0].message_en == "Quầy 5 is open but has called no one for 12 minutes (people are waiting)"


def test_a_room_with_an_empty_line_can_take_the_busy_service() -> None:
    busy = advisor.predict("kham-nhi", "Khám Nhi", "exam", 25, 0.3, line(8))
    quiet = advisor.predict("kham-tmh", "Khám TMH", "exam", 1, 0.0, line(3))
    pharmacy = advisor.predict("nha-thuoc", "Nhà thuốc", "pharmacy", 0, 0.0, line(3))
    rooms = [advisor.CounterState("p104", "Phòng 104", ("kham-tmh",), "open", True, 1),
             advisor.CounterState("nt1", "Nhà thuốc 1", ("nha-thuoc",), "open", True, 1)]
    advice = advisor.advise(NOW, [busy, quiet, pharmacy], rooms, thresholds, SITE_TZ)
    take = [a for a in advice if a.kind == "room_can_take"]
    assert [(a.counter, a.service) for a in take] == [("p104", "kham-nhi")]  # not the pharmacy: another kind
    # Its one waiting patient keeps the P90 above 5 min now; in 15 minutes the line is empty.
    assert take[0].message == "Phòng 104 có thể nhận Khám Nhi từ 08:15"


def _room(clinic: ClinicConfig, service: str) -> str:
    return next(c.code for c in clinic.counters if c.services == [service])


def test_no_open_counter_advice_for_tickets_taken_during_the_lunch_break() -> None:
    # A short line now; a ticket taken after 11:30 waits for the afternoon (P90 over an hour from then).
    def over_lunch(k: float) -> Estimate:
        return Estimate(k * 2, k * 2 + 2) if k < 8 else Estimate(130 + k, 140 + k)
    at_1100 = NOW.replace(hour=11)
    outlook = advisor.predict("kham", "Khám", "exam", 2, 0.2, over_lunch, open_for_minutes=30)
    assert any(e and e.p90_minutes >= 45 for m, e in outlook.predictions if m >= 30)
    assert advisor.advise(at_1100, [outlook], [], thresholds, SITE_TZ) == []
    # The same line with nothing known about the hours (or in the day's last shift): the advice fires.
    unknown = advisor.predict("kham", "Khám", "exam", 2, 0.2, over_lunch)
    assert [a.kind for a in advisor.advise(at_1100, [unknown], [], thresholds, SITE_TZ)] == ["open_counter"]


def test_the_engine_knows_how_long_a_service_stays_open(
        sqlite_engine: tuple[QueueService, RecordingBus], clock: VirtualClock) -> None:
    queue, _ = sqlite_engine
    hours = [queue.clinic.counter_hours(c) for c in queue.clinic.counters if "kham-noi" in c.services]
    (_, end), *later = hours[0]
    assert later, "the sample clinic's exam rooms close for lunch"
    clock.set(NOW.replace(hour=end.hour, minute=end.minute) - timedelta(minutes=40))
    assert queue._open_for("kham-noi", clock.now()) == 40
    afternoon_end = later[-1][1]
    clock.set(NOW.replace(hour=afternoon_end.hour, minute=afternoon_end.minute) - timedelta(minutes=30))
    assert queue._open_for("kham-noi", clock.now()) is None  # the last shift serves on until the line is empty


def test_the_engine_fires_and_clears_advice_and_publishes_the_change(
        sqlite_engine: tuple[QueueService, RecordingBus], clock: VirtualClock) -> None:
    queue, bus = sqlite_engine
    room = _room(queue.clinic, "kham-noi")
    other = _room(queue.clinic, "kham-tmh")
    assert queue.staffing()["advice"] == []
    for _ in range(14):  # a burst at one exam room, 9 min each
        queue.issue("kham-noi")
        clock.advance(20)
    queue.call_next(room, actor=NURSE)
    queue.start(room, actor=NURSE)
    assert queue.call_next(other, actor=NURSE) is None  # open, nobody in its line
    clock.advance(12 * 60)
    report = queue.staffing()
    kinds = {(a["kind"], a["service"], a["counter"]) for a in report["advice"]}
    assert ("open_counter", "kham-noi", None) in kinds
    assert ("idle_counter", "kham-tmh", other) in kinds
    assert ("room_can_take", "kham-noi", other) in kinds
    services = {s["service"]: s for s in report["services"]}
    assert services["kham-noi"]["waiting"] == 13
    assert services["kham-noi"]["predictions"][0]["p90_minutes"] >= 45
    changed = bus.of(StaffingChanged)
    assert changed and {a["key"] for a in changed[-1].fired} >= {"open:kham-noi", f"idle:{other}"}
    # The line is served away: the advice clears and the change is published once.
    while queue.call_next(room, actor=NURSE) is not None:
        queue.start(room, actor=NURSE)
        clock.advance(60)
    queue.call_next(other, actor=NURSE)
    after = queue.staffing()
    assert not [a for a in after["advice"] if a["kind"] == "open_counter"]
    assert "open:kham-noi" in bus.of(StaffingChanged)[-1].cleared
    count = len(bus.of(StaffingChanged))
    queue.staffing()
    assert len(bus.of(StaffingChanged)) == count  # nothing changed: nothing published
