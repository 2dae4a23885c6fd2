"""Report tables as files: CSV (UTF-8 with a BOM, so Excel shows Vietnamese) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from hub.domain.reports.tables import ReportTable

BOM = "\ufeff"
NUMBER_FORMATS = {"int": "#,##0", "vnd": "#,##0", "minutes": "0.0", "percent": "0.0", "number": "0.0"}
SHEET_NAME_LIMIT = 31  # Excel's own limit
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Short sheet names (the full title is written under the table).
SHEET_NAMES = {
    "days": ("Theo ngày", "By day"), "by_service": ("Theo dịch vụ", "By service"),
    "by_counter": ("Theo quầy", "By counter"), "by_doctor": ("Theo bác sĩ", "By doctor"),
    "by_hour": ("Theo giờ", "By hour"), "heatmap": ("Giờ và thứ", "Hour and weekday"),
    "targets": ("Chuẩn 1313", "1313 targets"), "slowest": ("Lượt khám lâu nhất", "Slowest visits"),
    "estimates": ("Độ chính xác dự kiến", "Estimate accuracy"), "follow_ups": ("Tái khám", "Follow-ups"),
    "payments": ("Thu tiền", "Payments"), "insurance": ("BHYT", "Health insurance"),
}


def to_csv(table: ReportTable, lang: str) -> bytes:
    """Comma-separated, dot decimals (RFC 4180): numbers stay numbers for any program reading it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.title(lang) for c in table.columns])
    for row in table.all_rows():
        writer.writerow(["" if (v := c.value(row, lang)) is None else v for c in table.columns])
    return (BOM + out.getvalue()).encode("utf-8")


def to_xlsx(tables: Iterable[ReportTable], lang: str, heading: str = "") -> bytes:
    """One sheet per table, header row in bold, numbers typed and formatted."""
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for table in tables:
        short = SHEET_NAMES.get(table.name)
        title = (short[1] if lang == "en" else short[0]) if short else table.title(lang)
        sheet = workbook.create_sheet(_sheet_name(title, used))
        _write_sheet(sheet, table, lang, heading)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _write_sheet(sheet: Worksheet, table: ReportTable, lang: str, heading: str) -> None:
    sheet.freeze_panes = "A2"
    for index, column in enumerate(table.columns):
        width = max(len(column.title(lang)), 8 if column.kind != "text" else 14)
        sheet.column_dimensions[_letter(index)].width = min(width + 2, 48)
    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.title(lang))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    rows = table.all_rows()
    for position, row in enumerate(rows):
        is_total = table.total is not None and position == len(rows) - 1
        cells = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.value(row, lang))
            if column.kind in NUMBER_FORMATS:
                cell.number_format = NUMBER_FORMATS[column.kind]
            if is_total:
                cell.font = Font(bold=True)
            cells.append(cell)
        sheet.append(cells)
    sheet.append([])
    sheet.append([table.title(lang) + (f" · {heading}" if heading else "")])


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _sheet_name(title: str, used: set[str]) -> str:
    base = _SHEET_FORBIDDEN.sub(" ", title)[:SHEET_NAME_LIMIT].strip() or "Sheet"
    name, number = base, 2
    while name.lower() in used:
        suffix = f" ({number})"
        name = base[:SHEET_NAME_LIMIT - len(suffix)] + suffix
        number += 1
    used.add(name.lower())
    return name
