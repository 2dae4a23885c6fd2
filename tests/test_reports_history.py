"""A small fixed history written straight into the database, for report tests with figures worked out by hand.

Week of Monday 16 November 2026 (site time, UTC+7); the tests' clock stands at Monday 23, so every day of
it is closed. Monday 16 has seven visits, Tuesday 17 no traffic at all, Wednesday 18 two visits:

  V1  A001 reception 07:00 -> call 07:10 q1, serve 07:12, transfer 07:15 -> B001 exam 07:15 -> call 07:45
      p101, serve 07:46, done 08:00. Exam only: 60 min, within 2 h. Exam record by bs-an.
  V2  B002 exam 07:30 -> call 08:00 p101, serve 08:01, transfer 08:10 -> X001 lab 08:10 -> call 08:20 p201,
      serve 08:21, transfer 08:30 -> B003 exam (return) 08:30 -> call 09:30 p101, serve 09:31, on hold
      09:35-09:45, done 09:55. Transferred twice; one kind (lab): 145 min, within 3 h. No exam record.
  V3  B004 exam 08:00 -> call 08:40 p102, serve 08:41, done 08:50; lab and imaging ordered; B005 return
      11:00 -> call 11:50 p102, serve 11:51, done 12:00. Two kinds: 240 min, over 3.5 h. Exam by bs-binh.
  V4  X002 lab 09:00 -> call 09:05 p202, serve 09:06, done 09:10. No exam.
  V5  B006 exam 09:00 -> call 09:20 p101, recall 09:21, no-show 09:23. No exam.
  V6  B007 exam 10:00 -> cancelled 10:30. No exam.
  V7  C001 surgery 10:00 -> call 10:10 p103, no-show 10:12, late return 10:30, call 10:40, serve 10:41,
      done 10:51. Exam only: 51 min.
  V8  (Wed) B001 exam 14:00 -> call 14:20 p101, serve 14:21, done 14:31; lab, imaging and a functional test
      ordered: three kinds, 31 min. Exam by bs-an.
  V9  (Wed) B002 exam 16:00, still waiting.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from hub import protocol as p
from hub.config import load_config
from hub.core import Hub, build_hub
from hub.domain.billing.models import Payment
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.clinical.models import ClinicalOrder, ExamRecord
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Ticket, TicketTransition, Visit
from tests.conftest import CONFIG_DIR

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY, TUESDAY, WEDNESDAY = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)
TODAY = date(2026, 11, 23)
Step = tuple[str, str, str | None]  # (to status, "HH:MM", counter)


def at(day: date, clock: str) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=LOCAL)


@dataclass
class HistoryWriter:
    """Rows as the engine would have written them, at chosen times."""

    hub: Hub
    seqs: dict[tuple[str, date], int] = field(default_factory=dict)
    codes: itertools.count = field(default_factory=lambda: itertools.count(1))

    def visit(self, day: date, start: str) -> int:
        with self.hub.db.write() as connection:
            return connection.execute(insert(Visit).values(day=day, started_at=at(day, start)).returning(Visit.id)
                                      ).scalar_one()

    def ticket(self, visit_id: int, service: str, day: date, issued: str, steps: list[Step],
               estimate: tuple[float, float] | None = None, source: str = "kiosk") -> int:
        queue = self.hub.queue
        prefix = self.hub.config.service(service).prefix  # type: ignore[union-attr]
        seq = self.seqs[(service, day)] = self.seqs.get((service, day), 0) + 1
        issued_at = at(day, issued)
        values: dict = {"status": p.WAITING, "counter_id": None, "call_count": 0, "first_called_at": None,
                        "last_called_at": None, "served_at": None, "finished_at": None}
        for status, clock, counter in steps:
            when = at(day, clock)
            values["status"] = status
            if counter:
                values["counter_id"] = queue.counter_id(counter)
            if status == p.CALLED:
                values["call_count"] += 1
                values["first_called_at"] = values["first_called_at"] or when
                values["last_called_at"] = when
            elif status == p.SERVING and values["served_at"] is None:
                values["served_at"] = when
            elif status in (p.DONE, p.TRANSFERRED, p.NO_SHOW, p.CANCELLED):
                values["finished_at"] = when
            elif status == p.WAITING:
                values["counter_id"] = None
        with self.hub.db.write() as connection:
            ticket_id = connection.execute(insert(Ticket).values(
                service_id=queue.service_id(service), day=day, seq=seq, number=p.ticket_number(prefix, seq),
                priority="normal", source=source, visit_id=visit_id, queue_key_ms=int(issued_at.timestamp() * 1000),
                issued_at=issued_at, estimate_p50_min=estimate[0] if estimate else None,
                estimate_p90_min=estimate[1] if estimate else None, **values).returning(Ticket.id)).scalar_one()
            rows = [{"from_status": None, "to_status": p.WAITING, "started_at": issued_at, "at": issued_at,
                     "counter_id": None}]
            previous, opened = p.WAITING, issued_at
            for status, clock, counter in steps:
                when = at(day, clock)
                rows.append({"from_status": previous, "to_status": status, "started_at": opened, "at": when,
                             "counter_id": queue.counter_id(counter) if counter else None})
                previous, opened = status, when
            connection.execute(insert(TicketTransition), [
                {**row, "ticket_id": ticket_id, "actor": "test",
                 "duration_ms": int((row["at"] - row["started_at"]).total_seconds() * 1000)} for row in rows])
        return ticket_id

    def order(self, visit_id: int, kind: str, service: str, day: date, status: str = "resulted") -> None:
        with self.hub.db.write() as connection:
            connection.execute(insert(ClinicalOrder).values(
                visit_id=visit_id, item_code=f"{kind}-{service}", kind=kind, service=service, price=100_000,
                status=status, ordered_by="user:bs.test", ordering_service="kham-noi", created_at=at(day, "08:00")))

    def exam(self, visit_id: int, doctor: str, day: date) -> None:
        with self.hub.db.write() as connection:
            doctor_id = connection.execute(select(Doctor.id).where(Doctor.code == doctor)).scalar_one()
            connection.execute(insert(ExamRecord).values(
                visit_id=visit_id, doctor_id=doctor_id, author="user:bs.test", created_at=at(day, "08:00"),
                updated_at=at(day, "08:00")))

    def payment(self, visit_id: int, kind: str, method: str, amount: int, when: datetime,
                status: str = "approved") -> None:
        with self.hub.db.write() as connection:
            connection.execute(insert(Payment).values(visit_id=visit_id, kind=kind, method=method, amount=amount,
                                                      status=status, actor="user:thu.ngan", at=when))

    def follow_up(self, service: str, doctor: str, status: str, slot: datetime, kind: str = "follow_up") -> None:
        number = f"{slot:%y%m%d%H}{next(self.codes):03d}"  # unique across weeks written into one database
        with self.hub.db.write() as connection:
            patient_id = connection.execute(insert(Patient).values(
                code=f"BN{number}", full_name=f"Bệnh nhân {number}", created_at=slot).returning(Patient.id)
            ).scalar_one()
            doctor_id = connection.execute(select(Doctor.id).where(Doctor.code == doctor)).scalar_one()
            connection.execute(insert(Appointment).values(
                code=f"H{number}", patient_id=patient_id, doctor_id=doctor_id, service=service,
                slot_start=slot, slot_minutes=15, status=status, channel="doctor", kind=kind,
                booked_by="user:bs.test", created_at=slot - timedelta(days=7)))


def write_week(hub: Hub, monday: date = MONDAY) -> dict[str, int]:
    """The history of the module docstring (in the week of `monday`); returns the visit ids by name."""
    w = HistoryWriter(hub)
    m, tue, wed = monday, monday + timedelta(days=1), monday + timedelta(days=2)
    thu, fri, sat = monday + timedelta(days=3), monday + timedelta(days=4), monday + timedelta(days=5)
    v = {name: w.visit(m, start) for name, start in (("V1", "07:00"), ("V2", "07:30"), ("V3", "08:00"),
                                                      ("V4", "09:00"), ("V5", "09:00"), ("V6", "10:00"),
                                                      ("V7", "10:00"))}
    w.ticket(v["V1"], "tiep-don", m, "07:00", [("called", "07:10", "q1"), ("serving", "07:12", "q1"),
                                               ("transferred", "07:15", "q1")], estimate=(10, 15))
    w.ticket(v["V1"], "kham-noi", m, "07:15", [("called", "07:45", "p101"), ("serving", "07:46", "p101"),
                                               ("done", "08:00", "p101")], estimate=(20, 40), source="transfer")
    w.exam(v["V1"], "bs-an", m)
    w.ticket(v["V2"], "kham-noi", m, "07:30", [("called", "08:00", "p101"), ("serving", "08:01", "p101"),
                                               ("transferred", "08:10", "p101")], estimate=(45, 60))
    w.ticket(v["V2"], "xet-nghiem", m, "08:10", [("called", "08:20", "p201"), ("serving", "08:21", "p201"),
                                                 ("transferred", "08:30", "p201")], source="transfer")
    w.ticket(v["V2"], "kham-noi", m, "08:30", [("called", "09:30", "p101"), ("serving", "09:31", "p101"),
                                               ("on_hold", "09:35", "p101"), ("serving", "09:45", "p101"),
                                               ("done", "09:55", "p101")], source="transfer")
    w.order(v["V2"], "lab", "xet-nghiem", m)
    w.ticket(v["V3"], "kham-noi", m, "08:00", [("called", "08:40", "p102"), ("serving", "08:41", "p102"),
                                               ("done", "08:50", "p102")])
    w.order(v["V3"], "lab", "xet-nghiem", m)
    w.order(v["V3"], "imaging", "cdha", m)
    w.order(v["V3"], "imaging", "cdha", m, status="cancelled")  # cancelled orders never count
    w.ticket(v["V3"], "kham-noi", m, "11:00", [("called", "11:50", "p102"), ("serving", "11:51", "p102"),
                                               ("done", "12:00", "p102")], source="order")
    w.exam(v["V3"], "bs-binh", m)
    w.ticket(v["V4"], "xet-nghiem", m, "09:00", [("called", "09:05", "p202"), ("serving", "09:06", "p202"),
                                                 ("done", "09:10", "p202")])
    w.ticket(v["V5"], "kham-noi", m, "09:00", [("called", "09:20", "p101"), ("called", "09:21", "p101"),
                                               ("no_show", "09:23", "p101")], estimate=(10, 15))
    w.ticket(v["V6"], "kham-noi", m, "10:00", [("cancelled", "10:30", None)], estimate=(30, 50))
    w.ticket(v["V7"], "kham-ngoai", m, "10:00", [("called", "10:10", "p103"), ("no_show", "10:12", "p103"),
                                                 ("waiting", "10:30", None), ("called", "10:40", "p103"),
                                                 ("serving", "10:41", "p103"), ("done", "10:51", "p103")],
             estimate=(10, 20))
    v["V8"], v["V9"] = w.visit(wed, "14:00"), w.visit(wed, "16:00")
    w.ticket(v["V8"], "kham-noi", wed, "14:00", [("called", "14:20", "p101"), ("serving", "14:21", "p101"),
                                                 ("done", "14:31", "p101")])
    w.exam(v["V8"], "bs-an", wed)
    for kind, service in (("lab", "xet-nghiem"), ("imaging", "cdha"), ("imaging", "tham-do")):
        w.order(v["V8"], kind, service, wed)
    w.ticket(v["V9"], "kham-noi", wed, "16:00", [])

    w.payment(v["V1"], "payment", "cash", 150_000, at(m, "08:05"))
    w.payment(v["V2"], "deposit", "card", 200_000, at(m, "07:40"))
    w.payment(v["V2"], "payment", "card", 100_000, at(m, "10:00"))
    w.payment(v["V2"], "refund", "cash", 50_000, at(m, "10:01"))
    w.payment(v["V3"], "payment", "ewallet", 300_000, at(m, "12:05"), status="voided")
    w.payment(v["V4"], "payment", "cash", 10_000, at(tue, "00:30"))  # after local midnight: Tuesday's
    w.payment(v["V8"], "payment", "bank_qr", 250_000, at(wed, "14:35"))

    for status, slot in (("booked", at(thu, "09:00")), ("fulfilled", at(wed, "09:00")),
                         ("noshow", at(tue, "09:00")), ("cancelled", at(fri, "09:00")),
                         ("proposed", at(sat, "09:00"))):
        w.follow_up("kham-noi", "bs-an", status, slot)
    w.follow_up("kham-ngoai", "bs-cuong", "arrived", at(wed, "10:00"))
    w.follow_up("kham-noi", "bs-an", "booked", at(wed, "10:00"), kind="visit")  # not a follow-up
    w.follow_up("kham-noi", "bs-an", "booked", at(wed + timedelta(days=7), "09:00"))  # next week
    return v


def test_history_follows_the_ticket_protocol(tmp_path: Path) -> None:
    """Every log row the writer makes is a transition the engine allows."""
    hub = build_hub(load_config(CONFIG_DIR, env={}), var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'h.db'}")
    try:
        write_week(hub)
        with hub.db.read() as connection:
            rows = connection.execute(select(TicketTransition.from_status, TicketTransition.to_status)).all()
        assert rows and all(row.from_status is None or row.to_status in p.TRANSITIONS[row.from_status]
                            for row in rows)
    finally:
        hub.close()
