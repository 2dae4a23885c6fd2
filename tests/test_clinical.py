"""Examination, orders and results in the domain: routing, one ticket per service, the return, flags."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.clinical.exams import ClinicalService, ExamRecorded, normalise_icd10
from hub.domain.clinical.orders import OrderPlaced, OrderResulted, VisitReturned, VisitRouted, flag, lab_values
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.patients.models import Patient
from hub.domain.queue.engine import QueueService
from hub.domain.queue.models import Ticket
from tests.conftest import RecordingBus, make_queue

CBC = {"WBC": 12.5, "RBC": 4.5, "HGB": 110, "PLT": 250}
ADULT = {"born": date(1980, 1, 1), "sex": "Nam", "day": date(2026, 3, 9)}


class Clinic:
    """A queue engine and the clinical service on one database, with the steps tests repeat."""

    def __init__(self, db: Database, clinic: ClinicConfig, clock: VirtualClock) -> None:
        self.queue, self.bus = make_queue(db, clinic, clock)
        self.clinical = ClinicalService(db, clinic, self.bus, clock, self.queue)
        self.orders = self.clinical.orders
        self.db = db
        self.clock = clock

    def patient(self, code: str = "BN00000001", name: str = "Nguyễn Văn Bình") -> int:
        with self.db.write() as connection:
            return connection.execute(insert(Patient).values(
                code=code, full_name=name, date_of_birth=date(1960, 5, 17), sex="Nam",
                created_at=self.clock.now()).returning(Patient.id)).scalar_one()

    def serve(self, counter: str, **issue: Any) -> dict[str, Any]:
        """Issue a ticket (unless the line already has one), call it at `counter` and start serving it."""
        if issue:
            service = issue.pop("service")
            self.queue.issue(service, **issue)
        called = self.queue.call_next(counter, actor="test")
        assert called is not None
        return self.queue.start(counter, actor="test")

    def at_doctor(self, priority: str = "normal", patient: bool = True) -> dict[str, Any]:
        patient_id = self.patient() if patient else None
        return self.serve("p101", service="kham-noi", priority=priority, patient_id=patient_id)

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        return self.queue.get_ticket(ticket_id)

    def tickets_of(self, visit_id: int) -> list[Any]:
        with self.db.read() as connection:
            return connection.execute(select(Ticket).where(Ticket.visit_id == visit_id).order_by(Ticket.id)).all()

    def result_all(self, visit_id: int, kind: str | None = None) -> None:
        for order in self.orders.reads.of_visit(visit_id):
            if order["status"] != "ordered" or (kind and order["kind"] != kind):
                continue
            self.orders.start(order["id"], actor="user:ky.thuat")
            if order["kind"] == "lab":
                values = {a["code"]: (a["low"] + a["high"]) / 2 for a in order["analytes"]}
                self.orders.record_result(order["id"], actor="user:ky.thuat", values=values)
            else:
                self.orders.record_result(order["id"], actor="user:ky.thuat", report="Không thấy bất thường.")


@pytest.fixture
def world(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> Clinic:
    return Clinic(sqlite_db, clinic, clock)


@pytest.fixture
def any_world(any_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> Clinic:
    return Clinic(any_db, clinic, clock)


# ---------------------------------------------------------------------------------- the whole round
def test_lab_then_imaging_then_back_to_the_doctor(any_world: Clinic) -> None:
    w = any_world
    doctor_ticket = w.at_doctor(priority="elderly")
    visit = doctor_ticket["visit_id"]
    placed = w.orders.place(visit, ["xq-nguc", "xn-ctm", "xn-glucose"], actor="user:bs.an", counter="p101")

    # One ticket now, for the lab: both lab tests share it; the doctor's ticket moved there.
    assert len(placed["tickets"]) == 1
    lab = placed["tickets"][0]
    assert lab["service"] == "xet-nghiem" and lab["transferred_from"] == doctor_ticket["id"]
    assert lab["priority"] == "elderly"  # the patient's own class carries over
    assert w.ticket(doctor_ticket["id"])["status"] == "transferred"
    by_item = {o["item"]: o for o in placed["orders"]}
    assert by_item["xn-ctm"]["ticket"]["id"] == by_item["xn-glucose"]["ticket"]["id"] == lab["id"]
    assert by_item["xq-nguc"]["ticket"] is None
    assert by_item["xn-ctm"]["price"] == 90000 and by_item["xn-ctm"]["ordering_counter"] == "p101"
    assert len(w.bus.of(OrderPlaced)) == 3

    # Sampling done: the patient goes on to imaging (one ticket), no return yet.
    w.serve("p201")
    w.queue.finish("p201", actor="test")
    imaging = [t for t in w.tickets_of(visit) if t.source == "order" and t.id != lab["id"]]
    assert len(imaging) == 1 and w.queue.service_code(imaging[0].service_id) == "cdha"
    assert w.orders.reads.get(by_item["xq-nguc"]["id"])["ticket"]["id"] == imaging[0].id
    w.serve("p203")
    w.queue.finish("p203", actor="test")

    w.result_all(visit, kind="lab")
    assert not w.bus.of(VisitReturned)  # the X-ray is not read yet
    w.result_all(visit, kind="imaging")
    returned = w.bus.of(VisitReturned)
    assert len(returned) == 1 and returned[0].counter == "p101"
    back = returned[0].ticket
    assert (back["service"], back["priority"], back["source"], back["visit_id"]) == (
        "kham-noi", "returning", "order", visit)
    assert len([t for t in w.tickets_of(visit) if t.status == "waiting"]) == 1
    # Results are on the visit at once.
    summary = w.clinical.visit(visit)
    assert {o["status"] for o in summary["orders"]} == {"resulted"}
    assert len(w.bus.of(OrderResulted)) == 3


def test_keep_patient_issues_without_moving_the_doctors_ticket(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    placed = world.orders.place(doctor_ticket["visit_id"], ["xn-ctm"], actor="user:bs.an", counter="p101",
                                keep_patient=True)
    assert placed["tickets"][0]["transferred_from"] is None and placed["tickets"][0]["source"] == "order"
    assert world.ticket(doctor_ticket["id"])["status"] == "serving"
    # Results in while the patient is still in the room: no return ticket, they are here.
    world.result_all(doctor_ticket["visit_id"])
    assert not world.bus.of(VisitReturned)


def test_imaging_only_goes_straight_to_imaging(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    placed = world.orders.place(doctor_ticket["visit_id"], ["sa-bung", "xq-nguc"], actor="user:bs.an",
                                counter="p101")
    assert [t["service"] for t in placed["tickets"]] == ["cdha"]
    assert len(world.bus.of(VisitRouted)) == 1


def test_return_waits_for_every_order_but_not_for_cancelled_ones(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    visit = doctor_ticket["visit_id"]
    placed = world.orders.place(visit, ["xn-ctm", "xn-glucose", "xq-nguc"], actor="user:bs.an", counter="p101")
    ctm, glucose, xray = sorted(placed["orders"], key=lambda o: o["item"] != "xn-ctm")
    world.orders.start(ctm["id"], actor="lab")
    world.orders.record_result(ctm["id"], actor="lab", values=CBC)
    assert not world.bus.of(VisitReturned)
    world.orders.cancel(xray["id"], actor="user:bs.an", reason="bệnh nhân từ chối")
    assert not world.bus.of(VisitReturned)
    world.orders.start(glucose["id"], actor="lab")
    world.orders.record_result(glucose["id"], actor="lab", values={"GLU": 5.0})
    assert len(world.bus.of(VisitReturned)) == 1
    # Asking again changes nothing: one return per round of orders.
    again = world.orders.return_if_done(visit, "kham-noi")
    assert again is None or again["id"] == world.bus.of(VisitReturned)[0].ticket["id"]
    assert len([t for t in world.tickets_of(visit) if t.priority == "returning"]) == 1


def test_cancelling_all_orders_of_a_waiting_ticket_frees_the_patient(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    visit = doctor_ticket["visit_id"]
    placed = world.orders.place(visit, ["xn-ctm", "ecg"], actor="user:bs.an", counter="p101")
    lab = placed["tickets"][0]
    ctm = next(o for o in placed["orders"] if o["item"] == "xn-ctm")
    world.orders.cancel(ctm["id"], actor="user:bs.an")
    assert world.ticket(lab["id"])["status"] == "cancelled"
    ecg = next(o for o in world.orders.reads.of_visit(visit) if o["item"] == "ecg")
    assert ecg["ticket"] is not None and ecg["ticket"]["status"] == "waiting"  # on to imaging at once


def test_a_manual_transfer_at_the_lab_is_linked_not_doubled(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    visit = doctor_ticket["visit_id"]
    world.orders.place(visit, ["xn-ctm", "xq-nguc"], actor="user:bs.an", counter="p101")
    world.serve("p201")
    moved = world.queue.transfer("p201", "cdha", actor="lab nurse")
    xray = next(o for o in world.orders.reads.of_visit(visit) if o["item"] == "xq-nguc")
    assert xray["ticket"]["id"] == moved["id"]
    assert len([t for t in world.tickets_of(visit) if world.queue.service_code(t.service_id) == "cdha"]) == 1


def test_an_order_added_while_waiting_at_the_lab_joins_that_ticket(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    visit = doctor_ticket["visit_id"]
    first = world.orders.place(visit, ["xn-ctm"], actor="user:bs.an", counter="p101")["tickets"][0]
    more = world.orders.place(visit, ["xn-glucose"], actor="user:bs.an", counter="p101")
    assert more["tickets"] == [world.ticket(first["id"])]
    assert {o["ticket"]["id"] for o in more["orders"]} == {first["id"]}
    assert len(world.tickets_of(visit)) == 2  # the doctor's and one lab ticket


def test_next_step_tells_the_patient_where_to_go(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    visit = doctor_ticket["visit_id"]
    world.orders.place(visit, ["xn-ctm"], actor="user:bs.an", counter="p101")
    step = world.orders.reads.next_step(doctor_ticket["id"])
    assert [t["service"] for t in step["next"]] == ["xet-nghiem"] and not step["awaiting_results"]
    lab = step["next"][0]
    world.serve("p201")
    world.queue.finish("p201", actor="test")
    assert world.orders.reads.next_step(lab["id"]) == {"ticket": lab["id"], "next": [], "awaiting_results": True}
    world.result_all(visit)
    step = world.orders.reads.next_step(lab["id"])
    assert [(t["service"], t["priority"]) for t in step["next"]] == [("kham-noi", "returning")]


# ---------------------------------------------------------------------------------- order rules
def test_illegal_order_transitions(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    placed = world.orders.place(doctor_ticket["visit_id"], ["xn-glucose"], actor="user:bs.an", counter="p101")
    order = placed["orders"][0]["id"]
    with pytest.raises(Conflict):
        world.orders.record_result(order, actor="lab", values={"GLU": 5.0})  # not started
    with pytest.raises(Conflict):
        world.orders.release(order, actor="lab")
    world.orders.start(order, actor="lab")
    with pytest.raises(Conflict):
        world.orders.start(order, actor="lab")
    world.orders.record_result(order, actor="lab", values={"GLU": 5.0}, release=True)
    for action in (world.orders.start, world.orders.cancel):
        with pytest.raises(Conflict):
            action(order, actor="lab")
    assert world.orders.reads.get(order)["released"] is True
    with pytest.raises(NotFound):
        world.orders.start(999_999, actor="lab")


def test_placing_checks_items_and_the_counter(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    visit = doctor_ticket["visit_id"]
    for items, code in (([], "no_items"), (["khong-co"], "unknown_item"), (["xn-ctm", "xn-ctm"], "duplicate_item")):
        with pytest.raises(Invalid) as raised:
            world.orders.place(visit, items, actor="user:bs.an", counter="p101")
        assert raised.value.code == code
    with pytest.raises(NotFound):
        world.orders.place(424242, ["xn-ctm"], actor="user:bs.an")
    # Called but not yet served: start first (a registered patient: the identity rule comes before).
    world.queue.issue("kham-noi", patient_id=world.patient("BN00000002", "Lê Văn Nam"))
    world.queue.finish("p101", actor="test")
    called = world.queue.call_next("p101", actor="test")
    with pytest.raises(Conflict) as raised:
        world.orders.place(called["visit_id"], ["xn-ctm"], actor="user:bs.an", counter="p101")
    assert raised.value.code == "not_serving"


def test_flags_and_reference_ranges(clinic: ClinicConfig) -> None:
    assert (flag(10.1, 4.0, 10.0), flag(3.9, 4.0, 10.0), flag(4.0, 4.0, 10.0), flag(10.0, 4.0, 10.0)) == (
        "H", "L", None, None)
    assert flag(99.0, None, None) is None and flag(0.0, None, 3.4) is None
    values = lab_values(clinic.catalogue_item("xn-ctm"), CBC, **ADULT)
    assert {v["code"]: v["flag"] for v in values} == {"WBC": "H", "RBC": None, "HGB": "L", "PLT": None}
    wbc = values[0]
    assert (wbc["unit"], wbc["low"], wbc["high"], wbc["name"]) == ("G/L", 4.0, 10.0, "Bạch cầu")


@pytest.mark.parametrize(("values", "code"), [
    ({"WBC": 5.0, "RBC": 4.5, "HGB": 130}, "missing_value"),
    ({**CBC, "XYZ": 1.0}, "unknown_analyte"),
    ({**CBC, "WBC": "cao"}, "bad_value"),
    ({**CBC, "WBC": float("nan")}, "bad_value"),
    ({**CBC, "WBC": -1.0}, "bad_value"),
    ({**CBC, "WBC": True}, "bad_value"),
])
def test_bad_lab_values_are_refused(clinic: ClinicConfig, values: dict[str, Any], code: str) -> None:
    with pytest.raises(Invalid) as raised:
        lab_values(clinic.catalogue_item("xn-ctm"), values, **ADULT)
    assert raised.value.code == code


def test_imaging_needs_a_report(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    placed = world.orders.place(doctor_ticket["visit_id"], ["xq-nguc"], actor="user:bs.an", counter="p101")
    order = placed["orders"][0]["id"]
    world.orders.start(order, actor="lab")
    for kwargs in ({"report": "   "}, {"values": {"X": 1}}, {}):
        with pytest.raises(Invalid):
            world.orders.record_result(order, actor="lab", **kwargs)
    done = world.orders.record_result(order, actor="lab", report="Tim phổi bình thường.")
    assert done["report"] == "Tim phổi bình thường." and done["values"] is None


# ---------------------------------------------------------------------------------- examination
@pytest.mark.parametrize(("typed", "code"), [
    ("J06.9", "J06.9"), ("j069", "J06.9"), (" i10 ", "I10"), ("E11.65", "E11.65"), ("A17.0†", "A17.0")])
def test_icd10_codes_are_normalised(typed: str, code: str) -> None:
    assert normalise_icd10(typed) == code


@pytest.mark.parametrize("typed", ["J6.9", "06.9", "J06.", "J06.912", "JJ06", "tăng huyết áp", "I10;DROP"])
def test_bad_icd10_codes_are_refused(typed: str) -> None:
    with pytest.raises(Invalid):
        normalise_icd10(typed)


def test_exam_record_and_diagnosis_text(world: Clinic) -> None:
    doctor_ticket = world.at_doctor()
    visit = doctor_ticket["visit_id"]
    exam = world.clinical.save_exam(visit, actor="user:bs.an", notes="Ho khan 3 ngày", diagnosis_code="j069",
                                    prescription="Paracetamol 500mg x 2 lần/ngày", ticket_id=doctor_ticket["id"])
    assert exam["diagnosis_code"] == "J06.9"
    assert exam["diagnosis_text"] == "Nhiễm trùng đường hô hấp trên cấp, không đặc hiệu"  # from config/icd10.toml
    with pytest.raises(Invalid) as raised:
        world.clinical.save_exam(visit, actor="user:bs.an", diagnosis_code="K52.9")  # valid, not in the list
    assert raised.value.code == "diagnosis_text_required"
    exam = world.clinical.save_exam(visit, actor="user:bs.an", diagnosis_code="K52.9",
                                    diagnosis_text="Viêm dạ dày ruột không nhiễm trùng")
    assert exam["diagnosis_code"] == "K52.9" and exam["notes"] is None  # a save replaces the record
    assert len(world.bus.of(ExamRecorded)) == 2
    assert world.clinical.visit(visit)["exam"]["diagnosis_code"] == "K52.9"


def test_icd10_search_ignores_diacritics(world: Clinic) -> None:
    assert world.clinical.icd10_search("tang huyet ap")[0]["code"] == "I10"
    assert [c["code"] for c in world.clinical.icd10_search("J06")] == ["J06.9"]


def test_history_lists_earlier_visits_with_results(world: Clinic, clock: VirtualClock) -> None:
    patient_id = world.patient()
    first = world.serve("p101", service="kham-noi", patient_id=patient_id)["visit_id"]
    world.clinical.save_exam(first, actor="user:bs.an", diagnosis_code="I10")
    world.orders.place(first, ["xn-glucose"], actor="user:bs.an", counter="p101")
    world.result_all(first)
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=clock.now().tzinfo))
    second = world.queue.issue("kham-noi", patient_id=patient_id)["visit_id"]
    history = world.clinical.history("BN00000001", exclude_visit=second)
    assert [v["id"] for v in history["visits"]] == [first]
    old = history["visits"][0]
    assert old["exam"]["diagnosis_code"] == "I10" and old["services"] == ["kham-noi"]
    assert old["orders"][0]["values"][0]["code"] == "GLU"
    assert history["patient"]["age"] == 66
    with pytest.raises(NotFound):
        world.clinical.history("BN99999999")


def test_orders_go_on_todays_visit_only(world: Clinic, clock: VirtualClock) -> None:
    doctor_ticket = world.at_doctor()
    clock.set(datetime(2026, 11, 24, 8, 0, tzinfo=clock.now().tzinfo))
    with pytest.raises(Conflict) as raised:
        world.orders.place(doctor_ticket["visit_id"], ["xn-ctm"], actor="user:bs.an")
    assert raised.value.code == "visit_closed"


def test_queue_engine_alone_is_unaffected(sqlite_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> None:
    """Lab tickets without orders (a walk-in from the kiosk) finish as before."""
    queue: QueueService
    queue, bus = make_queue(sqlite_db, clinic, clock)
    assert isinstance(bus, RecordingBus)
    ClinicalService(sqlite_db, clinic, bus, clock, queue)
    queue.issue("xet-nghiem")
    queue.call_next("p201", actor="t")
    queue.start("p201", actor="t")
    queue.finish("p201", actor="t")
    assert not bus.of(VisitRouted)
