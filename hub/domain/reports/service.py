"""Reports over a day, week or month: figures by service, counter, doctor and hour, the Decision 1313
visit-time targets, follow-ups, payments and the accuracy of the wait estimates.

Ticket and visit figures come from the stored daily rollups (report_store); payments and follow-ups,
which keep changing after the day, are read live with one grouped query each. Periods are local dates
of the site's time zone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.billing.models import Payment
from hub.domain.booking.models import Appointment, Doctor
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Invalid
from hub.domain.queue.models import Counter, Service
from hub.domain.reports.rollup import TicketFigures, VisitFigures, day_bounds, epoch_ms
from hub.domain.reports.store import Figures, RollupStore

PERIODS = ("day", "week", "month")
MAX_DAYS = 400
A = Appointment.__table__
P = Payment.__table__


@dataclass(frozen=True)
class Period:
    """A range of local dates, both ends included."""

    first: date
    last: date
    kind: str = "range"

    @classmethod
    def around(cls, kind: str, day: date) -> Period:
        """The day, the Monday-to-Sunday week, or the calendar month holding `day`."""
        if kind == "day":
            return cls(day, day, kind)
        if kind == "week":
            monday = day - timedelta(days=day.weekday())
            return cls(monday, monday + timedelta(days=6), kind)
        if kind == "month":
            first = day.replace(day=1)
            following = (first + timedelta(days=32)).replace(day=1)
            return cls(first, following - timedelta(days=1), kind)
        raise Invalid("bad_period", f"period must be one of {list(PERIODS)}")

    @classmethod
    def between(cls, first: date, last: date) -> Period:
        if last < first:
            raise Invalid("bad_period", "the period ends before it starts")
        if (last - first).days >= MAX_DAYS:
            raise Invalid("bad_period", f"a report covers at most {MAX_DAYS} days")
        return cls(first, last)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def shifted(self, steps: int) -> Period:
        """The previous (-1) or next (+1) period of the same kind."""
        if self.kind == "range":
            length = (self.last - self.first).days + 1
            return Period(self.first + timedelta(days=steps * length), self.last + timedelta(days=steps * length))
        anchor = self.first - timedelta(days=1) if steps < 0 else self.last + timedelta(days=1)
        return Period.around(self.kind, anchor)


@dataclass(frozen=True)
class Names:
    """Display names of services, counters and doctors, from the database (retired ones included)."""

    services: dict[str, tuple[str, str]]
    counters: dict[str, tuple[str, str]]
    doctors: dict[str, tuple[str, str]]
    service_order: list[str]
    counter_order: list[str]

    @classmethod
    def read(cls, db: Database, clinic: ClinicConfig) -> Names:
        S, C, D = Service.__table__, Counter.__table__, Doctor.__table__
        with db.read() as connection:
            services = {r.code: (r.name, r.name_en) for r in connection.execute(select(S.c.code, S.c.name,
                                                                                      S.c.name_en))}
            counters = {r.code: (r.name, r.name_en) for r in connection.execute(select(C.c.code, C.c.name,
                                                                                      C.c.name_en))}
            doctors = {r.code: (r.name, r.name) for r in connection.execute(select(D.c.code, D.c.name))}
        configured = [s.code for s in clinic.services]
        counter_codes = [c.code for c in clinic.counters]
        return cls(services, counters, doctors,
                   configured + sorted(set(services) - set(configured)),
                   counter_codes + sorted(set(counters) - set(counter_codes)))

    def of(self, dim: str, key: str) -> tuple[str, str]:
        """(Vietnamese, English) name of a group."""
        if dim == "hour":
            return f"{key}:00–{int(key) + 1:02d}:00", f"{key}:00–{int(key) + 1:02d}:00"
        if not key:
            return {"counter": ("(chưa gọi)", "(never called)"),
                    "doctor": ("(không rõ bác sĩ)", "(doctor unknown)")}.get(dim, ("—", "—"))
        table = {"service": self.services, "counter": self.counters, "doctor": self.doctors}.get(dim, {})
        return table.get(key, (key, key))

    def ordered(self, dim: str, keys: list[str]) -> list[str]:
        """Groups in the clinic's own order (services, counters), by name (doctors), by hour."""
        if dim in ("service", "counter"):
            order = self.service_order if dim == "service" else self.counter_order
            rank = {code: index for index, code in enumerate(order)}
            return sorted(keys, key=lambda k: (k == "", rank.get(k, len(rank)), k))
        if dim == "doctor":
            return sorted(keys, key=lambda k: (k == "", self.of(dim, k)[0], k))
        return sorted(keys)


