"""Concurrency of booking: a slot never takes more patients than its capacity, codes never repeat.

Threads share one BookingService (one engine, a connection each), as the request threads of one hub
do; they wait at a barrier so that they really start together. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.models import Appointment, SlotCount
from hub.domain.common.clock import VirtualClock
from hub.domain.common.errors import Conflict
from hub.domain.patients.registry import PatientDetails
from hub.domain.queue.models import Ticket
from tests.test_booking import MONDAY, at, make_booking, patient

THREADS = 8


def together(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run work(0..count-1) in threads released at once; returns each result or the exception raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = work(index)
        except Exception as exc:  # collected: the test looks at every outcome
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_a_slot_is_never_overbooked(any_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> None:
    booking, _, _ = make_booking(any_db, clinic, clock)
    codes = [patient(booking, f"Bệnh Nhân Số {i}", f"09100000{i:02d}") for i in range(THREADS)]
    slot = at(MONDAY + timedelta(days=1), "09:00")  # bs-an: capacity 2

    results = together(lambda i: booking.book(patient_code=codes[i], slot_start=slot, doctor="bs-an",
                                              channel="portal", actor=f"portal:{i}"))
    booked = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(booked) == 2 and len(refused) == THREADS - 2, results
    assert {r.code for r in refused} == {"slot_full"}
    with any_db.read() as connection:
        assert connection.execute(select(SlotCount.booked)).scalar_one() == 2
        assert connection.execute(select(func.count()).select_from(Appointment)).scalar_one() == 2


def test_cancel_and_book_race_keeps_the_count_exact(any_db: Database, clinic: ClinicConfig,
                                                    clock: VirtualClock) -> None:
    booking, _, _ = make_booking(any_db, clinic, clock)
    slot = at(MONDAY + timedelta(days=1), "10:00")  # bs-cuong: capacity 1
    holder = booking.book(patient_code=patient(booking), slot_start=slot, doctor="bs-cuong", channel="reception",
                          actor="x")
    others = [patient(booking, f"Người Chờ {i}", f"09200000{i:02d}") for i in range(THREADS - 1)]

    def work(index: int) -> Any:
        if index == 0:
            return booking.cancel(holder["code"], actor="x")
        return booking.book(patient_code=others[index - 1], slot_start=slot, doctor="bs-cuong", channel="portal",
                            actor="y")

    together(work)
    with any_db.read() as connection:
        live = connection.execute(select(func.count()).select_from(Appointment).where(
            Appointment.status == "booked")).scalar_one()
        assert live <= 1
        assert connection.execute(select(SlotCount.booked)).scalar_one() == live


def test_patient_codes_are_unique_and_gap_free(any_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> None:
    booking, _, _ = make_booking(any_db, clinic, clock)
    results = together(lambda i: booking.patients.register(
        PatientDetails(full_name=f"Người Thứ {i}", date_of_birth=date(1990, 1, i + 1)), actor="x"))
    codes = sorted(r["code"] for r in results)
    assert codes == [f"BN26{n:06d}" for n in range(1, THREADS + 1)], results


def test_a_doubled_check_in_gives_one_ticket(any_db: Database, clinic: ClinicConfig, clock: VirtualClock) -> None:
    booking, _, _ = make_booking(any_db, clinic, clock)
    appointment = booking.book(patient_code=patient(booking), slot_start=at(MONDAY, "08:30"), doctor="bs-an",
                               channel="reception", actor="x")
    results = together(lambda i: booking.check_in(appointment["code"], actor=f"kiosk-{i}"), count=2)
    tickets = {r["ticket"]["id"] for r in results if isinstance(r, dict)}
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(tickets) == 1 and all(r.code == "already_checked_in" for r in refused), results
    with any_db.read() as connection:
        assert connection.execute(select(func.count()).select_from(Ticket)).scalar_one() == 1
