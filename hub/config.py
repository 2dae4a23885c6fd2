"""Load and validate the clinic configuration (config/*.toml) with environment overrides.

A wrong key or value stops the hub with a message naming the file, the key and what was expected:
a hospital's IT staff edit these files by hand, often in a hurry before opening hours.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.domain.notifications.settings import NotificationSettings, SchedulerSettings

CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,31}$"
Code = Annotated[str, Field(pattern=CODE_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=120)]

SERVICE_KINDS = ("reception", "exam", "lab", "imaging", "cashier", "pharmacy")
PROJECT_CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
CONFIG_FILES = ("site.toml", "clinic.toml")
OPTIONAL_CONFIG_FILES = ("devices.toml", "displays.toml", "doctors.toml", "catalogue.toml", "icd10.toml",
                         "notifications.toml", "drugs.toml")
ENV_OVERRIDES = {
    "CLINICQ_DATABASE_URL": "database_url",
    "CLINICQ_MQTT_URL": "mqtt_url",
    "CLINICQ_SECRET_KEY": "secret_key",
    "CLINICQ_PORT": "port",
    "CLINICQ_MQTT_PASSWORD": "mqtt_password",
    "CLINICQ_BROKER_FILES_DIR": "broker_files_dir",
    "CLINICQ_BROKER_PID_FILE": "broker_pid_file",
}


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_hours(value: str) -> tuple[time, time]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})", value)
    if not match:
        raise ValueError(f"expected a range like '07:00-11:30', got {value!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError(f"not a time of day in {value!r}")
    start, end = time(h1, m1), time(min(h2, 23), m2 if h2 < 24 else 59)
    if end <= start:
        raise ValueError(f"the range {value!r} ends before it starts")
    return start, end


class Site(_Strict):
    id: Code
    name: Text
    name_en: Text
    timezone: str = "Asia/Ho_Chi_Minh"
    language: Literal["vi", "en"] = "vi"
    opening_hours: list[str] = ["07:00-11:30", "13:30-16:30"]
    # Weekdays the whole site is closed (no slots, no reminders for them, closed on the portal).
    closed_weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = []
    public_url: str = "http://127.0.0.1:8000"
    # The header of clinical prints (prescription, result sheet, visit summary).
    parent_body: Text | None = None  # "Sở Y tế Hòa Bình"
    address: Text | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"expected an IANA time zone such as 'Asia/Ho_Chi_Minh', got {value!r}") from None
        return value

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for item in value:
            _parse_hours(item)
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class HubSettings(_Strict):
    port: int = Field(8000, ge=1, le=65535)
    database_url: str = ""
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str = "clinicq-hub"
    mqtt_password: str = ""  # the hub's own broker login; `clinicq mqtt-acl` writes it into the password file
    # Retired: the embedded broker is never a fallback any more (set mqtt_url = "embedded" instead);
    # the key is still read so older site.toml files load, and `true` only logs a warning.
    embedded_broker: bool = False
    secret_key: str = ""
    # Behind HTTPS (a TLS proxy), mark the staff session cookie Secure so browsers never send it over HTTP.
    session_cookie_secure: bool = False
    # Where the hub keeps Mosquitto's password and ACL files current as devices are added, moved and
    # retired ("" = only `clinicq mqtt-acl` writes them); the broker reloads them on SIGHUP, sent to the
    # pid in broker_pid_file (Mosquitto's own pid_file) when set.
    broker_files_dir: str = ""
    broker_pid_file: str = ""

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        if value in ("off", "none"):
            return ""  # no broker: the hub serves web clients only
        if value == "embedded" or re.fullmatch(r"embedded://(127\.0\.0\.1|localhost):\d{1,5}/?", value):
            return value  # amqtt as a child on loopback, its own port (hub/broker.py)
        if value and not re.fullmatch(r"mqtts?://[^/:]+(:\d{1,5})?/?", value):
            raise ValueError(f"expected mqtt://HOST:PORT, embedded or off, got {value!r}")
        return value


class QueuePolicy(_Strict):
    recalls_before_no_show: int = Field(2, ge=0, le=10)
    late_return_behind: int = Field(3, ge=0, le=100)
    max_consecutive_priority: int = Field(3, ge=1, le=100)
    starvation_minutes: float = Field(30, gt=0, le=600)
    call_ttl_s: int = Field(120, ge=5, le=3600)
    last_calls_on_board: int = Field(6, ge=1, le=50)


class EstimateSettings(_Strict):
    history_minutes: float = Field(60, gt=0, le=600)
    expected_break_minutes: float = Field(10, ge=0, le=240)
    p90_scale: float = Field(1.0, gt=0, le=5)
    # Learn the P90's width online from observed waits, per service (hub/domain/queue/calibration.py).
    p90_calibration: bool = True
    p90_target: float = Field(0.9, ge=0.5, le=0.99)  # share of waits the P90 should cover
    calibration_rate: float = Field(0.25, gt=0, le=0.5)


class AnnounceSettings(_Strict):
    """How the hub words a call for the speakers (the speakers choose voice, chime and volume)."""

    repeat: int = Field(2, ge=1, le=5)
    style: Literal["north", "south"] = "north"
    number_reading: Literal["number", "digits"] = "number"
    english: bool = False  # also send the English wording after the Vietnamese


class ServiceMinutes(_Strict):
    mean: float = Field(gt=0, le=240)
    sd: float = Field(gt=0, le=240)


class ServiceConfig(_Strict):
    code: Code
    name: Text
    name_en: Text
    kind: Literal["reception", "exam", "lab", "imaging", "cashier", "pharmacy"]
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$")
    fee: int = Field(0, ge=0, le=1_000_000_000)
    service_minutes: ServiceMinutes
    # Whether a ticket here may stay without an identified patient (no clinical record is kept there).
    # None: yes for reception/information, the cashier and pharmacy pickup; no for exam, lab, imaging.
    anonymous_allowed: bool | None = None


class CounterConfig(_Strict):
    code: Code
    name: Text
    name_en: Text
    zone: Code
    services: list[Code] = Field(min_length=1)
    hours: list[str] | None = None  # None: the site's opening hours
    # The printer device for slips printed here (order slips, "return to the doctor"); None: none.
    # Its connection (network:HOST[:PORT], usb:, serial:, file:) is in devices.toml [printers].
    printer: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None
    floor: Text | None = None  # printed on slips: "Tầng 2"
    floor_en: Text | None = None
    speaker_zone: Code | None = None  # whose speakers call for it; None: the speakers of its zone

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            _parse_hours(item)
        return value


class PriorityClass(_Strict):
    code: Code
    name: Text
    name_en: Text
    head_start_minutes: float = Field(ge=0, le=10_000)
    overrides_service_order: bool = False  # called first at a counter whatever service it is in
    kiosk: bool = False


class DisplayConfig(_Strict):
    """A waiting-room TV board: which counters and services it shows, and how."""

    id: Code
    name: Text
    zones: list[Code] = []  # empty: every zone
    counters: list[Code] | None = None  # None: the counters of its zones
    services: list[Code] | None = None  # None: the services those counters serve
    layout: Literal["landscape", "portrait"] = "landscape"
    language: Literal["vi", "en", "vi+en"] = "vi+en"
    show_initials: bool = False  # masked initials next to numbers ("N.V.A"); names never
    notice: str = Field("", max_length=500)
    # More counters than fit at a readable size: "page" turns through them, "calls" shows only the
    # last calls and the next numbers.
    many_counters: Literal["page", "calls"] = "page"
    page_seconds: int = Field(10, ge=3, le=120)  # how long each page of counters or services stays


class DeviceConfig(_Strict):
    """A device on the MQTT bus (kiosk, board, speaker, keypad, LED display, printer)."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    type: Literal["kiosk", "board", "speaker", "keypad", "led", "printer"]
    name: Text
    zone: Code | None = None
    counter: Code | None = None  # keypads and LED displays belong to a counter
    display: Code | None = None  # a board device shows this display's page
    # Demo and test fleets only: production devices get generated secrets (`clinicq device add`).
    secret: Annotated[str, Field(min_length=8, max_length=128)] | None = None


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Holiday(_Strict):
    """A date the whole site is closed (Tết, national holidays, a day the hospital decides)."""

    day: date
    name: Text
    name_en: Annotated[str, Field(max_length=120)] = ""


