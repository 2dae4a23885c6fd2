"""Figures of follow-up care for management: how many ordered follow-ups were booked and attended, and
confirmation, cancellation and no-show rates by service, doctor, weekday and lead time, with the
effect of the patient confirming through the reminder's link.

Definitions (docs/follow_ups.md): appointments count by their slot's site day; orders by the day
they were made. "Due" appointments are those that were attended or missed (not cancelled, not still
ahead): no-show and attendance rates are shares of them; confirmation and cancellation rates are
shares of all. Rows are aggregated in Python: the same code on SQLite and PostgreSQL, and a year of a
large hospital's follow-ups is a few hundred thousand small rows.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.booking.appointments import ARRIVED, CANCELLED, FULFILLED, NOSHOW
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.common.errors import Invalid
from hub.domain.follow_ups.models import FollowUpItem, FollowUpSeries
from hub.domain.notifications.templates import WEEKDAYS_EN, WEEKDAYS_VI

A = Appointment.__table__
D = Doctor.__table__
FI = FollowUpItem.__table__
S = FollowUpSeries.__table__
ATTENDED = (ARRIVED, FULFILLED)
MAX_DAYS = 366
# Days from booking to the appointment: (first, last or None, label).
LEAD_BUCKETS = ((0, 7, "0–7"), (8, 14, "8–14"), (15, 30, "15–30"), (31, 60, "31–60"), (61, None, "> 60"))
DIMENSIONS = ("service", "doctor", "weekday", "lead_time")


def lead_bucket(days: int) -> str:
    return next(label for first, last, label in LEAD_BUCKETS if days >= first and (last is None or days <= last))


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Tally:
    """Appointments counted by outcome."""

    total: int = 0
    confirmed: int = 0  # the patient confirmed through the link
    cancelled: int = 0
    no_show: int = 0
    attended: int = 0
    ahead: int = 0  # neither attended, missed nor cancelled yet

    def add(self, status: str, confirmed: bool) -> None:
        self.total += 1
        self.confirmed += confirmed
        if status == CANCELLED:
            self.cancelled += 1
        elif status == NOSHOW:
            self.no_show += 1
        elif status in ATTENDED:
            self.attended += 1
        else:
            self.ahead += 1

    def as_dict(self) -> dict[str, Any]:
        due = self.attended + self.no_show
        return {"total": self.total, "confirmed": self.confirmed, "cancelled": self.cancelled,
                "no_show": self.no_show, "attended": self.attended, "ahead": self.ahead,
                "confirmation_rate": ratio(self.confirmed, self.total),
                "cancellation_rate": ratio(self.cancelled, self.total),
                "no_show_rate": ratio(self.no_show, due), "attendance_rate": ratio(self.attended, due)}


class FollowUpAnalysis:
    """`hub.follow_ups.analysis`: the figures of a period, and the same as CSV."""

    def __init__(self, db: Database, clinic: ClinicConfig) -> None:
        self.db = db
        self.clinic = clinic
        self.tz = clinic.site.tz

    def figures(self, first: date, last: date, *, language: str = "vi") -> dict[str, Any]:
        """Everything the report page shows for the site days `first`..`last` (inclusive)."""
        if last < first or (last - first).days >= MAX_DAYS:
            raise Invalid("bad_period", f"the period runs forward and covers at most {MAX_DAYS} days")
        start = datetime.combine(first, time.min, tzinfo=self.tz)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=self.tz)
        english = language == "en"
        with self.db.read() as tx:
            rows = tx.execute(select(A.c.status, A.c.service, A.c.slot_start, A.c.created_at, D.c.code, D.c.name,
                                     FI.c.patient_confirmed_at)
                              .select_from(A.join(D, D.c.id == A.c.doctor_id)
                                           .outerjoin(FI, FI.c.appointment_id == A.c.id))
                              .where(A.c.kind == "follow_up", A.c.slot_start >= start, A.c.slot_start < end)).all()
            orders = tx.execute(select(S.c.id, S.c.planned).where(S.c.ordered_at >= start, S.c.ordered_at < end)).all()
            items = tx.execute(select(FI.c.series_id, FI.c.seq, A.c.status).join(A, A.c.id == FI.c.appointment_id)
                               .where(FI.c.series_id.in_([o.id for o in orders]))).all() if orders else []
        overall = Tally()
        groups: dict[str, dict[str, Tally]] = {name: defaultdict(Tally) for name in DIMENSIONS}
        names: dict[tuple[str, str], str] = {}
        effect = {True: Tally(), False: Tally()}
        for row in rows:
            confirmed = row.patient_confirmed_at is not None
            slot = row.slot_start.astimezone(self.tz)
            lead = (slot.date() - row.created_at.astimezone(self.tz).date()).days
            service = self.clinic.service(row.service)
            keys = {"service": row.service, "doctor": row.code, "weekday": str(slot.weekday()),
                    "lead_time": lead_bucket(lead)}
            names[("service", row.service)] = (service.name_en if english else service.name) if service else row.service
            names[("doctor", row.code)] = row.name
            overall.add(row.status, confirmed)
            effect[confirmed].add(row.status, confirmed)
            for dimension, key in keys.items():
                groups[dimension][key].add(row.status, confirmed)
        weekdays = WEEKDAYS_EN if english else WEEKDAYS_VI
        by: dict[str, list[dict[str, Any]]] = {}
        for dimension in DIMENSIONS:
            if dimension == "weekday":
                order = [str(d) for d in range(7)]
            elif dimension == "lead_time":
                order = [label for _, _, label in LEAD_BUCKETS]
            else:
                order = sorted(groups[dimension], key=lambda k, d=dimension: names[(d, k)])
            by[dimension] = [{"key": key, "name": weekdays[int(key)] if dimension == "weekday"
                              else (names.get((dimension, key), key)), **groups[dimension][key].as_dict()}
                             for key in order if key in groups[dimension]]
        return {"from": first.isoformat(), "to": last.isoformat(), "follow_up_rate": self._ordered(orders, items),
                "overall": overall.as_dict(), "by": by,
                "reminder_effect": {"confirmed": effect[True].as_dict(), "not_confirmed": effect[False].as_dict()}}

    @staticmethod
    def _ordered(orders: list[Any], items: list[Any]) -> dict[str, Any]:
        """Follow-ups ordered (each planned one of a series), booked (some appointment), attended."""
        booked: set[tuple[int, int]] = set()
        attended: set[tuple[int, int]] = set()
        for item in items:
            booked.add((item.series_id, item.seq))
            if item.status in ATTENDED:
                attended.add((item.series_id, item.seq))
        ordered = sum(o.planned for o in orders)
        return {"orders": len(orders), "ordered": ordered, "booked": len(booked), "attended": len(attended),
                "booked_rate": ratio(len(booked), ordered), "attended_rate": ratio(len(attended), ordered)}

    def csv_text(self, figures: dict[str, Any], *, language: str = "vi") -> str:
        """The figures as CSV for spreadsheets: UTF-8 with a BOM (Excel then reads Vietnamese right)."""
        en = language == "en"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        head = (["section", "group", "total", "confirmed", "cancelled", "no_show", "attended", "ahead",
                 "confirmation_rate", "cancellation_rate", "no_show_rate", "attendance_rate"] if en else
                ["muc", "nhom", "tong", "xac_nhan", "huy", "khong_den", "da_den", "chua_den_ngay",
                 "ty_le_xac_nhan", "ty_le_huy", "ty_le_khong_den", "ty_le_den"])
        writer.writerow(head)
        keys = ("total", "confirmed", "cancelled", "no_show", "attended", "ahead", "confirmation_rate",
                "cancellation_rate", "no_show_rate", "attendance_rate")
        sections = {"service": ("Chuyên khoa", "Service"), "doctor": ("Bác sĩ", "Doctor"),
                    "weekday": ("Thứ", "Weekday"), "lead_time": ("Số ngày đặt trước", "Lead time (days)")}

        def line(section: str, group: str, tally: dict[str, Any]) -> None:
            writer.writerow([section, group, *("" if tally[k] is None else tally[k] for k in keys)])

        line("Tất cả" if not en else "All", "", figures["overall"])
        for dimension, (vi, english) in sections.items():
            for group in figures["by"][dimension]:
                line(english if en else vi, group["name"], group)
        effect = figures["reminder_effect"]
        line("Reminder effect" if en else "Hiệu quả nhắc lịch", "confirmed via link" if en else "đã xác nhận qua link",
             effect["confirmed"])
        line("Reminder effect" if en else "Hiệu quả nhắc lịch", "not confirmed" if en else "chưa xác nhận",
             effect["not_confirmed"])
        rate = figures["follow_up_rate"]
        writer.writerow([])
        writer.writerow(["orders", "ordered", "booked", "attended", "booked_rate", "attended_rate"] if en else
                        ["so_chi_dinh", "lan_tai_kham_chi_dinh", "da_dat", "da_den", "ty_le_dat", "ty_le_den"])
        writer.writerow([rate["orders"], rate["ordered"], rate["booked"], rate["attended"],
                         "" if rate["booked_rate"] is None else rate["booked_rate"],
                         "" if rate["attended_rate"] is None else rate["attended_rate"]])
        return "\ufeff" + out.getvalue()
