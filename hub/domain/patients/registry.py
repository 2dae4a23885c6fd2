"""Registering patients at reception and on the portal: validation, duplicate detection, search, edits.

A second record for the same person splits their history, so registration first looks for one:
the same CCCD (always refused), or the same name (compared without diacritics or case), date of
birth and phone (offered; staff may still confirm a new record: twins share all three with a parent's
phone). Records are created with `patients.insert_patient`, the one function every path uses.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from hub.db import Database
from hub.domain.common.clock import Clock, local_day
from hub.domain.common.errors import Conflict, Invalid, NotFound
from hub.domain.common.events import Event, EventBus
from hub.domain.common.models import AuditEntry
from hub.domain.patients.models import Patient
from hub.domain.patients.records import fold_name, insert_patient, normalize_phone, searchable

P = Patient.__table__
SEXES = {"nam": "Nam", "male": "Nam", "m": "Nam", "nữ": "Nữ", "nu": "Nữ", "female": "Nữ", "f": "Nữ"}
_PHONE = re.compile(r"^0\d{9,10}$")
_NATIONAL_ID = re.compile(r"^(?:\d{9}|\d{12})$")  # the 12-digit CCCD, or the old 9-digit CMND
_INSURANCE = re.compile(r"^[A-Z0-9]{10,15}$")  # BHYT card (2 letters + 13 digits) or the 10-digit BHXH number
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE = re.compile(r"^BN\d{6,}$")
SEARCH_LIMIT = 20
FIELDS = ("full_name", "date_of_birth", "sex", "phone", "email", "address", "national_id", "insurance_no")


@dataclass(frozen=True)
class PatientDetails:
    """What a patient tells reception or the portal; `cleaned()` validates and normalises it."""

    full_name: str
    date_of_birth: date | None = None
    sex: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    national_id: str | None = None
    insurance_no: str | None = None

    def cleaned(self, today: date) -> dict[str, Any]:
        return clean_fields(asdict(self), today)


def clean_fields(values: dict[str, Any], today: date) -> dict[str, Any]:
    """Validate and normalise the given patient fields (only those present in `values`)."""
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field not in FIELDS:
            raise Invalid("unknown_field", f"patients have no field {field!r}")
        if isinstance(value, str):
            value = " ".join(unicodedata.normalize("NFC", value).split()) or None
        out[field] = _clean(field, value, today)
    if "full_name" in out and not out["full_name"]:
        raise Invalid("name_required", "Cần họ và tên / the full name is required")
    return out


def _clean(field: str, value: Any, today: date) -> Any:
    if value is None:
        return None
    if field == "full_name" and len(value) > 120:
        raise Invalid("bad_name", "the name is longer than 120 characters")
    if field == "date_of_birth" and (value > today or value.year < 1900):
        raise Invalid("bad_date_of_birth", "Ngày sinh không hợp lệ / the date of birth is not plausible")
    if field == "sex":
        if value.casefold() not in SEXES:
            raise Invalid("bad_sex", "sex is Nam or Nữ")
        return SEXES[value.casefold()]
    if field == "phone":
        value = normalize_phone(value)
        if not _PHONE.match(value or ""):
            raise Invalid("bad_phone", "Số điện thoại không hợp lệ / expected a phone number such as 0912345678")
    if field == "email" and (len(value) > 120 or not _EMAIL.match(value)):
        raise Invalid("bad_email", "not an e-mail address")
    if field == "address" and len(value) > 300:
        raise Invalid("bad_address", "the address is longer than 300 characters")
    if field == "national_id" and not _NATIONAL_ID.match(value):
        raise Invalid("bad_national_id", "Số CCCD gồm 12 chữ số (CMND cũ: 9) / a CCCD has 12 digits (old CMND: 9)")
    if field == "insurance_no":
        value = value.replace(" ", "").upper()
        if not _INSURANCE.match(value):
            raise Invalid("bad_insurance_no", "Số thẻ BHYT không hợp lệ / not a health-insurance card number")
    return value


class DuplicatePatient(Conflict):
    """Registration found the person already on file; `candidates` are their records (staff view)."""

    def __init__(self, code: str, message: str, candidates: list[dict[str, Any]]) -> None:
        super().__init__(code, message)
        self.candidates = candidates


@dataclass(frozen=True)
class PatientRegistered(Event):
    """A new patient record (no personal data: the code is enough to look it up)."""

    patient_id: int
    code: str
    source: str  # reception, portal, kiosk
    actor: str


class PatientRegistry:
    """Patient records as reception and the portal see them."""

    def __init__(self, db: Database, bus: EventBus, clock: Clock, tz: ZoneInfo) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock
        self.tz = tz

    def today(self) -> date:
        return local_day(self.clock.now(), self.tz)

    def register(self, details: PatientDetails, *, actor: str, source: str = "reception",
                 confirm_new: bool = False) -> dict[str, Any]:
        """Create the record, or raise DuplicatePatient with the records it may duplicate.

        The same CCCD is refused always; the same name, date of birth and phone only until the caller
        sends `confirm_new` (after staff checked that it is another person).
        """
        values = details.cleaned(self.today())
        try:
            with self.db.write() as connection:
                self._refuse_duplicates(connection, values, confirm_new)
                now = self.clock.now()
                patient_id, code = insert_patient(connection, values, now=now, tz=self.tz)
                connection.execute(insert(AuditEntry).values(at=now, actor=actor[:64], action="patient_registered",
                                                             subject=code, detail={"source": source}))
                view = patient_view(connection.execute(select(P).where(P.c.id == patient_id)).one())
        except IntegrityError:
            # The same CCCD registered by someone else at this very moment: report it like any duplicate.
            with self.db.read() as connection:
                self._refuse_duplicates(connection, values, confirm_new)
            raise
        self.bus.publish(PatientRegistered(patient_id, code, source, actor))
        return view

    def duplicates(self, details: PatientDetails) -> list[dict[str, Any]]:
        """Records that may be the same person, with `match` saying why ("national_id" or "name_dob_phone")."""
        values = details.cleaned(self.today())
        with self.db.read() as connection:
            return self._candidates(connection, values)

    def _refuse_duplicates(self, connection: Connection, values: dict[str, Any], confirm_new: bool) -> None:
        candidates = self._candidates(connection, values)
        same_card = [c for c in candidates if c["match"] == "national_id"]
        if same_card:
            raise DuplicatePatient("national_id_taken", "Số CCCD này đã có hồ sơ / this CCCD is already registered "
                                                        f"({same_card[0]['code']})", same_card)
        if candidates and not confirm_new:
            raise DuplicatePatient("possible_duplicate",
                                   "Có thể bệnh nhân đã có hồ sơ: hãy dùng hồ sơ cũ hoặc xác nhận tạo mới / "
                                   "this patient may already be registered: use the record or confirm a new one",
                                   candidates)

    def _candidates(self, connection: Connection, values: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if values.get("national_id"):
            for row in connection.execute(select(P).where(P.c.national_id == values["national_id"])):
                out.append({**patient_view(row), "match": "national_id"})
        if values.get("date_of_birth") and values.get("phone"):
            folded = fold_name(values["full_name"])
            rows = connection.execute(select(P).where(P.c.phone == values["phone"],
                                                      P.c.date_of_birth == values["date_of_birth"])).all()
            # Compared here rather than in SQL: records written before search_name existed have none.
            for row in rows:
                if fold_name(row.full_name) == folded and all(c["code"] != row.code for c in out):
                    out.append({**patient_view(row), "match": "name_dob_phone"})
        return out

    def get(self, code: str) -> dict[str, Any]:
        with self.db.read() as connection:
            return patient_view(self.patient_row(connection, code))

    def patient_row(self, connection: Connection, code: str) -> Any:
        """The patient row of `code` inside the caller's transaction (404 unknown_patient)."""
        row = connection.execute(select(P).where(P.c.code == code.strip().upper())).first()
        if row is None:
            raise NotFound("unknown_patient", f"Không có bệnh nhân {code!r} / no patient with code {code!r}")
        return row

    def search(self, text: str, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
        """By patient code, phone or CCCD (exact), or by a part of the name (without diacritics)."""
        text = " ".join(unicodedata.normalize("NFC", text or "").split())
        if len(text) < 2:
            return []
        compact = re.sub(r"[\s.()+-]", "", text)
        if _CODE.match(compact.upper()) or compact.isdigit():
            condition = or_(P.c.code == compact.upper(), P.c.national_id == compact,
                            P.c.phone == normalize_phone(text))
        else:
            pattern = fold_name(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            condition = P.c.search_name.like(f"%{pattern}%", escape="\\")
        with self.db.read() as connection:
            rows = connection.execute(select(P).where(condition).order_by(P.c.search_name, P.c.id)
                                      .limit(max(1, min(limit, 100)))).all()
            return [patient_view(row) for row in rows]

    def update(self, code: str, changes: dict[str, Any], *, actor: str) -> dict[str, Any]:
        """Correct a record; the audit trail names the fields changed, never their values."""
        values = clean_fields(changes, self.today())
        with self.db.write() as connection:
            row = self.patient_row(connection, code)
            changed = {k: v for k, v in values.items() if getattr(row, k) != v}
            if changed.get("national_id"):
                other = connection.execute(select(P.c.code).where(P.c.national_id == changed["national_id"],
                                                                  P.c.id != row.id)).scalar()
                if other is not None:
                    raise Conflict("national_id_taken", f"Số CCCD này thuộc hồ sơ {other} / this CCCD belongs to "
                                                        f"{other}")
            if changed:
                connection.execute(update(P).where(P.c.id == row.id).values(**changed, **searchable(changed)))
                connection.execute(insert(AuditEntry).values(at=self.clock.now(), actor=actor[:64],
                                                             action="patient_updated", subject=row.code,
                                                             detail={"fields": sorted(changed)}))
            return patient_view(connection.execute(select(P).where(P.c.id == row.id)).one())


def patient_view(row: Any) -> dict[str, Any]:
    """A patient record as staff see it."""
    return {
        "id": row.id,
        "code": row.code,
        "full_name": row.full_name,
        "date_of_birth": row.date_of_birth.isoformat() if row.date_of_birth else None,
        "birth_year": row.date_of_birth.year if row.date_of_birth else None,
        "sex": row.sex,
        "phone": row.phone,
        "email": row.email,
        "address": row.address,
        "national_id": row.national_id,
        "insurance_no": row.insurance_no,
        "created_at": row.created_at.isoformat(),
    }
