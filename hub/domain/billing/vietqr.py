"""VietQR bank-transfer payloads: EMVCo merchant-presented QR (NAPAS 247, "transfer to account").

A payload is a string of TLV fields (two-digit id, two-digit length, value) ending with a CRC field
(id 63) whose value is the CRC-16/CCITT-FALSE of everything before it, "6304" included, as the EMVCo
spec requires. Any Vietnamese banking app scans it and fills in the bank, account, amount and message.
Standard library only: the page draws the QR image from the string.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NAPAS_GUID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
STATIC, DYNAMIC = "11", "12"  # point of initiation: a reusable code, or one for one amount

# Root field ids.
ID_FORMAT, ID_INITIATION, ID_MERCHANT, ID_CURRENCY, ID_AMOUNT = "00", "01", "38", "53", "54"
ID_COUNTRY, ID_ADDITIONAL, ID_CRC = "58", "62", "63"
# Inside 38: the GUID, the beneficiary (bank BIN and account) and the service code.
ID_GUID, ID_BENEFICIARY, ID_SERVICE = "00", "01", "02"
ID_BIN, ID_ACCOUNT = "00", "01"
# Inside 62: the bill number and the purpose (what the transfer message shows).
ID_BILL, ID_PURPOSE = "01", "08"

MAX_REFERENCE = 25  # EMVCo's limit for the bill number and the purpose fields
_BIN = re.compile(r"^\d{6}$")
_ACCOUNT = re.compile(r"^[0-9A-Za-z]{1,19}$")


class PayloadError(ValueError):
    """A payload that is not a well-formed VietQR string, or whose CRC does not match."""


@dataclass(frozen=True)
class Transfer:
    """What a VietQR code asks the payer's bank to do."""

    bank_bin: str
    account: str
    amount: int | None = None  # whole VND; None for a code the payer types the amount into
    bill_number: str = ""
    purpose: str = ""


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def ascii_text(text: str, limit: int = MAX_REFERENCE) -> str:
    """Text a bank transfer message can carry: no diacritics (đ -> d), printable ASCII, cut to `limit`."""
    text = text.replace("đ", "d").replace("Đ", "D")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"[^ -~]", "", plain)
    return re.sub(r"\s+", " ", plain).strip()[:limit].rstrip()


def _field(field_id: str, value: str) -> str:
    if not value:
        return ""
    if len(value) > 99:
        raise PayloadError(f"field {field_id} is {len(value)} characters long; 99 is the most")
    return f"{field_id}{len(value):02d}{value}"


def build_payload(transfer: Transfer) -> str:
    """The VietQR string for a transfer (CRC included)."""
    if not _BIN.match(transfer.bank_bin):
        raise PayloadError("the bank BIN is six digits (970436 for Vietcombank)")
    if not _ACCOUNT.match(transfer.account):
        raise PayloadError("the account number is 1 to 19 letters or digits")
    amount = transfer.amount
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
        raise PayloadError("the amount is a positive whole number of VND")
    beneficiary = _field(ID_BIN, transfer.bank_bin) + _field(ID_ACCOUNT, transfer.account)
    merchant = _field(ID_GUID, NAPAS_GUID) + _field(ID_BENEFICIARY, beneficiary) + _field(ID_SERVICE,
                                                                                        SERVICE_TO_ACCOUNT)
    additional = (_field(ID_BILL, ascii_text(transfer.bill_number))
                  + _field(ID_PURPOSE, ascii_text(transfer.purpose)))
    body = (_field(ID_FORMAT, "01") + _field(ID_INITIATION, STATIC if amount is None else DYNAMIC)
            + _field(ID_MERCHANT, merchant) + _field(ID_CURRENCY, CURRENCY_VND)
            + (_field(ID_AMOUNT, str(amount)) if amount is not None else "")
            + _field(ID_COUNTRY, COUNTRY_VN) + _field(ID_ADDITIONAL, additional) + ID_CRC + "04")
    return body + f"{crc16_ccitt(body.encode('ascii')):04X}"


def split_fields(text: str) -> dict[str, str]:
    """The TLV fields of one level of a payload, by id (a repeated id is an error)."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        head = text[position:position + 4]
        if len(head) < 4 or not head.isdigit():
            raise PayloadError(f"broken field header {head!r} at {position}")
        length = int(head[2:])
        value = text[position + 4:position + 4 + length]
        if len(value) != length:
            raise PayloadError(f"field {head[:2]} runs past the end")
        if head[:2] in fields:
            raise PayloadError(f"field {head[:2]} appears twice")
        fields[head[:2]] = value
        position += 4 + length
    return fields


def parse_payload(payload: str) -> Transfer:
    """Read a VietQR string back (checking its CRC): the inverse of `build_payload`."""
    if len(payload) < 8 or payload[-8:-4] != ID_CRC + "04":
        raise PayloadError("the payload does not end with a CRC field (6304....)")
    expected = f"{crc16_ccitt(payload[:-4].encode('ascii', 'replace')):04X}"
    if payload[-4:].upper() != expected:
        raise PayloadError(f"CRC mismatch: the payload says {payload[-4:]}, its content gives {expected}")
    root = split_fields(payload)
    if root.get(ID_FORMAT) != "01":
        raise PayloadError("payload format indicator is not 01")
    merchant = split_fields(root.get(ID_MERCHANT, ""))
    if merchant.get(ID_GUID) != NAPAS_GUID:
        raise PayloadError("no NAPAS merchant account information (field 38)")
    beneficiary = split_fields(merchant.get(ID_BENEFICIARY, ""))
    additional = split_fields(root.get(ID_ADDITIONAL, ""))
    amount = root.get(ID_AMOUNT)
    if amount is not None and not amount.isdigit():
        raise PayloadError(f"amount {amount!r} is not a whole number of VND")
    return Transfer(bank_bin=beneficiary.get(ID_BIN, ""), account=beneficiary.get(ID_ACCOUNT, ""),
                    amount=int(amount) if amount is not None else None,
                    bill_number=additional.get(ID_BILL, ""), purpose=additional.get(ID_PURPOSE, ""))
