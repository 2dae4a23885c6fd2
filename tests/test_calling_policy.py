"""Unit tests of the calling policy: pure functions, no database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.queue.policy import (
    NORMAL,
    Candidate,
    PolicyRules,
    ServiceLine,
    choose_next,
    late_return_key,
    next_streak,
    queue_key_ms,
)

MINUTE = 60_000
NOW = 1_800_000_000_000  # an arbitrary instant in ms

RULES = PolicyRules(
    head_start_minutes={"normal": 0, "emergency": 1440, "elderly": 20, "returning": 30, "booked": 15},
    overrides_service_order=frozenset({"emergency"}),
    max_consecutive_priority=3,
    starvation_minutes=30,
)


def ticket(ticket_id: int, service: str = "a", priority: str = NORMAL, *, issued_min_ago: float = 0,
           key_ms: int | None = None) -> Candidate:
    """A candidate issued `issued_min_ago` minutes before NOW; its key follows the rules unless given."""
    issued = NOW - int(issued_min_ago * MINUTE)
    key = key_ms if key_ms is not None else queue_key_ms(issued, RULES.head_start_minutes[priority])
    return Candidate(ticket_id, service, priority, key, issued)


# ---------------------------------------------------------------- queue_key_ms
def test_queue_key_of_an_ordinary_ticket_is_its_arrival() -> None:
    assert queue_key_ms(NOW, 0) == NOW


def test_queue_key_subtracts_the_head_start() -> None:
    assert queue_key_ms(NOW, 20) == NOW - 20 * MINUTE


def test_queue_key_rounds_fractional_minutes_to_the_millisecond() -> None:
    assert queue_key_ms(NOW, 0.5) == NOW - 30_000
    assert queue_key_ms(NOW, 1 / 60_000) == NOW - 1


def test_booked_patient_arriving_early_is_keyed_from_the_slot() -> None:
    slot = NOW + 40 * MINUTE
    assert queue_key_ms(NOW, 15, slot) == slot - 15 * MINUTE


def test_booked_patient_arriving_late_is_keyed_from_the_arrival() -> None:
    slot = NOW - 40 * MINUTE
    assert queue_key_ms(NOW, 15, slot) == NOW - 15 * MINUTE


@given(
    arrival=st.integers(0, 10**13),
    head_start=st.floats(0, 10_000, allow_nan=False),
    gap_ms=st.integers(1, 10**9),
)
def test_a_priority_ticket_never_passes_an_ordinary_one_that_came_longer_ago_than_its_head_start(
        arrival: int, head_start: float, gap_ms: int) -> None:
    ordinary_arrival = arrival - round(head_start * MINUTE) - gap_ms
    assert queue_key_ms(ordinary_arrival, 0) < queue_key_ms(arrival, head_start)


@given(arrival=st.integers(0, 10**13), a=st.floats(0, 10_000), b=st.floats(0, 10_000))
def test_a_longer_head_start_never_gives_a_later_key(arrival: int, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert queue_key_ms(arrival, high) <= queue_key_ms(arrival, low)


# ---------------------------------------------------------------- choose_next
def test_nobody_waiting_gives_none() -> None:
    assert choose_next([], 0, NOW, RULES) is None
    assert choose_next([ServiceLine("a", None), ServiceLine("b", None)], 5, NOW, RULES) is None


def test_the_first_service_in_the_counter_order_with_someone_waiting_is_served() -> None:
    old_b = ticket(1, "b", issued_min_ago=50)
    new_c = ticket(2, "c", issued_min_ago=1)
    lines = [ServiceLine("a", None), ServiceLine("c", new_c), ServiceLine("b", old_b)]
    assert choose_next(lines, 0, NOW, RULES) == new_c


def test_emergency_overrides_the_service_order() -> None:
    first = ticket(1, "a", issued_min_ago=60)
    emergency = ticket(2, "b", "emergency", issued_min_ago=0)
    lines = [ServiceLine("a", first), ServiceLine("b", emergency)]
    assert choose_next(lines, 0, NOW, RULES) == emergency


def test_among_emergencies_the_lowest_key_goes_first_then_the_lowest_id() -> None:
    late = ticket(5, "a", "emergency", issued_min_ago=1)
    early = ticket(9, "b", "emergency", issued_min_ago=2)
    assert choose_next([ServiceLine("a", late), ServiceLine("b", early)], 0, NOW, RULES) == early
    tie_high = ticket(9, "a", "emergency", key_ms=NOW)
    tie_low = ticket(4, "b", "emergency", key_ms=NOW)
    assert choose_next([ServiceLine("a", tie_high), ServiceLine("b", tie_low)], 0, NOW, RULES) == tie_low


def test_anti_starvation_serves_an_ordinary_ticket_after_a_streak_of_priority_calls() -> None:
    elderly = ticket(2, "a", "elderly", issued_min_ago=1)
    starving = ticket(1, "a", issued_min_ago=31)
    line = ServiceLine("a", elderly, starving)
    assert choose_next([line], RULES.max_consecutive_priority, NOW, RULES) == starving
    assert choose_next([line], RULES.max_consecutive_priority + 4, NOW, RULES) == starving


def test_anti_starvation_waits_for_the_full_streak() -> None:
    elderly = ticket(2, "a", "elderly", issued_min_ago=1)
    starving = ticket(1, "a", issued_min_ago=31)
    line = ServiceLine("a", elderly, starving)
    assert choose_next([line], RULES.max_consecutive_priority - 1, NOW, RULES) == elderly


def test_anti_starvation_needs_the_ordinary_ticket_to_have_waited_long_enough() -> None:
    elderly = ticket(2, "a", "elderly", issued_min_ago=1)
    just_at = ticket(1, "a", issued_min_ago=30)
    not_yet = Candidate(1, "a", NORMAL, NOW - 30 * MINUTE + 1, NOW - 30 * MINUTE + 1)
    streak = RULES.max_consecutive_priority
    assert choose_next([ServiceLine("a", elderly, just_at)], streak, NOW, RULES) == just_at
    assert choose_next([ServiceLine("a", elderly, not_yet)], streak, NOW, RULES) == elderly


def test_anti_starvation_never_delays_an_emergency() -> None:
    emergency = ticket(3, "b", "emergency", issued_min_ago=0)
    starving = ticket(1, "a", issued_min_ago=90)
    lines = [ServiceLine("a", ticket(2, "a", "elderly"), starving), ServiceLine("b", emergency)]
    assert choose_next(lines, 10, NOW, RULES) == emergency


def test_anti_starvation_takes_the_services_in_the_counter_order() -> None:
    starving_a = ticket(1, "a", issued_min_ago=35)
    starving_b = ticket(2, "b", issued_min_ago=80)
    lines = [ServiceLine("a", ticket(3, "a", "elderly"), starving_a),
             ServiceLine("b", ticket(4, "b", "elderly"), starving_b)]
    assert choose_next(lines, 3, NOW, RULES) == starving_a


# ---------------------------------------------------------------- next_streak
@pytest.mark.parametrize(("priority", "expected"), [
    ("normal", 0), ("elderly", 3), ("returning", 3), ("booked", 3), ("emergency", 3),
])
def test_streak_grows_on_priority_calls_and_resets_on_ordinary_ones(priority: str, expected: int) -> None:
    assert next_streak(2, ticket(1, "a", priority), RULES) == expected


def test_unknown_class_counts_as_ordinary() -> None:
    assert next_streak(2, Candidate(1, "a", "mystery", NOW, NOW), RULES) == 0


# ---------------------------------------------------------------- late_return_key
def test_late_return_into_an_empty_line_is_keyed_now() -> None:
    assert late_return_key([], 3, NOW) == NOW


def test_late_return_with_k_zero_goes_first() -> None:
    assert late_return_key([100, 200], 0, NOW) < 100


def test_late_return_behind_fewer_than_k_goes_last() -> None:
    assert late_return_key([100, 200], 3, NOW) > 200
    assert late_return_key([100, 200, 300], 3, NOW) > 300


def test_late_return_lands_strictly_between_the_kth_and_the_next() -> None:
    key = late_return_key([100, 200, 300, 400, 500], 3, NOW)
    assert 300 < key < 400


def test_late_return_without_room_between_ties_with_the_next() -> None:
    assert late_return_key([100, 200, 300, 301], 3, NOW) == 301


@given(
    keys=st.lists(st.integers(-10**12, 10**13), max_size=30).map(sorted),
    behind=st.integers(0, 40),
)
def test_late_return_key_never_puts_the_ticket_ahead_of_more_than_k_nor_behind_fewer(
        keys: list[int], behind: int) -> None:
    key = late_return_key(keys, behind, NOW)
    wanted = min(behind, len(keys))
    # Whatever the tie-break on ids, at most K tickets are strictly ahead and at least K are not behind.
    assert sum(k < key for k in keys) <= wanted <= sum(k <= key for k in keys)


@given(
    keys=st.lists(st.integers(0, 10**6), unique=True, max_size=30).map(lambda ks: sorted(k * 2 for k in ks)),
    behind=st.integers(0, 40),
)
def test_late_return_key_is_exact_when_keys_leave_room(keys: list[int], behind: int) -> None:
    key = late_return_key(keys, behind, NOW)
    if keys:
        assert sum(k < key for k in keys) == min(behind, len(keys))
        assert key not in keys


# ---------------------------------------------------------------- a property of choose_next
candidates = st.builds(
    Candidate,
    ticket_id=st.integers(1, 10_000),
    service=st.just("x"),
    priority=st.sampled_from(["normal", "elderly", "returning", "booked", "emergency"]),
    queue_key_ms=st.integers(NOW - 3 * 1440 * MINUTE, NOW),
    issued_ms=st.integers(NOW - 240 * MINUTE, NOW),
)


@given(
    lines=st.lists(st.tuples(st.none() | candidates, st.none() | candidates), max_size=4),
    streak=st.integers(0, 6),
)
def test_choose_next_picks_by_the_rules(lines: list[tuple[Candidate | None, Candidate | None]],
                                        streak: int) -> None:
    # A line has an oldest ordinary ticket only when someone waits in it.
    service_lines = [ServiceLine(f"s{i}", head, old if head is not None and old is not None
                                 and old.priority == NORMAL else None)
                     for i, (head, old) in enumerate(lines)]
    chosen = choose_next(service_lines, streak, NOW, RULES)
    heads = [line.head for line in service_lines if line.head is not None]
    if not heads:
        assert chosen is None
        return
    urgent = [h for h in heads if h.priority == "emergency"]
    starving = [line.oldest_normal for line in service_lines
                if line.oldest_normal is not None and NOW - line.oldest_normal.issued_ms >= 30 * MINUTE]
    if urgent:
        assert chosen in urgent
        assert (chosen.queue_key_ms, chosen.ticket_id) == min((u.queue_key_ms, u.ticket_id) for u in urgent)
    elif streak >= RULES.max_consecutive_priority and starving:
        assert chosen is not None and chosen.priority == NORMAL
        assert NOW - chosen.issued_ms >= 30 * MINUTE
    else:
        assert chosen == heads[0]
