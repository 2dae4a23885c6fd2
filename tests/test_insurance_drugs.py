"""The insurance side of the drug catalogue: which prescription lines a claim's XML2 takes, and their split
by the co-payment engine at the visit's share (each level, in / out of route, a drug paid at a rate, and a
property test that fund + co-payment + the patient's own part = the line)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.clinical.prescriptions import PrescriptionLine
from hub.domain.insurance.copay import Line, Terms, split_lines
from hub.domain.insurance.drugs import (
    NO_INSURANCE_DATA,
    NOT_COVERED,
    NOT_IN_CATALOGUE,
    DrugCatalogueError,
    DrugInsurance,
    claim_lines,
    load_drug_insurance,
)
from hub.domain.insurance.rules import ItemPrice, load_rules

CONFIG = Path(__file__).resolve().parent.parent / "config"
RULES = load_rules(CONFIG)
DAY = date(2026, 12, 7)  # small-bill limit 351,000
CATALOGUE = load_drug_insurance(CONFIG)


def line(code: str | None, quantity: int, name: str = "") -> PrescriptionLine:
    return PrescriptionLine(drug_code=code, name=name or (code or "thuốc ngoài danh mục"), strength="", form="",
                            unit="viên", route="uống", dose="1 viên x 2 lần/ngày", days=5, quantity=quantity,
                            instructions="sau ăn")


def test_the_shipped_catalogue_has_the_claim_fields_for_its_covered_drugs() -> None:
    assert CATALOGUE["para-500"].claimable and CATALOGUE["para-500"].insurance_price == 220
    assert not CATALOGUE["natri-clorid-09-nho"].bhyt_covered  # the demo's uncovered drug
    assert all(drug.claimable for drug in CATALOGUE.values() if drug.bhyt_covered)


def test_lines_are_claimed_or_left_out_with_why() -> None:
    catalogue = {**CATALOGUE, "half-known": DrugInsurance(code="half-known", name="Thuốc X", bhyt_covered=True,
                                                          insurance_price=500)}  # no code, no registration
    claimed, left_out = claim_lines([line("para-500", 10), line(None, 5, "Vitamin C"), line("gone", 1, "Thuốc cũ"),
                                     line("natri-clorid-09-nho", 1, "Nhỏ mắt"), line("half-known", 2, "Thuốc X")],
                                    catalogue)
    assert [(c.drug.code, c.quantity, c.amount, c.insured_base) for c in claimed] == [("para-500", 10, 2200, 2200)]
    assert [(left["name"], left["reason"]) for left in left_out] == [
        ("Vitamin C", NOT_IN_CATALOGUE), ("Thuốc cũ", NOT_IN_CATALOGUE), ("Nhỏ mắt", NOT_COVERED),
        ("Thuốc X", NO_INSURANCE_DATA)]


def test_a_drug_paid_at_a_rate_has_a_smaller_insured_base() -> None:
    rated = DrugInsurance(code="r", name="R", bhyt_code="40.1", registration_no="VD-1-1", insurance_price=1001,
                          bhyt_covered=True, bhyt_rate=50, tender="1/QĐ-BV;G1;N4;2025")
    [claimed], _ = claim_lines([line("r", 3)], {"r": rated})
    assert (claimed.amount, claimed.insured_base) == (3003, 1501)  # floor: the fund never gets the odd đồng


def test_a_drug_without_its_tender_is_not_claimed_and_a_bad_tender_is_named(tmp_path: Path) -> None:
    untendered = DrugInsurance(code="u", name="U", bhyt_code="40.1", registration_no="VD-1-1", insurance_price=100,
                               bhyt_covered=True)
    claimed, [left] = claim_lines([line("u", 3)], {"u": untendered})
    assert claimed == [] and left["reason"] == NO_INSURANCE_DATA and "thầu" in left["message"]
    (tmp_path / "drugs.toml").write_text('[[drugs]]\ncode = "x"\nname = "X"\ntender = "125/QĐ-BV G1 N4"\n',
                                         encoding="utf-8")
    with pytest.raises(DrugCatalogueError, match="tender"):
        load_drug_insurance(tmp_path)


def test_a_claimed_line_keeps_its_route_form_and_days() -> None:
    [claimed], _ = claim_lines([line("para-500", 10)], CATALOGUE)
    assert (claimed.route, claimed.days, claimed.drug.tender) == ("uống", 5, "125/QĐ-BV;G1;N4;2025")


def drug_split(amount: int, base: int, terms: Terms, share_cost: int) -> tuple[int, int]:
    [split] = split_lines([Line("d", "d", amount)], terms, RULES, items={"d": ItemPrice(covered=True,
                                                                                       insurance_price=base)},
                          share_cost=share_cost)
    return split.insurance_pays, split.patient_pays


@pytest.mark.parametrize(("level", "route", "share_cost", "insurer"), [
    (4, "in_route", 100_000, 10_000),  # the visit is a small bill: all of it
    (4, "in_route", 400_000, 8_000),  # above the limit: 80 %
    (3, "in_route", 400_000, 9_500),
    (1, "in_route", 400_000, 10_000),
    (5, "in_route", 400_000, 10_000),
    (4, "out_of_route", 100_000, 4_000),  # out of route since 2025-07-01: half of 80 %, never the small bill
])
def test_drugs_take_the_visits_share(level: int, route: str, share_cost: int, insurer: int) -> None:
    assert drug_split(10_000, 10_000, Terms(level, route, DAY), share_cost) == (insurer, 10_000 - insurer)  # type: ignore[arg-type]


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=100)),
                min_size=1, max_size=20),
       st.integers(min_value=1, max_value=5), st.sampled_from(["in_route", "out_of_route"]),
       st.integers(min_value=0, max_value=10**10))
def test_every_drug_line_adds_up(lines: list[tuple[int, int]], level: int, route: str, share_cost: int) -> None:
    amounts = [(amount, amount * rate // 100) for amount, rate in lines]
    items = {f"d{n}": ItemPrice(covered=True, insurance_price=base) for n, (_amount, base) in enumerate(amounts)}
    splits = split_lines([Line(f"d{n}", f"d{n}", amount) for n, (amount, _base) in enumerate(amounts)],
                         Terms(level, route, DAY), RULES, items=items, share_cost=share_cost)  # type: ignore[arg-type]
    for split, (amount, base) in zip(splits, amounts, strict=True):
        assert split.insurance_pays + split.patient_pays == amount
        assert 0 <= split.insurance_pays <= base  # the fund never pays past the insured base


def test_a_bad_catalogue_entry_is_named(tmp_path: Path) -> None:
    (tmp_path / "drugs.toml").write_text('[[drugs]]\ncode = "x"\nname = "X"\ninsurance_price = -1\n', encoding="utf-8")
    with pytest.raises(DrugCatalogueError, match="insurance_price"):
        load_drug_insurance(tmp_path)
    assert load_drug_insurance(tmp_path / "nowhere") == {}
