"""Order routing in the clinical flow: live estimates choose the next station, within the catalogue's rules."""

from __future__ import annotations

import pytest

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import VirtualClock
from tests.test_clinical import Clinic


def _clinic(clinic: ClinicConfig, *, routing: bool = True, **item_changes: dict) -> ClinicConfig:
    items = [item.model_copy(update={"result_minutes": 0, **item_changes.get(item.code.replace("-", "_"), {})})
             for item in clinic.catalogue]
    return clinic.model_copy(update={"catalogue": items,
                                     "routing": clinic.routing.model_copy(update={"enabled": routing})})


def _long_lab_line(w: Clinic) -> None:
    """15 lab patients over the last hour, both lab counters now at work: a long line that is draining."""
    for _ in range(15):
        w.queue.issue("xet-nghiem")
        w.clock.advance(240)
    for counter in ("p201", "p202"):
        w.queue.call_next(counter, actor="test")
        w.queue.start(counter, actor="test")


def _first_station(w: Clinic, items: list[str]) -> str:
    doctor = w.at_doctor()
    placed = w.orders.place(doctor["visit_id"], items, actor="user:bs.an", counter="p101")
    return placed["tickets"][0]["service"]


@pytest.fixture
def make(sqlite_db: Database, clock: VirtualClock):  # type: ignore[no-untyped-def]
    return lambda clinic: Clinic(sqlite_db, clinic, clock)


def test_a_long_lab_line_sends_the_patient_to_imaging_first(make, clinic: ClinicConfig) -> None:  # type: ignore[no-untyped-def]
    w = make(_clinic(clinic))
    _long_lab_line(w)
    assert _first_station(w, ["xn-ctm", "xq-nguc"]) == "cdha"


def test_routing_off_keeps_lab_first(make, clinic: ClinicConfig) -> None:  # type: ignore[no-untyped-def]
    w = make(_clinic(clinic, routing=False))
    _long_lab_line(w)
    assert _first_station(w, ["xn-ctm", "xq-nguc"]) == "xet-nghiem"


def test_a_fasting_sample_goes_first_even_behind_a_long_line(make, clinic: ClinicConfig) -> None:  # type: ignore[no-untyped-def]
    w = make(_clinic(clinic, xn_glucose={"fasting": True}))
    _long_lab_line(w)
    assert _first_station(w, ["xn-glucose", "xq-nguc"]) == "xet-nghiem"


def test_contrast_imaging_waits_for_the_bloods(make, clinic: ClinicConfig) -> None:  # type: ignore[no-untyped-def]
    w = make(_clinic(clinic, sa_bung={"contrast": True}))
    _long_lab_line(w)
    assert _first_station(w, ["xn-ctm", "sa-bung"]) == "xet-nghiem"


def test_a_lab_result_that_takes_time_sends_the_sample_first(make, clinic: ClinicConfig) -> None:  # type: ignore[no-untyped-def]
    # The shipped catalogue: lab results take 45 min, so the sample goes first even behind a line.
    w = make(clinic)
    _long_lab_line(w)
    assert _first_station(w, ["xn-ctm", "xq-nguc"]) == "xet-nghiem"


def test_after_the_first_station_the_patient_goes_on_to_the_next(make, clinic: ClinicConfig) -> None:  # type: ignore[no-untyped-def]
    # With two stations the re-plan is the choice made again after the first: imaging first, then on
    # to the lab (the route is planned afresh at every step from the live lines).
    w = make(_clinic(clinic))
    _long_lab_line(w)
    doctor = w.at_doctor()
    visit = doctor["visit_id"]
    placed = w.orders.place(visit, ["xn-ctm", "xq-nguc"], actor="user:bs.an", counter="p101")
    assert placed["tickets"][0]["service"] == "cdha"
    w.serve("p203")
    w.queue.finish("p203", actor="test")
    lab = [t for t in w.tickets_of(visit) if t.source == "order" and w.queue.service_code(t.service_id) == "xet-nghiem"]
    assert len(lab) == 1 and lab[0].status == "waiting"


def test_the_visit_status_shows_the_planned_route(make, clinic: ClinicConfig) -> None:  # type: ignore[no-untyped-def]
    w = make(_clinic(clinic))
    _long_lab_line(w)
    doctor = w.at_doctor()
    placed = w.orders.place(doctor["visit_id"], ["xn-ctm", "xq-nguc"], actor="user:bs.an", counter="p101")
    route = w.orders.planned_route(placed["tickets"][0]["id"])
    assert [r["service"] for r in route] == ["cdha", "xet-nghiem"]
    assert route[0]["name"] == w.queue.service_config("cdha").name
    w.serve("p203")
    w.queue.finish("p203", actor="test")
    assert [r["service"] for r in w.orders.planned_route(placed["tickets"][0]["id"])] == ["xet-nghiem"]
