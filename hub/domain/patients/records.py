"""Patients: lookups the queue needs, the one function that creates records (`insert_patient`, with
gap-free codes), and finding or registering a patient from a chip ID card (CCCD).

Card data is personal: nothing here logs it, and the audit trail records the patient code only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.db import Database, upsert
from hub.domain.common.clock import Clock
from hub.domain.common.errors import Conflict, NotFound
from hub.domain.common.models import AuditEntry, DocumentSequence
from hub.domain.patients.models import Patient

if TYPE_CHECKING:
    from kiosk.cccd import CccdCard

P = Patient.__table__
SEQ = DocumentSequence.__table__
CODE_PREFIX = "BN"  # bệnh nhân
# The document_sequences series of patient codes: lower case, so no invoice or receipt series can clash.
CODE_SERIES = "patient"
CODE_DIGITS = 6  # per year; a seventh digit appears by itself after 999,999 registrations in one year
# The year in a patient code is the Vietnamese calendar year (the kiosk path has no site config at hand).
CODE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Identified:
    """The patient a card belongs to, and whether this scan registered them."""

    patient: dict[str, Any]
    created: bool


def find_patient_id(db: Database, code: str) -> int:
    with db.read() as connection:
        patient_id = connection.execute(select(Patient.id).where(Patient.code == code)).scalar()
    if patient_id is None:
        raise NotFound("unknown_patient", f"no patient with code {code!r}")
    return patient_id


def fold_name(name: str) -> str:
    """A name for comparing and searching: NFC, no diacritics (đ -> d), lower case, single spaces."""
    text = unicodedata.normalize("NFC", name).replace("đ", "d").replace("Đ", "D")
    bare = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def normalize_phone(phone: str | None) -> str | None:
    """A Vietnamese phone number as dialled at home: digits only, +84 / 84 written as 0."""
    if phone is None:
        return None
    digits = re.sub(r"[\s.()-]", "", phone)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits or None


def next_patient_code(connection: Connection, now: datetime, tz: ZoneInfo | None = None) -> str:
    """The next code of the year's gap-free sequence, e.g. BN26000123 (inside the caller's transaction).

    The upsert takes the sequence row's lock until the transaction ends, so two registrations never
    share a number and a rolled-back registration leaves no gap.
    """
    year = now.astimezone(tz or CODE_TZ).year
    statement = upsert(connection, SEQ, {"series": CODE_SERIES, "year": year, "last_number": 1},
                       ["series", "year"], {"last_number": SEQ.c.last_number + 1})
    number = connection.execute(statement.returning(SEQ.c.last_number)).scalar_one()
    return f"{CODE_PREFIX}{year % 100:02d}{number:0{CODE_DIGITS}d}"


def searchable(values: dict[str, Any]) -> dict[str, Any]:
    """The derived columns to write along with `values` (the folded name that name search uses)."""
    return {"search_name": fold_name(values["full_name"])[:120]} if values.get("full_name") else {}


def insert_patient(connection: Connection, values: dict[str, Any], *, now: datetime,
                   tz: ZoneInfo | None = None) -> tuple[int, str]:
    """Create a patient record with a new code; returns (id, code). Every registration path uses this."""
    code = next_patient_code(connection, now, tz)
    patient_id = connection.execute(insert(P).values(code=code, created_at=now, **values, **searchable(values))
                                    .returning(P.c.id)).scalar_one()
    return patient_id, code


def identify_by_card(db: Database, clock: Clock, card: CccdCard, *, actor: str) -> Identified:
    """The patient holding this card, registered now if unknown; name, birth date, sex and address follow
    the card (it is the newest official record)."""
    for _ in range(2):
        try:
            return _identify(db, clock, card, actor)
        except IntegrityError:
            # Another kiosk registered the same card at the same instant: the second pass finds it.
            continue
    raise Conflict("busy", "the patient record changed while reading the card; scan again")


def _identify(db: Database, clock: Clock, card: CccdCard, actor: str) -> Identified:
    now = clock.now()
    from_card = {"full_name": card.full_name[:120], "date_of_birth": card.date_of_birth, "sex": card.sex,
                 "address": card.address[:300], "national_id": card.id_number}
    # A patient registered before the chip card may be on file under the old 9- or 12-digit number.
    numbers = [card.id_number] + ([card.old_id_number] if card.old_id_number else [])
    with db.write() as connection:
        row = connection.execute(select(P).where(P.c.national_id.in_(numbers))
                                 .order_by((P.c.national_id == card.id_number).desc()).limit(1)).first()
        if row is not None:
            changed = {k: v for k, v in from_card.items() if getattr(row, k) != v}
            if changed:
                connection.execute(update(P).where(P.c.id == row.id).values(**changed, **searchable(changed)))
            _audit(connection, now, actor, "patient_identified", row.code, sorted(changed))
            return Identified(_view(connection, row.id), created=False)
        patient_id, code = insert_patient(connection, from_card, now=now)
        _audit(connection, now, actor, "patient_registered", code, [])
        return Identified(_view(connection, patient_id), created=True)


def _audit(connection: Connection, now: Any, actor: str, action: str, code: str, fields: list[str]) -> None:
    # Which fields changed, never their values: the audit log is read by more people than the record.
    connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action=action, subject=code,
                                                 detail={"source": "cccd", "updated": fields} if fields else
                                                 {"source": "cccd"}))


def _view(connection: Connection, patient_id: int) -> dict[str, Any]:
    """What a kiosk or reception needs to greet and file the patient: no ID numbers, no address."""
    row = connection.execute(select(P.c.code, P.c.full_name, P.c.date_of_birth, P.c.sex)
                             .where(P.c.id == patient_id)).one()
    return {"code": row.code, "full_name": row.full_name,
            "birth_year": row.date_of_birth.year if row.date_of_birth else None, "sex": row.sex}
