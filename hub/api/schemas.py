"""Request bodies of the REST API: strict types, bounded strings, no unknown fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr

Code = Annotated[StrictStr, Field(min_length=1, max_length=32)]
ShortText = Annotated[StrictStr, Field(max_length=200)]
IdempotencyKey = Annotated[StrictStr, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
DeviceId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class OfflineIssue(_Body):
    """A number a kiosk gave from its lease while the hub was unreachable, and when it gave it."""

    seq: Annotated[StrictInt, Field(ge=1, le=99_999)]
    # JSON has no datetime type: this one field accepts an ISO 8601 string with its offset.
    issued_at: Annotated[AwareDatetime, Field(strict=False)]


class TicketRequest(_Body):
    """Take a number: POST /tickets (`service` may be left out only with an `appointment_code`)."""

    service: Code | None = None
    priority: Code = "normal"
    patient_code: Annotated[StrictStr, Field(min_length=1, max_length=20)] | None = None
    appointment_code: Annotated[StrictStr, Field(min_length=1, max_length=32)] | None = None
    source: Literal["kiosk", "reception", "booking", "portal", "dispenser", "api"] = "kiosk"
    idempotency_key: IdempotencyKey | None = None
    note: ShortText | None = None
    device: DeviceId | None = None  # the kiosk that prints it (reprints go there)
    offline: OfflineIssue | None = None  # kiosk role only, with an idempotency_key


class LeaseRequest(_Body):
    """Reserve a block of today's numbers of a service for offline issue: POST /leases."""

    service: Code
    size: Annotated[StrictInt, Field(ge=1, le=500)] = 20


class IdentifyRequest(_Body):
    """Find or register the patient of a chip ID card: POST /patients/identify with the raw QR text."""

    cccd: Annotated[StrictStr, Field(min_length=1, max_length=1000)]


class TransferRequest(_Body):
    service: Code
    note: ShortText | None = None
    priority: Code | None = None


class PauseRequest(_Body):
    reason: ShortText | None = None


class CallTicketRequest(_Body):
    """Call one ticket out of turn: by id, or by today's display number."""

    ticket: StrictInt | Annotated[StrictStr, Field(min_length=2, max_length=8, pattern=r"^[A-Za-z]{1,2}\d{3,4}$")]


class CancelRequest(_Body):
    reason: ShortText | None = None


class EmptyBody(_Body):
    pass
