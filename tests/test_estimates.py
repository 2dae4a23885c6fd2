"""Unit tests of the wait estimate (ServiceForecast): pure arithmetic on counters, no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.queue.estimates import CounterLoad, Estimate, ServiceForecast
from hub.domain.queue.service_times import ServiceTime

MINUTE = 60_000
HOUR = 60 * MINUTE
NOW = 1_800_000_000_000  # an arbitrary instant in ms
# A near-constant service time of 10 minutes makes the arithmetic easy to follow.
TEN = ServiceTime.from_mean_sd(10.0, 0.01)
ALL_DAY = ((NOW - 2 * HOUR, NOW + 8 * HOUR),)
HEAD_STARTS = {"normal": 0.0, "elderly": 20.0, "returning": 30.0}


def counter(code: str = "c1", state: str = "open", *, current: str | None = None, since_min: float = 0.0,
            hours: tuple[tuple[int, int], ...] = ALL_DAY, service_time: ServiceTime = TEN,
            state_since_min: float = 60.0, earlier_share: float = 0.0) -> CounterLoad:
    """A counter; `current` ticket started `since_min` minutes ago; state set `state_since_min` ago."""
    return CounterLoad(code=code, state=state, state_since_ms=NOW - int(state_since_min * MINUTE),
                       current_status=current, current_since_ms=NOW - int(since_min * MINUTE) if current else None,
                       hours_ms=hours, service_time=service_time, earlier_share=earlier_share)


def forecast(*counters: CounterLoad, rates: dict[str, float] | None = None, no_show_rate: float = 0.0,
             walk: float = 0.0, service_time: ServiceTime = TEN) -> ServiceForecast:
    return ServiceForecast(now_ms=NOW, service_time=service_time, counters=list(counters),
                           arrivals_per_minute=rates or {}, head_starts=HEAD_STARTS, no_show_rate=no_show_rate,
                           no_show_minutes=3.0, expected_break_minutes=10.0, p90_scale=1.0, walk_minutes=walk)


def p50(model: ServiceForecast, ahead: int, priority: str = "normal") -> float:
    estimate = model.for_position(ahead, priority)
    assert estimate is not None
    return estimate.p50_minutes


# ---------------------------------------------------------------- one counter, several counters
def test_an_idle_open_counter_calls_the_first_in_line_at_once() -> None:
    assert p50(forecast(counter()), 0) == pytest.approx(0.0, abs=0.01)


def test_each_ticket_ahead_adds_one_service_at_a_single_counter() -> None:
    model = forecast(counter())
    assert [round(p50(model, ahead)) for ahead in range(4)] == [0, 10, 20, 30]


def test_the_walk_to_the_counter_is_part_of_each_ticket_ahead() -> None:
    assert p50(forecast(counter(), walk=1.0), 3) == pytest.approx(33.0, abs=0.1)


def test_more_counters_share_the_line() -> None:
    one = forecast(counter("a"))
    three = forecast(counter("a"), counter("b"), counter("c"))
    assert p50(three, 9) == pytest.approx(p50(one, 9) / 3, abs=0.5)


def test_a_counter_with_a_slower_learned_time_takes_fewer_tickets() -> None:
    slow = ServiceTime.from_mean_sd(30.0, 0.01)
    model = forecast(counter("fast"), counter("slow", service_time=slow))
    # In 30 minutes the fast counter calls at 0, 10, 20 and the slow one at 0: position 4 is at 30 minutes.
    assert p50(model, 4) == pytest.approx(30.0, abs=0.1)


def test_a_ticket_no_show_costs_only_the_recalls() -> None:
    always_absent = forecast(counter(), no_show_rate=1.0)
    assert p50(always_absent, 2) == pytest.approx(6.0, abs=0.1)  # two no-shows of 3 minutes each


# ---------------------------------------------------------------- the ticket in hand
def test_the_residual_of_a_long_running_service_is_short() -> None:
    spread = ServiceTime.from_mean_sd(10.0, 5.0)
    just_started = forecast(counter(current="serving", since_min=0.5, service_time=spread), service_time=spread)
    nearly_done = forecast(counter(current="serving", since_min=25, service_time=spread), service_time=spread)
    assert p50(nearly_done, 0) < p50(just_started, 0)
    assert p50(just_started, 0) == pytest.approx(spread.residual(0.5), abs=0.1)


def test_a_called_patient_is_expected_to_walk_in_and_be_served() -> None:
    model = forecast(counter(current="called", since_min=0.0), walk=1.0)
    assert p50(model, 0) == pytest.approx(11.0, abs=0.1)


@pytest.mark.parametrize("elapsed", [0.0, 5.0, 10.0, 30.0, 200.0])
def test_the_residual_is_never_negative_or_zero(elapsed: float) -> None:
    assert ServiceTime.from_mean_sd(10.0, 4.0).residual(elapsed) >= 0.5


# ---------------------------------------------------------------- closed and paused counters
def test_a_closed_counter_does_not_help_while_colleagues_work() -> None:
    working = forecast(counter("a"))
    with_closed = forecast(counter("a"), counter("b", state="closed"))
    assert p50(with_closed, 5) == pytest.approx(p50(working, 5), abs=0.01)


def test_before_opening_the_wait_runs_from_the_opening_hour() -> None:
    later = ((NOW + 30 * MINUTE, NOW + 8 * HOUR),)
    model = forecast(counter("a", state="closed", hours=later), counter("b", state="closed", hours=later))
    assert p50(model, 0) == pytest.approx(30.0, abs=0.01)
    assert p50(model, 2) == pytest.approx(40.0, abs=0.01)


def test_in_opening_hours_with_nobody_at_work_someone_comes_soon() -> None:
    assert p50(forecast(counter(state="closed")), 0) == pytest.approx(10.0, abs=0.01)  # expected_break_minutes


def test_a_paused_counter_resumes_after_the_rest_of_its_break() -> None:
    paused = forecast(counter(state="paused", state_since_min=4.0))
    assert p50(paused, 0) == pytest.approx(6.0, abs=0.01)  # 10 expected, 4 already taken


def test_a_long_pause_is_expected_to_end_soon_not_in_the_past() -> None:
    assert p50(forecast(counter(state="paused", state_since_min=45.0)), 0) == pytest.approx(1.0, abs=0.01)


def test_no_counter_for_the_rest_of_the_day_gives_no_estimate_only_if_someone_could_come() -> None:
    gone = ((NOW - 8 * HOUR, NOW - HOUR),)
    # A colleague of another shift still works: the gone counter is not counted on.
    assert forecast(counter("a", state="closed", hours=gone)).for_position(0) is not None
    assert forecast().for_position(0) is None  # no counter serves this service at all


# ---------------------------------------------------------------- the lunch break
LUNCH = ((NOW - 2 * HOUR, NOW + 25 * MINUTE), (NOW + 2 * HOUR + 25 * MINUTE, NOW + 5 * HOUR))


def test_tickets_that_do_not_fit_before_lunch_are_called_after_it() -> None:
    model = forecast(counter(hours=LUNCH))
    assert p50(model, 2) == pytest.approx(20.0, abs=0.01)  # still before 25 minutes from now
    assert p50(model, 3) == pytest.approx(145.0, abs=0.01)  # 2 h 25 min: when the afternoon starts
    assert p50(model, 4) == pytest.approx(155.0, abs=0.01)


def test_a_counter_closed_for_lunch_is_counted_from_the_afternoon() -> None:
    closed_for_lunch = ((NOW - 3 * HOUR, NOW - 30 * MINUTE), (NOW + 90 * MINUTE, NOW + 5 * HOUR))
    model = forecast(counter("a"), counter("b", state="closed", hours=closed_for_lunch))
    # Until 90 minutes from now only "a" works: nine tickets, then both.
    assert p50(model, 8) == pytest.approx(80.0, abs=0.01)
    assert p50(model, 10) == pytest.approx(90.0, abs=0.01)
    assert p50(model, 11) == pytest.approx(100.0, abs=0.01)


def test_the_p90_of_a_wait_that_may_reach_lunch_lands_after_the_break() -> None:
    spread = ServiceTime.from_mean_sd(10.0, 5.0)
    estimate = forecast(counter(hours=LUNCH, service_time=spread), service_time=spread).for_position(1)
    assert estimate is not None
    assert estimate.p50_minutes < 25
    assert estimate.p90_minutes >= 145


def test_the_last_shift_runs_over_until_the_line_is_empty() -> None:
    ends_soon = ((NOW - 4 * HOUR, NOW + 15 * MINUTE),)
    assert p50(forecast(counter(hours=ends_soon)), 5) == pytest.approx(50.0, abs=0.01)


def test_after_everyone_went_home_one_comes_back_for_a_late_transfer() -> None:
    gone = ((NOW - 8 * HOUR, NOW - HOUR),)
    model = forecast(counter("a", state="closed", hours=gone), counter("b", state="closed", hours=gone))
    assert p50(model, 0) == pytest.approx(10.0, abs=0.01)
    assert p50(model, 1) == pytest.approx(20.0, abs=0.01)  # one counter, not two


def test_a_counter_open_before_its_first_shift_is_already_working() -> None:
    starts_later = ((NOW + 30 * MINUTE, NOW + 4 * HOUR),)
    assert p50(forecast(counter(hours=starts_later)), 1) == pytest.approx(10.0, abs=0.01)


# ---------------------------------------------------------------- counters shared with other services
def test_a_counter_busy_with_the_services_it_takes_first_gives_ours_less_time() -> None:
    plain = forecast(counter("a"), counter("b"))
    shared = forecast(counter("a"), counter("b", earlier_share=0.5))
    assert p50(shared, 6) > p50(plain, 6)


# ---------------------------------------------------------------- priority classes that jump ahead
def test_later_priority_arrivals_lengthen_an_ordinary_wait() -> None:
    calm = forecast(counter())
    elderly_coming = forecast(counter(), rates={"elderly": 0.05})
    assert p50(elderly_coming, 3) > p50(calm, 3)
    # 30 minutes of wait at 0.05 elderly a minute: 1.5 more tickets ahead (and they lengthen the wait).
    assert p50(elderly_coming, 3) == pytest.approx(45.0, abs=5.0)


def test_a_priority_ticket_is_passed_only_by_classes_with_a_longer_head_start() -> None:
    elderly_coming = forecast(counter(), rates={"elderly": 0.1})
    returning_coming = forecast(counter(), rates={"returning": 0.1})
    assert p50(elderly_coming, 3, "elderly") == pytest.approx(30.0, abs=0.01)
    assert p50(returning_coming, 3, "elderly") > 30.0


def test_jumpers_are_counted_only_within_their_head_start() -> None:
    # An elderly patient arriving more than 20 minutes later no longer passes an ordinary ticket.
    model = forecast(counter(), rates={"elderly": 0.1})
    # Both waits pass 20 minutes, so both expect the same 0.1 x 20 = 2 jumpers of 10 minutes each.
    assert p50(model, 1) - 10 == pytest.approx(20.0, abs=0.5)
    assert p50(model, 20) - 200 == pytest.approx(20.0, abs=0.5)


# ---------------------------------------------------------------- P90
def test_p90_is_wider_than_p50_for_a_busy_line() -> None:
    spread = ServiceTime.from_mean_sd(10.0, 5.0)
    estimate = forecast(counter(service_time=spread), service_time=spread).for_position(10)
    assert estimate is not None
    assert estimate.p90_minutes > estimate.p50_minutes + 10


def test_even_an_idle_counter_gets_a_p90_above_zero() -> None:
    estimate = forecast(counter()).for_position(0)
    assert estimate is not None and estimate.p90_minutes > 1.0


@given(
    ahead=st.integers(min_value=0, max_value=300),
    counters=st.integers(min_value=1, max_value=8),
    mean=st.floats(min_value=1.0, max_value=30.0),
    cv=st.floats(min_value=0.05, max_value=1.5),
    rate=st.floats(min_value=0.0, max_value=2.0),
    no_shows=st.floats(min_value=0.0, max_value=0.5),
    lunch=st.booleans(),
    priority=st.sampled_from(["normal", "elderly", "returning"]),
)
def test_p90_is_never_below_p50(ahead: int, counters: int, mean: float, cv: float, rate: float, no_shows: float,
                                lunch: bool, priority: str) -> None:
    service_time = ServiceTime.from_mean_sd(mean, mean * cv)
    loads = [counter(f"c{i}", current="serving" if i % 2 else None, since_min=i, service_time=service_time,
                     hours=LUNCH if lunch else ALL_DAY) for i in range(counters)]
    estimate = forecast(*loads, rates={"elderly": rate, "returning": rate / 2}, no_show_rate=no_shows,
                        service_time=service_time).for_position(ahead, priority)
    assert estimate is not None
    assert estimate.p90_minutes >= estimate.p50_minutes >= 0
    shown = estimate.as_dict()
    assert shown["p90_minutes"] >= shown["p50_minutes"] >= 0


def test_the_shown_estimate_is_whole_minutes() -> None:
    assert Estimate(12.4, 20.1).as_dict() == {"p50_minutes": 12, "p90_minutes": 21}
    assert Estimate(3.0, 2.0).as_dict() == {"p50_minutes": 3, "p90_minutes": 3}


def test_a_counter_closed_just_after_its_shift_began_is_expected_to_open_soon() -> None:
    began = ((NOW - 2 * MINUTE, NOW + 4 * HOUR),)
    long_ago = ((NOW - 30 * MINUTE, NOW + 4 * HOUR),)
    late = forecast(counter("a", hours=began), counter("b", state="closed", hours=began))
    absent = forecast(counter("a", hours=long_ago), counter("b", state="closed", hours=long_ago))
    assert p50(late, 6) < p50(absent, 6) - 15  # "b" helps within minutes
    assert p50(absent, 6) == pytest.approx(60.0, abs=0.01)  # "b" is not counted on this shift
