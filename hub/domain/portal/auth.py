"""Patient sign-in for the portal: patient code + date of birth with lockout, signed links, sessions.

Patient codes are sequential (BN26000123, BN26000124, ...) and a date of birth is no secret to family
or neighbours, so guessing is the threat. Failed attempts are rows in the audit log, counted per typed
code and per client address over FAILURE_WINDOW: the count is shared by every hub process and survives
a restart. Past the limit the attempt is refused without being checked, and every refusal reads the
same whether the code exists or not. Links in messages are signed and expire; a session is a signed
token with a short idle time and an absolute lifetime, with nothing in common with the staff login.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, case, func, insert, select, update

from hub.config import ClinicConfig
from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import DomainError
from hub.domain.common.models import AuditEntry
from hub.domain.patients.models import Patient

P = Patient.__table__
AL = AuditEntry.__table__

MAX_FAILURES_PER_CODE = 5
MAX_FAILURES_PER_CLIENT = 5
FAILURE_WINDOW = timedelta(minutes=15)
# Five guesses every 15 minutes would still find a birth date within a known year in about a day: a
# code also has a daily allowance. (Someone who knows the code can lock its patient out this long; the
# signed link in a message still works, and reception can help.)
MAX_DAILY_FAILURES_PER_CODE = 15
DAILY_WINDOW = timedelta(hours=24)
LINK_LIFETIME = timedelta(days=7)  # a reminder goes out up to 3 days ahead; its link must last past the visit
SESSION_IDLE = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=2)

FAILED = "portal_login_failed"
REFUSED_REGISTRATION = "portal_register_refused"
SIGNED_IN = "portal_signed_in"
IDENTIFIED = "portal_identified"  # code (or CCCD) and birth date matched: a one-time code goes out next
COUNTED = (FAILED, REFUSED_REGISTRATION)  # what counts against a client address
_CODE = re.compile(r"^BN\d{6,12}$")
_NATIONAL_ID = re.compile(r"^\d{12}$")
_BIRTH_FORMATS = (
    re.compile(r"^(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4})$"),  # 17/05/1960, as Vietnamese write it
    re.compile(r"^(?P<d>\d{2})(?P<m>\d{2})(?P<y>\d{4})$"),  # 17051960, as on the CCCD QR
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})$"),  # 1960-05-17, from a date input
)


class SignInRefused(DomainError):
    """Wrong code or date of birth; the message never says which."""

    status = 401

    def __init__(self) -> None:
        super().__init__("sign_in_failed", "Mã bệnh nhân hoặc ngày sinh không đúng / the patient code or date of "
                                           "birth is wrong")


class TooManyAttempts(DomainError):
    """Too many failures for this code or from this address: wait, or use the link in a message."""

    status = 429

    def __init__(self) -> None:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        super().__init__("too_many_attempts", f"Bạn đã thử quá nhiều lần. Vui lòng thử lại sau ít nhất {minutes} phút, "
                                              "dùng liên kết trong tin nhắn của bệnh viện, hoặc hỏi quầy tiếp đón / "
                                              f"too many attempts: try again in {minutes} minutes or later, use the "
                                              "link in a message from the hospital, or ask at reception")


class InvalidLink(DomainError):
    """A portal link that was altered, has expired, or names no patient (all read the same)."""

    status = 400

    def __init__(self) -> None:
        super().__init__("invalid_link", "Liên kết không hợp lệ hoặc đã hết hạn / the link is invalid or has "
                                         "expired")


@dataclass(frozen=True)
class PortalPatient:
    """Who a portal session belongs to; `scope` is the one page a session opened by a message's link
    may show (None: signed in with a one-time code, every page)."""

    id: int
    code: str
    full_name: str
    scope: str | None = None


class LinkSigner(Protocol):
    """What `portal_link` needs of the hub (kept apart so the domain does not import the hub)."""

    secret_key: str
    config: ClinicConfig
    clock: Clock


def normalize_code(text: str) -> str:
    """A patient code as typed on a phone: case, spaces and dashes do not matter."""
    return re.sub(r"[\s\-.]", "", text or "").upper()


def parse_birth_date(text: str) -> date | None:
    """dd/mm/yyyy (or d/m/yyyy, ddmmyyyy, yyyy-mm-dd); None when it is not a real date."""
    text = (text or "").strip()
    for pattern in _BIRTH_FORMATS:
        match = pattern.match(text)
        if match:
            try:
                return date(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return None
    return None


def client_tag(secret_key: str, address: str) -> str:
    """A client address as the audit log keeps it: keyed and shortened, so the log holds no IP addresses."""
    digest = hmac.new(secret_key.encode(), f"client:{address}".encode(), hashlib.sha256).hexdigest()
    return f"client:{digest[:16]}"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def link_token(secret_key: str, patient_code: str, now: datetime, lifetime: timedelta = LINK_LIFETIME,
               page: str = "/portal") -> str:
    """A message's link: its patient, its expiry, and the one page it opens (`n`)."""
    return URLSafeSerializer(secret_key, salt="portal-link").dumps(
        {"c": patient_code, "exp": _epoch(now + lifetime), "n": page})