class ScheduleBlock(_Strict):
    """Weekly working hours of a doctor, cut into bookable slots."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(min_length=1)
    hours: list[str] = Field(min_length=1)
    slot_minutes: int = Field(ge=5, le=240)
    capacity: int = Field(ge=1, le=50)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        for item in value:
            _parse_hours(item)
        return value

    def intervals(self) -> list[tuple[time, time]]:
        return [_parse_hours(h) for h in self.hours]


# "000123/HNO-CCHN", "001234/BYT-GPHN": a number, "/", the issuer (BYT, a province's Sở Y tế: HNO, HCM, ĐNA...),
# "-CCHN" (certificate, before 2024) or "-GPHN" (licence, Law 15/2023).
LICENSE_PATTERN = r"^\d{1,7}/[A-ZĐ]{2,8}-(CCHN|GPHN)$"


class DoctorConfig(_Strict):
    code: Code
    name: Text
    service: Code
    room: Code | None = None
    username: str | None = None  # the doctor's staff login, to show "my queue"
    # Số chứng chỉ hành nghề (Luật KCB 40/2009) or giấy phép hành nghề (Luật KCB 15/2023): MA_BAC_SI of the
    # insurance claim (XML2, XML3). A doctor without one cannot sign a claimed visit (the claim stays draft).
    license_no: Annotated[str, Field(pattern=LICENSE_PATTERN)] | None = None
    schedule: list[ScheduleBlock] = []


AGE_BANDS = ("newborn", "infant", "child", "adult", "elderly")


class ReferenceBand(_Strict):
    """A reference range for one age band (hub.domain.clinical.ranges defines the bands), optionally one sex."""

    band: Literal["newborn", "infant", "child", "adult", "elderly"]
    sex: Literal["Nam", "Nữ"] | None = None  # None: both sexes
    low: float | None = None
    high: float | None = None


class Analyte(_Strict):
    code: Annotated[str, Field(min_length=1, max_length=16)]
    name: Text
    unit: Annotated[str, Field(max_length=16)] = ""
    # The plain low/high is the range of adults and the elderly (what the catalogue held before bands);
    # `ranges` adds or overrides bands. A patient whose band has no range gets no flag, with a note.
    low: float | None = None
    high: float | None = None
    ranges: list[ReferenceBand] = []


class CatalogueItem(_Strict):
    """An order a doctor can place: lab test or imaging study."""

    code: Code
    name: Text
    name_en: Text
    kind: Literal["lab", "imaging"]
    service: Code
    price: int = Field(ge=0, le=1_000_000_000)
    analytes: list[Analyte] = []
    # Order routing constraints (hub/domain/queue/routing.py): a fasting sample goes first; contrast
    # imaging after the bloods; minutes until the result is ready (the analyser works meanwhile).
    fasting: bool = False
    contrast: bool = False
    result_minutes: float = Field(0, ge=0, le=1440)
    # What the patient does before (printed on the order slip): "Nhịn ăn 8 giờ", "Uống nước, nhịn tiểu".
    before: Text | None = None
    before_en: Text | None = None


# WHO ICD-10 as the Ministry of Health uses it: a letter, two digits, then optionally a dot and one or two
# digits (J06.9, I10, E11.65). Codes outside config/icd10.toml are accepted when they fit this pattern.
ICD10_PATTERN = r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$"


class Drug(_Strict):
    """A medicine of the prescription catalogue (config/drugs.toml): searchable like ICD-10."""

    # Other areas add their own keys to an entry (insurance: bhyt_code, insurance_price...): tolerated here
    # so the clinical fields and theirs can be written in one file by two teams.
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: Code
    name: Text  # the trade or generic name as prescribed
    ingredient: Text  # active ingredient (hoạt chất)
    strength: Annotated[str, Field(min_length=1, max_length=40)]  # "500 mg", "5 mg/5 ml"
    form: Text  # viên nén, viên nang, siro, ống tiêm...
    unit: Annotated[str, Field(min_length=1, max_length=20)]  # what is counted: viên, chai, ống
    route: Literal["uống", "tiêm", "nhỏ mắt", "bôi", "xịt", "đặt", "ngậm", "khác"] = "uống"


class Icd10Code(_Strict):
    """A diagnosis code offered for autocomplete (config/icd10.toml)."""

    code: Annotated[str, Field(pattern=ICD10_PATTERN)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(max_length=200)] = ""


class PaymentSettings(_Strict):
    currency: Literal["VND"] = "VND"
    invoice_series: Annotated[str, Field(pattern=r"^[A-Z]{1,6}$")] = "HD"
    receipt_series: Annotated[str, Field(pattern=r"^[A-Z]{1,6}$")] = "PT"
    methods: list[Literal["cash", "card", "ewallet", "bank_qr"]] = ["cash", "card", "ewallet", "bank_qr"]
    bank_bin: Annotated[str, Field(pattern=r"^\d{6}$")] = "970436"
    bank_account: Annotated[str, Field(pattern=r"^[0-9A-Za-z]{4,19}$")] = "0000000000"
    bank_account_name: Annotated[str, Field(max_length=50)] = ""
    provider_timeout_s: float = Field(30, gt=0, le=300)
    # Deposits (tạm ứng): at most this much in one deposit, and at most max_advance_vnd held on a visit
    # beyond what its bill already totals (a mistyped 999,999,999 on an empty bill is refused).
    max_deposit_vnd: int = Field(20_000_000, ge=1, le=999_999_999)
    max_advance_vnd: int = Field(10_000_000, ge=0, le=999_999_999)


class RoutingSettings(_Strict):
    """[routing]: order the stations of several orders by the earliest expected return to the doctor."""

    enabled: bool = True  # false: lab first, then imaging, in the order of the configuration (as before)


class AdvisorThresholds(_Strict):
    p90_minutes: float | None = Field(None, gt=0, le=600)
    idle_minutes: float | None = Field(None, gt=0, le=600)


class AdvisorSettings(_Strict):
    """[advisor]: when the ops page advises opening a counter, flags an idle one, proposes a free room."""

    p90_minutes: float = Field(45, gt=0, le=600)  # a new ticket's predicted P90 at or above this
    idle_minutes: float = Field(10, gt=0, le=600)  # an open counter that has called no one for this long
    free_minutes: float = Field(5, gt=0, le=120)  # a room whose own line's P90 is below this is free
    services: dict[Code, AdvisorThresholds] = {}  # per service, e.g. { tiep-don = { p90_minutes = 30 } }
    # How often the hub runs the advisor on its own, so opted-in admins get new advice as a message.
    message_every_seconds: float = Field(60, ge=10, le=3600)


class ReportSettings(_Strict):
    """[reports]: the Ministry of Health's outpatient visit-time targets and the operations alerts.

    Decision 1313/QĐ-BYT (2013): an examination alone within 2 hours; with one kind of paraclinical
    technique (lab, imaging or functional tests) within 3 hours, two kinds 3.5 hours, three kinds 4 hours.
    """

    target_exam_minutes: int = Field(120, ge=10, le=1440)
    target_one_technique_minutes: int = Field(180, ge=10, le=1440)
    target_two_techniques_minutes: int = Field(210, ge=10, le=1440)
    target_three_techniques_minutes: int = Field(240, ge=10, le=1440)
    # Performing service -> kind of technique, when an order's or service's own kind (lab, imaging) is not
    # the one that counts, e.g. {"tham-do-chuc-nang" = "functional"}.
    techniques: dict[Code, Annotated[str, Field(pattern=r"^[a-z][a-z_]{0,23}$")]] = {}
    estimate_alert_minutes: float = Field(60, gt=0, le=600)  # a new ticket's P50 above this raises an alert
    slowest_visits: int = Field(20, ge=1, le=200)

    @property
    def targets(self) -> tuple[int, int, int, int]:
        """Minutes allowed for 0, 1, 2, and 3 or more kinds of technique."""
        return (self.target_exam_minutes, self.target_one_technique_minutes, self.target_two_techniques_minutes,
                self.target_three_techniques_minutes)



OFFSET_PATTERN = r"^[1-9][0-9]{0,3}[dhm]$"  # "3d", "24h", "90m": how long before an appointment


def parse_offset(value: str) -> timedelta:
    """'3d', '24h' or '90m' as a duration."""
    if not re.fullmatch(OFFSET_PATTERN, value):
        raise ValueError(f"expected a duration like '3d', '24h' or '90m', got {value!r}")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[value[-1]]
    return timedelta(**{unit: int(value[:-1])})


class FollowUpSettings(_Strict):
    """[follow_ups] (in notifications.toml): reminders, patient links, the no-show job, series limits."""

    reminders: list[Annotated[str, Field(pattern=OFFSET_PATTERN)]] = ["3d", "24h"]  # before the slot
    plan_every_seconds: float = Field(300, ge=10, le=86400)  # how often the reminder planner runs
    no_show_at: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "18:00"  # site time, daily
    no_show_kinds: list[Literal["visit", "follow_up"]] = ["follow_up", "visit"]  # marked no-show by the job
    callback_kinds: list[Literal["visit", "follow_up"]] = ["follow_up"]  # no-shows put on the call-back list
    no_show_message: bool = True  # send no_show_callback to the patient when a follow-up is missed
    link_days_after: int = Field(1, ge=0, le=30)  # a patient's link works until the slot + this many days
    rebook_link_days: int = Field(14, ge=1, le=90)  # the link in a no-show message works this long
    reschedule_days: int = Field(7, ge=1, le=30)  # the patient may move it this many days either way
    search_days: int = Field(14, ge=1, le=60)  # the nearest free slot is looked for this far from the date
    max_series: int = Field(12, ge=1, le=52)  # follow-ups one order may plan

    def reminder_offsets(self) -> list[tuple[str, timedelta]]:
        """(label, offset) of each reminder, the earliest first."""
        return sorted(((label, parse_offset(label)) for label in dict.fromkeys(self.reminders)),
                      key=lambda pair: pair[1], reverse=True)


class ClinicConfig(_Strict):
    """Everything the hub reads from config/: validated, immutable."""

    site: Site
    hub: HubSettings = HubSettings()
    queue: QueuePolicy = QueuePolicy()
    estimates: EstimateSettings = EstimateSettings()
    announce: AnnounceSettings = AnnounceSettings()
    services: list[ServiceConfig] = Field(min_length=1)
    counters: list[CounterConfig] = Field(min_length=1)
    priority_classes: list[PriorityClass] = Field(min_length=1)
    devices: list[DeviceConfig] = []
    # Printer id (a counter's `printer`) -> its connection spec (kiosk.printers.parse_printer_spec).
    printers: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = {}
    displays: list[DisplayConfig] = []
    doctors: list[DoctorConfig] = []
    catalogue: list[CatalogueItem] = []
    icd10: list[Icd10Code] = []
    drugs: list[Drug] = []
    payments: PaymentSettings = PaymentSettings()
    notifications: NotificationSettings = NotificationSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    reports: ReportSettings = ReportSettings()
    advisor: AdvisorSettings = AdvisorSettings()
    routing: RoutingSettings = RoutingSettings()
    follow_ups: FollowUpSettings = FollowUpSettings()
    holidays: list[Holiday] = []
    # The folder the files came from: config/insurance.toml is read by hub/domain/insurance from it.
    config_dir: str = ""

    @model_validator(mode="after")
    def _cross_references(self) -> ClinicConfig:
        _unique("services", [s.code for s in self.services])
        _unique("services (prefix)", [s.prefix for s in self.services])
        _unique("counters", [c.code for c in self.counters])
        _unique("priority_classes", [p.code for p in self.priority_classes])
        service_codes = {s.code for s in self.services}
        for index, counter in enumerate(self.counters):
            for code in counter.services:
                if code not in service_codes:
                    raise ValueError(
                        f"counters[{index}].services: unknown service {code!r} "
                        f"(expected one of {sorted(service_codes)})"
                    )
        _unique("displays", [d.id for d in self.displays])
        counter_codes = {c.code for c in self.counters}
        for index, display in enumerate(self.displays):
            for code in display.counters or []:
                if code not in counter_codes:
                    raise ValueError(f"displays[{index}].counters: unknown counter {code!r}")
            for code in display.services or []:
                if code not in service_codes:
                    raise ValueError(f"displays[{index}].services: unknown service {code!r}")
        _unique("devices", [d.id for d in self.devices])
        for index, device in enumerate(self.devices):
            if device.counter is not None and device.counter not in counter_codes:
                raise ValueError(f"devices[{index}].counter: unknown counter {device.counter!r}")
            if device.type in ("keypad", "led") and device.counter is None:
                raise ValueError(f"devices[{index}]: a {device.type} needs the counter it belongs to")
            if device.type == "speaker" and device.zone is None:
                raise ValueError(f"devices[{index}]: a speaker needs its zone")
        _unique("doctors", [d.code for d in self.doctors])
        _unique("catalogue", [c.code for c in self.catalogue])
        _unique("icd10", [c.code for c in self.icd10])
        for index, doctor in enumerate(self.doctors):
            if doctor.service not in service_codes:
                raise ValueError(f"doctors[{index}].service: unknown service {doctor.service!r}")
            if doctor.room is not None and doctor.room not in counter_codes:
                raise ValueError(f"doctors[{index}].room: unknown counter or room {doctor.room!r}")
        for index, item in enumerate(self.catalogue):
            if item.service not in service_codes:
                raise ValueError(f"catalogue[{index}].service: unknown service {item.service!r}")
        _unique("holidays", [h.day.isoformat() for h in self.holidays])
        normal = [p for p in self.priority_classes if p.code == "normal"]
        if not normal or normal[0].head_start_minutes != 0:
            raise ValueError("priority_classes: a class 'normal' with head_start_minutes = 0 is required")
        return self

    # Lookups used everywhere; the lists are small, so plain scans keep this immutable.
    def service(self, code: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.code == code), None)

    def counter(self, code: str) -> CounterConfig | None:
        return next((c for c in self.counters if c.code == code), None)

    def priority(self, code: str) -> PriorityClass | None:
        return next((p for p in self.priority_classes if p.code == code), None)

    def device(self, device_id: str) -> DeviceConfig | None:
        return next((d for d in self.devices if d.id == device_id), None)

    def doctor(self, code: str) -> DoctorConfig | None:
        return next((d for d in self.doctors if d.code == code), None)

    def catalogue_item(self, code: str) -> CatalogueItem | None:
        return next((c for c in self.catalogue if c.code == code), None)

    def display(self, display_id: str) -> DisplayConfig | None:
        return next((d for d in self.displays if d.id == display_id), None)

    def display_counters(self, display: DisplayConfig) -> list[CounterConfig]:
        if display.counters is not None:
            return [c for c in self.counters if c.code in display.counters]
        return [c for c in self.counters if not display.zones or c.zone in display.zones]

    def display_services(self, display: DisplayConfig) -> list[ServiceConfig]:
        if display.services is not None:
            return [s for s in self.services if s.code in display.services]
        wanted = {code for c in self.display_counters(display) for code in c.services}
        return [s for s in self.services if s.code in wanted]

    def site_hours(self) -> list[tuple[time, time]]:
        return [_parse_hours(h) for h in self.site.opening_hours]

    def counter_hours(self, counter: CounterConfig) -> list[tuple[time, time]]:
        return [_parse_hours(h) for h in (counter.hours or self.site.opening_hours)]

    def holiday(self, day: date) -> Holiday | None:
        return next((h for h in self.holidays if h.day == day), None)

    def closed_on(self, day: date) -> Holiday | None:
        """Why the site is closed on a local date (a holiday, or a weekly closed day), or None if open."""
        holiday = self.holiday(day)
        if holiday is not None:
            return holiday
        if WEEKDAYS[day.weekday()] in self.site.closed_weekdays:
            return Holiday(day=day, name="Ngày nghỉ hằng tuần", name_en="Weekly closed day")
        return None


def _unique(what: str, codes: list[str]) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"{what}: {code!r} appears twice")
        seen.add(code)


# Which file each top-level key comes from, so an error can name the file.
_KEY_FILES = {
    "site": "site.toml", "hub": "site.toml", "queue": "site.toml", "estimates": "site.toml", "announce": "site.toml",
    "services": "clinic.toml", "counters": "clinic.toml", "priority_classes": "clinic.toml",
    "devices": "devices.toml", "printers": "devices.toml", "displays": "displays.toml", "doctors": "doctors.toml",
    "catalogue": "catalogue.toml", "payments": "catalogue.toml", "icd10": "icd10.toml", "drugs": "drugs.toml",
    "notifications": "notifications.toml", "scheduler": "notifications.toml", "reports": "site.toml",
    "follow_ups": "notifications.toml", "holidays": "site.toml",
}


def default_config_dir() -> Path:
    """`./config` when run from a project folder, else the project's own defaults."""
    local = Path.cwd() / "config"
    if (local / "clinic.toml").is_file():
        return local
    return PROJECT_CONFIG_DIR


