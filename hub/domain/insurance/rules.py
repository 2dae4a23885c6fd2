"""config/insurance.toml read and checked: dated rules, item prices, the gateway and the payer lines.

Every rule is a list of entries with `effective_from`; `in_force(entries, day)` picks the one that applies.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_FILE = "insurance.toml"
Percent = Annotated[int, Field(ge=0, le=100)]
# MA_KHOA: a code of the national list of departments ("K01" Khoa Khám bệnh...), ".n" for a part of one.
DepartmentCode = Annotated[str, Field(pattern=r"^K\d{2}(\.\d{1,3})?$")]
# DUONG_DUNG is "Chuỗi(4)" in Bảng 2 of Decision 130/QĐ-BYT: a code of the national route list ("1.01").
RouteCode = Annotated[str, Field(pattern=r"^\d{1,2}(\.\d{1,2})?$", max_length=4)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Dated(_Strict):
    effective_from: date
    regulation: Annotated[str, Field(min_length=3)]


class BenefitLevels(_Dated):
    shares: dict[str, Percent]

    @field_validator("shares")
    @classmethod
    def _five_levels(cls, shares: dict[str, int]) -> dict[str, int]:
        if sorted(shares) != ["1", "2", "3", "4", "5"]:
            raise ValueError("shares needs exactly the levels \"1\" to \"5\"")
        return shares


class BaseSalary(_Dated):
    amount: Annotated[int, Field(gt=0)]


class SmallBill(_Dated):
    percent_of_base_salary: Percent


class OutOfRoute(_Dated):
    outpatient_percent: Percent


class ItemPrice(_Strict):
    covered: bool
    insurance_price: Annotated[int, Field(ge=0)]


class GatewaySettings(_Strict):
    kind: Literal["simulated", "portal"] = "simulated"
    cards_file: str = "insurance_cards.toml"
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5
    # At arrival (the kiosk's scan, a ticket being issued) the patient is standing there, and the kiosk
    # gives up on the hub after 4 s: a slower answer waits for the re-check instead ("not yet checked").
    arrival_timeout_s: Annotated[float, Field(gt=0, le=3)] = 2
    recheck_every_s: Annotated[float, Field(gt=0)] = 120
    base_url: str = ""
    username: str = ""
    password_env: str = "CLINICQ_BHYT_PASSWORD"


class ClaimSettings(_Strict):
    export_at: Annotated[str, Field(pattern=r"^\d{2}:\d{2}$")] = "22:00"  # site time, every day


class PayerLines(_Strict):
    insured: str = ""
    fee_paying: str = ""


class _HasDate(Protocol):
    effective_from: date


D = TypeVar("D", bound=_HasDate)


def in_force(entries: list[D], day: date) -> D | None:
    """The newest entry whose effective_from is on or before `day`."""
    current = [entry for entry in entries if entry.effective_from <= day]
    return max(current, key=lambda entry: entry.effective_from) if current else None


class InsuranceRules(_Strict):
    facility_code: Annotated[str, Field(pattern=r"^\d{5}$")]
    facility_name: str = ""
    gateway: GatewaySettings = GatewaySettings()
    lines: PayerLines = PayerLines()
    claims: ClaimSettings = ClaimSettings()
    benefit_levels: Annotated[list[BenefitLevels], Field(min_length=1)]
    base_salary: Annotated[list[BaseSalary], Field(min_length=1)]
    small_bill: list[SmallBill] = []
    out_of_route: list[OutOfRoute] = []
    items: dict[str, ItemPrice] = {}
    departments: dict[str, DepartmentCode] = {}  # service code (clinic.toml) -> MA_KHOA
    route_codes: dict[str, RouteCode] = {}  # a prescription line's route ("uống") -> DUONG_DUNG
    source_dir: str = ""  # where the file was read from (for the simulated gateway's cards file)

    @model_validator(mode="after")
    def _unique_dates(self) -> InsuranceRules:
        for name in ("benefit_levels", "base_salary", "small_bill", "out_of_route"):
            days = [entry.effective_from for entry in getattr(self, name)]
            if len(days) != len(set(days)):
                raise ValueError(f"{name}: two entries with the same effective_from")
        return self

    def level_share(self, level: int, day: date) -> int:
        entry = in_force(self.benefit_levels, day)
        if entry is None:
            raise LookupError(f"no benefit_levels entry in force on {day}")
        return entry.shares[str(level)]

    def small_bill_limit(self, day: date) -> int:
        """Below this insured cost (VND) a visit is paid in full; 0 when no rule is in force."""
        rule, salary = in_force(self.small_bill, day), in_force(self.base_salary, day)
        if rule is None or salary is None:
            return 0
        return salary.amount * rule.percent_of_base_salary // 100

    def out_of_route_percent(self, day: date) -> int:
        entry = in_force(self.out_of_route, day)
        return entry.outpatient_percent if entry is not None else 0

    def item(self, code: str) -> ItemPrice | None:
        return self.items.get(code)

    def department(self, service: str | None) -> str | None:
        return self.departments.get(service) if service else None

    def route_code(self, route: str) -> str:
        """DUONG_DUNG: the route's national code when configured, else the route as written."""
        text = " ".join(route.split())
        return self.route_codes.get(text.lower(), text)


class InsuranceConfigError(ValueError):
    pass


def load_rules(config_dir: Path | str) -> InsuranceRules:
    """Read config/insurance.toml; a wrong key or value raises InsuranceConfigError naming it."""
    path = Path(config_dir) / CONFIG_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InsuranceConfigError(f"{path}: missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise InsuranceConfigError(f"{path}: {exc}") from None
    try:
        return InsuranceRules.model_validate({**raw, "source_dir": str(path.parent)})
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise InsuranceConfigError(f"{path}:\n  " + "\n  ".join(problems)) from None
