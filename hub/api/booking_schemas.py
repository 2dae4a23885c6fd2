"""Request bodies of the registration and booking endpoints: strict types, bounded strings, no unknown fields."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictStr

from hub.api.schemas import Code, ShortText

Name = Annotated[StrictStr, Field(min_length=1, max_length=120)]
PatientCode = Annotated[StrictStr, Field(min_length=3, max_length=20)]
LongText = Annotated[StrictStr, Field(max_length=2000)]
# JSON has no date or datetime types: these fields accept ISO 8601 strings.
IsoDate = Annotated[date, Field(strict=False)]
IsoDateTime = Annotated[AwareDatetime, Field(strict=False)]
Channel = Literal["portal", "reception", "callcenter", "doctor"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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
