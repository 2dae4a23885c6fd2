"""Request bodies of the REST API: strict types, bounded strings, no unknown fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Code = Annotated[StrictStr, Field(min_length=1, max_length=32)]
ShortText = Annotated[StrictStr, Field(max_length=200)]
IdempotencyKey = Annotated[StrictStr, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class TicketRequest(_Body):
    """Take a number: POST /tickets."""

    service: Code
    priority: Code = "normal"
    patient_code: Annotated[StrictStr, Field(min_length=1, max_length=20)] | None = None
    appointment_code: Annotated[StrictStr, Field(min_length=1, max_length=32)] | None = None
    source: Literal["kiosk", "reception", "booking", "portal", "dispenser", "api"] = "kiosk"
    idempotency_key: IdempotencyKey | None = None
    note: ShortText | None = None


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
