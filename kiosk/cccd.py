"""Read the QR code on a Vietnamese chip ID card (CCCD / Căn cước).

The payload is ``ID(12)|old ID(9, may be empty)|name|DOB ddmmyyyy|Nam/Nữ|address|issue date ddmmyyyy``;
cards issued since July 2024 may add fields after these seven, which we ignore. The payload is personal
data: nothing here logs it, and no error message or exception chain ever carries any part of it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

FIELD_SEPARATOR = "|"
REQUIRED_FIELDS = 7
MIN_BIRTH_YEAR = 1900

_ID_NUMBER = re.compile(r"^\d{12}$")
_OLD_ID_NUMBER = re.compile(r"^(?:\d{9}|\d{12})$")  # the 9-digit CMND, or the 12-digit pre-chip CCCD
_DATE = re.compile(r"^\d{8}$")
_SEX = {"nam": "Nam", "nữ": "Nữ", "nu": "Nữ"}


class CccdError(ValueError):
    """The scanned code is not a readable CCCD payload; `reason` says which part, never what it held."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, repr=False)
class CccdCard:
    """What the chip ID card's QR code says about its holder."""

    id_number: str
    old_id_number: str | None
    full_name: str
    date_of_birth: date
    sex: str  # "Nam" or "Nữ", as printed on the card
    address: str
    issue_date: date

    def __repr__(self) -> str:
        # Personal data must not reach logs through a stray repr() or an f-string in a log line.
        return "CccdCard(<personal data hidden>)"


def parse_cccd(payload: str | bytes, today: date | None = None) -> CccdCard:
    """Parse and validate a scanned CCCD QR payload, or raise CccdError (without the payload in it)."""
    today = today or date.today()
    text = _as_text(payload)
    fields = [field.strip() for field in text.split(FIELD_SEPARATOR)]
    if len(fields) < REQUIRED_FIELDS:
        raise CccdError("fields", f"CCCD QR has {len(fields)} fields, expected at least {REQUIRED_FIELDS}")
    id_number, old_id, name, birth, sex, address, issued = fields[:REQUIRED_FIELDS]

    if not _ID_NUMBER.match(id_number):
        raise CccdError("id_number", "CCCD number must be exactly 12 digits")
    if old_id and not _OLD_ID_NUMBER.match(old_id):
        raise CccdError("old_id_number", "old ID number must be 9 or 12 digits, or empty")
    full_name = " ".join(name.split())
    if not full_name:
        raise CccdError("full_name", "name is empty")
    date_of_birth = _parse_date(birth, "date_of_birth")
    issue_date = _parse_date(issued, "issue_date")
    if date_of_birth.year < MIN_BIRTH_YEAR:
        raise CccdError("date_of_birth", f"date of birth is before {MIN_BIRTH_YEAR}")
    if issue_date < date_of_birth:
        raise CccdError("issue_date", "issue date is before the date of birth")
    if issue_date > today:
        raise CccdError("issue_date", "issue date is in the future")
    canonical_sex = _SEX.get(sex.casefold())
    if canonical_sex is None:
        raise CccdError("sex", "sex must be Nam or Nữ")
    address = " ".join(address.split())
    if not address:
        raise CccdError("address", "address is empty")
    return CccdCard(
        id_number=id_number,
        old_id_number=old_id or None,
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=canonical_sex,
        address=address,
        issue_date=issue_date,
    )


def _as_text(payload: str | bytes) -> str:
    """The payload as NFC text without BOM, surrounding whitespace or line endings."""
    if isinstance(payload, bytes):
        decoded = _utf8_or_none(payload)
        if decoded is None:
            raise CccdError("encoding", "CCCD QR is not UTF-8 text (is the scanner set to another code page?)")
        payload = decoded
    # Scanners differ: a BOM, CR LF or LF at the end, decomposed accents from some keyboard layouts.
    text = unicodedata.normalize("NFC", payload.replace("\ufeff", ""))
    return text.strip()


def _utf8_or_none(payload: bytes) -> str | None:
    # Errors are raised by the caller, outside this handler, so the UnicodeDecodeError (which quotes the
    # offending bytes) is never chained to them.
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _parse_date(value: str, reason: str) -> date:
    label = reason.replace("_", " ")
    if not _DATE.match(value):
        raise CccdError(reason, f"{label} must be 8 digits, ddmmyyyy")
    day, month, year = int(value[:2]), int(value[2:4]), int(value[4:])
    try:
        return date(year, month, day)
    except ValueError:
        pass  # raised below, outside the handler, so the error chain holds no part of the payload
    raise CccdError(reason, f"{label} is not a real calendar date")
