"""Honest P90 on unfamiliar days: the online calibration, and coverage on a quiet and a bad day."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hub.domain.queue.calibration import MAX_SCALE, MIN_SCALE, P90Calibrator
from hub.simulation.report import summarize
from hub.simulation.runner import Simulation
from hub.simulation.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "bench" / "scenarios"


def test_a_miss_widens_and_a_hit_narrows() -> None:
    calibration = P90Calibrator(start=1.0, rate=0.2)
    calibration.observe_call(1, 10, waited_minutes=30, p90_minutes=20)
    widened = calibration.scale(1)
    assert widened > 1.0
    calibration.observe_call(1, 11, waited_minutes=5, p90_minutes=20)
    assert calibration.scale(1) < widened
    assert calibration.scale(2) == 1.0  # each service learns its own


def test_the_scale_settles_where_one_wait_in_ten_is_missed() -> None:
    # Waits ~ exponential with mean 10; a P90 of `scale` x 10 covers 1 - exp(-scale) of them: 90 % at 2.30.
    rng = random.Random(5)
    calibration = P90Calibrator(start=1.0, rate=0.05)
    for ticket in range(20_000):
        calibration.observe_call(1, ticket, rng.expovariate(0.1), 10 * calibration.scale(1) - 0.5)
    assert 2.0 < calibration.scale(1) < 2.6


def test_waiting_tickets_past_their_p90_count_once() -> None:
    calibration = P90Calibrator(start=1.0, rate=0.2)
    calibration.observe_waiting(1, [(1, 30.0, 20.0), (2, 25.0, 20.0), (3, 5.0, 20.0)])
    after_overdue = calibration.scale(1)
    assert after_overdue > 1.0
    calibration.observe_waiting(1, [(1, 31.0, 20.0), (2, 26.0, 20.0)])  # seen again a minute later: not again
    assert calibration.scale(1) == after_overdue
    calibration.observe_call(1, 1, waited_minutes=90, p90_minutes=20)  # its call is not a second miss...
    assert calibration.scale(1) < after_overdue  # ... only its share of the target's hits
    calibration.observe_waiting(1, [(3, 6.0, 20.0)])  # still under its P90: not a hit yet either
    assert calibration.scale(1) < after_overdue


def test_the_scale_stays_in_bounds_and_can_be_turned_off() -> None:
    calibration = P90Calibrator(start=1.0, rate=0.5)
    calibration.observe_waiting(1, [(ticket, 60.0, 10.0) for ticket in range(500)])
    assert calibration.scale(1) == MAX_SCALE
    for ticket in range(5000):
        calibration.observe_call(2, 1000 + ticket, 0.0, 10.0)
    assert calibration.scale(2) == MIN_SCALE
    off = P90Calibrator(start=1.3, enabled=False)
    off.observe_call(1, 1, 100, 10)
    assert off.scale(1) == 1.3 and off.band_scales(1) == {}


def test_each_band_learns_its_own_factor() -> None:
    # Waits across lunch miss while a free counter's tickets are called at once: the service's scale is
    # shared, each band's factor is its own, so the waits across lunch end up with the wider P90.
    calibration = P90Calibrator(start=1.0, rate=0.2)
    for ticket in range(200):
        if ticket % 2:
            calibration.issued(1, ticket, "free", 0.0, 1.5 * calibration.scale(1, "free"))
            calibration.observe_call(1, ticket, 0.3, None)
        else:
            calibration.issued(1, ticket, "break", 60.0, 60.0 + 10 * calibration.scale(1, "break"))
            calibration.observe_call(1, ticket, 60.0 + 10 * calibration.scale(1, "break") + 5, None)
    scales = calibration.band_scales(1)
    # The line has no observations of its own: it carries the service's scale alone, between the two.
    assert scales["break"] > scales["line"] > scales["free"]
    assert scales["break"] > 3 * scales["free"]


def _long_line(calibration: P90Calibrator, informed: bool, size: int = 300) -> float:
    """`size` tickets shown P50 30 / P90 40 at scale 1; the day turns out to need scale 2 for all of them."""
    for ticket in range(size):
        if informed:
            calibration.issued(1, ticket, "line", 30.0, 40.0)
    # Minute by minute the line's tickets pass their P90 (40) and then are called at 45-50 minutes.
    for minute in range(41, 51):
        calibration.observe_waiting(1, [(ticket, float(minute), 40.0) for ticket in range(size)
                                        if minute <= 40 + ticket % 10])
    for ticket in range(size):
        calibration.observe_call(1, ticket, 41.0 + ticket % 10, 40.0)
    return calibration.scale(1)


def test_a_long_line_shown_one_narrow_p90_is_not_counted_as_fifty_fresh_misses() -> None:
    # All 50 missed their P90 of 40, and scale 2 would have covered them (a width of 20). Judged only against
    # what each was shown, the scale runs to its ceiling; judged partly against the scale as it is now
    # (STALE_WEIGHT), it stays well below.
    stale = _long_line(P90Calibrator(start=1.0, rate=0.02), informed=False, size=50)
    informed = _long_line(P90Calibrator(start=1.0, rate=0.02), informed=True, size=50)
    assert stale == MAX_SCALE
    assert 1.5 < informed < 0.7 * stale


@pytest.mark.parametrize("name", ["quiet-day", "bad-day", "short-staffed"])
def test_p90_coverage_holds_on_unfamiliar_days(name: str) -> None:
    scenario, clinic = load_scenario(SCENARIOS / f"{name}.toml")
    simulation = Simulation(scenario, clinic, seed=1)
    estimate = summarize(simulation.run())["estimate"]
    assert estimate["tickets"] > 300
    assert 0.85 <= estimate["engine"]["p90_coverage"] <= 0.95
    assert estimate["engine"]["mae"] < estimate["baseline"]["mae"]
    # The waits in a working line on their own too (not only helped by the free counters' easy hits).
    assert simulation.queue is not None
    line = [seen for (_, band), seen in simulation.queue.calibration.tally.items() if band == "line"]
    covered, judged = sum(c for c, _ in line), sum(j for _, j in line)
    assert judged > 100
    assert 0.85 <= covered / judged <= 0.95


def test_without_calibration_the_bad_day_is_under_covered() -> None:
    # The reason for the calibration: the same bad day with a fixed P90 width misses too often.
    scenario, clinic = load_scenario(SCENARIOS / "bad-day.toml")
    fixed = clinic.model_copy(update={"estimates": clinic.estimates.model_copy(update={"p90_calibration": False})})
    estimate = summarize(Simulation(scenario, fixed, seed=1).run())["estimate"]
    assert estimate["engine"]["p90_coverage"] < 0.85