def portal_link(hub: LinkSigner, patient: str | Mapping[str, Any] | PortalPatient, *,
                lifetime: timedelta = LINK_LIFETIME, page: str | None = None) -> str:
    """A link that signs `patient` in to the portal until it expires (for messages: SMS, email, in-app).

    `patient` is a patient code, a mapping with "code" (a patient or appointment["patient"]) or a
    PortalPatient; `page` is where it lands ("/portal/history", "/portal/bookings"; "/portal" when
    None). The link opens that page only (to read it); anything else asks for a one-time code.
    """
    if isinstance(patient, PortalPatient):
        code = patient.code
    elif isinstance(patient, str):
        code = patient
    else:
        code = patient["code"]
    token = link_token(hub.secret_key, code, hub.clock.now(), lifetime, page or "/portal")
    landing = f"?{urlencode({'next': page})}" if page else ""
    return f"{hub.config.site.public_url.rstrip('/')}/portal/link/{token}{landing}"


class PortalAuth:
    """Sign-in by code and date of birth, by signed link, and the session tokens that follow."""

    def __init__(self, db: Database, clock: Clock, secret_key: str) -> None:
        self.db = db
        self.clock = clock
        self.secret_key = secret_key
        self._sessions = URLSafeSerializer(secret_key, salt="portal-session")
        self._links = URLSafeSerializer(secret_key, salt="portal-link")

    # ------------------------------------------------------------------ code + date of birth
    def sign_in(self, code_text: str, birth_date: date, address: str) -> PortalPatient:
        """The patient whose code and date of birth these are; SignInRefused or TooManyAttempts otherwise.

        The attempt is written before it is checked and the failures are counted after: of any number
        of simultaneous guesses, at most the limit get checked, on SQLite and PostgreSQL alike.
        """
        code = normalize_code(code_text)
        by_national_id = bool(_NATIONAL_ID.match(code))
        # A CCCD is not written to the audit log: its failures are counted under a keyed tag of it.
        subject = code if _CODE.match(code) else (self._id_tag(code) if by_national_id else "-")
        client = client_tag(self.secret_key, address)
        if self._over_limit(subject, client, counting_own=False):
            raise TooManyAttempts()
        now = self.clock.now()
        with self.db.write() as connection:
            attempt = connection.execute(insert(AL).values(at=now, actor=client, action=FAILED, subject=subject,
                                                           detail={"reason": "checking"}).returning(AL.c.id)).scalar()
        if self._over_limit(subject, client, counting_own=True):
            self._settle(attempt, FAILED, "locked")
            raise TooManyAttempts()
        with self.db.read() as connection:
            key = P.c.national_id if by_national_id else P.c.code
            row = connection.execute(select(P.c.id, P.c.code, P.c.full_name, P.c.date_of_birth)
                                     .where(key == code)).first() if subject != "-" else None
        if row is None or row.date_of_birth is None or row.date_of_birth != birth_date:
            self._settle(attempt, FAILED, "unknown_code" if row is None else "wrong_birth_date")
            raise SignInRefused()
        # Not signed in yet: the card's details only earn a one-time code to the phone on record.
        self._settle(attempt, IDENTIFIED, "national_id" if by_national_id else "code")
        return PortalPatient(row.id, row.code, row.full_name)

    def _id_tag(self, national_id: str) -> str:
        return "id:" + hmac.new(self.secret_key.encode(), f"cccd:{national_id}".encode(),
                                hashlib.sha256).hexdigest()[:16]

    def locked(self, patient_code: str, address: str) -> bool:
        """Whether this patient code or this address is locked out now."""
        return self._over_limit(patient_code, client_tag(self.secret_key, address), counting_own=False)

    def client_allowed(self, address: str) -> bool:
        """False while this address is locked out (registration checks it too)."""
        return not self._over_limit("-", client_tag(self.secret_key, address), counting_own=False, by_code=False)

    def record_refusal(self, address: str, reason: str) -> None:
        """A refused registration counts against the address like a failed sign-in (both probe records)."""
        with self.db.write() as connection:
            connection.execute(insert(AL).values(at=self.clock.now(), actor=client_tag(self.secret_key, address),
                                                 action=REFUSED_REGISTRATION, subject="-", detail={"reason": reason}))

    def _over_limit(self, subject: str, client: str, *, counting_own: bool, by_code: bool = True) -> bool:
        now = self.clock.now()
        # The attempt being checked is one of the rows when counting_own: it may be the limit-th, not more.
        slack = 0 if counting_own else 1
        with self.db.read() as connection:
            counts = self._failures(connection, subject if by_code else None, client, now - FAILURE_WINDOW,
                                    now - DAILY_WINDOW)
        limits = (MAX_FAILURES_PER_CLIENT, MAX_FAILURES_PER_CODE, MAX_DAILY_FAILURES_PER_CODE)
        return any(count + slack > limit for count, limit in zip(counts, limits, strict=True))

    @staticmethod
    def _failures(connection: Connection, subject: str | None, client: str, since: datetime,
                  day_since: datetime) -> tuple[int, int, int]:
        """Failures (address, code) in the window and the code's over the day, in one indexed scan."""
        recent = AL.c.at >= since
        hits = [recent & (AL.c.actor == client)]
        # A failure with no readable code ("-") is nobody's: it counts for the address only.
        if subject not in (None, "-"):
            of_code = (AL.c.action == FAILED) & (AL.c.subject == subject)
            hits += [recent & of_code, of_code]
        row = connection.execute(select(*(func.coalesce(func.sum(case((hit, 1), else_=0)), 0) for hit in hits))
                                 .where(AL.c.at >= day_since, AL.c.action.in_(COUNTED))).one()
        counts = [int(value) for value in row]
        return counts[0], *(counts[1:] if len(counts) == 3 else (0, 0))

    def _settle(self, attempt_id: int, action: str, reason: str) -> None:
        with self.db.write() as connection:
            connection.execute(update(AL).where(AL.c.id == attempt_id).values(action=action, detail={"reason": reason}))

    # ------------------------------------------------------------------ signed links
    def from_link(self, token: str) -> PortalPatient:
        """The patient a link from a message was made for, scoped to the link's page; InvalidLink when
        altered or expired. Links made before pages were named open the portal's home page only."""
        try:
            claims = self._links.loads(token)
        except BadSignature:
            raise InvalidLink() from None
        if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or not isinstance(
                claims.get("c"), str) or claims["exp"] < _epoch(self.clock.now()):
            raise InvalidLink()
        with self.db.read() as connection:
            row = connection.execute(select(P.c.id, P.c.code, P.c.full_name).where(P.c.code == claims["c"])).first()
        if row is None:
            raise InvalidLink()
        with self.db.write() as connection:
            connection.execute(insert(AL).values(at=self.clock.now(), actor=f"patient:{row.code}", action=SIGNED_IN,
                                                 subject=row.code, detail={"reason": "link"}))
        page = claims.get("n") if isinstance(claims.get("n"), str) else "/portal"
        return PortalPatient(row.id, row.code, row.full_name, scope=page)

    # ------------------------------------------------------------------ sessions
    def open_session(self, patient: PortalPatient) -> str:
        now = _epoch(self.clock.now())
        return self._sessions.dumps({"p": patient.id, "c": patient.code, "iat": now, "seen": now,
                                     "s": patient.scope})

    def resume(self, token: str) -> tuple[PortalPatient, str] | None:
        """The session's patient and the token to send back (its idle time restarted); None when over."""
        try:
            claims = self._sessions.loads(token)
        except BadSignature:
            return None
        now = _epoch(self.clock.now())
        if (not isinstance(claims, dict) or not all(isinstance(claims.get(k), int) for k in ("p", "iat", "seen"))
                or now - claims["seen"] > SESSION_IDLE.total_seconds()
                or now - claims["iat"] > SESSION_LIFETIME.total_seconds()):
            return None
        with self.db.read() as connection:
            row = connection.execute(select(P.c.id, P.c.code, P.c.full_name).where(P.c.id == claims["p"])).first()
        if row is None or row.code != claims.get("c"):
            return None
        scope = claims.get("s") if isinstance(claims.get("s"), str) else None
        return (PortalPatient(row.id, row.code, row.full_name, scope=scope),
                self._sessions.dumps({**claims, "seen": now}))
