"""Reference ranges by age band and sex: the 4-year-old's haemoglobin, and a band without a range."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert

from hub.config import Analyte, ClinicConfig, ReferenceBand
from hub.db import Database
from hub.domain.clinical.orders import lab_values
from hub.domain.clinical.ranges import age_band, reference_range
from hub.domain.common.clock import VirtualClock
from hub.domain.patients.models import Patient
from tests.test_clinical import Clinic

SAMPLE_DAY = date(2026, 3, 9)


@pytest.mark.parametrize(("born", "band"), [
    (date(2026, 3, 1), "newborn"), (date(2026, 2, 10), "newborn"), (date(2026, 2, 9), "infant"),
    (date(2025, 3, 10), "infant"),
    (date(2025, 3, 9), "child"), (date(2022, 1, 5), "child"), (date(2010, 3, 10), "child"),
    (date(2010, 3, 9), "adult"), (date(1966, 3, 10), "adult"), (date(1966, 3, 9), "elderly"),
])
def test_age_bands_on_the_sample_day(born: date, band: str) -> None:
    assert age_band(born, SAMPLE_DAY) == band


def test_a_four_year_old_hb_118_is_not_low(clinic: ClinicConfig) -> None:
    cbc = clinic.catalogue_item("xn-ctm")
    values = {"WBC": 8.0, "RBC": 4.5, "HGB": 118, "PLT": 300}
    child = {v["code"]: v for v in lab_values(cbc, values, born=date(2022, 1, 5), sex="Nữ", day=SAMPLE_DAY)}
    assert child["HGB"]["flag"] is None and child["HGB"]["band"] == "child"
    assert (child["HGB"]["low"], child["HGB"]["high"], child["HGB"]["unit"]) == (110.0, 150.0, "g/L")
    adult = {v["code"]: v for v in lab_values(cbc, values, born=date(1990, 1, 5), sex="Nữ", day=SAMPLE_DAY)}
    assert adult["HGB"]["flag"] == "L" and adult["HGB"]["band"] == "adult"
    low_child = lab_values(cbc, {**values, "HGB": 104}, born=date(2022, 1, 5), sex="Nữ", day=SAMPLE_DAY)
    assert {v["code"]: v["flag"] for v in low_child}["HGB"] == "L"


def test_no_band_means_no_flag_with_a_note_never_the_adult_range(clinic: ClinicConfig) -> None:
    lipids = clinic.catalogue_item("xn-mo-mau")  # adult ranges only
    values = {a.code: (a.high or 1.0) * 3 for a in lipids.analytes}
    for v in lab_values(lipids, values, born=date(2022, 1, 5), sex="Nam", day=SAMPLE_DAY):
        assert v["flag"] is None and v["low"] is None and v["high"] is None and v["band"] == "child"
        assert "Chưa có khoảng tham chiếu cho nhóm trẻ em" in v["note"] and "child band" in v["note"]
    unknown = lab_values(lipids, values, born=None, sex=None, day=SAMPLE_DAY)
    assert all(v["flag"] is None and "ngày sinh" in v["note"] for v in unknown)


def test_a_sex_specific_band_wins_over_the_band_for_both() -> None:
    analyte = Analyte(code="HGB", name="Huyết sắc tố", unit="g/L", low=120.0, high=160.0, ranges=[
        ReferenceBand(band="adult", sex="Nam", low=130.0, high=170.0),
        ReferenceBand(band="adult", low=120.0, high=150.0)])
    assert reference_range(analyte, date(1990, 1, 1), "Nam", SAMPLE_DAY).low == 130.0
    assert reference_range(analyte, date(1990, 1, 1), "Nữ", SAMPLE_DAY).high == 150.0
    # The elderly have no band of their own here: the plain (adult and elderly) range applies.
    assert reference_range(analyte, date(1950, 1, 1), "Nữ", SAMPLE_DAY).high == 160.0


def test_recorded_result_uses_the_patients_age_on_the_visit_day(sqlite_db: Database, clinic: ClinicConfig,
                                                              clock: VirtualClock) -> None:
    world = Clinic(sqlite_db, clinic, clock)
    with world.db.write() as connection:
        child = connection.execute(insert(Patient).values(
            code="BN00000404", full_name="Ngô Gia Bảo", date_of_birth=date(clock.now().year - 4, 1, 5), sex="Nam",
            created_at=clock.now()).returning(Patient.id)).scalar_one()
    ticket = world.serve("p101", service="kham-noi", patient_id=child)
    order = world.orders.place(ticket["visit_id"], ["xn-ctm"], actor="user:bs", counter="p101")["orders"][0]
    world.orders.start(order["id"], actor="user:kt")
    resulted = world.orders.record_result(order["id"], actor="user:kt",
                                          values={"WBC": 8.0, "RBC": 4.5, "HGB": 118, "PLT": 300}, release=True)
    hgb = next(v for v in resulted["values"] if v["code"] == "HGB")
    assert (hgb["flag"], hgb["band"], hgb["low"]) == (None, "child", 110.0)