def load_config(config_dir: Path | str | None = None, env: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> ClinicConfig:
    """Read the TOML files of `config_dir`, apply environment and explicit overrides, validate."""
    directory = Path(config_dir) if config_dir else default_config_dir()
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}  # top-level key -> the file that set it, for error messages
    for name in CONFIG_FILES + OPTIONAL_CONFIG_FILES:
        path = directory / name
        if not path.is_file():
            if name in CONFIG_FILES:
                raise ConfigError(f"{path}: missing (expected the clinic's {name})")
            continue
        try:
            with path.open("rb") as handle:
                content = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        for key, value in content.items():
            if key in merged:
                raise ConfigError(f"{path}: key [{key}] is already set in another file")
            merged[key] = value
            sources[key] = name
    hub = dict(merged.get("hub", {}))
    for variable, key in ENV_OVERRIDES.items():
        if env.get(variable):
            hub[key] = env[variable]
    hub.update({k: v for k, v in (overrides or {}).items() if v is not None})
    merged["hub"] = hub
    merged["config_dir"] = str(directory.resolve())
    try:
        return ClinicConfig.model_validate(merged)
    except ValidationError as exc:
        from_env = {key: f"environment {var}" for var, key in ENV_OVERRIDES.items() if env.get(var)}
        raise ConfigError(_describe(directory, exc, from_env, sources)) from None


