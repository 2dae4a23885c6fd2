"""Finding a known patient from a number typed at the kiosk: a CCCD number or a BHYT card code, plus the
date of birth as a second factor. Anyone can type a number, so a typed number alone never finds anyone,
nobody is registered this way, and wrong attempts are limited per kiosk (`AttemptLimiter`).

Typed numbers are personal data: nothing here logs them; the audit trail records the patient code only.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import insert, or_, select

from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.errors import DomainError, Invalid
from hub.domain.common.models import AuditEntry
from hub.domain.insurance import cards
from hub.domain.insurance.models import Coverage
from hub.domain.patients.models import Patient
from hub.domain.patients.records import _view

NO_MATCH_MESSAGE = ("Không tìm thấy hồ sơ khớp với thông tin đã nhập. Vui lòng đến quầy tiếp đón / "
                    "No record matches what was entered. Please go to the reception desk")


class NoMatch(DomainError):
    """Number and birth date do not match one patient; never says which of the two was wrong."""

    status = 404

    def __init__(self) -> None:
        super().__init__("no_match", NO_MATCH_MESSAGE)


class TooManyAttempts(DomainError):
    status = 429

    def __init__(self) -> None:
        super().__init__("too_many_attempts", "Đã nhập sai quá nhiều lần. Vui lòng đến quầy tiếp đón / "
                                              "Too many wrong attempts. Please go to the reception desk")


@dataclass(frozen=True)
class TypedNumber:
    """A typed number, once its shape is known: `kind` is "national_id" or "card_code"."""

    kind: str
    value: str


def parse_typed_number(value: object) -> TypedNumber:
    """A 12-digit CCCD number or a 15-character BHYT card code (spaces, dashes and case forgiven)."""
    text = re.sub(r"[\s-]", "", value).upper() if isinstance(value, str) else ""
    if text.isdigit():
        return TypedNumber("national_id", cards.check_national_id(text))
    if len(text) == 15:
        return TypedNumber("card_code", cards.parse_card_code(text).code)
    raise Invalid("bad_number", "Nhập số CCCD (12 chữ số) hoặc mã thẻ BHYT (15 ký tự) / type the 12-digit CCCD "
                                "number or the 15-character BHYT card code")


class AttemptLimiter:
    """At most `limit` wrong attempts per kiosk in a sliding `window`; in memory (a hub restart forgets,
    which is fine: the limit slows guessing, it is not a lockout record)."""

    def __init__(self, clock: Clock, limit: int = 5, window: timedelta = timedelta(minutes=10)) -> None:
        self.clock, self.limit, self.window = clock, limit, window
        self._misses: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, who: str) -> deque[datetime]:
        misses = self._misses.setdefault(who, deque())
        cutoff = self.clock.now() - self.window
        while misses and misses[0] <= cutoff:
            misses.popleft()
        return misses

    def check(self, who: str) -> None:
        """TooManyAttempts while `who` has used up its wrong attempts."""
        with self._lock:
            if len(self._recent(who)) >= self.limit:
                raise TooManyAttempts()

    def miss(self, who: str) -> None:
        with self._lock:
            self._recent(who).append(self.clock.now())


def find_typed(db: Database, clock: Clock, number: TypedNumber, date_of_birth: date, *,
               actor: str) -> dict[str, object]:
    """The patient on file with this CCCD number (or a card code on file) AND this date of birth, or NoMatch.

    A CCCD number is matched against the patient record and the coverages on file; a card code against
    the coverages and the patient's insurance number.
    """
    P, C = Patient.__table__, Coverage.__table__
    if number.kind == "national_id":
        by_coverage = select(C.c.patient_id).where(C.c.national_id == number.value)
        where = or_(P.c.national_id == number.value, P.c.id.in_(by_coverage))
    else:
        by_coverage = select(C.c.patient_id).where(C.c.card_code == number.value)
        where = or_(P.c.insurance_no == number.value, P.c.id.in_(by_coverage))
    with db.write() as connection:
        rows = connection.execute(select(P.c.id, P.c.code).where(where, P.c.date_of_birth == date_of_birth)
                                  .limit(2)).all()
        if len(rows) != 1:
            # Two records with the same number and birth date: reception sorts it out, the kiosk does not guess.
            raise NoMatch()
        connection.execute(insert(AuditEntry).values(at=clock.now(), actor=actor[:64], action="patient_identified",
                                                     subject=rows[0].code, detail={"source": f"typed_{number.kind}"}))
        return _view(connection, rows[0].id)
