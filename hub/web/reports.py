"""Staff pages: the live operations dashboard, the period reports with charts, the printable daily summary."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from hub.api.errors import ApiError
from hub.api.hub_access import current_hub
from hub.api.reports import OPS_VIEWERS, period_from_args, report_service
from hub.domain.reports.service import Period, RangeReport
from hub.domain.reports.tables import ReportTable, build, dims_for, format_cell
from hub.web.auth import staff_page
from hub.web.i18n import current_lang, tr

bp = Blueprint("reports_pages", __name__)
GROUPINGS = ("service", "counter", "doctor")
OPS_REFRESH_SECONDS = 5
REPORT_PAGE_TABLES = ("days", "by_hour", "heatmap", "targets", "slowest", "estimates", "follow_ups", "payments",
                      "insurance")
DAILY_TABLES = ("by_service", "by_hour", "targets", "slowest", "estimates", "follow_ups", "payments")


@bp.app_template_filter("cell")
def cell(value: Any, kind: str, lang: str | None = None) -> str:
    """A report value as the page shows it, in the page's language (given, or read from the request)."""
    return format_cell(value, kind, lang or current_lang())


@bp.get("/ops")
@staff_page(*OPS_VIEWERS)
def ops():  # type: ignore[no-untyped-def]
    hub = current_hub()
    return render_template("reports_ops.html", site=hub.config.site, refresh_seconds=OPS_REFRESH_SECONDS,
                           threshold=hub.config.reports.estimate_alert_minutes,
                           closed=hub.config.closed_on(hub.queue.today()),
                           advice_p90=hub.config.advisor.p90_minutes)


def _period() -> Period:
    try:
        return period_from_args(report_service().today())
    except ApiError as exc:
        abort(400, exc.message)


def _tables(report: RangeReport, names: tuple[str, ...] | list[str]) -> dict[str, ReportTable]:
    return {name: build(report, name) for name in names}


@bp.get("/reports")
@staff_page()
def reports():  # type: ignore[no-untyped-def]
    """A day, week or month: key figures, charts, every table with CSV and XLSX links."""
    grouping = request.args.get("by", "service")
    if grouping not in GROUPINGS:
        abort(400)
    period = _period()
    names = [f"by_{grouping}", *REPORT_PAGE_TABLES]
    report = report_service().report(period, dims_for(names))
    tables = _tables(report, names)
    lang = current_lang()
    return render_template(
        "reports.html", site=current_hub().config.site, period=period, grouping=grouping, groupings=GROUPINGS,
        tables=tables, summary=_summary(report, tables), today=report.today,
        chart_data={name: table.as_dict(lang) for name, table in tables.items()},
        previous=period.shifted(-1), following=period.shifted(1), lang=lang)


@bp.get("/reports/daily")
@staff_page()
def daily():  # type: ignore[no-untyped-def]
    """One day on paper: the key figures and the main tables, laid out for printing."""
    period = _period()
    if period.first != period.last:
        period = Period.around("day", period.first)
    report = report_service().report(period, dims_for(list(DAILY_TABLES)))
    tables = _tables(report, DAILY_TABLES)
    return render_template("reports_daily.html", site=current_hub().config.site, period=period, tables=tables,
                           summary=_summary(report, tables), generated=current_hub().clock.now(),
                           tz=current_hub().config.site.tz)


def _summary(report: RangeReport, tables: dict[str, ReportTable]) -> list[tuple[str, Any, str]]:
    """The figures shown in large type above the tables: (label, value, kind)."""
    totals, visits = report.totals(), report.visits()
    timed = sum(spread.count for spread in visits.classes)
    wait = totals.wait.summary()
    called = totals.served + totals.no_show
    payments = tables["payments"].total if "payments" in tables else None
    out = [
        (tr("Lượt bệnh nhân đến", "Patients arrived"), totals.arrivals, "int"),
        (tr("Số phát ra", "Tickets issued"), totals.issued, "int"),
        (tr("Đã phục vụ", "Served"), totals.served, "int"),
        (tr("Tỷ lệ vắng mặt", "No-show rate"), round(100 * totals.no_show / called, 1) if called else None,
         "percent"),
        (tr("Chờ trung vị (phút)", "Median wait (min)"), wait["median"], "minutes"),
        (tr("Chờ P90 (phút)", "P90 wait (min)"), wait["p90"], "minutes"),
        (tr("Đạt chuẩn 1313", "Within 1313 targets"), round(100 * sum(visits.met) / timed, 1) if timed else None,
         "percent"),
    ]
    if payments is not None:
        out.append((tr("Thực thu", "Net received"), payments["net"], "vnd"))
    return out