def _describe(directory: Path, exc: ValidationError, env_keys: Mapping[str, str],
              sources: Mapping[str, str] | None = None) -> str:
    lines = [f"configuration in {directory} is not valid:"]
    for error in exc.errors():
        location = error["loc"]
        top = str(location[0]) if location else ""
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
        message = error["msg"]
        if not location and error["type"] == "value_error":
            # A check across the whole clinic names the key it concerns first: "counters[2].services: ...".
            named = re.match(r"Value error, ((\w+)[^:]*): (.*)", message, re.DOTALL)
            if named:
                key, top, message = named.groups()
        file_name = (sources or {}).get(top) or _KEY_FILES.get(top, "site.toml or clinic.toml")
        source = directory / file_name
        if top == "hub" and len(location) > 1 and location[1] in env_keys:
            source = env_keys[location[1]]
        lines.append(f"  {source}: {key or '(top level)'}: {explain_error(error, message)}")
    return "\n".join(lines)


def explain_error(error: Any, message: str | None = None) -> str:
    """One pydantic error as people read it: what is wrong, and the value given when that helps."""
    message = (message or error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling)"
    elif error["type"] == "missing":
        message = "required key is missing"
    got = error.get("input")
    shown = "" if error["type"] in ("missing", "value_error") or isinstance(got, dict | list) else f" (got {got!r})"
    return message + shown
