"""The report's tables: one definition each, shared by the page, the JSON API, CSV and XLSX exports.

A table is columns (Vietnamese and English titles, a kind that says how to format) and rows of plain
values; durations are minutes, shares are percentages, money is whole VND.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub import formatting
from hub.domain.reports.rollup import TARGET_CLASSES, TicketFigures
from hub.domain.reports.service import TARGET_LABELS, RangeReport, share

WEEKDAYS = (("Thứ Hai", "Mon"), ("Thứ Ba", "Tue"), ("Thứ Tư", "Wed"), ("Thứ Năm", "Thu"), ("Thứ Sáu", "Fri"),
            ("Thứ Bảy", "Sat"), ("Chủ Nhật", "Sun"))
METHODS = {"cash": ("Tiền mặt", "Cash"), "card": ("Thẻ", "Card"), "ewallet": ("Ví điện tử", "E-wallet"),
           "bank_qr": ("Chuyển khoản QR", "Bank QR")}
FOLLOW_UP_BOOKED = ("booked", "arrived", "fulfilled", "noshow")
FOLLOW_UP_PENDING = ("proposed", "pending")
FOLLOW_UP_ATTENDED = ("arrived", "fulfilled")
KINDS = ("text", "int", "minutes", "percent", "vnd", "number")


@dataclass(frozen=True)
class Column:
    key: str
    vi: str
    en: str
    kind: str = "int"
    key_en: str | None = None  # a text column whose English value is in another key

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi

    def value(self, row: dict[str, Any], lang: str) -> Any:
        return row.get(self.key_en if lang == "en" and self.key_en else self.key)


@dataclass
class ReportTable:
    name: str
    vi: str
    en: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] | None = None  # a totals row, shown last

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.vi

    def all_rows(self) -> list[dict[str, Any]]:
        return [*self.rows, *([self.total] if self.total else [])]

    def as_dict(self, lang: str) -> dict[str, Any]:
        """The JSON form: titles in the asked language, rows keyed by column."""
        return {"name": self.name, "title": self.title(lang),
                "columns": [{"key": c.key, "title": c.title(lang), "kind": c.kind} for c in self.columns],
                "rows": [{c.key: c.value(row, lang) for c in self.columns} for row in self.rows],
                "total": {c.key: c.value(self.total, lang) for c in self.columns} if self.total else None}


def format_cell(value: Any, kind: str, lang: str) -> str:
    """How a page shows a value: Vietnamese digit grouping (1.234,5) or English (1,234.5)."""
    # One formatting module for pages, prints and exports: the same 5,2 % and 1.234 ₫ everywhere.
    if value is None or value == "":
        return "—"
    if kind == "text":
        return str(value)
    if kind == "vnd":
        return formatting.format_money(int(value), lang)
    if kind == "percent":
        return formatting.format_percent(float(value), lang, 1)
    if kind == "int":
        return formatting.format_number(int(value), lang)
    return formatting.format_number(float(value), lang, 1)


# ---------------------------------------------------------------------- tickets by group
SPREAD_COLUMNS = [
    Column("wait_mean", "Chờ TB (phút)", "Wait mean (min)", "minutes"),
    Column("wait_median", "Chờ trung vị", "Wait median", "minutes"),
    Column("wait_p90", "Chờ P90", "Wait P90", "minutes"),
    Column("service_mean", "Phục vụ TB (phút)", "Service mean (min)", "minutes"),
    Column("service_median", "Phục vụ trung vị", "Service median", "minutes"),
    Column("service_p90", "Phục vụ P90", "Service P90", "minutes"),
]
COUNT_COLUMNS = [
    Column("issued", "Số phát", "Issued"),
    Column("served", "Đã phục vụ", "Served"),
    Column("transferred", "Chuyển tiếp", "Transferred"),
    Column("no_show", "Vắng mặt", "No-show"),
    Column("cancelled", "Đã huỷ", "Cancelled"),
    Column("open", "Chưa xong", "Open"),
]
GROUP_TITLES = {
    "service": ("Theo dịch vụ", "By service", "Dịch vụ", "Service"),
    "counter": ("Theo quầy / phòng", "By counter or room", "Quầy / phòng", "Counter / room"),
    "doctor": ("Theo bác sĩ (lượt khám)", "By doctor (exam tickets)", "Bác sĩ", "Doctor"),
    "hour": ("Theo giờ lấy số", "By hour of issue", "Giờ", "Hour"),
}


def figures_row(figures: TicketFigures) -> dict[str, Any]:
    wait, service = figures.wait.summary(), figures.service.summary()
    row: dict[str, Any] = {name: getattr(figures, name) for name in
                           ("issued", "served", "transferred", "no_show", "cancelled", "open", "arrivals")}
    for prefix, summary in (("wait", wait), ("service", service)):
        for stat in ("mean", "median", "p90"):
            row[f"{prefix}_{stat}"] = summary[stat]
    return row


def group_table(report: RangeReport, dim: str) -> ReportTable:
    vi, en, key_vi, key_en = GROUP_TITLES[dim]
    columns = [Column("name", key_vi, key_en, "text", key_en="name_en")]
    if dim != "hour":
        columns.insert(0, Column("code", "Mã", "Code", "text"))
    if dim == "hour":
        columns.append(Column("arrivals", "Lượt đến (bệnh nhân)", "Arrivals (patients)"))
    table = ReportTable(f"by_{dim}", vi, en, columns + COUNT_COLUMNS + SPREAD_COLUMNS)
    groups = report.groups(dim)
    for key in report.names.ordered(dim, list(groups)):
        name, name_en = report.names.of(dim, key)
        table.rows.append({"code": key, "name": name, "name_en": name_en, **figures_row(groups[key])})
    if dim != "doctor":  # the doctors' rows cover exam tickets only: a total would mislead next to them
        table.total = {"code": "", "name": "Tổng", "name_en": "Total", **figures_row(report.totals())}
    return table


def days_table(report: RangeReport) -> ReportTable:
    table = ReportTable("days", "Theo ngày", "By day", [
        Column("day", "Ngày", "Day", "text", key_en="day_en"),
        Column("weekday", "Thứ", "Weekday", "text", key_en="weekday_en"),
        Column("arrivals", "Lượt đến", "Arrivals"), *COUNT_COLUMNS[:5],
        Column("wait_median", "Chờ trung vị (phút)", "Wait median (min)", "minutes"),
        Column("wait_p90", "Chờ P90", "Wait P90", "minutes"),
        Column("visits_timed", "Lượt khám có thời gian", "Visits timed"),
        Column("met_share", "Đạt chuẩn 1313 (%)", "Within 1313 targets (%)", "percent"),
    ])
    for day in report.counted_days:
        tickets, visits = report.day_totals(day)
        timed = sum(spread.count for spread in visits.classes)
        row = figures_row(tickets)
        table.rows.append({**row, "day": day.isoformat(), "day_en": day.isoformat(),
                           "weekday": WEEKDAYS[day.weekday()][0],
                           "weekday_en": WEEKDAYS[day.weekday()][1], "visits_timed": timed,
                           "met_share": share(sum(visits.met), timed)})
    totals, visits = report.totals(), report.visits()
    timed = sum(spread.count for spread in visits.classes)
    table.total = {**figures_row(totals), "day": "Tổng", "day_en": "Total", "weekday": "", "weekday_en": "",
                   "visits_timed": timed, "met_share": share(sum(visits.met), timed)}
    return table


def heatmap_table(report: RangeReport) -> ReportTable:
    """Mean patients arriving per day, hour of day by weekday."""
    cells = report.heatmap()
    columns = [Column("hour", "Giờ", "Hour", "text")]
    columns += [Column(f"d{index}", vi, en, "number") for index, (vi, en) in enumerate(WEEKDAYS)]
    table = ReportTable("heatmap", "Lượt đến trung bình mỗi ngày theo giờ và thứ",
                        "Mean arrivals per day by hour and weekday", columns)
    hours = sorted({hour for _, hour in cells})
    for hour in range(hours[0], hours[-1] + 1) if hours else []:
        row: dict[str, Any] = {"hour": f"{hour:02d}:00"}
        for weekday in range(7):
            value = cells.get((weekday, hour))
            row[f"d{weekday}"] = round(value, 1) if value is not None else 0.0
        table.rows.append(row)
    return table


def targets_table(report: RangeReport) -> ReportTable:
    """Share of visits within the Decision 1313 targets, by how many kinds of technique they needed."""
    table = ReportTable("targets", "Thời gian khám theo Quyết định 1313/QĐ-BYT",
                        "Visit time against Decision 1313/QĐ-BYT targets", [
                            Column("class", "Loại lượt khám", "Kind of visit", "text", key_en="class_en"),
                            Column("target", "Chỉ tiêu (phút)", "Target (min)"),
                            Column("visits", "Số lượt", "Visits"),
                            Column("met", "Đạt", "Within target"),
                            Column("met_share", "Tỷ lệ đạt (%)", "Share within (%)", "percent"),
                            Column("mean", "TB (phút)", "Mean (min)", "minutes"),
                            Column("median", "Trung vị", "Median", "minutes"),
                            Column("p90", "P90", "P90", "minutes")])
    visits = report.visits()
    targets = report.clinic.reports.targets
    for index in range(TARGET_CLASSES):
        summary = visits.classes[index].summary()
        table.rows.append({"class": TARGET_LABELS[index][0], "class_en": TARGET_LABELS[index][1],
                           "target": targets[index], "visits": summary["count"], "met": visits.met[index],
                           "met_share": share(visits.met[index], summary["count"]), "mean": summary["mean"],
                           "median": summary["median"], "p90": summary["p90"]})
    table.rows.append({"class": "Không có khám lâm sàng (tính riêng)", "class_en": "No examination (apart)",
                       "target": None, "visits": visits.no_exam, "met": None, "met_share": None})
    timed = sum(spread.count for spread in visits.classes)
    table.total = {"class": "Tổng lượt có khám", "class_en": "All visits with an exam", "target": None,
                   "visits": timed, "met": sum(visits.met), "met_share": share(sum(visits.met), timed)}
    return table


def slowest_table(report: RangeReport) -> ReportTable:
    table = ReportTable("slowest", "Các lượt khám lâu nhất", "Slowest visits", [
        Column("visit", "Mã lượt khám", "Visit", "text"), Column("day", "Ngày", "Day", "text"),
        Column("start", "Giờ đến", "Arrived", "text"), Column("tickets", "Các số", "Tickets", "text"),
        Column("kinds", "Kỹ thuật CLS", "Techniques", "text"), Column("minutes", "Thời gian (phút)", "Minutes",
                                                                      "minutes"),
        Column("target", "Chỉ tiêu (phút)", "Target (min)"),
        Column("met", "Đạt", "Within", "text", key_en="met_en")])
    tz = report.clinic.site.tz
    for visit in report.visits().slowest:
        started = datetime.fromtimestamp(visit["start_ms"] / 1000, tz)
        table.rows.append({"visit": f"LK{visit['visit_id']:06d}", "visit_id": visit["visit_id"],
                           "day": started.date().isoformat(), "start": started.strftime("%H:%M"),
                           "tickets": visit["tickets"], "kinds": ", ".join(visit["kinds"]) or "—",
                           "minutes": visit["minutes"], "target": visit["target"],
                           "met": "Có" if visit["met"] else "Không", "met_en": "yes" if visit["met"] else "no"})
    return table


def estimates_table(report: RangeReport) -> ReportTable:
    table = ReportTable("estimates", "Độ chính xác của thời gian chờ dự kiến", "Accuracy of the wait estimates", [
        Column("code", "Mã", "Code", "text"), Column("name", "Dịch vụ", "Service", "text", key_en="name_en"),
        Column("tickets", "Số vé được gọi", "Tickets called"),
        Column("mae", "Sai số TB tuyệt đối (phút)", "Mean absolute error (min)", "minutes"),
        Column("bias", "Lệch TB (phút, + là báo dư)", "Mean bias (min, + = over)", "minutes"),
        Column("coverage", "Trong P90 (%)", "Within P90 (%)", "percent")])

    def row(figures: TicketFigures) -> dict[str, Any]:
        count = figures.est_count
        return {"tickets": count, "mae": round(figures.est_abs_minutes / count, 2) if count else None,
                "bias": round(figures.est_bias_minutes / count, 2) if count else None,
                "coverage": share(figures.est_covered, count)}

    groups = report.groups("service")
    for key in report.names.ordered("service", list(groups)):
        name, name_en = report.names.of("service", key)
        table.rows.append({"code": key, "name": name, "name_en": name_en, **row(groups[key])})
    table.total = {"code": "", "name": "Tổng", "name_en": "Total", **row(report.totals())}
    return table


def follow_ups_table(report: RangeReport) -> ReportTable:
    """Follow-up appointments whose date falls in the period, by the service they are booked in."""
    table = ReportTable("follow_ups", "Tái khám (theo ngày hẹn)", "Follow-ups (by appointment date)", [
        Column("code", "Mã", "Code", "text"), Column("name", "Dịch vụ", "Service", "text", key_en="name_en"),
        Column("ordered", "Được chỉ định", "Ordered"), Column("booked", "Đã xác nhận", "Booked"),
        Column("pending", "Chờ xác nhận", "Awaiting confirmation"), Column("attended", "Đã đến", "Attended"),
        Column("no_show", "Không đến", "No-show"), Column("cancelled", "Đã huỷ", "Cancelled"),
        Column("attendance", "Tỷ lệ đến (%)", "Attendance (%)", "percent")])
    counts = report.follow_ups()
    total: dict[str, int] = {}
    for key in report.names.ordered("service", list(counts)):
        by_status = counts[key]
        row = _follow_up_row(by_status)
        for name, value in row.items():
            if isinstance(value, int):
                total[name] = total.get(name, 0) + value
        name, name_en = report.names.of("service", key)
        table.rows.append({"code": key, "name": name, "name_en": name_en, **row})
    total_row: dict[str, Any] = {"code": "", "name": "Tổng", "name_en": "Total", **{k: total.get(k, 0) for k in (
        "ordered", "booked", "pending", "attended", "no_show", "cancelled")}}
    total_row["attendance"] = share(total_row["attended"], total_row["attended"] + total_row["no_show"])
    table.total = total_row
    return table


def _follow_up_row(by_status: dict[str, int]) -> dict[str, Any]:
    attended = sum(by_status.get(s, 0) for s in FOLLOW_UP_ATTENDED)
    no_show = by_status.get("noshow", 0)
    return {"ordered": sum(by_status.values()), "booked": sum(by_status.get(s, 0) for s in FOLLOW_UP_BOOKED),
            "pending": sum(by_status.get(s, 0) for s in FOLLOW_UP_PENDING), "attended": attended,
            "no_show": no_show, "cancelled": by_status.get("cancelled", 0),
            "attendance": share(attended, attended + no_show)}


def payments_table(report: RangeReport) -> ReportTable:
    """Money received by day and method (deposits and payments), refunds, and the net."""
    methods = list(report.clinic.payments.methods)
    columns = [Column("day", "Ngày", "Day", "text", key_en="day_en"), Column("receipts", "Số giao dịch", "Receipts")]
    columns += [Column(m, METHODS.get(m, (m, m))[0], METHODS.get(m, (m, m))[1], "vnd") for m in methods]
    columns += [Column("refunds", "Hoàn trả", "Refunds", "vnd"), Column("net", "Thực thu", "Net", "vnd")]
    table = ReportTable("payments", "Thu tiền theo ngày và hình thức", "Payments by day and method", columns)
    sums = report.payments()
    total: dict[str, Any] = {"day": "Tổng", "day_en": "Total", "receipts": 0, "refunds": 0, "net": 0,
                             **dict.fromkeys(methods, 0)}
    for day in report.period.days:
        if day not in sums:
            continue
        row: dict[str, Any] = {"day": day.isoformat(), "day_en": day.isoformat(), "receipts": 0, "refunds": 0,
                               **dict.fromkeys(methods, 0)}
        for (kind, method), (count, amount) in sums[day].items():
            row["receipts"] += count
            if kind == "refund":
                row["refunds"] += amount
            else:
                row[method] = row.get(method, 0) + amount
        row["net"] = sum(row[m] for m in methods) - row["refunds"]
        for key in ("receipts", "refunds", "net", *methods):
            total[key] += row[key]
        table.rows.append(row)
    table.total = total
    return table


# name -> (builder, dimensions the builder needs loaded)
TABLES: dict[str, tuple[Callable[[RangeReport], ReportTable], tuple[str, ...]]] = {
    "days": (days_table, ()),
    "by_service": (lambda r: group_table(r, "service"), ("service",)),
    "by_counter": (lambda r: group_table(r, "counter"), ("counter",)),
    "by_doctor": (lambda r: group_table(r, "doctor"), ("doctor",)),
    "by_hour": (lambda r: group_table(r, "hour"), ("hour",)),
    "heatmap": (heatmap_table, ("hour",)),
    "targets": (targets_table, ()),
    "slowest": (slowest_table, ()),
    "estimates": (estimates_table, ("service",)),
    "follow_ups": (follow_ups_table, ()),
    "payments": (payments_table, ()),
    "insurance": (lambda r: _insurance_table(r), ()),
}


def _insurance_table(report: RangeReport) -> ReportTable:
    from hub.domain.reports.insurance import insurance_table  # imports this module: loaded when first built

    return insurance_table(report)


def dims_for(names: list[str]) -> tuple[str, ...]:
    """The dimensions the named tables need, for ReportService.report()."""
    needed: list[str] = []
    for name in names:
        for dim in TABLES[name][1]:
            if dim not in needed:
                needed.append(dim)
    return tuple(needed)


def build(report: RangeReport, name: str) -> ReportTable:
    return TABLES[name][0](report)
