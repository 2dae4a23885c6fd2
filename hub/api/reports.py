"""REST endpoints: the live operations view, report tables as JSON, CSV and XLSX, and rollup refresh."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import require_roles
from hub.api.errors import ApiError
from hub.api.hub_access import current_hub, parse_body
from hub.domain.common.errors import DomainError
from hub.domain.reports.export import to_csv, to_xlsx
from hub.domain.reports.live import OperationsBoard
from hub.domain.reports.service import PERIODS, Period, RangeReport, ReportService
from hub.domain.reports.tables import TABLES, ReportTable, build, dims_for

bp = Blueprint("reports", __name__)
OPS_VIEWERS = ("nurse", "reception")  # and admin, who alone sees the reports
EXTENSION = "clinicq_reports"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RefreshRequest(BaseModel):
    """Recompute the stored figures of these days (after late corrections): both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: Annotated[date, Field(alias="from")]
    end: Annotated[date, Field(alias="to")]


def report_service() -> ReportService:
    """The app's report service (one per process: it caches today's figures)."""
    service = current_app.extensions.get(EXTENSION)
    if service is None:
        hub = current_hub()
        service = current_app.extensions[EXTENSION] = ReportService(hub.db, hub.config, hub.clock)
    return service


def operations_board() -> OperationsBoard:
    hub = current_hub()
    return OperationsBoard(hub.queue, hub.devices, hub.config, hub.clock)


def period_from_args(today: date) -> Period:
    """?from=&to= (ISO dates), or ?period=day|week|month&date= (default: today)."""
    args = request.args
    try:
        if args.get("from") or args.get("to"):
            first = date.fromisoformat(args.get("from") or args.get("to", ""))
            last = date.fromisoformat(args.get("to") or args.get("from", ""))
            return Period.between(first, last)
        day = date.fromisoformat(args["date"]) if args.get("date") else today
        kind = args.get("period", "day")
        if kind not in PERIODS:
            raise ApiError(422, "invalid_request", f"period: one of {', '.join(PERIODS)}")
        return Period.around(kind, day)
    except ValueError:
        raise ApiError(422, "invalid_request", "dates are YYYY-MM-DD") from None
    except DomainError as exc:
        raise ApiError(422, exc.code, exc.message) from None


def language() -> str:
    asked = request.args.get("lang")
    return asked if asked in ("vi", "en") else current_hub().config.site.language


def table_names() -> list[str]:
    asked = [n for n in request.args.get("tables", "").split(",") if n]
    unknown = [n for n in asked if n not in TABLES]
    if unknown:
        raise ApiError(422, "invalid_request", f"unknown tables {unknown}; known: {', '.join(TABLES)}")
    return asked or list(TABLES)


def load_report(names: list[str]) -> RangeReport:
    service = report_service()
    return service.report(period_from_args(service.today()), dims_for(names))


def download(body: bytes, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def file_stem(name: str, period: Period) -> str:
    return f"clinicq-{name}-{period.first.isoformat()}_{period.last.isoformat()}"


def period_dict(period: Period) -> dict[str, str]:
    return {"from": period.first.isoformat(), "to": period.last.isoformat(), "kind": period.kind}


@bp.get("/ops")
@require_roles(*OPS_VIEWERS)
def ops_overview():  # type: ignore[no-untyped-def]
    return jsonify(operations_board().overview())


@bp.get("/reports")
@require_roles()
def get_report():  # type: ignore[no-untyped-def]
    """Every table (or ?tables=a,b) of the period, as JSON."""
    names = table_names()
    report, lang = load_report(names), language()
    return jsonify({"period": period_dict(report.period),
                    "tables": {name: build(report, name).as_dict(lang) for name in names}})


@bp.get("/reports/workbook")
@require_roles()
def report_workbook():  # type: ignore[no-untyped-def]
    """Every table (or ?tables=a,b) of the period in one XLSX workbook, one sheet each."""
    names = table_names()
    report, lang = load_report(names), language()
    tables: list[ReportTable] = [build(report, name) for name in names]
    body = to_xlsx(tables, lang, heading=_heading(report))
    return download(body, XLSX_TYPE, file_stem("report", report.period) + ".xlsx")


@bp.get("/reports/<name>")
@require_roles()
def report_table(name: str):  # type: ignore[no-untyped-def]
    """One table as JSON, or ?format=csv / xlsx as a file."""
    if name not in TABLES:
        raise ApiError(404, "unknown_table", f"no table {name!r}; known: {', '.join(TABLES)}")
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "xlsx"):
        raise ApiError(422, "invalid_request", "format: json, csv or xlsx")
    report, lang = load_report([name]), language()
    table = build(report, name)
    if fmt == "csv":
        return download(to_csv(table, lang), "text/csv; charset=utf-8", file_stem(name, report.period) + ".csv")
    if fmt == "xlsx":
        return download(to_xlsx([table], lang, heading=_heading(report)), XLSX_TYPE,
                        file_stem(name, report.period) + ".xlsx")
    return jsonify({"period": period_dict(report.period), "table": table.as_dict(lang)})


@bp.post("/reports/refresh")
@require_roles()
def refresh_rollups():  # type: ignore[no-untyped-def]
    """Forget the stored figures of a range of days; they are recomputed when next read."""
    body = parse_body(RefreshRequest)
    try:
        period = Period.between(body.start, body.end)
    except DomainError as exc:
        raise ApiError(422, exc.code, exc.message) from None
    removed = report_service().store.forget(period.first, period.last)
    return jsonify({"period": period_dict(period), "removed_rows": removed})


def _heading(report: RangeReport) -> str:
    site = report.clinic.site
    return f"{site.name} · {report.period.first.isoformat()} – {report.period.last.isoformat()}"
