"""Follow-up care: the doctor orders follow-ups at the end of a visit and the hub books, tells, reminds,
continues series and closes the day.

An order is a series (one follow-up is a series of one): K follow-ups every N days, booked all at once
("all") or each when the previous one is fulfilled ("next"). A follow-up takes the doctor's free slot
nearest to the wanted date (staff may name another slot). Its place in the series, and its
confirmation message, commit with the booking. Appointment events from anywhere (reception, the
patient's link, the check-in, the no-show job) re-plan reminders, open call-back items and continue
series. The slot search is in `follow_up_slots`, messages in `follow_up_messages`, the call-back list
in `follow_up_callbacks`, the patient's link page in `follow_up_replies`, the figures in
`follow_up_analysis`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, exists, insert, select, update

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.appointments import (
    APPOINTMENT_VIEW,
    BOOKED,
    FULFILLED,
    OPEN_STATES,
    AppointmentChanged,
    shape_appointment,
)
from hub.domain.booking.models import Appointment, Doctor, VisitIntake
from hub.domain.booking.schedules import BOOKING_HORIZON_DAYS
from hub.domain.booking.service import BookingService
from hub.domain.clinical.identity import require_identified
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import EventBus
from hub.domain.follow_ups.analysis import FollowUpAnalysis
from hub.domain.follow_ups.callbacks import CallbackList
from hub.domain.follow_ups.links import FollowUpLinks
from hub.domain.follow_ups.messages import FollowUpMessages
from hub.domain.follow_ups.models import FollowUpItem, FollowUpSeries
from hub.domain.follow_ups.replies import PatientReplies
from hub.domain.follow_ups.slots import SlotFinder
from hub.domain.notifications.outbox import NotificationService
from hub.domain.patients.models import Patient
from hub.domain.queue.models import Visit

if TYPE_CHECKING:
    from hub.domain.common.jobs import JobScheduler

log = logging.getLogger(__name__)
A = Appointment.__table__
S = FollowUpSeries.__table__
FI = FollowUpItem.__table__
D = Doctor.__table__
P = Patient.__table__
V = Visit.__table__
VI = VisitIntake.__table__
MODES = ("next", "all")  # book each when the previous is fulfilled / book all now
PLAN_JOB, NO_SHOW_JOB = "followups.plan", "followups.no_shows"
SYSTEM = "system:follow-ups"


def series_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, "planned": row.planned, "interval_days": row.interval_days, "mode": row.mode,
            "status": row.status, "reason": row.reason, "origin_visit_id": row.origin_visit_id,
            "service": row.service, "ordered_by": row.ordered_by, "ordered_at": row.ordered_at.isoformat(),
            "preferred_time": row.preferred_time.strftime("%H:%M") if row.preferred_time else None}


class FollowUpService:
    """`hub.follow_ups`: ordering and booking follow-ups; `callbacks`, `replies`, `analysis`, `messages`."""

    def __init__(self, db: Database, clinic: ClinicConfig, bus: EventBus, clock: Clock, booking: BookingService,
                 outbox: NotificationService, secret_key: str) -> None:
        self.db = db
        self.clinic = clinic
        self.settings = clinic.follow_ups
        self.bus = bus
        self.clock = clock
        self.booking = booking
        self.tz = clinic.site.tz
        self.links = FollowUpLinks(secret_key, clinic.site.public_url, clock)
        self.slots = SlotFinder(booking.free_slots, self.today, self.settings.search_days)
        self.messages = FollowUpMessages(db, clinic, outbox, self.links, clock)
        self.callbacks = CallbackList(self)
        self.replies = PatientReplies(self, self.callbacks)
        self.analysis = FollowUpAnalysis(db, clinic)
        bus.subscribe(AppointmentChanged, self._on_appointment_changed)

    def install_jobs(self, scheduler: JobScheduler) -> None:
        """The reminder planner (every few minutes) and the end-of-day no-show job (daily, site time)."""
        scheduler.add_job(PLAN_JOB, self.messages.plan, every_seconds=self.settings.plan_every_seconds)
        scheduler.add_job(NO_SHOW_JOB, self.close_day, at=self.settings.no_show_at)

    def today(self) -> date:
        return local_day(self.clock.now(), self.tz)

    # ================================================================== ordering
    def order(self, visit_id: int, *, actor: str, doctor: str | None = None, on: date | None = None,
              after_days: int | None = None, slot_start: datetime | None = None, at: time | None = None,
              reason: str | None = None, count: int = 1, every_days: int | None = None, mode: str = "next",
              channel: str = "doctor") -> dict[str, Any]:
        """Book the follow-up(s) a doctor orders at the end of a visit.

        When: a date (`on`), an interval (`after_days`, "in 4 weeks" = 28), or an exact `slot_start`
        staff picked. Then the doctor's free slot nearest to that date (and to `at`). A series is
        `count` follow-ups `every_days` apart. Returns {"series", "appointments", "missing"}: the
        seq numbers of an "all" series for which no free slot was found near their date.
        """
        wanted, at = self._check_order(on, after_days, slot_start, at, count, every_days, mode)
        now = self.clock.now()
        with self.db.write() as tx:
            require_identified(tx, visit_id)  # 404 for no visit, 409 for an anonymous one
            visit = tx.execute(select(V.c.id, V.c.patient_id, P.c.code).select_from(V.join(P, P.c.id == V.c.patient_id))
                               .where(V.c.id == visit_id)).one()
            doctor_row = self._doctor(tx, doctor, visit_id)
            series_id = tx.execute(insert(S).values(
                patient_id=visit.patient_id, doctor_id=doctor_row.id, service=doctor_row.service,
                origin_visit_id=visit_id, reason=(reason or None) and reason[:300], planned=count,
                interval_days=every_days if count > 1 else None, mode=mode, preferred_time=at, status="active",
                ordered_by=actor[:64], ordered_at=now).returning(S.c.id)).scalar_one()
        series = self._series(series_id)
        try:
            if slot_start is not None:
                first = self._book_at(series, 1, slot_start, doctor_row.code, actor=actor, channel=channel)
            else:
                first = self._book_near(series, 1, wanted, at, actor=actor, channel=channel)
        except Exception:
            with self.db.write() as tx:  # nothing was booked: the order did not happen
                tx.execute(S.delete().where(S.c.id == series_id))
            raise
        booked, missing = [first], []
        if mode == "all":
            first_day = local_day(datetime.fromisoformat(first["slot_start"]), self.tz)
            keep_time = at or datetime.fromisoformat(first["slot_start"]).time()
            for seq in range(2, count + 1):
                day = first_day + timedelta(days=(seq - 1) * (every_days or 0))
                try:
                    booked.append(self._book_near(series, seq, day, keep_time, actor=actor, channel=channel))
                except Conflict as exc:
                    log.warning("follow-up %d/%d of series %d not booked: %s", seq, count, series_id, exc.message)
                    missing.append(seq)
        return {"series": series_view(series), "appointments": booked, "missing": missing}

    def _check_order(self, on: date | None, after_days: int | None, slot_start: datetime | None, at: time | None,
                     count: int, every_days: int | None, mode: str) -> tuple[date, time | None]:
        if sum(x is not None for x in (on, after_days, slot_start)) != 1:
            raise Invalid("when_required", "Chọn ngày tái khám, sau bao lâu, hoặc giờ cụ thể / give one of a date, "
                                           "an interval or a slot")
        if mode not in MODES:
            raise Invalid("bad_mode", f"mode is one of {', '.join(MODES)}")
        if not 1 <= count <= self.settings.max_series:
            raise Invalid("bad_count", f"1 to {self.settings.max_series} follow-ups per order")
        if count > 1 and not (every_days and 1 <= every_days <= 366):
            raise Invalid("interval_required", "Một chuỗi tái khám cần khoảng cách (số tuần) / a series needs its "
                                               "interval")
        if after_days is not None and not 1 <= after_days <= BOOKING_HORIZON_DAYS:
            raise Invalid("bad_interval", f"the follow-up is 1 to {BOOKING_HORIZON_DAYS} days from today")
        if slot_start is not None and slot_start.tzinfo is None:
            raise Invalid("naive_time", "slot_start needs its UTC offset")
        today = self.today()
        wanted = on or (local_day(slot_start, self.tz) if slot_start else today + timedelta(days=after_days or 0))
        if wanted <= today and slot_start is None:
            raise Invalid("date_in_past", "Ngày tái khám phải sau hôm nay / the follow-up is after today")
        last = wanted + timedelta(days=(count - 1) * (every_days or 0))
        if mode == "all" and last > today + timedelta(days=BOOKING_HORIZON_DAYS):
            raise Invalid("series_too_long", f"Chuỗi vượt quá {BOOKING_HORIZON_DAYS} ngày đặt trước: hãy chọn 'đặt "
                                             f"lần sau khi khám xong' / the series goes past the {BOOKING_HORIZON_DAYS}"
                                             "-day booking horizon: book each when the previous is fulfilled")
        return wanted, at

    def _doctor(self, tx: Connection, code: str | None, visit_id: int) -> Any:
        """The doctor named, else the one reception recorded for the visit."""
        if code is not None:
            return self.booking.schedules.doctor_row(tx, code)
        doctor_id = tx.execute(select(VI.c.doctor_id).where(VI.c.visit_id == visit_id)).scalar()
        if doctor_id is None:
            raise Invalid("doctor_required", "Chọn bác sĩ tái khám / name the doctor of the follow-up")
        return tx.execute(select(D).where(D.c.id == doctor_id)).one()

    # ================================================================== finding and taking slots
    def nearest_slots(self, doctor: str, wanted: date, at: time | None = None) -> Iterator[dict[str, Any]]:
        return self.slots.nearest(doctor, wanted, at)

    def options(self, doctor: str, wanted: date, *, days: int = 3, at: time | None = None) -> dict[str, Any]:
        return self.slots.options(doctor, wanted, days=days, at=at)

    def _book_near(self, series: Any, seq: int, wanted: date, at: time | None, *, actor: str, channel: str,
                   replaces_id: int | None = None) -> dict[str, Any]:
        """Book the nearest free slot; a slot taken meanwhile (or a day the patient is booked) tries the next."""
        doctor = self._doctor_code(series.doctor_id)
        for slot in self.nearest_slots(doctor, wanted, at):
            try:
                return self._book_at(series, seq, datetime.fromisoformat(slot["start"]), doctor, actor=actor,
                                     channel=channel, replaces_id=replaces_id)
            except Conflict as exc:
                if exc.code not in ("slot_full", "already_booked"):
                    raise
        raise Conflict("no_free_slot", f"Không còn giờ trống trong {self.settings.search_days} ngày quanh "
                                       f"{wanted:%d/%m/%Y} / no free slot within {self.settings.search_days} days of "
                                       f"{wanted:%d/%m/%Y}")

    def _book_at(self, series: Any, seq: int, slot_start: datetime, doctor: str, *, actor: str, channel: str,
                 replaces_id: int | None = None) -> dict[str, Any]:
        """Book one follow-up; its place in the series and its confirmation commit with it."""
        now = self.clock.now()

        def record(tx: Connection, appointment_id: int) -> None:
            tx.execute(insert(FI).values(appointment_id=appointment_id, series_id=series.id, seq=seq,
                                         replaces_id=replaces_id, slot_set_at=now, moves=0))
            self.messages.confirmation(appointment_id, connection=tx)

        with self.db.read() as tx:
            patient_code = tx.execute(select(P.c.code).where(P.c.id == series.patient_id)).scalar_one()
        view = self.booking.book(patient_code=patient_code, slot_start=slot_start, doctor=doctor, channel=channel,
                                 actor=actor, reason=series.reason, status=BOOKED, kind="follow_up",
                                 origin_visit_id=series.origin_visit_id, series_id=series.id, in_transaction=record)
        self.messages.plan_one(view["id"])
        return self._with_item(view)

    def book_again(self, missed_id: int, slot_start: datetime, *, actor: str, channel: str,
                   doctor: str | None = None) -> dict[str, Any]:
        """Rebook a missed follow-up: the new one takes its place in the series (the call-back list)."""
        with self.db.read() as tx:
            item = tx.execute(select(FI).where(FI.c.appointment_id == missed_id)).first()
            missed = tx.execute(select(A.c.doctor_id).where(A.c.id == missed_id)).one()
        if item is None:
            raise Invalid("not_a_follow_up", "only follow-ups are rebooked here")
        series = self._series(item.series_id)
        return self._book_at(series, item.seq, slot_start, doctor or self._doctor_code(missed.doctor_id),
                             actor=actor, channel=channel, replaces_id=missed_id)

    # ================================================================== reading
    def of_visit(self, visit_id: int) -> dict[str, Any]:
        """The follow-ups ordered at a visit: each series with its appointments."""
        with self.db.read() as tx:
            rows = tx.execute(select(S).where(S.c.origin_visit_id == visit_id).order_by(S.c.id)).all()
        return {"visit_id": visit_id, "series": [self.series(row.id) for row in rows]}

    def series(self, series_id: int) -> dict[str, Any]:
        with self.db.read() as tx:
            rows = tx.execute(APPOINTMENT_VIEW.add_columns(FI.c.seq, FI.c.replaces_id, FI.c.patient_confirmed_at)
                              .join(FI, FI.c.appointment_id == A.c.id).where(FI.c.series_id == series_id)
                              .order_by(FI.c.seq, A.c.created_at)).all()
        appointments = [self._shape_item(row) for row in rows]
        return {**series_view(self._series(series_id)), "appointments": appointments}

    def appointment(self, appointment_id: int) -> dict[str, Any]:
        """An appointment as staff see it, with its place in a series."""
        with self.db.read() as tx:
            row = tx.execute(APPOINTMENT_VIEW.add_columns(FI.c.seq, FI.c.series_id, FI.c.replaces_id,
                                                          FI.c.patient_confirmed_at)
                             .outerjoin(FI, FI.c.appointment_id == A.c.id).where(A.c.id == appointment_id)).first()
        if row is None:
            raise NotFound("unknown_appointment", f"no appointment {appointment_id}")
        return self._shape_item(row)

    def _with_item(self, view: dict[str, Any]) -> dict[str, Any]:
        return self.appointment(view["id"])

    def _shape_item(self, row: Any) -> dict[str, Any]:
        view = shape_appointment(row, self.clinic, self.tz)
        confirmed = row.patient_confirmed_at
        view.update(seq=row.seq, series_id=row.series_id, replaces_id=row.replaces_id,
                    patient_confirmed_at=confirmed.isoformat() if confirmed else None)
        return view

    def _series(self, series_id: int) -> Any:
        with self.db.read() as tx:
            row = tx.execute(select(S).where(S.c.id == series_id)).first()
        if row is None:
            raise NotFound("unknown_series", f"no follow-up series {series_id}")
        return row

    def _doctor_code(self, doctor_id: int) -> str:
        with self.db.read() as tx:
            return tx.execute(select(D.c.code).where(D.c.id == doctor_id)).scalar_one()

    def stop_series(self, series_id: int, *, actor: str, cancel_open: bool = False, reason: str = "") -> int:
        """No more follow-ups in this series; with `cancel_open`, its booked ones are cancelled too."""
        with self.db.write() as tx:
            tx.execute(update(S).where(S.c.id == series_id, S.c.status == "active").values(status="stopped"))
            codes = tx.execute(select(A.c.code).join(FI, FI.c.appointment_id == A.c.id).where(
                FI.c.series_id == series_id, A.c.status.in_(OPEN_STATES))).scalars().all() if cancel_open else []
        for code in codes:
            try:
                self.booking.cancel(code, actor=actor, reason=reason or "series stopped")
            except Conflict:
                pass  # it changed meanwhile (checked in, say)
        return len(codes)

    # ================================================================== reacting to appointment changes
    def _on_appointment_changed(self, event: AppointmentChanged) -> None:
        appointment, action = event.appointment, event.action
        if action == "no_show":
            self.messages.cancel_reminders(appointment["id"])
            if appointment["kind"] in self.settings.callback_kinds:
                self.callbacks.open_for(appointment["id"])
            return
        if appointment["kind"] != "follow_up":
            return
        if action == "reschedule":
            with self.db.write() as tx:
                tx.execute(update(FI).where(FI.c.appointment_id == appointment["id"]).values(
                    slot_set_at=self.clock.now(), moves=FI.c.moves + 1))
            self.messages.cancel_reminders(appointment["id"])
            self.messages.rescheduled(appointment["id"])
            self.messages.plan_one(appointment["id"])
        elif action in ("cancel", "check_in"):
            self.messages.cancel_reminders(appointment["id"])
            if action == "cancel":
                self.messages.cancelled(appointment["id"])
        elif action == "fulfil":
            self._continue_series(appointment["id"])

    def _continue_series(self, appointment_id: int) -> dict[str, Any] | None:
        """A follow-up was fulfilled: book the next of a "next" series, or close the series after the last."""
        with self.db.read() as tx:
            item = tx.execute(select(FI).where(FI.c.appointment_id == appointment_id)).first()
            if item is None:
                return None
            series = tx.execute(select(S).where(S.c.id == item.series_id)).one()
            booked_next = tx.execute(select(FI.c.appointment_id).where(FI.c.series_id == series.id,
                                                                       FI.c.seq > item.seq).limit(1)).first()
            slot_start = tx.execute(select(A.c.slot_start).where(A.c.id == appointment_id)).scalar_one()
        if series.status != "active":
            return None
        if item.seq >= series.planned:
            with self.db.write() as tx:
                tx.execute(update(S).where(S.c.id == series.id, S.c.status == "active").values(status="done"))
            return None
        if series.mode != "next" or booked_next is not None:
            return None
        wanted = self.today() + timedelta(days=series.interval_days or 0)
        at = series.preferred_time or slot_start.astimezone(self.tz).time()
        try:
            return self._book_near(series, item.seq + 1, wanted, at, actor=SYSTEM, channel="doctor")
        except Conflict as exc:
            log.warning("next follow-up of series %d not booked (retried by the no-show job): %s", series.id,
                        exc.message)
            return None

    # ================================================================== the end of the day
    def close_day(self, now: datetime) -> dict[str, int]:
        """The daily job: appointments whose slot is over and nobody came become no-shows; series continue."""
        with self.db.read() as tx:
            rows = tx.execute(select(A.c.code, A.c.slot_start, A.c.slot_minutes).where(
                A.c.status.in_(OPEN_STATES), A.c.kind.in_(self.settings.no_show_kinds), A.c.slot_start < now)).all()
        marked = 0
        for row in rows:
            if row.slot_start + timedelta(minutes=row.slot_minutes) > now:
                continue  # an evening slot still running: tomorrow's run takes it
            try:
                self.booking.mark_no_show(row.code, actor="system:no-show-job")
                marked += 1
            except Conflict:
                pass  # checked in or cancelled meanwhile
        opened = self.callbacks.catch_up(now)
        continued = sum(self._continue_series(i) is not None for i in self._stalled_series())
        log.info("end of day: %d no-shows, %d call-back items caught up, %d series continued", marked, opened,
                 continued)
        return {"no_shows": marked, "callbacks": opened, "series_continued": continued}

    def _stalled_series(self) -> list[int]:
        """Fulfilled follow-ups of active "next" series whose next one was never booked (a failed attempt)."""
        later = FI.alias("later")
        with self.db.read() as tx:
            return list(tx.execute(select(FI.c.appointment_id).select_from(
                FI.join(A, A.c.id == FI.c.appointment_id).join(S, S.c.id == FI.c.series_id)).where(
                A.c.status == FULFILLED, S.c.status == "active", S.c.mode == "next", FI.c.seq < S.c.planned,
                ~exists().where(and_(later.c.series_id == FI.c.series_id, later.c.seq > FI.c.seq)))).scalars())
