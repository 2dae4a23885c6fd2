"""The co-payment split: what insurance pays and what the patient pays on each bill line (pure).

For a visit on an accepted card, each line is worth `amount` (the fee-paying price). Insurance pays on the
insured base, min(insurance price, amount), of a covered item:
    share = benefit level share (in-route), × out-of-route percent (out of route),
            or 100 % when the visit's insured cost is below the small-bill limit (in-route only);
    insurance_pays = floor(base × share), whole VND; patient_pays = amount - insurance_pays.
Uncovered items, visits without an accepted card, and the part of a price above the insurance price are
the patient's. The one rounding rule (floor for the insurer) keeps insurer + patient == line exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from hub.domain.insurance.rules import InsuranceRules, ItemPrice

Route = Literal["in_route", "out_of_route"]
# Why a visit is in route: registered here, referred here (giấy chuyển tuyến), or an emergency.
IN_ROUTE_REASONS = ("registered_here", "referral", "emergency")


@dataclass(frozen=True)
class Line:
    key: str
    code: str  # service code (exam) or catalogue code (order)
    amount: int


@dataclass(frozen=True)
class Terms:
    """What the visit's accepted card gives: benefit level 1-5 and the route, on the visit's day."""

    benefit_level: int
    route: Route
    day: date


@dataclass(frozen=True)
class Split:
    key: str
    amount: int
    insurance_pays: int
    patient_pays: int
    covered: bool
    insured_base: int
    share_percent: int  # of the insured base, after route and small-bill rules (0 when not covered)

    def as_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "insurance_pays": self.insurance_pays, "patient_pays": self.patient_pays,
                "covered": self.covered, "insured_base": self.insured_base, "share_percent": self.share_percent}


def route_of(reason: str | None) -> Route:
    return "in_route" if reason in IN_ROUTE_REASONS else "out_of_route"


def visit_share(rules: InsuranceRules, terms: Terms, insured_cost: int) -> tuple[int, int, bool]:
    """(numerator, denominator, small_bill) of the share insurance pays for this visit."""
    if terms.route == "in_route":
        if insured_cost < rules.small_bill_limit(terms.day):
            return 100, 100, True
        return rules.level_share(terms.benefit_level, terms.day), 100, False
    return rules.level_share(terms.benefit_level, terms.day) * rules.out_of_route_percent(terms.day), 10_000, False


def split_lines(lines: Sequence[Line], terms: Terms | None, rules: InsuranceRules, *,
                items: Mapping[str, ItemPrice] | None = None, share_cost: int | None = None) -> list[Split]:
    """Each line split; `terms` None (no card accepted, fee-paying, not yet checked) means the patient pays all.

    `items` prices the lines instead of config/insurance.toml's [items] (the claim's drug lines, priced from
    the drug catalogue); `share_cost` is the visit's insured cost the small-bill rule is judged on when it
    is not these lines alone (drug lines take the share the rest of the visit was split with)."""
    for line in lines:
        if isinstance(line.amount, bool) or not isinstance(line.amount, int) or line.amount < 0:
            raise ValueError(f"line {line.key}: amount must be a whole, non-negative number of VND")
    if terms is None:
        return [Split(line.key, line.amount, 0, line.amount, False, 0, 0) for line in lines]
    bases = []
    for line in lines:
        item = items.get(line.code) if items is not None else rules.item(line.code)
        covered = item is not None and item.covered
        bases.append((line, covered, min(item.insurance_price, line.amount) if covered and item else 0))
    insured_cost = sum(base for _line, _c, base in bases) if share_cost is None else share_cost
    numerator, denominator, _small = visit_share(rules, terms, insured_cost)
    splits = []
    for line, covered, base in bases:
        insurer = base * numerator // denominator
        percent = numerator * 100 // denominator if covered else 0
        splits.append(Split(line.key, line.amount, insurer, line.amount - insurer, covered, base, percent))
    return splits


def totals(splits: Sequence[Split]) -> dict[str, int]:
    return {"amount": sum(s.amount for s in splits), "insurance_pays": sum(s.insurance_pays for s in splits),
            "patient_pays": sum(s.patient_pays for s in splits)}
