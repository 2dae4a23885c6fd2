"""What every channel receives and how it reports failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Outgoing:
    """One claimed outbox row, rendered and ready for its channel."""

    id: int
    channel: str
    recipient: str
    template: str
    language: str
    subject: str
    body: str
    sms: str
    params: dict[str, Any] = field(default_factory=dict)
    patient_id: int | None = None
    appointment_id: int | None = None


class SendError(Exception):
    """Sending failed; `permanent` failures are not retried (a refused address, a rejected message)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> str | None:
        """Deliver the message or raise SendError; returns the provider's message id when there is one."""
        ...
