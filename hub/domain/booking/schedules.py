"""Doctors' working schedules and the bookable slots they make.

config/doctors.toml seeds the doctors and their weekly blocks; after that the admin page owns the
blocks (a doctor's blocks are seeded only while the doctor has none, so edits survive a restart).
A block on a weekday is cut into slots of `slot_minutes`, each for `capacity` patients. An exception
on a date closes the day or replaces its hours. How many patients hold a slot is kept in slot_counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.config import WEEKDAYS, ClinicConfig
from hub.db import Database, upsert
from hub.domain.booking.models import Doctor, DoctorSchedule, ScheduleException, SlotCount
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.models import AuditEntry

D = Doctor.__table__
DS = DoctorSchedule.__table__
SE = ScheduleException.__table__
SC = SlotCount.__table__
# Used when a date's own hours are set on a weekday the doctor does not normally work.
DEFAULT_SLOT_MINUTES = 15
DEFAULT_CAPACITY = 1
BOOKING_HORIZON_DAYS = 120


@dataclass(frozen=True)
class Block:
    """A weekly working block of one doctor."""

    id: int
    weekday: int  # 0 = Monday
    start: time
    end: time
    slot_minutes: int
    capacity: int
    room: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "weekday": self.weekday, "day": WEEKDAYS[self.weekday],
                "start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M"),
                "slot_minutes": self.slot_minutes, "capacity": self.capacity, "room": self.room}


@dataclass(frozen=True)
class DayException:
    """A date when the doctor is off (`closed`) or works `start`-`end` instead of the weekly hours."""

    id: int
    day: date
    closed: bool
    start: time | None
    end: time | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "day": self.day.isoformat(), "closed": self.closed,
                "start": self.start.strftime("%H:%M") if self.start else None,
                "end": self.end.strftime("%H:%M") if self.end else None, "note": self.note}


@dataclass(frozen=True)
class Slot:
    """A bookable time of one doctor; `start` is aware UTC."""

    start: datetime
    minutes: int
    capacity: int


def day_slots(blocks: Iterable[Block], exception: DayException | None, day: date, tz: ZoneInfo) -> list[Slot]:
    """The slots of one doctor on one local date, in time order (pure: no database)."""
    todays = [b for b in blocks if b.weekday == day.weekday()]
    if exception is not None and exception.closed:
        return []
    if exception is not None and exception.start and exception.end:
        # Other hours on that date: the weekday's slot length and capacity, or the defaults.
        model = todays[0] if todays else None
        todays = [Block(0, day.weekday(), exception.start, exception.end,
                        model.slot_minutes if model else DEFAULT_SLOT_MINUTES,
                        model.capacity if model else DEFAULT_CAPACITY)]
    slots = []
    for block in todays:
        cursor = datetime.combine(day, block.start, tzinfo=tz)
        end = datetime.combine(day, block.end, tzinfo=tz)
        step = timedelta(minutes=block.slot_minutes)
        while cursor + step <= end:
            slots.append(Slot(cursor.astimezone(UTC), block.slot_minutes, block.capacity))
            cursor += step
    return sorted(slots, key=lambda s: s.start)


def parse_clock_time(value: str, field: str) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid("bad_time", f"{field}: giờ dạng HH:MM / expected HH:MM, got {value!r}") from None


class ScheduleBook:
    """Doctors, their weekly blocks and date exceptions; slot generation and slot occupancy."""

    def __init__(self, db: Database, clinic: ClinicConfig, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.clock = clock
        self.tz = clinic.site.tz

    # ------------------------------------------------------------------ set-up
    def sync_config(self) -> None:
        """Doctors follow config/doctors.toml; weekly blocks are seeded only for doctors without any."""
        with self.db.write() as connection:
            for cfg in self.clinic.doctors:
                values = {"name": cfg.name, "service": cfg.service, "room": cfg.room, "username": cfg.username,
                          "active": True}
                connection.execute(upsert(connection, D, {"code": cfg.code, **values}, ["code"], values))
            configured = [d.code for d in self.clinic.doctors]
            connection.execute(update(D).where(D.c.code.not_in(configured)).values(active=False))
            ids = dict(connection.execute(select(D.c.code, D.c.id)).tuples().all())
            scheduled = set(connection.execute(select(DS.c.doctor_id).distinct()).scalars())
            for cfg in self.clinic.doctors:
                if ids[cfg.code] in scheduled:
                    continue
                for block in cfg.schedule:
                    for weekday in block.days:
                        for start, end in block.intervals():
                            connection.execute(insert(DS).values(
                                doctor_id=ids[cfg.code], weekday=WEEKDAYS.index(weekday), start=start, end=end,
                                slot_minutes=block.slot_minutes, capacity=block.capacity, room=cfg.room))

    # ------------------------------------------------------------------ doctors
    def doctors(self, service: str | None = None, *, include_inactive: bool = False) -> list[dict[str, Any]]:
        query = select(D).order_by(D.c.service, D.c.name)
        if service is not None:
            query = query.where(D.c.service == service)
        if not include_inactive:
            query = query.where(D.c.active.is_(True))
        with self.db.read() as connection:
            return [_doctor_view(row) for row in connection.execute(query)]

    def doctor(self, code: str) -> dict[str, Any]:
        with self.db.read() as connection:
            return _doctor_view(self.doctor_row(connection, code))

    def doctor_row(self, connection: Connection, code: str) -> Any:
        row = connection.execute(select(D).where(D.c.code == code)).first() if isinstance(code, str) else None
        if row is None:
            raise NotFound("unknown_doctor", f"Không có bác sĩ '{code}' / unknown doctor '{code}'")
        return row

    # ------------------------------------------------------------------ weekly blocks and exceptions
    def blocks(self, connection: Connection, doctor_id: int) -> list[Block]:
        rows = connection.execute(select(DS).where(DS.c.doctor_id == doctor_id)
                                  .order_by(DS.c.weekday, DS.c.start)).all()
        return [Block(r.id, r.weekday, r.start, r.end, r.slot_minutes, r.capacity, r.room) for r in rows]

    def exception_on(self, connection: Connection, doctor_id: int, day: date) -> DayException | None:
        row = connection.execute(select(SE).where(SE.c.doctor_id == doctor_id, SE.c.day == day)).first()
        return _exception(row) if row else None

    def schedule(self, code: str, *, since: date | None = None) -> dict[str, Any]:
        """A doctor's weekly blocks and the exceptions from `since` (today by default)."""
        since = since or local_day(self.clock.now(), self.tz)
        with self.db.read() as connection:
            row = self.doctor_row(connection, code)
            exceptions = connection.execute(select(SE).where(SE.c.doctor_id == row.id, SE.c.day >= since)
                                            .order_by(SE.c.day)).all()
            return {"doctor": _doctor_view(row), "blocks": [b.as_dict() for b in self.blocks(connection, row.id)],
                    "exceptions": [_exception(e).as_dict() for e in exceptions]}

    def add_block(self, code: str, *, weekday: int, start: time, end: time, slot_minutes: int, capacity: int,
                  actor: str) -> dict[str, Any]:
        if not 0 <= weekday <= 6:
            raise Invalid("bad_weekday", "weekday is 0 (Monday) to 6 (Sunday)")
        if end <= start:
            raise Invalid("bad_hours", "Giờ kết thúc phải sau giờ bắt đầu / the block must end after it starts")
        if not 5 <= slot_minutes <= 240 or not 1 <= capacity <= 50:
            raise Invalid("bad_slot", "slot_minutes is 5 to 240 and capacity 1 to 50")
        with self.db.write() as connection:
            row = self.doctor_row(connection, code)
            for block in self.blocks(connection, row.id):
                if block.weekday == weekday and block.start < end and start < block.end:
                    raise Conflict("overlapping_block",
                                   f"Trùng với ca {block.start:%H:%M}-{block.end:%H:%M} / overlaps the block "
                                   f"{block.start:%H:%M}-{block.end:%H:%M}")
            block_id = connection.execute(insert(DS).values(
                doctor_id=row.id, weekday=weekday, start=start, end=end, slot_minutes=slot_minutes,
                capacity=capacity, room=row.room).returning(DS.c.id)).scalar_one()
            self._audit(connection, actor, "schedule_block_added", code,
                        {"weekday": weekday, "start": f"{start:%H:%M}", "end": f"{end:%H:%M}",
                         "slot_minutes": slot_minutes, "capacity": capacity})
            return next(b for b in self.blocks(connection, row.id) if b.id == block_id).as_dict()

    def remove_block(self, code: str, block_id: int, *, actor: str) -> None:
        """Booked appointments keep their times; only new bookings stop seeing the block's slots."""
        with self.db.write() as connection:
            row = self.doctor_row(connection, code)
            removed = connection.execute(delete(DS).where(DS.c.id == block_id, DS.c.doctor_id == row.id)).rowcount
            if not removed:
                raise NotFound("unknown_block", f"no block {block_id} for {code}")
            self._audit(connection, actor, "schedule_block_removed", code, {"block": block_id})

    def set_exception(self, code: str, day: date, *, closed: bool, start: time | None = None,
                      end: time | None = None, note: str | None = None, actor: str) -> dict[str, Any]:
        """Close a date, or set other hours on it (replacing an earlier exception of that date)."""
        if not closed and (start is None or end is None or end <= start):
            raise Invalid("bad_hours", "Ngày làm khác giờ cần giờ bắt đầu và kết thúc / other hours need a start "
                                       "before the end")
        if closed:
            start = end = None
        with self.db.write() as connection:
            row = self.doctor_row(connection, code)
            values = {"closed": closed, "start": start, "end": end, "note": (note or None) and note[:200]}
            connection.execute(upsert(connection, SE, {"doctor_id": row.id, "day": day, **values},
                                      ["doctor_id", "day"], values))
            self._audit(connection, actor, "schedule_exception_set", code, {"day": day.isoformat(), "closed": closed})
            return self.exception_on(connection, row.id, day).as_dict()  # type: ignore[union-attr]

    def remove_exception(self, code: str, exception_id: int, *, actor: str) -> None:
        with self.db.write() as connection:
            row = self.doctor_row(connection, code)
            removed = connection.execute(delete(SE).where(SE.c.id == exception_id, SE.c.doctor_id == row.id)).rowcount
            if not removed:
                raise NotFound("unknown_exception", f"no exception {exception_id} for {code}")
            self._audit(connection, actor, "schedule_exception_removed", code, {"exception": exception_id})

    def _audit(self, connection: Connection, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        connection.execute(insert(AuditEntry).values(at=self.clock.now(), actor=actor[:64], action=action,
                                                     subject=subject[:64], detail=detail))

    # ------------------------------------------------------------------ slots
    def slots_of(self, connection: Connection, doctor_id: int, day: date) -> list[Slot]:
        if self.clinic.closed_on(day) is not None:
            return []  # a holiday or weekly closed day: nothing bookable, whatever the doctor's blocks say
        return day_slots(self.blocks(connection, doctor_id), self.exception_on(connection, doctor_id, day), day,
                         self.tz)

    def slot_at(self, connection: Connection, doctor_id: int, start: datetime) -> Slot | None:
        """The doctor's slot that starts exactly at `start`, if the schedule has one."""
        day = local_day(start, self.tz)
        return next((s for s in self.slots_of(connection, doctor_id, day) if s.start == start), None)

    def check_bookable_day(self, day: date) -> None:
        today = local_day(self.clock.now(), self.tz)
        if day < today:
            raise Conflict("slot_in_past", "Không thể đặt lịch cho ngày đã qua / that day is over")
        if day > today + timedelta(days=BOOKING_HORIZON_DAYS):
            raise Conflict("too_far_ahead", f"Chỉ đặt trước tối đa {BOOKING_HORIZON_DAYS} ngày / bookings open "
                                            f"{BOOKING_HORIZON_DAYS} days ahead")

    def open_slots(self, day: date, *, service: str | None = None, doctor: str | None = None,
                   include_full: bool = False) -> list[dict[str, Any]]:
        """Slots not yet over on `day` of a service's doctors (or one doctor), with free places."""
        if service is None and doctor is None:
            raise Invalid("service_or_doctor", "give a service or a doctor")
        self.check_bookable_day(day)
        now = self.clock.now()
        with self.db.read() as connection:
            if doctor is not None:
                row = self.doctor_row(connection, doctor)
                if service is not None and row.service != service:
                    raise Invalid("wrong_service", f"{doctor} does not work in {service}")
                rows = [row]
            else:
                rows = connection.execute(select(D).where(D.c.service == service, D.c.active.is_(True))
                                          .order_by(D.c.name)).all()
            out = []
            for row in rows:
                # A slot in progress is still offered: reception books walk-ins into the current slot.
                slots = [s for s in self.slots_of(connection, row.id, day)
                         if s.start + timedelta(minutes=s.minutes) > now]
                if not slots:
                    continue
                taken = dict(connection.execute(select(SC.c.slot_start, SC.c.booked).where(
                    SC.c.doctor_id == row.id, SC.c.slot_start.in_([s.start for s in slots]))).tuples().all())
                for slot in slots:
                    booked = taken.get(slot.start, 0)
                    free = max(slot.capacity - booked, 0)
                    if free or include_full:
                        out.append(self.slot_view(row, slot, booked))
            return sorted(out, key=lambda s: (s["start"], s["doctor"]))

    @staticmethod
    def take_place(connection: Connection, doctor_id: int, slot: Slot) -> bool:
        """Count one more patient in the slot unless it is full; False when full.

        The conditional UPDATE is the whole guard: PostgreSQL re-checks `booked < capacity` on the
        newest row after waiting for a concurrent booker's lock, and SQLite runs writers one at a time.
        """
        statement = (pg_insert if connection.dialect.name == "postgresql" else sqlite_insert)(SC).values(
            doctor_id=doctor_id, slot_start=slot.start, booked=0).on_conflict_do_nothing()
        connection.execute(statement)
        taken = connection.execute(update(SC).where(
            SC.c.doctor_id == doctor_id, SC.c.slot_start == slot.start, SC.c.booked < slot.capacity,
        ).values(booked=SC.c.booked + 1))
        return taken.rowcount == 1

    @staticmethod
    def release_place(connection: Connection, doctor_id: int, start: datetime) -> None:
        connection.execute(update(SC).where(SC.c.doctor_id == doctor_id, SC.c.slot_start == start, SC.c.booked > 0)
                           .values(booked=SC.c.booked - 1))

    def slot_view(self, doctor: Any, slot: Slot, booked: int) -> dict[str, Any]:
        local = slot.start.astimezone(self.tz)
        return {"doctor": doctor.code, "doctor_name": doctor.name, "service": doctor.service, "room": doctor.room,
                "start": local.isoformat(), "end": (local + timedelta(minutes=slot.minutes)).isoformat(),
                "time": local.strftime("%H:%M"), "minutes": slot.minutes, "capacity": slot.capacity,
                "booked": booked, "free": max(slot.capacity - booked, 0)}


def _doctor_view(row: Any) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "service": row.service, "room": row.room, "active": row.active}


def _exception(row: Any) -> DayException:
    return DayException(row.id, row.day, row.closed, row.start, row.end, row.note)
