"""Structured prescription lines (đơn thuốc): one line per drug, from the catalogue (config/drugs.toml) or
typed as free text for a medicine that is not in it.

A line is stored as a JSON object on the examination record (`ExamRecord.prescription_lines`), with the
catalogue's name, strength, form, unit and route copied in: the print and the insurance claim (XML2) show
what was prescribed that day even after the catalogue changes. The free-text `prescription` field stays for
advice and anything that does not fit a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from hub.config import Drug
from hub.domain.common.errors import Invalid

MAX_LINES = 50
MAX_QUANTITY = 10_000
MAX_DAYS = 365
# Longest text per field; the catalogue's own limits are the same or shorter.
LIMITS = {"name": 200, "strength": 40, "form": 80, "unit": 20, "route": 20, "dose": 200, "instructions": 300}
CATALOGUE_FIELDS = ("name", "strength", "form", "unit", "route")
# Weight on the prescription: Thông tư 52/2017/TT-BYT (and 26/2025/TT-BYT) require it for a child under
# 72 months; the print shows it for every patient under PRINT_WEIGHT_UNDER_YEARS.
WEIGHT_REQUIRED_UNDER_MONTHS = 72
PRINT_WEIGHT_UNDER_YEARS = 16
WEIGHT_KG = (0.3, 300.0)
HEIGHT_CM = (20.0, 250.0)


@dataclass(frozen=True)
class PrescriptionLine:
    """One drug of a prescription; `drug_code` is None for a free-text drug (not in the catalogue)."""

    drug_code: str | None
    name: str
    strength: str
    form: str
    unit: str
    route: str
    dose: str  # "1 viên x 2 lần/ngày"
    days: int | None
    quantity: int  # in `unit`
    instructions: str  # "uống sau ăn"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bad(index: int, code: str, vi: str, en: str) -> Invalid:
    return Invalid(code, f"Dòng thuốc {index}: {vi} / prescription line {index}: {en}")


def _text(raw: Mapping[str, Any], field: str, index: int) -> str:
    value = raw.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(index, "bad_prescription_line", f"'{field}' phải là chữ", f"'{field}' must be text")
    value = " ".join(value.split())
    if len(value) > LIMITS[field]:
        raise _bad(index, "too_long", f"'{field}' dài quá {LIMITS[field]} ký tự",
                   f"'{field}' has more than {LIMITS[field]} characters")
    return value


def _whole(raw: Mapping[str, Any], field: str) -> Any:
    value = raw.get(field)
    # JSON has one number type: 2.0 is a whole number, True is not a number here.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def validate_line(raw: Mapping[str, Any], drugs: Mapping[str, Drug], index: int = 1) -> PrescriptionLine:
    """One line as sent by a client, checked; a catalogue code fills name, strength, form, unit and route."""
    if not isinstance(raw, Mapping):
        raise _bad(index, "bad_prescription_line", "không phải một dòng thuốc", "not a prescription line")
    unknown = set(raw) - {"drug_code", *LIMITS, "days", "quantity"}
    if unknown:
        raise _bad(index, "bad_prescription_line", f"trường lạ {sorted(unknown)}", f"unknown fields {sorted(unknown)}")
    code = raw.get("drug_code")
    if code is not None and not isinstance(code, str):
        raise _bad(index, "bad_prescription_line", "'drug_code' phải là chữ", "'drug_code' must be text")
    code = (code or "").strip() or None
    fields = {name: _text(raw, name, index) for name in LIMITS}
    if code is not None:
        drug = drugs.get(code)
        if drug is None:
            raise _bad(index, "unknown_drug", f"không có thuốc mã '{code[:40]}' trong danh mục",
                       f"no drug '{code[:40]}' in the catalogue")
        fields.update({name: getattr(drug, name) for name in CATALOGUE_FIELDS})
    else:
        if not fields["name"]:
            raise _bad(index, "bad_prescription_line", "cần ghi tên thuốc", "the drug's name is needed")
        if not fields["unit"]:
            raise _bad(index, "bad_prescription_line", "cần ghi đơn vị tính (viên, chai…)",
                       "the unit is needed (tablet, bottle…)")
    quantity = _whole(raw, "quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
        raise _bad(index, "bad_quantity", f"số lượng phải là số nguyên từ 1 đến {MAX_QUANTITY}",
                   f"the quantity must be a whole number from 1 to {MAX_QUANTITY}")
    days = _whole(raw, "days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= MAX_DAYS):
        raise _bad(index, "bad_days", f"số ngày phải là số nguyên từ 1 đến {MAX_DAYS}",
                   f"the days must be a whole number from 1 to {MAX_DAYS}")
    return PrescriptionLine(drug_code=code, days=days, quantity=quantity, **fields)


def validate_lines(raw: Sequence[Mapping[str, Any]] | None, catalogue: Iterable[Drug]) -> list[PrescriptionLine]:
    """All lines of a prescription, checked in order (the first bad line is the error)."""
    if raw is None:
        return []
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise Invalid("bad_prescription_line", "prescription_lines must be a list")
    if len(raw) > MAX_LINES:
        raise Invalid("too_long", f"một đơn có tối đa {MAX_LINES} dòng thuốc / at most {MAX_LINES} lines")
    drugs = {d.code: d for d in catalogue}
    return [validate_line(line, drugs, index) for index, line in enumerate(raw, start=1)]


def _line_of(stored: Mapping[str, Any]) -> PrescriptionLine:
    return PrescriptionLine(
        drug_code=stored.get("drug_code"), name=stored.get("name") or "", strength=stored.get("strength") or "",
        form=stored.get("form") or "", unit=stored.get("unit") or "", route=stored.get("route") or "",
        dose=stored.get("dose") or "", days=stored.get("days"), quantity=int(stored.get("quantity") or 0),
        instructions=stored.get("instructions") or "")


def lines_of(exam: Any) -> list[PrescriptionLine]:
    """The prescription lines of an examination: the exam as the API shows it (a dict), an `exam_records`
    row or an `ExamRecord`; none for no exam."""
    if exam is None:
        return []
    stored = exam.get("prescription_lines") if isinstance(exam, Mapping) else getattr(exam, "prescription_lines",
                                                                                      None)
    return [_line_of(line) for line in stored or []]


def validate_weight(weight_kg: float | None, height_cm: float | None) -> tuple[float | None, float | None]:
    """Weight (kg) and height (cm) measured at the exam, checked against what a human can weigh."""
    for name, value, (low, high), unit in (("weight_kg", weight_kg, WEIGHT_KG, "kg"),
                                           ("height_cm", height_cm, HEIGHT_CM, "cm")):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            label = "Cân nặng" if name == "weight_kg" else "Chiều cao"
            raise Invalid(f"bad_{name.split('_')[0]}",
                          f"{label} phải từ {low:g} đến {high:g} {unit} / {name} must be {low:g}–{high:g} {unit}")
    return (None if weight_kg is None else round(float(weight_kg), 2),
            None if height_cm is None else round(float(height_cm), 1))


def age_in_months(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return (on.year - born.year) * 12 + on.month - born.month - (on.day < born.day)


def weight_required(born: date | None, on: date) -> bool:
    """A prescription for a child under 72 months must carry the child's weight (Thông tư 52/2017/TT-BYT)."""
    months = age_in_months(born, on)
    return months is not None and months < WEIGHT_REQUIRED_UNDER_MONTHS