@dataclass
class RangeReport:
    """The figures of a period, merged from its days; sections are built when first asked for."""

    period: Period
    today: date
    by_day: dict[date, Figures]
    names: Names
    clinic: ClinicConfig
    service: ReportService
    _merged: dict[str, dict[str, TicketFigures]] = field(default_factory=dict)

    @property
    def counted_days(self) -> list[date]:
        """Days of the period up to today (a future day has no traffic to average)."""
        return [d for d in self.period.days if d <= self.today]

    def groups(self, dim: str) -> dict[str, TicketFigures]:
        """Each group's figures over the period, e.g. groups("service")["kham-noi"]."""
        if dim not in self._merged:
            merged: dict[str, TicketFigures] = defaultdict(TicketFigures)
            for figures in self.by_day.values():
                for (kind, key), value in figures.items():
                    if kind == dim:
                        merged[key].merge_encoded(value)
            self._merged[dim] = dict(merged)
        return self._merged[dim]

    def totals(self) -> TicketFigures:
        return self.groups("all").get("", TicketFigures())

    def day_totals(self, day: date) -> tuple[TicketFigures, VisitFigures]:
        tickets, visits = TicketFigures(), VisitFigures()
        figures = self.by_day.get(day, {})
        if ("all", "") in figures:
            tickets.merge_encoded(figures[("all", "")])
        if ("visits", "") in figures:
            visits.merge_encoded(figures[("visits", "")], self.clinic.reports.slowest_visits)
        return tickets, visits

    def visits(self) -> VisitFigures:
        merged = VisitFigures()
        for figures in self.by_day.values():
            if ("visits", "") in figures:
                merged.merge_encoded(figures[("visits", "")], self.clinic.reports.slowest_visits)
        return merged

    def heatmap(self) -> dict[tuple[int, int], float]:
        """Mean arrivals per day for each (weekday 0=Monday, hour), over the days counted."""
        weekdays = defaultdict(int)
        for day in self.counted_days:
            weekdays[day.weekday()] += 1
        sums: dict[tuple[int, int], int] = defaultdict(int)
        for day, figures in self.by_day.items():
            for (kind, key), value in figures.items():
                if kind == "hour":
                    sums[(day.weekday(), int(key))] += value.get("arrivals", 0)
        return {cell: total / weekdays[cell[0]] for cell, total in sums.items() if weekdays[cell[0]]}

    def follow_ups(self) -> dict[str, dict[str, int]]:
        return self.service.follow_up_counts(self.period)

    def payments(self) -> dict[date, dict[tuple[str, str], tuple[int, int]]]:
        return self.service.payment_sums(self.period)


class ReportService:
    """Builds range reports; one per hub process (it caches today's live figures)."""

    def __init__(self, db: Database, clinic: ClinicConfig, clock: Clock) -> None:
        self.db = db
        self.clinic = clinic
        self.clock = clock
        self.tz = clinic.site.tz
        self.store = RollupStore(db, clinic, clock)

    def today(self) -> date:
        return self.store.today()

    def report(self, period: Period, dims: tuple[str, ...] = ("service", "hour")) -> RangeReport:
        """The period's report; `dims` are the groupings its tables will need."""
        by_day = self.store.load(period.first, period.last, dims)
        return RangeReport(period, self.today(), by_day, Names.read(self.db, self.clinic), self.clinic, self)

    # ------------------------------------------------------------------ live sections
    def _utc_range(self, period: Period) -> tuple[datetime, datetime]:
        return day_bounds(period.first, self.tz)[0], day_bounds(period.last, self.tz)[1]

    def follow_up_counts(self, period: Period) -> dict[str, dict[str, int]]:
        """Follow-up appointments whose slot falls in the period: {service: {status: count}}."""
        start, end = self._utc_range(period)
        with self.db.read() as connection:
            rows = connection.execute(
                select(A.c.service, A.c.status, func.count()).where(
                    A.c.kind == "follow_up", A.c.slot_start >= start, A.c.slot_start < end)
                .group_by(A.c.service, A.c.status)).all()
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for service, status, count in rows:
            out[service][status] = count
        return dict(out)

    def payment_sums(self, period: Period) -> dict[date, dict[tuple[str, str], tuple[int, int]]]:
        """Approved money by local day, (kind, method): (count, amount). Voided rows are left out."""
        start, end = self._utc_range(period)
        hour = epoch_ms(P.c.at, self.db.dialect) // 3_600_000
        with self.db.read() as connection:
            rows = connection.execute(
                select(hour.label("hour"), P.c.kind, P.c.method, func.count(), func.sum(P.c.amount))
                .where(P.c.at >= start, P.c.at < end, P.c.status == "approved")
                .group_by(hour, P.c.kind, P.c.method)).all()
        out: dict[date, dict[tuple[str, str], tuple[int, int]]] = defaultdict(dict)
        for bucket, kind, method, count, amount in rows:
            # Hours since 1970 in UTC, turned into local dates here: any time zone works the same way.
            day = datetime.fromtimestamp(int(bucket) * 3600, self.tz).date()
            before = out[day].get((kind, method), (0, 0))
            out[day][(kind, method)] = (before[0] + count, before[1] + int(amount or 0))
        return dict(out)


def share(part: int, whole: int) -> float | None:
    """A percentage rounded to 0.1, or None when there is nothing to divide."""
    return round(100 * part / whole, 1) if whole else None


# One label per target class (TARGET_CLASSES of them).
TARGET_LABELS = (
    ("Chỉ khám lâm sàng", "Examination only"),
    ("Khám + 1 loại kỹ thuật cận lâm sàng", "Exam + 1 kind of paraclinical technique"),
    ("Khám + 2 loại kỹ thuật", "Exam + 2 kinds of technique"),
    ("Khám + 3 loại kỹ thuật trở lên", "Exam + 3 or more kinds"),
)
