"""Order routing on constructed cases: the shorter route, each catalogue constraint, parallel lines, re-plan."""

from __future__ import annotations

import pytest

from hub.domain.queue.routing import RoutingError, Station, allowed, expected_return, plan, replan


def test_the_sample_goes_first_when_its_result_takes_time() -> None:
    # The analyser needs 40 min after the sample: done first, it works while the patient queues for imaging.
    xray = Station("x-quang", wait_minutes=20, work_minutes=5, kind="imaging")
    blood = Station("xet-nghiem", wait_minutes=10, work_minutes=3, kind="lab", result_minutes=40)
    written = expected_return([xray, blood])[0]
    route = plan([xray, blood])
    assert route.order == ["xet-nghiem", "x-quang"]
    assert route.expected_return_minutes < written - 10


def test_a_line_that_is_draining_is_left_for_later() -> None:
    # X-ray is 40 min now but empties within half an hour; ultrasound stays at 15.
    xray = Station("x-quang", 40, 5, kind="imaging", wait_profile=((30, 5), (120, 5)))
    echo = Station("sieu-am", 15, 10, kind="imaging")
    route = plan([xray, echo])
    assert route.order == ["sieu-am", "x-quang"]
    assert route.expected_return_minutes < expected_return([xray, echo])[0]


def test_routing_off_keeps_the_written_order() -> None:
    xray = Station("x-quang", 20, 5, kind="imaging")
    blood = Station("xet-nghiem", 10, 3, kind="lab", result_minutes=40)
    assert plan([xray, blood], enabled=False).order == ["x-quang", "xet-nghiem"]


def test_a_fasting_sample_comes_first_even_behind_a_long_line() -> None:
    echo = Station("sieu-am", 2, 10, kind="imaging")
    glucose = Station("glucose", 45, 3, kind="lab", fasting=True)
    route = plan([echo, glucose])
    assert route.order[0] == "glucose"
    assert not allowed([echo, glucose])


def test_contrast_imaging_comes_after_the_bloods() -> None:
    ct = Station("ct-can-quang", 0, 15, kind="imaging", contrast=True)
    blood = Station("creatinin", 50, 3, kind="lab")
    route = plan([ct, blood])
    assert route.order == ["creatinin", "ct-can-quang"]
    assert not allowed([ct, blood])


def test_a_payment_first_station_gets_the_cashier_before_it() -> None:
    mri = Station("mri", 5, 30, kind="imaging", payment_first=True)
    blood = Station("xet-nghiem", 30, 3, kind="lab")
    cashier = Station("thu-ngan", 10, 2, kind="cashier")
    route = plan([mri, blood], cashier=cashier)
    assert "cashier" in route.order
    assert route.order.index("cashier") < route.order.index("mri")
    with pytest.raises(RoutingError):
        plan([mri], cashier=None)


def test_parallel_lines_overlap_their_waits() -> None:
    a = Station("x-quang", 30, 5, kind="imaging", parallel=True)
    b = Station("sieu-am", 30, 10, kind="imaging", parallel=True)
    together = plan([a, b])
    one_by_one = expected_return([Station("x-quang", 30, 5, kind="imaging"),
                                  Station("sieu-am", 30, 10, kind="imaging")])[0]
    assert all(step.parallel for step in together.steps)
    assert {step.issue_at_minutes for step in together.steps} == {together.steps[0].issue_at_minutes}  # issued at once
    assert together.expected_return_minutes < one_by_one - 20


def test_a_sudden_line_before_the_patient_gets_there_replans() -> None:
    xray = Station("x-quang", 5, 5, kind="imaging")
    echo = Station("sieu-am", 20, 10, kind="imaging")
    route = plan([xray, echo])
    assert route.order == ["x-quang", "sieu-am"]
    # A coach arrives at X-ray: 60 minutes now, clearing within the hour; the ultrasound line is empty.
    surged = [Station("x-quang", 60, 5, kind="imaging", wait_profile=((45, 5),)),
              Station("sieu-am", 0, 10, kind="imaging")]
    fresh = replan(route, surged)
    assert fresh is not None and fresh.order == ["sieu-am", "x-quang"]
    # A small change keeps the slip as printed.
    assert replan(route, [Station("x-quang", 8, 5, kind="imaging"), Station("sieu-am", 18, 10, kind="imaging")]) is None


def test_contradictory_constraints_are_refused() -> None:
    # A fasting sample that must also come after the bloods of another lab station cannot be placed.
    odd = Station("odd", 1, 1, kind="imaging", fasting=True, contrast=True)
    blood = Station("blood", 1, 1, kind="lab")
    with pytest.raises(RoutingError):
        plan([odd, blood])
