"""Tables of follow-up care: what the doctor ordered (a series), each follow-up's place in it, and the
call-back list of missed follow-ups with every call made about them."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


class FollowUpSeries(Base):
    """A doctor's follow-up order at the end of a visit: `planned` follow-ups, `interval_days` apart.

    `mode` "next" books one and the next when it is fulfilled; "all" books every one at once.
    A single follow-up is a series of one.
    """

    __tablename__ = "follow_up_series"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    service: Mapped[str] = mapped_column(String(32))
    origin_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    reason: Mapped[str | None] = mapped_column(String(300))
    planned: Mapped[int] = mapped_column(Integer)
    interval_days: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(8))  # next, all
    preferred_time: Mapped[time | None] = mapped_column(Time)  # site time of day the doctor asked for
    status: Mapped[str] = mapped_column(String(10))  # active, done, stopped
    ordered_by: Mapped[str] = mapped_column(String(64))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FollowUpItem(Base):
    """A follow-up appointment's place (`seq`) in its series; a rebooking after a no-show takes the same place."""

    __tablename__ = "follow_up_items"
    __table_args__ = (Index("ix_follow_up_items_series_seq", "series_id", "seq"),)

    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("follow_up_series.id"))
    seq: Mapped[int] = mapped_column(Integer)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))  # the missed one it rebooks
    # When the appointment got its current time, and how often it moved: reminders due before the
    # booking are not sent (the confirmation just went), and each move gets reminders of its own.
    slot_set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moves: Mapped[int] = mapped_column(Integer, default=0)
    patient_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # through the signed link


class FollowUpCallback(Base):
    """A missed appointment on the administrative staff's call-back list.

    `open` items are listed; `waiting` ones return on `show_from` (the patient asked to be called back
    then); `resolved` ones left the list (rebooked, declined, moved away).
    """

    __tablename__ = "follow_up_callbacks"
    __table_args__ = (Index("ix_follow_up_callbacks_state_show", "state", "show_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    state: Mapped[str] = mapped_column(String(10))  # open, waiting, resolved
    show_from: Mapped[date] = mapped_column(Date)  # site day from which it is listed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # calls made (messages not counted)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(12))  # rebooked, declined, moved_away
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    rebooked_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))


class FollowUpCall(Base):
    """One call (or message) about a call-back item, with its outcome: append-only."""

    __tablename__ = "follow_up_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("follow_up_callbacks.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(12))  # rebooked, call_back, unreachable, declined, moved_away, message
    note: Mapped[str | None] = mapped_column(String(500))
    call_back_on: Mapped[date | None] = mapped_column(Date)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))  # the new booking
