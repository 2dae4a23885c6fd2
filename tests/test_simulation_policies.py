"""Clinic practices in the simulator: the same patients under every policy, visit times and Decision 1313."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import cli
from hub.simulation.compare import compare
from hub.simulation.policies import POLICIES
from hub.simulation.report import summarize, visit_list
from hub.simulation.runner import Simulation
from hub.simulation.scenario import load_scenario

# A morning clinic: reception, two exam rooms, a lab (results after 30 min) and an imaging room; half
# the visits need a test, half of those a second one written in either order.
SCENARIO = """
name = "policies"
[clinic]
opening_hours = ["07:00-11:30"]

[[clinic.services]]
code = "tiep-don"
kind = "reception"
prefix = "A"
minutes = { mean = 2.0, sd = 1.0 }
counters = 2

[[clinic.services]]
code = "kham"
prefix = "B"
minutes = { mean = 6.0, sd = 3.0 }
counters = 3

[[clinic.services]]
code = "xet-nghiem"
kind = "lab"
prefix = "X"
minutes = { mean = 3.0, sd = 1.0 }

[[clinic.services]]
code = "cdha"
kind = "imaging"
prefix = "H"
minutes = { mean = 6.0, sd = 2.0 }

[arrivals]
start = "06:45"
curve = [10, 14, 9, 4, 2]
services = { kham = 70 }

[patients]
priority_mix = { elderly = 0.25, emergency = 0.02 }
no_show_share = 0.05

[staff]
pauses_per_hour = 0.5

[[staff.reserve]]
code = "kham-r"
services = ["kham"]
hours = ["08:00-11:00"]

[flow]
reception = "tiep-don"
lab_share = 0.5
lab_services = { xet-nghiem = 0.5, cdha = 0.5 }
extra_test_share = 0.6
result_minutes = { xet-nghiem = 30 }
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policies") / "policies.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def days(scenario_file: Path) -> dict[str, Simulation]:
    scenario, clinic = load_scenario(scenario_file)
    out = {}
    for name in POLICIES:
        simulation = Simulation(scenario, clinic, seed=3, policy=name)
        simulation.record = simulation.run()  # type: ignore[attr-defined]
        out[name] = simulation
    return out


def _patients(simulation: Simulation) -> list[tuple[Any, ...]]:
    """Who came, when, and what each of them would do at each station (the order of tests aside)."""
    out = []
    for visit in simulation.visits:
        stages = sorted((s.service, s.priority, s.absent, round(s.walk, 9), round(s.work, 9)) for s in visit.stages)
        out.append((round(visit.first_issue or -1, 9), tuple(stages)))
    return out


def test_the_same_seed_gives_the_same_patients_under_every_policy(days: dict[str, Simulation]) -> None:
    reference = _patients(days["fifo-paper"])
    assert len(reference) > 40
    assert any(len([s for s in stages if s[0] in ("xet-nghiem", "cdha")]) == 2 for _, stages in reference)
    for name, simulation in days.items():
        assert _patients(simulation) == reference, name
        # The staff too, the reserve room included (its pace and free hours), opened or not.
        assert [(d.code, d.pace, d.shifts, d.reserve) for d in simulation.desks] == \
            [(d.code, d.pace, d.shifts, d.reserve) for d in days["fifo-paper"].desks]
    assert days["fifo-paper"].desks[-1].code == "kham-r"


def test_a_paper_clinic_knows_only_emergencies(days: dict[str, Simulation]) -> None:
    paper = {t["priority"] for t in days["fifo-paper"].record.tickets}  # type: ignore[attr-defined]
    assert paper <= {"normal", "emergency"}
    assert "elderly" in {t["priority"] for t in days["clinicq"].record.tickets}  # type: ignore[attr-defined]


def test_only_the_routing_practices_reorder_tests(days: dict[str, Simulation]) -> None:
    def rerouted(name: str) -> int:
        return summarize(days[name].record)["visit_time"]["rerouted"]  # type: ignore[attr-defined]
    assert rerouted("fifo-paper") == 0 and rerouted("priorities") == 0
    assert rerouted("routing") > 0 and rerouted("clinicq") > 0
    # The lab result takes 30 min: a routed visit with both tests gives its sample first.
    for visit in days["routing"].visits:
        tests = [s.service for s in visit.stages if s.service in ("xet-nghiem", "cdha")]
        if visit.replans and len(tests) == 2:
            assert tests[0] == "xet-nghiem"


def test_visit_times_and_1313_classes_add_up(days: dict[str, Simulation]) -> None:
    record = days["clinicq"].record  # type: ignore[attr-defined]
    summary = summarize(record)
    rows = visit_list(record)
    timed = [r for r in rows if r["class"] is not None and r["minutes"] is not None]
    assert summary["visit_time"]["visits"] == len(timed) > 30
    for row in timed:
        tests = {s for s in row["route"] if s in ("xet-nghiem", "cdha")}
        assert row["class"] == ("exam", "one_technique", "two_techniques")[len(tests)]
        assert row["target_minutes"] == (120, 180, 210)[len(tests)]
        assert row["met"] == (row["minutes"] <= row["target_minutes"])
        assert row["minutes"] > 0
    met = sum(1 for r in timed if r["met"])
    assert summary["visit_time"]["met"] == met
    assert summary["visit_time"]["met_share"] == round(met / len(timed), 3)
    idle = summary["staff"]["idle_share"]
    assert idle is not None and 0 < idle < 1


def test_the_command_compares_every_policy_as_json(scenario_file: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--scenario", str(scenario_file), "--seed", "3",
                                      "--policy", "fifo-paper", "--policy", "clinicq", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert list(report["policies"]) == ["fifo-paper", "clinicq"]
    for figures in report["policies"].values():
        assert {"visit_mean", "visit_p90", "within_1313", "waits", "idle_share"} <= set(figures)
        assert set(figures["waits"]) >= {"kham", "tiep-don"}
    table = CliRunner().invoke(cli, ["simulate", "--scenario", str(scenario_file), "--seed", "3", "--policy", "all"])
    assert table.exit_code == 0, table.output
    assert "within 1313" in table.output and "fifo-paper" in table.output and "routing" in table.output


def test_an_unknown_policy_is_refused(scenario_file: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--scenario", str(scenario_file), "--policy", "magic"])
    assert result.exit_code == 2
    assert "magic" in result.output and "fifo-paper" in result.output


def test_compare_runs_the_same_day(scenario_file: Path) -> None:
    scenario, clinic = load_scenario(scenario_file)
    once = compare(scenario, clinic, 3, ["fifo-paper"])["policies"]["fifo-paper"]
    again = compare(scenario, clinic, 3, ["fifo-paper"])["policies"]["fifo-paper"]
    assert {k: v for k, v in once.items() if k != "elapsed_seconds"} == \
        {k: v for k, v in again.items() if k != "elapsed_seconds"}


def test_the_command_lists_every_visit(scenario_file: Path) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--scenario", str(scenario_file), "--seed", "3", "--policy",
                                      "fifo-paper", "--visits", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["policy"] == "fifo-paper"
    rows = report["visit_list"]
    assert len(rows) == report["visits"]
    assert {"visit", "route", "minutes", "class", "target_minutes", "met"} == set(rows[0])
    table = CliRunner().invoke(cli, ["simulate", "--scenario", str(scenario_file), "--seed", "3", "--visits"])
    assert table.exit_code == 0 and "tiep-don > kham" in table.output
