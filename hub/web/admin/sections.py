"""The structure's sections as the admin pages show and edit them: fields, labels in both languages,
and reading a submitted form back into the JSON the configuration files hold.

Nothing here validates beyond reading the form: `StructureService.change` validates with the same
pydantic models as config/, so a page edit is refused exactly where a wrong file would be.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from hub.config import SERVICE_KINDS, WEEKDAYS
from hub.core import Hub

MAX_COUNTER_SERVICES = 6


@dataclass(frozen=True)
class Field:
    name: str  # dotted for nested values: "service_minutes.mean"
    vi: str
    en: str
    kind: str = "text"  # text, number, decimal, money, select, checkbox, checkboxes, ordered, hours, date, textarea
    options: Callable[[Hub], list[tuple[str, str, str]]] | None = None  # (value, vi, en)
    required: bool = True
    help_vi: str = ""
    help_en: str = ""
    pattern: str = ""
    maxlength: int = 120


@dataclass(frozen=True)
class Section:
    name: str  # the structure section: services, counters...
    key: str  # the field naming an item
    vi: str
    en: str
    item_vi: str
    item_en: str
    fields: tuple[Field, ...]
    columns: tuple[str, ...]  # field names shown in the list
    defaults: dict[str, Any] = field(default_factory=dict)


KIND_NAMES = {"reception": ("Tiếp đón", "Reception"), "exam": ("Khám bệnh", "Examination"),
              "lab": ("Xét nghiệm", "Laboratory"), "imaging": ("Chẩn đoán hình ảnh", "Imaging"),
              "cashier": ("Thu ngân", "Cashier"), "pharmacy": ("Nhà thuốc", "Pharmacy")}
LAYOUTS = [("landscape", "Màn hình ngang", "Landscape"), ("portrait", "Màn hình dọc", "Portrait")]
BOARD_LANGUAGES = [("vi+en", "Tiếng Việt + English", "Vietnamese + English"), ("vi", "Tiếng Việt", "Vietnamese"),
                   ("en", "English", "English")]
WEEKDAY_NAMES = [("mon", "Thứ Hai", "Monday"), ("tue", "Thứ Ba", "Tuesday"), ("wed", "Thứ Tư", "Wednesday"),
                 ("thu", "Thứ Năm", "Thursday"), ("fri", "Thứ Sáu", "Friday"), ("sat", "Thứ Bảy", "Saturday"),
                 ("sun", "Chủ nhật", "Sunday")]
CODE_HELP = ("chữ thường không dấu, số và '-': không đổi được sau khi tạo",
             "lowercase a-z, digits and '-': cannot change once created")


def _kinds(_hub: Hub) -> list[tuple[str, str, str]]:
    return [(kind, *KIND_NAMES[kind]) for kind in SERVICE_KINDS]


def _services(hub: Hub) -> list[tuple[str, str, str]]:
    return [(s.code, s.name, s.name_en) for s in hub.config.services]


def _counters(hub: Hub) -> list[tuple[str, str, str]]:
    return [(c.code, c.name, c.name_en) for c in hub.config.counters]


def zones(hub: Hub) -> list[str]:
    return sorted({c.zone for c in hub.config.counters} | {c.speaker_zone for c in hub.config.counters
                                                            if c.speaker_zone})


def _zones(hub: Hub) -> list[tuple[str, str, str]]:
    return [(zone, zone, zone) for zone in zones(hub)]


def _printers(hub: Hub) -> list[tuple[str, str, str]]:
    return [(d["id"], d["name"], d["name"]) for d in hub.devices.list() if d["type"] in ("printer", "kiosk")]


SECTIONS: dict[str, Section] = {s.name: s for s in (
    Section("services", "code", "Dịch vụ", "Services", "dịch vụ", "service", (
        Field("code", "Mã", "Code", pattern=r"[a-z0-9][a-z0-9\-]{0,31}", help_vi=CODE_HELP[0], help_en=CODE_HELP[1],
              maxlength=32),
        Field("name", "Tên", "Name"),
        Field("name_en", "Tên tiếng Anh", "English name"),
        Field("kind", "Loại", "Kind", "select", _kinds),
        Field("prefix", "Chữ đầu số thứ tự", "Ticket prefix", pattern=r"[A-Z]{1,2}", maxlength=2,
              help_vi="1-2 chữ in hoa: A023", help_en="1-2 capital letters: A023"),
        Field("fee", "Giá (đồng)", "Fee (VND)", "money"),
        Field("service_minutes.mean", "Thời gian phục vụ trung bình (phút)", "Mean service time (min)", "decimal"),
        Field("service_minutes.sd", "Độ lệch chuẩn (phút)", "Standard deviation (min)", "decimal"),
    ), ("code", "name", "kind", "prefix", "fee", "service_minutes.mean"),
        {"kind": "exam", "fee": 0, "service_minutes": {"mean": 8, "sd": 4}}),
    Section("counters", "code", "Quầy và phòng", "Counters and rooms", "quầy / phòng", "counter / room", (
        Field("code", "Mã", "Code", pattern=r"[a-z0-9][a-z0-9\-]{0,31}", help_vi=CODE_HELP[0], help_en=CODE_HELP[1],
              maxlength=32),
        Field("name", "Tên (đọc khi gọi số)", "Name (read out in calls)"),
        Field("name_en", "Tên tiếng Anh", "English name"),
        Field("zone", "Khu vực (bảng và loa)", "Zone (boards and speakers)", "zone", _zones, maxlength=32),
        Field("services", "Dịch vụ, theo thứ tự gọi", "Services, in calling order", "ordered", _services),
        Field("hours", "Giờ làm việc riêng", "Own working hours", "hours", required=False,
              help_vi="để trống: giờ của bệnh viện; ví dụ 07:00-11:30, 13:30-16:30",
              help_en="empty: the site's hours; e.g. 07:00-11:30, 13:30-16:30"),
        Field("printer", "Máy in phiếu", "Slip printer", "select", _printers, required=False),
        Field("speaker_zone", "Loa gọi số (khu vực)", "Speakers (zone)", "zone", _zones, required=False,
              help_vi="để trống: loa của khu vực quầy", help_en="empty: the speakers of its zone", maxlength=32),
    ), ("code", "name", "zone", "services", "printer", "speaker_zone")),
    Section("priority_classes", "code", "Đối tượng ưu tiên", "Priority classes", "đối tượng ưu tiên",
            "priority class", (
        Field("code", "Mã", "Code", pattern=r"[a-z0-9][a-z0-9\-]{0,31}", help_vi=CODE_HELP[0], help_en=CODE_HELP[1],
              maxlength=32),
        Field("name", "Tên", "Name"),
        Field("name_en", "Tên tiếng Anh", "English name"),
        Field("head_start_minutes", "Được gọi sớm hơn (phút)", "Head start (minutes)", "decimal",
              help_vi="trọng số: số phút được tính như đã chờ thêm; 'normal' phải là 0",
              help_en="the weight: minutes counted as if waited longer; 'normal' must be 0"),
        Field("overrides_service_order", "Gọi trước mọi dịch vụ của quầy", "Called before the counter's other services",
              "checkbox", required=False),
        Field("kiosk", "Chọn được ở ki-ốt", "Offered at the kiosk", "checkbox", required=False),
    ), ("code", "name", "head_start_minutes", "overrides_service_order", "kiosk"), {"head_start_minutes": 10}),
    Section("displays", "id", "Bảng hiển thị", "Boards", "bảng hiển thị", "board", (
        Field("id", "Mã", "Id", pattern=r"[a-z0-9][a-z0-9\-]{0,31}", help_vi=CODE_HELP[0], help_en=CODE_HELP[1],
              maxlength=32),
        Field("name", "Tên", "Name"),
        Field("zones", "Các khu vực", "Zones", "checkboxes", _zones, required=False,
              help_vi="không chọn: mọi khu vực", help_en="none: every zone"),
        Field("counters", "Chỉ các quầy/phòng", "Only these counters", "checkboxes", _counters, required=False,
              help_vi="không chọn: các quầy của những khu vực trên", help_en="none: the counters of the zones above"),
        Field("layout", "Kiểu màn hình", "Layout", "select", lambda _h: LAYOUTS),
        Field("language", "Ngôn ngữ", "Language", "select", lambda _h: BOARD_LANGUAGES),
        Field("show_initials", "Hiện chữ cái đầu của tên (N.V.A)", "Show name initials (N.V.A)", "checkbox",
              required=False),
        Field("notice", "Thông báo chạy chữ", "Notice line", "textarea", required=False, maxlength=500),
    ), ("id", "name", "zones", "counters", "layout"), {"layout": "landscape", "language": "vi+en"}),
    Section("holidays", "day", "Ngày nghỉ lễ", "Holidays", "ngày nghỉ", "holiday", (
        Field("day", "Ngày", "Date", "date"),
        Field("name", "Tên", "Name"),
        Field("name_en", "Tên tiếng Anh", "English name", required=False),
    ), ("day", "name", "name_en")),
)}

QUEUE_RULES = (
    Field("max_consecutive_priority", "Tối đa số ưu tiên gọi liên tiếp", "Most priority calls in a row", "number",
          help_vi="sau đó một số thường được gọi", help_en="then an ordinary ticket is called"),
    Field("starvation_minutes", "Số thường chờ quá (phút) thì được gọi trước", "Ordinary ticket waiting longer "
          "than (min) goes first", "decimal"),
    Field("recalls_before_no_show", "Số lần gọi lại trước khi vắng mặt", "Recalls before a no-show", "number"),
    Field("late_return_behind", "Người đến muộn xếp sau (số người)", "A late return goes behind (tickets)", "number"),
    Field("call_ttl_s", "Thời hạn một lượt gọi (giây)", "Call lifetime (s)", "number"),
    Field("last_calls_on_board", "Số lượt gọi gần nhất trên bảng", "Recent calls on a board", "number"),
)


def get_value(item: dict[str, Any], name: str) -> Any:
    value: Any = item
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set_value(item: dict[str, Any], name: str, value: Any) -> None:
    parts = name.split(".")
    for part in parts[:-1]:
        item = item.setdefault(part, {})
    item[parts[-1]] = value


def parse_number(text: str, *, whole: bool) -> Any:
    """'150.000', '150,000', '7,5' or '7.5' as people type them; the text itself when it is not a number
    (validation then names the field)."""
    raw = text.strip().replace(" ", "").replace("\u00a0", "").replace("₫", "")
    if whole:
        digits = raw.replace(".", "").replace(",", "")
        return int(digits) if re.fullmatch(r"-?\d{1,15}", digits) else text
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    try:
        return float(raw)
    except ValueError:
        return text


def read_field(spec: Field, form: MultiDict[str, str]) -> Any:
    name = spec.name
    if spec.kind == "checkbox":
        return form.get(name) in ("on", "yes", "1", "true")
    if spec.kind == "checkboxes":
        return [value for value in form.getlist(name) if value]
    if spec.kind == "ordered":
        chosen = [form.get(f"{name}.{i}", "").strip() for i in range(MAX_COUNTER_SERVICES)]
        return list(dict.fromkeys(code for code in chosen if code))  # order kept, a repeat dropped
    text = (form.get(name) or "").strip()
    if spec.kind == "hours":
        ranges = [part.strip() for part in re.split(r"[,;\n]", text) if part.strip()]
        return ranges or None
    if not text:
        return None if not spec.required or spec.kind in ("select", "zone") else ""
    if spec.kind in ("number", "money"):
        return parse_number(text, whole=True)
    if spec.kind == "decimal":
        return parse_number(text, whole=False)
    return text


def read_item(section: Section, form: MultiDict[str, str], existing: dict[str, Any] | None) -> dict[str, Any]:
    """An item from its form, over the existing item (fields a page does not show are kept)."""
    item: dict[str, Any] = dict(existing or {})
    for spec in section.fields:
        if existing is not None and spec.name == section.key:
            continue  # the key names the item: never changed by an edit
        value = read_field(spec, form)
        if value is None and not spec.required and spec.kind not in ("hours",):
            _set_value(item, spec.name, None)
            continue
        _set_value(item, spec.name, value)
    if section.name == "displays" and not item.get("counters"):
        item["counters"] = None  # none ticked: the counters of its zones
    if section.name == "holidays" and not item.get("name_en"):
        item["name_en"] = ""
    return item


def read_rules(form: MultiDict[str, str], current: dict[str, Any]) -> dict[str, Any]:
    rules = dict(current)
    for spec in QUEUE_RULES:
        rules[spec.name] = read_field(spec, form)
    return rules


def weekday_options() -> list[tuple[str, str, str]]:
    assert [w[0] for w in WEEKDAY_NAMES] == list(WEEKDAYS)
    return WEEKDAY_NAMES
