"""The practices clinicq adds in the simulator: parallel tickets for independent tests, and a manager who
follows the staffing advisor (reserve rooms opened, idle counters nudged). Real engine, real SQLite."""

from __future__ import annotations

from pathlib import Path
from statistics import mean

import pytest

from hub import protocol as p
from hub.simulation.runner import Simulation
from hub.simulation.scenario import ScenarioError, load_scenario

CLINIC = """
[clinic]
opening_hours = ["07:00-11:30"]

[[clinic.services]]
code = "tiep-don"
kind = "reception"
prefix = "A"
minutes = { mean = 2.0, sd = 0.5 }
counters = 2

[[clinic.services]]
code = "kham"
prefix = "B"
minutes = { mean = 6.0, sd = 2.0 }
counters = 2

[[clinic.services]]
code = "xet-nghiem"
kind = "lab"
prefix = "X"
minutes = { mean = 4.0, sd = 1.0 }

[[clinic.services]]
code = "cdha"
kind = "imaging"
prefix = "H"
minutes = { mean = 5.0, sd = 1.0 }
"""

# Every visit needs both tests, written in either order; the lab also has a morning of health checks
# (lab-only visits), so its line is long while imaging's is short: holding both tickets lets a patient
# do the X-ray while the lab line moves.
PARALLEL = CLINIC + """
[arrivals]
start = "07:00"
services = { kham = [10, 10, 6], xet-nghiem = [14, 10, 4] }

[patients]
no_show_share = 0.0
later_no_show_share = 0.0

[flow]
lab_share = 1.0
lab_services = { xet-nghiem = 0.5, cdha = 0.5 }
extra_test_share = 1.0
"""

RESERVE = """
[[staff.reserve]]
code = "kham-r"
name = "Phòng khám 107"
services = ["kham"]
hours = ["08:00-11:30"]
"""

SURGE = CLINIC + """
[arrivals]
start = "07:00"
services = { kham = [10, 10, 8, 4] }
coaches = [{ at = "08:15", service = "kham", patients = 30, within_minutes = 10 }]

[patients]
no_show_share = 0.02
""" + RESERVE

QUIET = CLINIC + """
[arrivals]
start = "07:00"
services = { kham = [5, 6, 5, 3] }

[patients]
no_show_share = 0.02
""" + RESERVE


