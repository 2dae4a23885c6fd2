"""Signed, expiring links to a patient's follow-up page (/f/<token>): confirm, reschedule or cancel.

The token names the appointment and when the link stops working; the signature (itsdangerous, the
hub's secret key) makes both tamper-proof. The expiry travels inside the signed payload instead of
using the signing time (URLSafeTimedSerializer), because it follows the appointment (its time plus a
day), not the moment the message was written.
"""

from __future__ import annotations

from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

from hub.domain.common.clock import Clock
from hub.domain.common.errors import DomainError

SALT = "follow-up-link"


class LinkRefused(DomainError):
    """A link that was altered (400 `bad_link`) or is past its time (410 `link_expired`)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message)
        self.status = status


class FollowUpLinks:
    """Makes and checks the tokens; `url` is what goes into a message."""

    def __init__(self, secret_key: str, public_url: str, clock: Clock) -> None:
        self._signer = URLSafeSerializer(secret_key, salt=SALT)
        self.public_url = public_url.rstrip("/")
        self.clock = clock

    def token(self, appointment_id: int, expires: datetime) -> str:
        return self._signer.dumps([appointment_id, int(expires.timestamp())])

    def url(self, appointment_id: int, expires: datetime) -> str:
        return f"{self.public_url}/f/{self.token(appointment_id, expires)}"

    def read(self, token: str) -> tuple[int, datetime]:
        """The appointment id and expiry of a valid token; LinkRefused otherwise."""
        try:
            appointment_id, expires_epoch = self._signer.loads(token)
            if not isinstance(appointment_id, int) or not isinstance(expires_epoch, int):
                raise ValueError("unexpected payload")
        except (BadSignature, ValueError, TypeError):
            raise LinkRefused("bad_link", "Đường link không hợp lệ (có thể đã bị sửa hoặc chép thiếu) / this link is "
                                          "not valid (it may have been altered or copied incompletely)", 400) from None
        expires = datetime.fromtimestamp(expires_epoch, UTC)
        if self.clock.now() > expires:
            raise LinkRefused("link_expired", "Đường link đã hết hạn / this link has expired", 410)
        return appointment_id, expires
