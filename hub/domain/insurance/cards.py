"""The BHYT card code and the coverage period a card gives: shape and date checks with clear errors.

A card code has 15 characters (Decision 1351/QĐ-BHXH, 2015): a 2-letter beneficiary group (DN, HC, TE...),
one digit for the benefit level (1-5), a 2-digit province code and the holder's 10-digit social-insurance
number. Since 2025 the 12-digit chip ID card number (CCCD) may stand for the card (Law 51/2024/QH15).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.domain.common.errors import Invalid

CARD_CODE = re.compile(r"^([A-Z]{2})([1-5])(\d{2})(\d{10})$")
NATIONAL_ID = re.compile(r"^\d{12}$")
FACILITY_CODE = re.compile(r"^\d{5}$")  # mã cơ sở KCB: 2-digit province + 3 digits


@dataclass(frozen=True)
class CardCode:
    """A card code split into its parts."""

    code: str
    group: str
    benefit_level: int
    province: str
    social_insurance_no: str


def parse_card_code(value: object) -> CardCode:
    """The code's parts, or Invalid naming which part is wrong (spaces and case are forgiven)."""
    if not isinstance(value, str):
        raise Invalid("bad_card_code", "Mã thẻ BHYT phải là chuỗi 15 ký tự / the card code is a 15-character text")
    text = re.sub(r"[\s-]", "", value).upper()
    if len(text) != 15:
        raise Invalid("bad_card_code", f"Mã thẻ BHYT có 15 ký tự, không phải {len(text)} / a card code has 15 "
                                       f"characters, not {len(text)}")
    match = CARD_CODE.match(text)
    if match is None:
        if not text[:2].isalpha() or not text[:2].isascii():
            problem = "2 chữ cái đầu là mã đối tượng / the first 2 characters are the beneficiary group letters"
        elif text[2] not in "12345":
            problem = "ký tự thứ 3 là mức hưởng 1-5 / the 3rd character is the benefit level 1-5"
        elif not text[3:5].isdigit():
            problem = "ký tự 4-5 là mã tỉnh / characters 4-5 are the province code (digits)"
        else:
            problem = "10 số cuối là mã số BHXH / the last 10 characters are the social-insurance number"
        raise Invalid("bad_card_code", f"Mã thẻ BHYT {text!r} sai: {problem}")
    group, level, province, number = match.groups()
    return CardCode(text, group, int(level), province, number)


def check_national_id(value: object) -> str:
    """A 12-digit CCCD number, or Invalid."""
    text = value.strip() if isinstance(value, str) else ""
    if not NATIONAL_ID.match(text):
        raise Invalid("bad_national_id", "Số CCCD gồm 12 chữ số / a chip ID card (CCCD) number has 12 digits")
    return text


def check_facility_code(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not FACILITY_CODE.match(text):
        raise Invalid("bad_facility_code", "Mã nơi ĐKKCB ban đầu gồm 5 chữ số / the registered facility code has "
                                           "5 digits")
    return text


def _date(value: object, field: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise Invalid("bad_date", f"{field}: ngày dạng YYYY-MM-DD / a date like 2026-01-31, not {value!r}")


@dataclass(frozen=True)
class Coverage:
    """One coverage period: a card (or the CCCD standing for it) valid from/to, with its registered
    primary-care facility and the date the holder reached five continuous years (where printed)."""

    card_code: str | None
    national_id: str | None
    benefit_level: int | None
    valid_from: date
    valid_to: date
    facility_code: str
    five_years_from: date | None = None
    holder_name: str | None = None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_to

    def as_dict(self) -> dict[str, Any]:
        return {"card_code": self.card_code, "national_id": self.national_id, "benefit_level": self.benefit_level,
                "valid_from": self.valid_from.isoformat(), "valid_to": self.valid_to.isoformat(),
                "facility_code": self.facility_code, "holder_name": self.holder_name,
                "five_years_from": self.five_years_from.isoformat() if self.five_years_from else None}


def coverage_from(values: dict[str, Any]) -> Coverage:
    """A coverage period from what staff (or the gateway) gave; every problem is an Invalid (422)."""
    card_code = values.get("card_code")
    national_id = values.get("national_id")
    if not card_code and not national_id:
        raise Invalid("card_required", "Cần mã thẻ BHYT hoặc số CCCD / give a card code or a CCCD number")
    card = parse_card_code(card_code) if card_code else None
    nid = check_national_id(national_id) if national_id else None
    level = card.benefit_level if card else values.get("benefit_level")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5):
        raise Invalid("bad_benefit_level", "Mức hưởng là 1-5 / the benefit level is 1 to 5")
    valid_from = _date(values.get("valid_from"), "valid_from")
    valid_to = _date(values.get("valid_to"), "valid_to")
    if valid_from is None or valid_to is None:
        raise Invalid("dates_required", "Cần ngày hiệu lực từ / đến (valid_from, valid_to)")
    if valid_to < valid_from:
        raise Invalid("bad_dates", "Ngày hết hạn trước ngày bắt đầu / valid_to is before valid_from")
    five = _date(values.get("five_years_from"), "five_years_from")
    name = values.get("holder_name")
    return Coverage(card.code if card else None, nid, level, valid_from, valid_to,
                    check_facility_code(values.get("facility_code")), five,
                    name.strip()[:120] if isinstance(name, str) and name.strip() else None)
