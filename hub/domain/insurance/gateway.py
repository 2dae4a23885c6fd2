"""`InsuranceGateway`: look a card up by card code or CCCD number at the insurer, and its two ends.

`SimulatedGateway` reads a local TOML file of cards (the demo and the tests) and reproduces what the
national portal does wrong: no answer (timeout), a slow answer, refusals. `PortalGateway` speaks HTTP to
the national insurance portal (cổng giám định BHYT) with the hospital's own credentials; it is never
called in tests except against a local stand-in server.

A gateway answers with a `CardCheck` (eligible or refused, with the reason) or raises `GatewayDown`;
the caller then leaves the visit "not yet checked" and checks again later. It never blocks a visit.
"""

from __future__ import annotations

import json
import time
import tomllib
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

ELIGIBLE, REFUSED = "eligible", "refused"
# Refusal reasons, as the API and reports name them.
EXPIRED, NOT_FOUND, MISMATCH, NOT_YET_VALID = "expired", "not_found", "name_dob_mismatch", "not_yet_valid"
REASONS = {
    EXPIRED: "Thẻ BHYT hết hạn / card expired",
    NOT_FOUND: "Không tìm thấy thẻ / card not found",
    MISMATCH: "Sai họ tên hoặc ngày sinh / name or date of birth does not match",
    NOT_YET_VALID: "Thẻ chưa có hiệu lực / card not yet valid",
}


class GatewayDown(Exception):
    """The insurer did not answer (down, timeout, bad reply): check again later."""


@dataclass(frozen=True)
class CardQuery:
    card_code: str | None = None
    national_id: str | None = None
    # Sent when known so the insurer can compare them with the card (the portal requires both).
    full_name: str | None = None
    date_of_birth: date | None = None
    day: date | None = None  # the visit's day; validity is judged on it


@dataclass(frozen=True)
class CardCheck:
    status: str  # eligible, refused
    reason: str | None = None
    card_code: str | None = None
    national_id: str | None = None
    holder_name: str | None = None
    date_of_birth: date | None = None
    benefit_level: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    facility_code: str | None = None
    five_years_from: date | None = None

    def as_dict(self) -> dict[str, Any]:
        iso = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items()}
        return {**iso, "message": REASONS.get(self.reason or "") if self.reason else None}


class InsuranceGateway(Protocol):
    name: str

    def check(self, query: CardQuery, timeout_s: float) -> CardCheck:
        """The insurer's answer, or GatewayDown when it gives none within `timeout_s`."""
        ...


def _fold(text: str | None) -> str:
    """A name compared the way the portal does: no diacritics, case or extra spaces."""
    plain = unicodedata.normalize("NFD", (text or "").replace("Đ", "D").replace("đ", "d"))
    return " ".join("".join(c for c in plain if not unicodedata.combining(c)).lower().split())


def judge(card: CardCheck, query: CardQuery) -> CardCheck:
    """The insurer's rules on a card it found: dates valid on the day, name and date of birth matching."""
    if query.full_name and card.holder_name and _fold(query.full_name) != _fold(card.holder_name):
        return CardCheck(**{**card.__dict__, "status": REFUSED, "reason": MISMATCH})
    if query.date_of_birth and card.date_of_birth and query.date_of_birth != card.date_of_birth:
        return CardCheck(**{**card.__dict__, "status": REFUSED, "reason": MISMATCH})
    day = query.day or date.today()
    if card.valid_to and day > card.valid_to:
        return CardCheck(**{**card.__dict__, "status": REFUSED, "reason": EXPIRED})
    if card.valid_from and day < card.valid_from:
        return CardCheck(**{**card.__dict__, "status": REFUSED, "reason": NOT_YET_VALID})
    return CardCheck(**{**card.__dict__, "status": ELIGIBLE, "reason": None})


