"""Request bodies of the REST API: strict types, bounded strings, no unknown fields."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

Code = Annotated[StrictStr, Field(min_length=1, max_length=32)]
ShortText = Annotated[StrictStr, Field(max_length=200)]
IdempotencyKey = Annotated[StrictStr, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
DeviceId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
Name = Annotated[StrictStr, Field(min_length=1, max_length=120)]
PatientCode = Annotated[StrictStr, Field(min_length=3, max_length=20)]
LongText = Annotated[StrictStr, Field(max_length=2000)]
# JSON has no date or datetime types: these fields accept ISO 8601 strings.
IsoDate = Annotated[date, Field(strict=False)]
IsoDateTime = Annotated[AwareDatetime, Field(strict=False)]
Channel = Literal["portal", "reception", "callcenter", "doctor"]


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


class TypedIdentifyRequest(_Body):
    """Find a known patient from a number typed at the kiosk: POST /patients/identify-typed.

    `number` is a 12-digit CCCD number or a 15-character BHYT card code; `date_of_birth` is the second factor.
    """

    number: Annotated[StrictStr, Field(min_length=1, max_length=40)]
    date_of_birth: IsoDate


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


# Registration and booking.
class PatientFields(_Body):
    full_name: Name
    date_of_birth: IsoDate | None = None
    sex: Literal["Nam", "Nữ"] | None = None
    phone: Annotated[StrictStr, Field(max_length=20)] | None = None
    email: Annotated[StrictStr, Field(max_length=120)] | None = None
    address: Annotated[StrictStr, Field(max_length=300)] | None = None
    national_id: Annotated[StrictStr, Field(max_length=12)] | None = None
    insurance_no: Annotated[StrictStr, Field(max_length=20)] | None = None


class PatientRequest(PatientFields):
    """Register a patient: POST /patients (409 with the candidates unless confirm_new)."""

    confirm_new: StrictBool = False


class PatientUpdate(_Body):
    """Correct a patient's record: PATCH /patients/<code> (only the fields sent change)."""

    full_name: Name | None = None
    date_of_birth: IsoDate | None = None
    sex: Literal["Nam", "Nữ"] | None = None
    phone: Annotated[StrictStr, Field(max_length=20)] | None = None
    email: Annotated[StrictStr, Field(max_length=120)] | None = None
    address: Annotated[StrictStr, Field(max_length=300)] | None = None
    national_id: Annotated[StrictStr, Field(max_length=12)] | None = None
    insurance_no: Annotated[StrictStr, Field(max_length=20)] | None = None


class AppointmentRequest(_Body):
    """Book a slot: POST /appointments. Without `doctor`, any doctor of `service` free at that time."""

    patient_code: PatientCode
    slot_start: IsoDateTime
    doctor: Code | None = None
    service: Code | None = None
    reason: Annotated[StrictStr, Field(max_length=300)] | None = None
    channel: Channel | None = None  # default: from the caller's role (reception, doctor)
    status: Literal["booked", "pending", "proposed"] = "booked"


class RescheduleRequest(_Body):
    slot_start: IsoDateTime
    doctor: Code | None = None


class CancelAppointmentRequest(_Body):
    reason: ShortText | None = None


class CheckInRequest(_Body):
    """Check a booking in at reception: POST /appointments/<code>/check-in."""

    reason: Annotated[StrictStr, Field(max_length=300)] | None = None
    symptoms: LongText | None = None


class VisitRequest(_Body):
    """A walk-in at reception: POST /visits puts the patient in a service's line with the intake."""

    patient_code: PatientCode
    service: Code
    priority: Code = "normal"
    doctor: Code | None = None
    reason: Annotated[StrictStr, Field(max_length=300)] | None = None
    symptoms: LongText | None = None
    # The reception desk the clerk is at: its printer prints the walk-in ticket (None: the first reception
    # counter with a printer).
    counter: Code | None = None
