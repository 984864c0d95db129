"""Bodies and answers of the prescription routes: the patient's side and the care team read a
MedicationRequest-like row; a pharmacy sees only what dispensing needs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Body

#: as printed on the prescription (any case; spaces or dashes between the groups)
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CodeBody(Body):
    code: Code = Field(description="the prescription's code, as the patient shows it")


class CancelBody(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PrescriptionOut(BaseModel):
    """One medication line of a signed protocol (FHIR MedicationRequest: ``fills_allowed`` is
    1 + numberOfRepeatsAllowed). ``code`` only for the patient's side and the prescriber;
    clinical fields are null once the patient is erased."""

    id: UUID
    version: int
    patient_id: UUID
    consultation_id: UUID
    protocol_id: UUID
    line: int
    doctor_id: UUID
    organisation_id: UUID | None
    status: Literal["active", "completed", "cancelled"]
    fills: int
    fills_allowed: int
    fills_left: int
    issued_at: datetime
    valid_until: datetime
    updated_at: datetime
    medication: dict[str, Any] | None
    code: str | None
    cancel_reason: str | None


class VerificationOut(BaseModel):
    """What a pharmacist needs, nothing about the patient: whether it may be dispensed now
    (``reason`` why not), the medication and its dosage, the fills left, until when, and who
    prescribed it."""

    valid: bool
    reason: Literal["cancelled", "completed", "expired"] | None
    medication_system: str | None
    medication_code: str | None
    medication_text: str | None
    dose_value: float | None
    dose_unit: str | None
    route: str | None
    frequency: int | None
    period: int | None
    period_unit: str | None
    duration_days: int | None
    quantity: int | None
    fills_left: int
    valid_until: datetime
    prescriber_id: UUID


class DispensedOut(BaseModel):
    fill: int = Field(description="this fill's number, 1 for the first")
    fills_allowed: int
    fills_left: int
    status: Literal["active", "completed"]
    position: int | None