def _opt_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class SimulatedGateway:
    """Cards from a TOML file (`[[cards]]` card_code, national_id, name, date_of_birth, benefit_level,
    valid_from, valid_to, facility_code, five_years_from, and `behaviour` = "timeout" | "slow" | "down").

    `down = true` at the top of the file, or setting `.down`, makes every check fail as the portal would.
    """

    name = "simulated"

    def __init__(self, path: Path | str, *, slow_s: float = 2.0) -> None:
        self.path = Path(path)
        raw = tomllib.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}
        self.down = bool(raw.get("down", False))
        self.slow_s = slow_s
        self.calls = 0
        self.cards: list[dict[str, Any]] = list(raw.get("cards", []))

    def _find(self, query: CardQuery) -> dict[str, Any] | None:
        for card in self.cards:
            if query.card_code and card.get("card_code") == query.card_code:
                return card
            if query.national_id and card.get("national_id") == query.national_id:
                return card
        return None

    def check(self, query: CardQuery, timeout_s: float) -> CardCheck:
        self.calls += 1
        if self.down:
            raise GatewayDown("cổng BHYT không trả lời / the insurance portal is down")
        card = self._find(query)
        if card is None:
            return CardCheck(REFUSED, NOT_FOUND, query.card_code, query.national_id)
        behaviour = card.get("behaviour", "")
        if behaviour in ("timeout", "down"):
            time.sleep(min(timeout_s, 0.05))  # the real one would hang until the timeout; tests need no wait
            raise GatewayDown("cổng BHYT quá thời gian / the insurance portal timed out")
        if behaviour == "slow":
            if self.slow_s >= timeout_s:
                time.sleep(min(timeout_s, 0.05))
                raise GatewayDown("cổng BHYT quá thời gian / the insurance portal timed out")
            time.sleep(self.slow_s)
        level = card.get("benefit_level")
        code = card.get("card_code")
        if level is None and code:
            level = int(code[2])
        found = CardCheck(ELIGIBLE, None, code, card.get("national_id"), card.get("name"),
                          _opt_date(card.get("date_of_birth")), level, _opt_date(card.get("valid_from")),
                          _opt_date(card.get("valid_to")), card.get("facility_code"),
                          _opt_date(card.get("five_years_from")))
        return judge(found, query)


class PortalGateway:
    """The national insurance portal over HTTP (JSON): log in with the hospital's account, then look up.

    Shaped after the portal's card-history lookup (`/api/token/take`, `/api/egw/KQNhanLichSuKCB2018`) with
    the field names it uses (maThe, hoTen, ngaySinh, gtTheTu, gtTheDen, maDKBD, maKetQua); the exact
    contract comes with the hospital's account from BHXH, so the mapping lives in this one class.
    """

    name = "portal"
    # The portal's result codes (maKetQua) that mean a refusal, and ours for each (others are eligible).
    REFUSALS = {"050": NOT_FOUND, "051": NOT_FOUND, "052": MISMATCH, "053": MISMATCH, "060": EXPIRED,
                "061": NOT_YET_VALID}

    def __init__(self, base_url: str, username: str, password: str) -> None:
        if not base_url or not username or not password:
            raise ValueError("the portal gateway needs base_url, username and the password (environment)")
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self._token: str | None = None

    def _post(self, path: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.base_url}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                self._token = None
            raise GatewayDown(f"portal answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise GatewayDown(f"portal unreachable: {exc}") from None

    def _login(self, timeout_s: float) -> None:
        answer = self._post("/api/token/take", {"username": self.username, "password": self.password}, timeout_s)
        token = (answer.get("APIKey") or {}).get("access_token") if isinstance(answer.get("APIKey"), dict) else None
        if not token:
            raise GatewayDown("portal login refused")
        self._token = token

    def check(self, query: CardQuery, timeout_s: float) -> CardCheck:
        if self._token is None:
            self._login(timeout_s)
        body = {"maThe": query.card_code or query.national_id, "hoTen": query.full_name or "",
                "ngaySinh": query.date_of_birth.strftime("%d/%m/%Y") if query.date_of_birth else ""}
        answer = self._post("/api/egw/KQNhanLichSuKCB2018", body, timeout_s)
        code = str(answer.get("maKetQua", ""))
        if not code:
            raise GatewayDown("portal reply without maKetQua")

        def day(key: str) -> date | None:
            value = answer.get(key)
            try:
                return date(int(value[6:10]), int(value[3:5]), int(value[0:2])) if value else None
            except (TypeError, ValueError):
                return None

        card_code = answer.get("maThe") or query.card_code
        level = int(card_code[2]) if isinstance(card_code, str) and len(card_code) == 15 else None
        found = CardCheck(ELIGIBLE, None, card_code, query.national_id, answer.get("hoTen"), day("ngaySinh"), level,
                          day("gtTheTu"), day("gtTheDen"), answer.get("maDKBD"), day("ngayDu5Nam"))
        if code in self.REFUSALS:
            return CardCheck(**{**found.__dict__, "status": REFUSED, "reason": self.REFUSALS[code]})
        return judge(found, CardQuery(day=query.day))


def gateway_from(settings: Any, config_dir: Path | str, environ: dict[str, str]) -> InsuranceGateway:
    """The gateway config/insurance.toml [gateway] names."""
    if settings.kind == "portal":
        return PortalGateway(settings.base_url, settings.username, environ.get(settings.password_env, ""))
    return SimulatedGateway(Path(config_dir) / settings.cards_file)
