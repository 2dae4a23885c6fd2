"""The chip ID card QR: tolerant parsing, strict validation, and no personal data in any error."""

from __future__ import annotations

import traceback
import unicodedata
from datetime import date

import pytest

from kiosk.cccd import CccdError, parse_cccd

ID = "001088012345"
OLD_ID = "012345678"
NAME = "Nguyễn Thị Hồng Nhung"
ADDRESS = "Số 12, Ngõ 34 Phố Huế, Phường Hàng Bài, Quận Hoàn Kiếm, Hà Nội"
VALID = f"{ID}|{OLD_ID}|{NAME}|15081988|Nữ|{ADDRESS}|20042021"
TODAY = date(2026, 11, 23)


def parse(payload: str | bytes):
    return parse_cccd(payload, today=TODAY)


def test_valid_payload() -> None:
    card = parse(VALID)
    assert card.id_number == ID
    assert card.old_id_number == OLD_ID
    assert card.full_name == NAME
    assert card.date_of_birth == date(1988, 8, 15)
    assert card.sex == "Nữ"
    assert card.address == ADDRESS
    assert card.issue_date == date(2021, 4, 20)


def test_repr_hides_personal_data() -> None:
    text = repr(parse(VALID))
    assert ID not in text and "Nguyễn" not in text


def test_empty_old_id_is_none() -> None:
    card = parse(f"{ID}||Trần Văn An|01012000|Nam|Huế|05062022")
    assert card.old_id_number is None
    assert card.sex == "Nam"


def test_newer_cards_with_more_fields_ignore_the_extra_ones() -> None:
    card = parse(VALID + "|01012040|Nguyễn Văn Bố|Lê Thị Mẹ||")
    assert card.full_name == NAME
    assert card.issue_date == date(2021, 4, 20)


@pytest.mark.parametrize(
    "payload",
    [
        "\ufeff" + VALID,  # a BOM from the scanner
        VALID + "\r\n",  # Windows line ending
        VALID + "\n",
        "  " + VALID + "\t ",
        unicodedata.normalize("NFD", VALID),  # decomposed accents
        (VALID + "\r\n").encode("utf-8"),
        b"\xef\xbb\xbf" + VALID.encode("utf-8"),
    ],
)
def test_tolerant_of_scanner_differences(payload: str | bytes) -> None:
    card = parse(payload)
    assert card.full_name == NAME
    assert unicodedata.is_normalized("NFC", card.full_name)
    assert unicodedata.is_normalized("NFC", card.address)


def test_whitespace_inside_fields_is_tidied() -> None:
    card = parse(f" {ID} | | Lê  Văn   Tám |01012000| nam |  Đà Nẵng |05062022")
    assert card.full_name == "Lê Văn Tám"
    assert card.sex == "Nam"
    assert card.address == "Đà Nẵng"
    assert card.old_id_number is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("", "fields"),
        ("hello world", "fields"),
        (f"{ID}|{OLD_ID}|{NAME}|15081988|Nữ|{ADDRESS}", "fields"),  # 6 fields
        (VALID.replace(ID, "00108801234"), "id_number"),  # 11 digits
        (VALID.replace(ID, "00108801234X"), "id_number"),
        (VALID.replace(OLD_ID, "12345"), "old_id_number"),
        (VALID.replace(NAME, "  "), "full_name"),
        (VALID.replace("15081988", "1508198"), "date_of_birth"),
        (VALID.replace("15081988", "31021988"), "date_of_birth"),  # 31 February
        (VALID.replace("15081988", "15081850"), "date_of_birth"),
        (VALID.replace("20042021", "20042031"), "issue_date"),  # in the future
        (VALID.replace("20042021", "20041980"), "issue_date"),  # before birth
        (VALID.replace("|Nữ|", "|X|"), "sex"),
        (VALID.replace(ADDRESS, ""), "address"),
        (b"\xff\xfe" + VALID.encode("utf-16-le"), "encoding"),
    ],
)
def test_malformed_payloads_are_rejected(payload: str | bytes, reason: str) -> None:
    with pytest.raises(CccdError) as caught:
        parse(payload)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    "payload",
    [
        VALID.replace("15081988", "31021988"),
        VALID.replace(ID, "00108801234X"),
        VALID.replace("|Nữ|", "|Nguyễn|"),
        f"{ID}|{OLD_ID}|{NAME}",
        b"\xff" + VALID.encode("utf-8"),
    ],
)
def test_errors_never_carry_personal_data(payload: str | bytes) -> None:
    with pytest.raises(CccdError) as caught:
        parse(payload)
    # The whole traceback, as a logger would print it, including any chained exception.
    printed = "".join(traceback.format_exception(caught.value))
    for secret in (ID, "00108801234X", OLD_ID, "Nguyễn", "Nhung", "15081988", "31021988", "Phố Huế"):
        assert secret not in printed
    assert caught.value.__cause__ is None and caught.value.__context__ is None
