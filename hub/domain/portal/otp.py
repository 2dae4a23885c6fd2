"""One-time sign-in codes for the portal: the second step after the patient code (or CCCD) and birth date.

Both of those are printed on the patient's card, so on their own they prove only that someone holds
the card. The code goes to the phone or email on record through the notification outbox (message
kind "otp"), is six digits, lives CODE_LIFETIME, is single-use, allows MAX_TRIES wrong entries, and is
stored only as a keyed hash. Asking for codes is limited per patient and per client address; a wrong
code is a failed sign-in in the audit log, so the lockout of `PortalAuth` (per code, per address,
per day) covers this step too and reads the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update

from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import DomainError
from hub.domain.common.models import AuditEntry
from hub.domain.notifications.outbox import NotificationService
from hub.domain.patients.models import Patient
from hub.domain.portal.auth import FAILED, SIGNED_IN, PortalAuth, PortalPatient, TooManyAttempts, client_tag
from hub.domain.portal.models import PortalCode

PC, P, AL = PortalCode.__table__, Patient.__table__, AuditEntry.__table__
CODE_DIGITS = 6
CODE_LIFETIME = timedelta(minutes=5)
MAX_TRIES = 3  # wrong entries of one code before it is void (the lockout counts them too)
MAX_CODES_PER_PATIENT = 3  # per CODES_WINDOW: a patient whose SMS is slow asks again once or twice
MAX_DAILY_CODES_PER_PATIENT = 10  # SMS and ZNS cost money: a script must not spend it
MAX_CODES_PER_CLIENT = 5  # per CODES_WINDOW from one address, whichever patients
CODES_WINDOW = timedelta(minutes=15)
# Channels that reach the patient outside the portal: the in-app copy alone cannot sign anyone in.
OUTSIDE = ("zalo", "sms", "email", "file_log")


class WrongCode(DomainError):
    """The code is wrong, expired or already used (all read the same)."""

    status = 401

    def __init__(self) -> None:
        super().__init__("wrong_code", "Mã xác thực không đúng hoặc đã hết hạn: hãy nhập lại hoặc gửi mã mới / the "
                                       "code is wrong or has expired: enter it again or send a new one")


class NoWayToReach(DomainError):
    """The record has no phone or email the hospital can send a code to."""

    status = 409

    def __init__(self) -> None:
        super().__init__("no_contact", "Hồ sơ của bạn chưa có số điện thoại hoặc email để nhận mã. Vui lòng liên hệ "
                                       "quầy tiếp đón / your record has no phone or email to send a code to: please "
                                       "see reception")


@dataclass(frozen=True)
class Challenge:
    """A code on its way: which one (for the second step) and where it went (masked)."""

    id: int
    patient: PortalPatient
    sent_to: str
    expires_at: datetime


def mask_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"{digits[:2]}{'•' * max(len(digits) - 4, 0)}{digits[-2:]}" if len(digits) > 4 else "••••"


def mask_email(email: str) -> str:
    user, _, domain = email.partition("@")
    return f"{user[:1]}•••@{domain}" if domain else "•••"


class OneTimeCodes:
    """Issue and check sign-in codes; the outbox carries them, `auth` keeps the lockout."""

    def __init__(self, db: Database, clock: Clock, secret_key: str, auth: PortalAuth,
                 outbox: NotificationService) -> None:
        self.db = db
        self.clock = clock
        self.secret_key = secret_key
        self.auth = auth
        self.outbox = outbox

    def _hash(self, code_id: int, code: str) -> str:
        # Keyed and bound to the row: a copy of the table alone does not give the 10^6 codes away.
        return hmac.new(self.secret_key.encode(), f"otp:{code_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def issue(self, patient: PortalPatient, address: str, *, purpose: str = "sign_in") -> Challenge:
        """Send a fresh code to the patient's phone/email on record; TooManyAttempts past the limits."""
        client = client_tag(self.secret_key, address)
        now = self.clock.now()
        if not self.auth.client_allowed(address):
            raise TooManyAttempts()
        channels = [c for c in self.outbox.settings.otp_channels if self.outbox.settings.channel_enabled(c)]
        with self.db.write() as tx:
            if self._over_limit(tx, patient.id, client, now):
                raise TooManyAttempts()
            row = tx.execute(select(P.c.phone, P.c.email).where(P.c.id == patient.id)).one()
            code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
            masked = [mask_phone(row.phone)] if row.phone else []
            masked += [mask_email(row.email)] if row.email and "email" in channels else []
            code_id = tx.execute(insert(PC).values(
                patient_id=patient.id, purpose=purpose, code_hash="-", client=client, sent_to=", ".join(masked)[:120],
                created_at=now, expires_at=now + CODE_LIFETIME, attempts=0).returning(PC.c.id)).scalar_one()
            tx.execute(update(PC).where(PC.c.id == code_id).values(code_hash=self._hash(code_id, code)))
            minutes = int(CODE_LIFETIME.total_seconds() // 60)
            rows = self.outbox.enqueue("otp", patient_id=patient.id, channels=channels,
                                       params={"code": code, "minutes": minutes}, dedupe_key=f"otp:{code_id}",
                                       actor="portal", connection=tx, fallback=True)
            if not any(r["state"] == "pending" and r["channel"] in OUTSIDE for r in rows):
                raise NoWayToReach()  # rolls the code and its rows back: nothing was sent
        return Challenge(code_id, patient, ", ".join(masked), now + CODE_LIFETIME)

    @staticmethod
    def _over_limit(tx: Connection, patient_id: int, client: str, now: datetime) -> bool:
        def count(*conditions: object) -> int:
            return int(tx.execute(select(func.count()).select_from(PC).where(*conditions)).scalar_one())

        recent = PC.c.created_at >= now - CODES_WINDOW
        return (count(PC.c.patient_id == patient_id, recent) >= MAX_CODES_PER_PATIENT
                or count(PC.c.patient_id == patient_id, PC.c.created_at >= now - timedelta(days=1))
                >= MAX_DAILY_CODES_PER_PATIENT
                or count(PC.c.client == client, recent) >= MAX_CODES_PER_CLIENT)

    def challenge(self, code_id: int) -> Challenge | None:
        """A code still waiting to be entered (for the second page), or None."""
        with self.db.read() as tx:
            row = tx.execute(select(PC, P.c.code.label("p_code"), P.c.full_name).select_from(
                PC.join(P, P.c.id == PC.c.patient_id)).where(PC.c.id == code_id)).first()
        if row is None or row.used_at is not None or row.expires_at <= self.clock.now() or row.attempts >= MAX_TRIES:
            return None
        return Challenge(row.id, PortalPatient(row.patient_id, row.p_code, row.full_name), row.sent_to,
                         row.expires_at)

    def verify(self, code_id: int, code_text: str, address: str) -> PortalPatient:
        """The patient the code was sent to; WrongCode (a failed sign-in) or TooManyAttempts otherwise."""
        client = client_tag(self.secret_key, address)
        code = "".join(ch for ch in (code_text or "") if ch.isdigit())
        with self.db.read() as tx:
            owner = tx.execute(select(P.c.code).select_from(PC.join(P, P.c.id == PC.c.patient_id))
                               .where(PC.c.id == code_id)).scalar()
        if owner is None:
            raise WrongCode()
        if self.auth.locked(owner, address):
            raise TooManyAttempts()
        now = self.clock.now()
        with self.db.write() as tx:
            row = tx.execute(select(PC, P.c.code.label("p_code"), P.c.full_name).select_from(
                PC.join(P, P.c.id == PC.c.patient_id)).where(PC.c.id == code_id)).one()
            usable = row.used_at is None and row.expires_at > now and row.attempts < MAX_TRIES
            right = hmac.compare_digest(row.code_hash, self._hash(row.id, code)) and len(code) == CODE_DIGITS
            if usable and right:
                # Single use even between two hub processes: only one update finds it unused.
                taken = tx.execute(update(PC).where(PC.c.id == row.id, PC.c.used_at.is_(None))
                                   .values(used_at=now)).rowcount == 1
                if taken:
                    tx.execute(insert(AL).values(at=now, actor=client, action=SIGNED_IN, subject=row.p_code,
                                                 detail={"reason": "otp"}))
                    return PortalPatient(row.patient_id, row.p_code, row.full_name)
            tx.execute(update(PC).where(PC.c.id == row.id).values(attempts=PC.c.attempts + 1))
            reason = "wrong_code" if usable else ("used_code" if row.used_at else "expired_code")
            tx.execute(insert(AL).values(at=now, actor=client, action=FAILED, subject=row.p_code,
                                         detail={"reason": reason}))
        raise WrongCode()
