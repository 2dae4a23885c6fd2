"""Scenario files for `clinicq simulate`: what a simulated clinic day looks like (docs/simulation.md).

A scenario names the clinic (a config directory, or services and counters written inline), when and
where patients arrive, who they are, how long they take, and how the staff work. Everything is
validated before the day starts, and an error names the file, the key and what was expected.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date as Date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.config import CODE_PATTERN, PROJECT_CONFIG_DIR, ClinicConfig, ConfigError, explain_error, load_config

Code = Annotated[str, Field(pattern=CODE_PATTERN)]
Share = Annotated[float, Field(ge=0, le=1)]
DEFAULT_DAY = Date(2026, 11, 23)  # a Monday


class ScenarioError(Exception):
    """The scenario cannot be run; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def clock_minutes(value: str) -> float:
    """'07:30' -> 450.0 (minutes after local midnight)."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
    hour, minute = (int(match.group(1)), int(match.group(2))) if match else (99, 99)
    if hour > 24 or minute > 59 or (hour == 24 and minute > 0):
        raise ValueError(f"expected a time of day like '07:30', got {value!r}")
    return int(match.group(1)) * 60.0 + int(match.group(2))


def span_minutes(value: str) -> tuple[float, float]:
    """'11:30-13:30' -> (690.0, 810.0)."""
    parts = value.split("-")
    if len(parts) != 2:
        raise ValueError(f"expected a range like '07:00-11:30', got {value!r}")
    start, end = clock_minutes(parts[0]), clock_minutes(parts[1])
    if end <= start:
        raise ValueError(f"the range {value!r} ends before it starts")
    return start, end


def _check_spans(spans: list[str] | None) -> list[str] | None:
    previous_end = -1.0
    for item in spans or []:
        start, end = span_minutes(item)
        if start < previous_end:
            raise ValueError(f"{item!r} overlaps or precedes the range before it (list them in order)")
        previous_end = end
    return spans


class Minutes(_Strict):
    """A lognormal duration given by its mean and standard deviation in minutes."""

    mean: float = Field(gt=0, le=600)
    sd: float = Field(ge=0, le=600)


class InlineService(_Strict):
    code: Code
    name: str | None = None
    name_en: str | None = None
    kind: Literal["reception", "exam", "lab", "imaging", "cashier", "pharmacy"] = "exam"
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$")
    minutes: Minutes  # what the clinic configures: the engine's prior, not necessarily the truth
    counters: int = Field(1, ge=0, le=200)  # 0: served only by shared counters
    hours: list[str] | None = None  # None: the clinic's opening hours

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str] | None) -> list[str] | None:
        return _check_spans(value)


class SharedCounter(_Strict):
    """A counter serving several services, in the order given (the first has precedence)."""

    code: Code
    name: str | None = None
    services: list[Code] = Field(min_length=1)
    hours: list[str] | None = None

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str] | None) -> list[str] | None:
        return _check_spans(value)


class InlineClinic(_Strict):
    """A clinic written in the scenario: each service gets `counters` rooms named <code>-1, <code>-2..."""

    name: str = "Bệnh viện mô phỏng"
    name_en: str = "Simulated hospital"
    opening_hours: list[str] = ["07:00-11:30", "13:30-16:30"]
    services: list[InlineService] = Field(min_length=1)
    shared_counters: list[SharedCounter] = []

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        return _check_spans(value) or []


class Coach(_Strict):
    """A group arriving together (a coach from a factory health check, a commune's elderly)."""

    at: str
    service: str
    patients: int = Field(ge=1, le=2000)
    within_minutes: float = Field(10.0, gt=0, le=120)  # they step off and reach the kiosks over this time

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        clock_minutes(value)
        return value


class Arrivals(_Strict):
    """Patients arriving per hour, for each service they come for (their first exam)."""

    start: str = "06:30"  # the first hour slot begins here
    # The shape of the day (relative weights per hour slot) for services given as a daily total.
    curve: list[Annotated[float, Field(ge=0)]] | None = None
    services: dict[str, float | list[Annotated[float, Field(ge=0)]]] = Field(min_length=1)
    coaches: list[Coach] = []

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        clock_minutes(value)
        return value

    @model_validator(mode="after")
    def _curve_when_totals(self) -> Arrivals:
        totals = [code for code, plan in self.services.items() if not isinstance(plan, list)]
        if totals and not self.curve:
            raise ValueError(f"services {totals} give a daily total: a curve (weights per hour) is needed")
        if self.curve is not None and sum(self.curve) <= 0:
            raise ValueError("curve: at least one hour needs a positive weight")
        return self

    def per_hour(self, service: str) -> list[float]:
        """Expected arrivals in each hour slot from `start`."""
        plan = self.services[service]
        if isinstance(plan, list):
            return list(plan)
        assert self.curve is not None
        total = sum(self.curve)
        return [plan * weight / total for weight in self.curve]


class Patients(_Strict):
    priority_mix: dict[str, Share] = {}  # share of visits per priority class; the rest are "normal"
    priority_mix_by_service: dict[str, dict[str, Share]] = {}  # replaces the mix for those services
    no_show_share: Share = 0.05  # first tickets whose patient is gone when called
    later_no_show_share: Share = 0.01  # the same for later tickets of a visit (lab, cashier...)
    recall_interval_minutes: float = Field(1.0, gt=0, le=30)  # staff recall an absent patient this often
    walk_minutes: Minutes = Minutes(mean=1.0, sd=0.6)  # from the call to the patient at the counter

    @field_validator("priority_mix")
    @classmethod
    def _mix(cls, value: dict[str, float]) -> dict[str, float]:
        if sum(value.values()) > 1:
            raise ValueError(f"the shares add up to {sum(value.values()):.2f}, more than 1")
        return value


class CounterPlan(_Strict):
    shifts: list[str] | None = None
    pace: float | None = Field(None, gt=0.2, le=5)  # multiplies the service times at this counter

    @field_validator("shifts")
    @classmethod
    def _shifts(cls, value: list[str] | None) -> list[str] | None:
        return _check_spans(value)


class Reserve(_Strict):
    """A room the manager can open for other services when the advisor asks ("room 104 can take Khám Nhi
    from 09:00"). It is a counter of the clinic under every practice; only the advisor practice opens it."""

    code: Code
    name: str | None = None
    services: list[Code] = Field(min_length=1)  # in the order the room takes them
    hours: list[str] = Field(min_length=1)  # when its staff are free to open it
    pace: float | None = Field(None, gt=0.2, le=5)  # None: drawn like any counter's (its own stream)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        return _check_spans(value) or []


class Staff(_Strict):
    shifts: list[str] | None = None  # None: each counter's hours from the clinic configuration
    start_delay_minutes: Minutes = Minutes(mean=3.0, sd=3.0)  # staff open a little after the hour
    pauses_per_hour: float = Field(0.0, ge=0, le=10)  # short unplanned pauses (phone, toilet)
    pause_minutes: Minutes = Minutes(mean=5.0, sd=3.0)
    pace_sd: float = Field(0.1, ge=0, le=1)  # spread of speed between counters (1.0 = average)
    reaction_minutes: float = Field(0.3, ge=0, le=10)  # from a beep to the "next" key
    overtime: bool = True  # after the last shift, serve everyone who already holds a number
    counters: dict[str, CounterPlan] = {}
    reserve: list[Reserve] = []
    advisor_every_minutes: float = Field(5.0, gt=0, le=60)  # how often the manager looks at the advice
    manager_delay_minutes: float = Field(10.0, ge=0, le=120)  # from the advice to the room open (or nudge)

    @field_validator("shifts")
    @classmethod
    def _shifts(cls, value: list[str] | None) -> list[str] | None:
        return _check_spans(value)


class Flow(_Strict):
    """Where a visit goes besides its exam: reception before, lab/imaging and back, cashier, pharmacy."""

    reception: str | None = None
    reception_share: Share = 1.0
    lab_share: Share = 0.0
    lab_services: dict[str, Annotated[float, Field(gt=0)]] = {}  # weights
    # After the first test, the chance of each further one (another of lab_services, in the order written).
    extra_test_share: Share = 0.0
    # Minutes from the end of a test until its result is ready; the patient goes back to the doctor only
    # when every result is (a lab run, a radiologist's report). Default: at once.
    result_minutes: dict[str, Annotated[float, Field(ge=0, le=600)]] = {}
    cashier: str | None = None
    cashier_share: Share = 0.0
    pharmacy: str | None = None
    pharmacy_share: Share = 0.0
    return_work_factor: float = Field(0.6, gt=0, le=3)  # the consultation with results is shorter
    # Catalogue constraints on a test service (routing.py): fasting samples first, contrast after bloods.
    constraints: dict[str, Literal["fasting", "contrast"]] = {}

    @model_validator(mode="after")
    def _lab(self) -> Flow:
        if self.lab_share > 0 and not self.lab_services:
            raise ValueError("lab_share > 0 needs lab_services (service code = weight)")
        return self


class Scenario(_Strict):
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    date: Date = DEFAULT_DAY
    config: str | None = None  # a clinic config directory, relative to the scenario file
    clinic: InlineClinic | None = None
    arrivals: Arrivals
    service_times: dict[str, Minutes] = {}  # the real durations; default: the clinic's configured minutes
    patients: Patients = Patients()
    staff: Staff = Staff()
    flow: Flow = Flow()

    @model_validator(mode="after")
    def _one_clinic(self) -> Scenario:
        if self.config is not None and self.clinic is not None:
            raise ValueError("give either config (a directory) or an inline [clinic], not both")
        return self


def inline_clinic_config(clinic: InlineClinic, base: ClinicConfig) -> ClinicConfig:
    """A ClinicConfig from inline services; site, policy and priority classes come from `base`."""
    services, counters = [], []
    for service in clinic.services:
        name = service.name or service.code
        services.append({
            "code": service.code, "name": name, "name_en": service.name_en or name, "kind": service.kind,
            "prefix": service.prefix, "service_minutes": service.minutes.model_dump()})
        for number in range(1, service.counters + 1):
            counters.append({
                "code": f"{service.code}-{number}", "name": f"{name} {number}",
                "name_en": f"{service.name_en or name} {number}", "zone": "main",
                "services": [service.code], "hours": service.hours})
    for shared in clinic.shared_counters:
        counters.append({"code": shared.code, "name": shared.name or shared.code, "name_en": shared.name or shared.code,
                         "zone": "main", "services": shared.services, "hours": shared.hours})
    site = {**base.site.model_dump(), "name": clinic.name, "name_en": clinic.name_en,
            "opening_hours": clinic.opening_hours}
    # Settings and priority classes carry over; lists such as devices, displays or doctors name the
    # base clinic's counters and services, which the inline clinic does not have.
    kept = {key: value for key, value in base.model_dump().items()
            if key == "priority_classes" or not isinstance(value, list)}
    return ClinicConfig.model_validate({**kept, "site": site, "services": services, "counters": counters})


def with_reserve(scenario: Scenario, clinic: ClinicConfig) -> ClinicConfig:
    """The clinic with the scenario's reserve rooms as counters (closed until a manager opens one)."""
    counters = [c.model_dump() for c in clinic.counters]
    known = {c["code"] for c in counters}
    for room in scenario.staff.reserve:
        if room.code in known:
            raise ScenarioError(f"staff.reserve.{room.code}: the clinic already has a counter of that code")
        unknown = [code for code in room.services if clinic.service(code) is None]
        if unknown:
            raise ScenarioError(f"staff.reserve.{room.code}: unknown services {unknown}")
        # The zone of a counter that serves its first service: the room is where those patients wait.
        zone = next((c["zone"] for c in counters if room.services[0] in c["services"]), counters[0]["zone"])
        name = room.name or room.code
        counters.append({"code": room.code, "name": name, "name_en": name, "zone": zone,
                         "services": list(room.services), "hours": list(room.hours)})
    return ClinicConfig.model_validate({**clinic.model_dump(), "counters": counters})


def load_scenario(path: Path | str) -> tuple[Scenario, ClinicConfig]:
    """Read and check a scenario file and the clinic it runs on."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw: dict[str, Any] = tomllib.load(handle)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(_describe(path, exc)) from None
    try:
        base_dir = (path.parent / scenario.config).resolve() if scenario.config else PROJECT_CONFIG_DIR
        clinic = load_config(base_dir, env={})
        if scenario.clinic is not None:
            clinic = inline_clinic_config(scenario.clinic, clinic)
        if scenario.staff.reserve:
            clinic = with_reserve(scenario, clinic)
    except ConfigError as exc:
        raise ScenarioError(f"{path}: the clinic configuration is not usable:\n{exc}") from None
    except ValidationError as exc:
        raise ScenarioError(_describe(path, exc, prefix="clinic")) from None
    problems = cross_check(scenario, clinic)
    if problems:
        raise ScenarioError("\n".join([f"scenario {path} is not valid:"] + [f"  {path}: {p}" for p in problems]))
    return scenario, clinic


def cross_check(scenario: Scenario, clinic: ClinicConfig) -> list[str]:
    """What the scenario names that the clinic does not have, as readable lines."""
    services = sorted(s.code for s in clinic.services)
    classes = sorted(c.code for c in clinic.priority_classes)
    counters = sorted(c.code for c in clinic.counters)
    problems = []

    def service(key: str, code: str | None) -> None:
        if code is not None and clinic.service(code) is None:
            problems.append(f"{key}: unknown service {code!r} (expected one of {services})")

    for code in scenario.arrivals.services:
        service(f"arrivals.services.{code}", code)
    for index, coach in enumerate(scenario.arrivals.coaches):
        service(f"arrivals.coaches[{index}].service", coach.service)
    for code in scenario.service_times:
        service(f"service_times.{code}", code)
    for code in scenario.patients.priority_mix_by_service:
        service(f"patients.priority_mix_by_service.{code}", code)
    service("flow.reception", scenario.flow.reception)
    service("flow.cashier", scenario.flow.cashier)
    service("flow.pharmacy", scenario.flow.pharmacy)
    for code in scenario.flow.lab_services:
        service(f"flow.lab_services.{code}", code)
    for code in scenario.flow.result_minutes:
        service(f"flow.result_minutes.{code}", code)
    for code in scenario.flow.constraints:
        service(f"flow.constraints.{code}", code)
    mixes = [("patients.priority_mix", scenario.patients.priority_mix)] + [
        (f"patients.priority_mix_by_service.{code}", mix)
        for code, mix in scenario.patients.priority_mix_by_service.items()]
    for key, mix in mixes:
        for klass in mix:
            if clinic.priority(klass) is None:
                problems.append(f"{key}.{klass}: unknown priority class (expected one of {classes})")
            elif klass == "normal":
                problems.append(f"{key}.normal: leave it out, normal is what the other shares leave")
        if sum(mix.values()) > 1:
            problems.append(f"{key}: the shares add up to {sum(mix.values()):.2f}, more than 1")
    if scenario.flow.lab_share > 0 and clinic.priority("returning") is None:
        problems.append("flow.lab_share: the clinic needs a priority class 'returning' for patients coming back")
    for code in scenario.staff.counters:
        if clinic.counter(code) is None:
            problems.append(f"staff.counters.{code}: unknown counter (expected one of {counters})")
    used = set(scenario.arrivals.services) | set(scenario.flow.lab_services)
    used |= {coach.service for coach in scenario.arrivals.coaches}
    used |= {s for s in (scenario.flow.reception, scenario.flow.cashier, scenario.flow.pharmacy) if s}
    for code in sorted(used):
        if clinic.service(code) and not any(code in c.services for c in clinic.counters):
            problems.append(f"service {code!r}: no counter serves it, its patients would wait forever")
    return problems


def _describe(path: Path, exc: ValidationError, prefix: str = "") -> str:
    lines = [f"scenario {path} is not valid:"]
    for error in exc.errors():
        parts = ([prefix] if prefix else []) + [str(part) for part in error["loc"]]
        key = ".".join(parts) or "(top level)"
        lines.append(f"  {key}: {explain_error(error)}")
    return "\n".join(lines)
