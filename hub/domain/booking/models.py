"""Doctors, their weekly schedules and exceptions, slot counts, appointments and their events,
the intake recorded for a visit.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.common.models import Base, BigId, UTCDateTime


class Doctor(Base):
    """A doctor (from config/doctors.toml); schedules below may be edited on the admin page."""

    __tablename__ = "doctors"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    service: Mapped[str] = mapped_column(String(32))  # the exam service the doctor works in
    room: Mapped[str | None] = mapped_column(String(32))  # usual counter/room code
    username: Mapped[str | None] = mapped_column(String(64))  # the staff login, when linked
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DoctorSchedule(Base):
    """A weekly working block: on `weekday`, from `start` to `end`, slots of `slot_minutes` for `capacity`."""

    __tablename__ = "doctor_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    start: Mapped[time] = mapped_column(Time)
    end: Mapped[time] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    room: Mapped[str | None] = mapped_column(String(32))


class ScheduleException(Base):
    """A date when a doctor does not work (leave, holiday) or works other hours."""

    __tablename__ = "schedule_exceptions"
    __table_args__ = (UniqueConstraint("doctor_id", "day", name="uq_schedule_exceptions_doctor_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    day: Mapped[date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=True)
    start: Mapped[time | None] = mapped_column(Time)
    end: Mapped[time | None] = mapped_column(Time)
    note: Mapped[str | None] = mapped_column(String(200))


class SlotCount(Base):
    """How many appointments hold a slot; a conditional update keeps it within capacity."""

    __tablename__ = "slot_counts"

    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"), primary_key=True)
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Appointment(Base):
    """A booking of a slot; states follow FHIR R4 Appointment.status."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_doctor_slot", "doctor_id", "slot_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)  # the booking code patients type or scan
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id"))
    service: Mapped[str] = mapped_column(String(32))
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime)
    slot_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))  # proposed, pending, booked, arrived, fulfilled, cancelled, noshow
    reason: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(16))  # portal, reception, callcenter, doctor
    kind: Mapped[str] = mapped_column(String(12), default="visit")  # visit or follow_up
    booked_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # Indexed: a finished exam ticket looks up the arrived appointment of its visit to fulfil it.
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    # Follow-ups: the visit that ordered it, and the series it belongs to.
    origin_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    series_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppointmentEvent(Base):
    """Append-only audit of an appointment: every status change and reschedule, who and when."""

    __tablename__ = "appointment_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class VisitIntake(Base):
    """What reception records at check-in: the reason for the visit and the symptoms."""

    __tablename__ = "visit_intakes"

    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(300))
    symptoms: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(String(32))
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("doctors.id"))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
