"""VietQR payloads: EMVCo TLV fields, the CRC-16/CCITT the spec requires, and a QR image that scans back."""

from __future__ import annotations

import io

import pytest
import qrcode
import zxingcpp
from PIL import Image

from hub.domain.billing.vietqr import (
    PayloadError,
    Transfer,
    ascii_text,
    build_payload,
    crc16_ccitt,
    parse_payload,
    split_fields,
)


def test_crc_is_ccitt_false() -> None:
    # The catalogue check value of CRC-16/CCITT-FALSE.
    assert crc16_ccitt(b"123456789") == 0x29B1
    assert crc16_ccitt(b"") == 0xFFFF


def test_matches_a_published_vietqr_string() -> None:
    """A transfer of 120,000 VND to a VietinBank account, as published with an open-source VietQR library."""
    published = ("00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN"
                 "62170813ung ho lu lut6304C15C")
    built = build_payload(Transfer("970415", "0011001932418", 120_000, purpose="ủng hộ lũ lụt"))
    assert built == published


def test_fields_decode_back() -> None:
    payload = build_payload(Transfer("970436", "0011001234567", 450_000, bill_number="LK000042",
                                     purpose="LK000042P7"))
    root = split_fields(payload)
    assert root["00"] == "01" and root["01"] == "12"  # dynamic: one code for one amount
    assert root["53"] == "704" and root["54"] == "450000" and root["58"] == "VN"
    merchant = split_fields(root["38"])
    assert merchant == {"00": "A000000727", "01": "000697043601130011001234567", "02": "QRIBFTTA"}
    assert split_fields(merchant["01"]) == {"00": "970436", "01": "0011001234567"}
    assert split_fields(root["62"]) == {"01": "LK000042", "08": "LK000042P7"}
    assert root["63"] == f"{crc16_ccitt(payload[:-4].encode()):04X}" and payload.endswith(root["63"])
    assert parse_payload(payload) == Transfer("970436", "0011001234567", 450_000, "LK000042", "LK000042P7")


def test_static_code_has_no_amount() -> None:
    payload = build_payload(Transfer("970436", "0011001234567"))
    assert split_fields(payload)["01"] == "11" and "54" not in split_fields(payload)
    assert parse_payload(payload).amount is None


def test_transfer_text_is_plain_ascii() -> None:
    assert ascii_text("Thanh toán viện phí Đặng Thị Hương") == "Thanh toan vien phi Dang"
    assert ascii_text("Viện phí  lượt khám") == "Vien phi luot kham"
    assert len(ascii_text("x" * 80)) == 25


@pytest.mark.parametrize("transfer", [
    Transfer("97043", "0011001234567", 1000),
    Transfer("970436", "00110012345670011001234567", 1000),
    Transfer("970436", "001-100", 1000),
    Transfer("970436", "0011001234567", 0),
    Transfer("970436", "0011001234567", -5),
    Transfer("970436", "0011001234567", 1.5),  # type: ignore[arg-type]
])
def test_bad_transfers_are_refused(transfer: Transfer) -> None:
    with pytest.raises(PayloadError):
        build_payload(transfer)


def test_tampered_payload_fails_the_crc() -> None:
    payload = build_payload(Transfer("970436", "0011001234567", 150_000))
    with pytest.raises(PayloadError, match="CRC"):
        parse_payload(payload.replace("150000", "950000"))
    with pytest.raises(PayloadError):
        parse_payload(payload[:-8])


def test_qr_image_scans_back_to_the_payload() -> None:
    payload = build_payload(Transfer("970436", "0011001234567", 360_000, bill_number="LK000042",
                                     purpose="LK000042P7"))
    png = io.BytesIO()
    qrcode.make(payload, error_correction=qrcode.constants.ERROR_CORRECT_M).save(png)
    image = Image.open(io.BytesIO(png.getvalue())).convert("L")
    found = zxingcpp.read_barcodes(image)
    assert [(code.format, code.text) for code in found] == [(zxingcpp.BarcodeFormat.QRCode, payload)]
