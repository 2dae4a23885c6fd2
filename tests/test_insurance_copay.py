"""BHYT co-payment rules as a table of cases, the dated rules, card codes, and a property test."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.common.errors import Invalid
from hub.domain.insurance.cards import coverage_from, parse_card_code
from hub.domain.insurance.copay import Line, Terms, route_of, split_lines, totals
from hub.domain.insurance.rules import InsuranceConfigError, InsuranceRules, load_rules

CONFIG = Path(__file__).resolve().parent.parent / "config"
DAY = date(2026, 12, 7)  # base salary 2,340,000: small-bill limit 351,000
RULES = load_rules(CONFIG)
# Exam (insurance price 42,100 < fee 150,000) and orders whose insured base is 348,200: just under the limit.
BIG = [Line("exam:kham-noi", "kham-noi", 150_000), Line("order:1", "xn-mo-mau", 160_000),
       Line("order:2", "sa-bung", 180_000), Line("order:3", "xq-nguc", 120_000), Line("order:4", "xn-ctm", 90_000),
       Line("order:5", "xn-glucose", 35_000), Line("order:6", "xn-glucose", 35_000)]
SMALL = [Line("exam:kham-noi", "kham-noi", 150_000), Line("order:1", "xn-ctm", 90_000)]


def test_real_config_loads_with_the_defaults_the_law_gives() -> None:
    assert [RULES.level_share(level, DAY) for level in range(1, 6)] == [100, 100, 95, 80, 100]
    assert RULES.small_bill_limit(DAY) == 351_000
    assert RULES.small_bill_limit(date(2024, 6, 30)) == 270_000  # 15 % of 1,800,000 before July 2024
    assert RULES.out_of_route_percent(date(2025, 6, 30)) == 0
    assert RULES.out_of_route_percent(date(2025, 7, 1)) == 50


def _big() -> list[Line]:
    # Pushed over 351,000 of insured cost with one more covered urine test (27,400): 375,600.
    return [*BIG, Line("order:7", "xn-nuoc-tieu", 45_000)]


@pytest.mark.parametrize(("level", "route", "lines", "insurer_exam", "case"), [
    (1, "registered_here", "big", 42_100, "level 1: 100 % of the insurance price"),
    (2, "referral", "big", 42_100, "level 2: 100 %"),
    (3, "emergency", "big", 39_995, "level 3: 95 % of 42,100 = 39,995"),
    (4, "registered_here", "big", 33_680, "level 4: 80 % of 42,100 = 33,680"),
    (5, "registered_here", "big", 42_100, "level 5: 100 %"),
    (4, "registered_here", "small", 42_100, "level 4, small bill: paid in full"),
    (3, "registered_here", "small", 42_100, "level 3, small bill: paid in full"),
    (4, None, "big", 16_840, "level 4 out of route after 2025-07-01: 50 % of 80 %"),
    (4, None, "small", 16_840, "out of route: the small-bill rule does not apply"),
    (3, None, "big", 19_997, "level 3 out of route: floor(42,100 × 95 % × 50 %) = 19,997"),
])
def test_split_by_level_route_and_small_bill(level: int, route: str | None, lines: str, insurer_exam: int,
                                             case: str) -> None:
    bill = _big() if lines == "big" else SMALL
    splits = split_lines(bill, Terms(level, route_of(route), DAY), RULES)
    exam = splits[0]
    assert exam.insurance_pays == insurer_exam, case
    assert exam.patient_pays == 150_000 - insurer_exam  # the price above the insurance price is the patient's
    for split in splits:
        assert split.insurance_pays + split.patient_pays == split.amount


def test_out_of_route_before_2025_is_not_paid_at_all() -> None:
    splits = split_lines(_big(), Terms(1, "out_of_route", date(2025, 1, 10)), RULES)
    assert totals(splits)["insurance_pays"] == 0


def test_uncovered_line_is_the_patients_and_no_card_means_the_patient_pays_all() -> None:
    bill = [*SMALL, Line("order:9", "ecg", 60_000), Line("order:10", "unknown-item", 10_000)]
    splits = split_lines(bill, Terms(1, "in_route", DAY), RULES)
    assert [(s.covered, s.insurance_pays) for s in splits[2:]] == [(False, 0), (False, 0)]
    assert totals(splits) == {"amount": 310_000, "insurance_pays": 42_100 + 46_200,
                              "patient_pays": 310_000 - 88_300}
    assert totals(split_lines(bill, None, RULES))["insurance_pays"] == 0


def test_insurance_price_above_the_fee_pays_only_the_fee() -> None:
    splits = split_lines([Line("exam:kham-noi", "kham-noi", 30_000)], Terms(1, "in_route", DAY), RULES)
    assert (splits[0].insured_base, splits[0].insurance_pays, splits[0].patient_pays) == (30_000, 30_000, 0)


def test_small_bill_limit_is_strictly_below() -> None:
    # Exactly at the limit is not "below": the level share applies.
    rules = RULES.model_copy(update={"items": {"x": RULES.items["xn-ctm"].model_copy(
        update={"insurance_price": 351_000})}})
    at_limit = split_lines([Line("a", "x", 351_000)], Terms(4, "in_route", DAY), rules)
    below = split_lines([Line("a", "x", 350_999)], Terms(4, "in_route", DAY), rules)
    assert at_limit[0].insurance_pays == 351_000 * 80 // 100
    assert below[0].insurance_pays == 350_999


def test_a_change_of_law_applies_from_its_day() -> None:
    raw = RULES.model_dump()
    raw["benefit_levels"].append({"effective_from": date(2027, 1, 1), "regulation": "hypothetical decree",
                                  "shares": {"1": 100, "2": 100, "3": 90, "4": 70, "5": 100}})
    rules = InsuranceRules.model_validate(raw)
    assert rules.level_share(4, date(2026, 12, 31)) == 80
    assert rules.level_share(4, date(2027, 1, 1)) == 70


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "insurance.toml").write_text(
        'facility_code = "01001"\n[[benefit_levels]]\neffective_from = 2015-01-01\nregulation = "x law"\n'
        'shares = { "1" = 100 }\n[[base_salary]]\neffective_from = 2024-07-01\namount = 2340000\nregulation = "y"\n')
    with pytest.raises(InsuranceConfigError, match=r"benefit_levels\.0\.shares"):
        load_rules(tmp_path)


amounts = st.lists(st.tuples(st.sampled_from([*sorted(RULES.items), "not-in-list"]),
                             st.integers(min_value=0, max_value=50_000_000)), min_size=0, max_size=12)


@given(amounts, st.integers(min_value=1, max_value=5), st.sampled_from(["in_route", "out_of_route"]),
       st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31)))
def test_insurer_plus_patient_is_always_the_line(lines: list[tuple[str, int]], level: int, route: str,
                                                 day: date) -> None:
    bill = [Line(f"k{i}", code, amount) for i, (code, amount) in enumerate(lines)]
    splits = split_lines(bill, Terms(level, route, day), RULES)  # type: ignore[arg-type]
    for line, split in zip(bill, splits, strict=True):
        assert isinstance(split.insurance_pays, int) and isinstance(split.patient_pays, int)
        assert split.insurance_pays + split.patient_pays == line.amount
        assert 0 <= split.insurance_pays <= split.insured_base <= line.amount
    total = totals(splits)
    assert total["insurance_pays"] + total["patient_pays"] == sum(line.amount for line in bill)


@pytest.mark.parametrize(("code", "message"), [
    ("DN40101234567", "15 ký tự"),
    ("1N4010123456789", "beneficiary group"),
    ("DN6010123456789", "benefit level"),
    ("DN4AB0123456789", "province"),
    ("DN401012345678X", "social-insurance"),
])
def test_card_code_errors_say_which_part_is_wrong(code: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_card_code(code)


def test_card_code_parts_and_coverage_checks() -> None:
    card = parse_card_code("dn 4 01 0123456789")
    assert (card.code, card.group, card.benefit_level, card.province, card.social_insurance_no) == (
        "DN4010123456789", "DN", 4, "01", "0123456789")
    coverage = coverage_from({"card_code": "DN4010123456789", "valid_from": "2026-01-01",
                              "valid_to": "2026-12-31", "facility_code": "01001"})
    assert coverage.benefit_level == 4 and coverage.valid_on(DAY) and not coverage.valid_on(date(2027, 1, 1))
    assert coverage_from({"national_id": "001085012345", "benefit_level": 3, "valid_from": "2026-01-01",
                          "valid_to": "2026-12-31", "facility_code": "01001"}).card_code is None
    for values, code in [({"valid_from": "2026-01-01"}, "card_required"),
                         ({"card_code": "DN4010123456789", "valid_from": "2026-02-01", "valid_to": "2026-01-01",
                           "facility_code": "01001"}, "bad_dates"),
                         ({"card_code": "DN4010123456789", "valid_from": "2026-01-01", "valid_to": "2026-13-01",
                           "facility_code": "01001"}, "bad_date"),
                         ({"card_code": "DN4010123456789", "valid_from": "2026-01-01", "valid_to": "2026-12-01",
                           "facility_code": "1001"}, "bad_facility_code"),
                         ({"national_id": "12345", "valid_from": "2026-01-01", "valid_to": "2026-12-01",
                           "facility_code": "01001"}, "bad_national_id")]:
        with pytest.raises(Invalid) as raised:
            coverage_from(values)
        assert raised.value.code == code


def test_payer_lines_must_be_services(tmp_path: Path) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from hub.domain.common.clock import VirtualClock
    from hub.domain.common.events import EventBus
    from hub.domain.insurance.service import insurance_from_config

    text = (CONFIG / "insurance.toml").read_text(encoding="utf-8").replace('insured = ""', 'insured = "khong-co"')
    (tmp_path / "insurance.toml").write_text(text, encoding="utf-8")
    clock = VirtualClock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"lines\.insured"):
        insurance_from_config(tmp_path, None, clock, EventBus(), ZoneInfo("Asia/Ho_Chi_Minh"), {},  # type: ignore[arg-type]
                              {"kham-noi"})
    assert insurance_from_config(tmp_path / "none", None, clock, EventBus(), ZoneInfo("Asia/Ho_Chi_Minh"),  # type: ignore[arg-type]
                                 {}) is None
