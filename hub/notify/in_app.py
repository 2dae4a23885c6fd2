"""The in-app channel: the message is stored for the patient portal and announced as a domain event.

The Socket.IO adapter forwards the event to the room of the patient's open portal pages (clients
subscribe with {"patient": code, "token": t}); a patient who is not online reads it later on the portal.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from hub.db import Database
from hub.domain.common.clock import Clock
from hub.domain.common.events import EventBus
from hub.domain.notifications.models import PatientMessage
from hub.domain.notifications.outbox import REDACTED, SECRET_PARAMS, TRANSACTIONAL, PatientMessageCreated
from hub.notify.base import Outgoing, SendError

M = PatientMessage.__table__
TOKEN_SALT = "patient-inbox"


def inbox_token(secret_key: str, patient_code: str) -> str:
    """The signed token that lets a portal page follow one patient's messages."""
    return URLSafeSerializer(secret_key, salt=TOKEN_SALT).dumps(patient_code)


def check_inbox_token(secret_key: str, patient_code: str, token: str) -> bool:
    try:
        return URLSafeSerializer(secret_key, salt=TOKEN_SALT).loads(token) == patient_code
    except BadSignature:
        return False


class InAppChannel:
    name = "in_app"

    def __init__(self, db: Database, bus: EventBus, clock: Clock) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock

    def send(self, message: Outgoing) -> str | None:
        if message.patient_id is None:
            raise SendError("an in-app message needs a patient", permanent=True)
        link = message.params.get("link")
        body = message.body
        if message.template in TRANSACTIONAL:
            # The inbox keeps a record that a code was sent (the patient sees if someone asked), not the code.
            body = _redacted(body, message.params)
        with self.db.write() as connection:
            # One inbox row per outbox row: a retry after a crash finds it and stores nothing more.
            existing = connection.execute(select(M.c.id).where(M.c.notification_id == message.id)).scalar()
            if existing is None:
                existing = connection.execute(M.insert().values(
                    patient_id=message.patient_id, notification_id=message.id,
                    title=_redacted(message.subject, message.params) if message.template in TRANSACTIONAL
                    else message.subject,
                    body=body, link=str(link)[:500] if link else None, created_at=self.clock.now(),
                ).returning(M.c.id)).scalar_one()
                created = True
            else:
                created = False
        if created:
            self.bus.publish(PatientMessageCreated(patient_code=message.recipient, message={
                "id": existing, "title": _redacted(message.subject, message.params), "body": body, "link": link,
                "template": message.template, "appointment_id": message.appointment_id,
                "created_at": self.clock.now().isoformat()}))
        return f"inbox:{existing}"


def _redacted(text: str, params: dict[str, object]) -> str:
    for key in SECRET_PARAMS:
        if params.get(key):
            text = text.replace(str(params[key]), REDACTED)
    return text
