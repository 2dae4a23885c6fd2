"""Tables of the reports: one stored rollup per closed day, and the indexes the report queries need."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.domain.booking.models import Appointment
from hub.domain.common.models import Base, UTCDateTime
from hub.domain.queue.models import Ticket


class ReportRollup(Base):
    """The figures of one closed day for one group (a service, counter, doctor, hour, or the whole day).

    A month's report reads thirty of these per group instead of a million tickets; the figures hold
    counts and duration histograms (see report_stats), which add up across days where medians do not.
    """

    __tablename__ = "report_rollups"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dim: Mapped[str] = mapped_column(String(8), primary_key=True)  # all, visits, service, counter, doctor, hour
    key: Mapped[str] = mapped_column(String(40), primary_key=True)  # the group's code ('' for all and visits)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Declared here, next to the queries that need them, rather than in the models of those tables: a day's
# rollup reads every ticket of that local day, and the follow-up figures take appointments by slot date.
TICKETS_BY_DAY = Index("ix_tickets_day", Ticket.__table__.c.day)
FOLLOW_UPS_BY_SLOT = Index("ix_appointments_kind_slot", Appointment.__table__.c.kind,
                           Appointment.__table__.c.slot_start)
