"""Reference ranges by age band and sex: which range a lab value is flagged against.

A child's haemoglobin of 118 g/L is normal; against the adult range 120-160 it reads "low", and a parent
reading the portal is frightened for nothing. So the range is chosen by the patient's age on the day of
the sample and by sex, and when the catalogue has no range for that band the value is shown unflagged
with a note: it is never compared with the adult range by default.

Bands (age on the sample day): newborn 0-27 days, infant 28 days to 1 year, child 1 to 15 years, adult 16
to 59 years, elderly 60 years and over (the Vietnamese Law on the Elderly counts from 60).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.config import Analyte

NEWBORN_DAYS = 28
CHILD_FROM_YEARS = 1
ADULT_FROM_YEARS = 16
ELDERLY_FROM_YEARS = 60
# Bands the plain `low`/`high` of an analyte cover (the catalogue's ranges before bands existed).
PLAIN_RANGE_BANDS = ("adult", "elderly")
BAND_NAMES = {"newborn": ("sơ sinh", "newborn"), "infant": ("nhũ nhi", "infant"), "child": ("trẻ em", "child"),
              "adult": ("người lớn", "adult"), "elderly": ("người cao tuổi", "elderly")}


@dataclass(frozen=True)
class Range:
    """The range chosen for one value: its band, limits, and a note when there is none to flag against."""

    band: str | None
    low: float | None
    high: float | None
    note: str | None = None


def years_between(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def age_band(born: date, day: date) -> str:
    """The band of a patient born on `born`, on `day` (the sample day)."""
    if (day - born).days < NEWBORN_DAYS:
        return "newborn"
    years = years_between(born, day)
    if years < CHILD_FROM_YEARS:
        return "infant"
    if years < ADULT_FROM_YEARS:
        return "child"
    if years < ELDERLY_FROM_YEARS:
        return "adult"
    return "elderly"


def reference_range(analyte: Analyte, born: date | None, sex: str | None, day: date) -> Range:
    """The range of `analyte` for this patient: their band and sex first, then their band for both sexes."""
    if born is None or born > day:
        return Range(None, None, None, "Không rõ ngày sinh: không đối chiếu khoảng tham chiếu / "
                                       "date of birth unknown: not compared with a reference range")
    band = age_band(born, day)
    bands = [r for r in analyte.ranges if r.band == band]
    chosen = next((r for r in bands if r.sex is not None and r.sex == sex), None) or \
        next((r for r in bands if r.sex is None), None)
    if chosen is not None:
        return Range(band, chosen.low, chosen.high)
    if band in PLAIN_RANGE_BANDS and (analyte.low is not None or analyte.high is not None):
        return Range(band, analyte.low, analyte.high)
    vi, en = BAND_NAMES[band]
    return Range(band, None, None, f"Chưa có khoảng tham chiếu cho nhóm {vi}: không gắn cờ / "
                                   f"no reference range for the {en} band: not flagged")