def _scenario(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\n' + text, encoding="utf-8")
    return path


def _two_test_minutes(simulation: Simulation) -> list[float]:
    record = simulation.run()
    return [row["minutes"] for row in record.visit_rows
            if row["minutes"] is not None and {"xet-nghiem", "cdha"} <= set(row["route"])]


def test_parallel_tickets_bring_a_two_test_visit_back_earlier(tmp_path: Path) -> None:
    scenario, clinic = load_scenario(_scenario(tmp_path, "parallel", PARALLEL))
    sequential = Simulation(scenario, clinic, seed=2, policy="fifo-paper")
    parallel = Simulation(scenario, clinic, seed=2, policy="parallel")
    paper_minutes, parallel_minutes = _two_test_minutes(sequential), _two_test_minutes(parallel)
    assert len(paper_minutes) == len(parallel_minutes) > 20
    assert mean(parallel_minutes) < mean(paper_minutes) - 3
    # Under paper a patient holds one ticket at a time; in parallel both test tickets exist together.
    for simulation in (sequential, parallel):
        held_at_once = 0
        for visit in simulation.visits:
            tickets = sorted((t for t, v in simulation.by_ticket.items() if v is visit))
            tests = [t for t in tickets if simulation.stage_of[t].service in ("xet-nghiem", "cdha")]
            if len(tests) == 2 and tests[1] == tests[0] + 1:
                held_at_once += 1
        assert (held_at_once > 20) == (simulation is parallel)


def test_a_patient_called_while_in_another_room_is_recalled_then_returns_late(tmp_path: Path) -> None:
    # Without the lab's walk-ins both test lines hold the same patients in the same order: a patient is
    # often called at the lab while in the X-ray room.
    aligned = PARALLEL.replace(", xet-nghiem = [14, 10, 4]", "")
    scenario, clinic = load_scenario(_scenario(tmp_path, "aligned", aligned))
    simulation = Simulation(scenario, clinic, seed=2, policy="parallel")
    record = simulation.run()
    tests = [t for t in record.tickets if t["service"] in ("xet-nghiem", "cdha")]
    # The engine's own behaviour: recalls, a no-show, then the late return when the patient is free.
    assert any(t["call_count"] > 1 for t in tests)
    assert simulation.late_returns > 0
    assert {t["status"] for t in tests} <= {p.DONE, p.TRANSFERRED}  # every test served
    assert record.unserved == 0
    assert all(row["minutes"] is not None for row in record.visit_rows)  # nobody is lost by a missed call


def test_the_advisor_opens_the_reserve_room_on_a_surge_and_not_on_a_quiet_day(tmp_path: Path) -> None:
    surge, clinic = load_scenario(_scenario(tmp_path, "surge", SURGE))
    assert clinic.counter("kham-r") is not None  # a counter of the clinic under every practice
    paper = Simulation(surge, clinic, seed=1, policy="fifo-paper")
    paper_record = paper.run()
    advised = Simulation(surge, clinic, seed=1, policy="advisor")
    advised_record = advised.run()
    opened = [a for a in advised.advice_acted if a["action"] == "open"]
    assert opened and opened[0]["counter"] == "kham-r"
    # Not before the room is free (08:00) and only after the manager's delay from the advice.
    assert opened[0]["at"] >= 8 * 60 + surge.staff.manager_delay_minutes
    assert "P90" in opened[0]["reason"]
    assert advised_record.desk_minutes["kham-r"].get("serving", 0) > 30
    # Paper staff keep their shifts: the reserve room never opens.
    assert paper.advice_acted == [] and paper_record.desk_minutes["kham-r"] == {}
    served_by = {t["id"] for t in paper_record.tickets if t["service"] == "kham"}
    assert served_by and paper_record.unserved == 0
    exam = [t for t in paper_record.tickets if t["service"] == "kham" and t["first_called_at"]]
    advised_exam = [t for t in advised_record.tickets if t["service"] == "kham" and t["first_called_at"]]

    def wait(rows: list[dict]) -> float:
        return mean((t["first_called_at"] - t["issued_at"]).total_seconds() / 60 for t in rows)
    assert wait(advised_exam) < wait(exam) - 5

    quiet, quiet_clinic = load_scenario(_scenario(tmp_path, "quiet", QUIET))
    calm = Simulation(quiet, quiet_clinic, seed=1, policy="advisor")
    record = calm.run()
    assert not [a for a in calm.advice_acted if a["action"] == "open"]
    assert record.desk_minutes["kham-r"] == {}


def test_the_reserve_is_drawn_the_same_under_every_practice(tmp_path: Path) -> None:
    surge, clinic = load_scenario(_scenario(tmp_path, "surge", SURGE))
    paces = {name: [(d.code, d.pace, d.shifts, d.reserve) for d in Simulation(surge, clinic, 4, policy=name).desks]
             for name in ("fifo-paper", "advisor", "clinicq")}
    assert paces["fifo-paper"] == paces["advisor"] == paces["clinicq"]
    assert paces["fifo-paper"][-1][0] == "kham-r" and paces["fifo-paper"][-1][2] == []
    # A scenario without the reserve keeps the regular counters' draws (the reserve has its own stream).
    plain, plain_clinic = load_scenario(_scenario(tmp_path, "plain", SURGE.replace(RESERVE, "")))
    regular = [(d.code, d.pace) for d in Simulation(plain, plain_clinic, 4, policy="fifo-paper").desks]
    assert regular == [(code, pace) for code, pace, _, _ in paces["fifo-paper"][:-1]]


def test_a_reserve_must_be_a_new_counter_of_known_services(tmp_path: Path) -> None:
    clash = SURGE.replace('code = "kham-r"', 'code = "kham-1"')
    with pytest.raises(ScenarioError, match="already has a counter"):
        load_scenario(_scenario(tmp_path, "clash", clash))
    unknown = SURGE.replace('services = ["kham"]', 'services = ["kham-mat"]')
    with pytest.raises(ScenarioError, match="unknown services"):
        load_scenario(_scenario(tmp_path, "unknown", unknown))


def test_constrained_tests_are_grouped_fasting_first_contrast_last(tmp_path: Path) -> None:
    text = PARALLEL.replace("[flow]", '[flow]\nconstraints = { cdha = "contrast" }')
    scenario, clinic = load_scenario(_scenario(tmp_path, "contrast", text))
    simulation = Simulation(scenario, clinic, seed=2, policy="parallel")
    simulation.run()
    both = 0
    for visit in simulation.visits:
        tests = [s.service for s in visit.stages if s.service in ("xet-nghiem", "cdha")]
        if len(tests) == 2:
            both += 1
            assert tests == ["xet-nghiem", "cdha"]  # contrast imaging after the bloods, under any practice
        tickets = sorted(t for t, v in simulation.by_ticket.items() if v is visit)
        services = [simulation.stage_of[t].service for t in tickets]
        if "cdha" in services and "xet-nghiem" in services:
            # Not held together: the imaging ticket comes only after the sample (a transfer from the lab).
            assert services.index("cdha") > services.index("xet-nghiem")
    assert both > 20
