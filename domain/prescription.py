"""A prescription (BRIEF C6): one medication line of a signed protocol, issued when the doctor
signs it, with an unguessable code the patient shows at a pharmacy. A pharmacy verifies it by
that code (valid, not cancelled, not expired, fills left) and records each dispensing; the
prescription is completed when its last fill is dispensed (or when the doctor completes it) and
cancelled by the doctor with a reason. The medication, the code and the reason are clinical:
encrypted with the patient's key. Shapes map onto FHIR R4 MedicationRequest (status active,
completed, cancelled; ``dispenseRequest.numberOfRepeatsAllowed`` = refills) and
MedicationDispense (a fill)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

#: how long a prescription can be dispensed after it is issued (a common national default)
VALIDITY = timedelta(days=60)
#: what a pharmacist needs of the medication line to dispense it (nothing about the patient)
DISPENSING_FIELDS = (
    "medication_system",
    "medication_code",
    "medication_text",
    "dose_value",
    "dose_unit",
    "route",
    "frequency",
    "period",
    "period_unit",
    "duration_days",
    "quantity",
)
#: what the patient's record shows of it: the line as prescribed, never the code that opens it
MEDICATION_FIELDS = (*DISPENSING_FIELDS, "refills", "instructions")
_CODE_BYTES = 15  # 120 bits: 24 base32 characters, shown in groups of four


class PrescriptionStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class NotDispensable(DomainError):
    """A pharmacy asked to dispense what may not be dispensed (answered 409 with the reason)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class NotThePrescriber(DomainError):
    """Only the prescribing doctor cancels or completes a prescription."""


class NotAPharmacy(DomainError):
    """Only a pharmacy's machine client verifies and dispenses prescriptions."""


_REFUSALS = {
    "cancelled": "the prescription was cancelled",
    "completed": "the prescription is completed (every fill dispensed, or ended by the doctor)",
    "expired": "the prescription has expired",
}


def refusal_reason(status: str, valid_until: datetime, now: datetime) -> str | None:
    """Why a prescription in this state may not be dispensed at ``now``: ``cancelled``,
    ``completed`` or ``expired`` (None: it may). The aggregate and the pharmacy's
    verification (from the read model) answer alike."""
    if status == PrescriptionStatus.CANCELLED:
        return "cancelled"
    if status == PrescriptionStatus.COMPLETED:
        return "completed"
    if now >= valid_until:
        return "expired"
    return None


def new_code() -> str:
    """A fresh code from the CSPRNG, as a patient reads it: ``ABCD-EFGH-…`` (6 groups)."""
    raw = base64.b32encode(secrets.token_bytes(_CODE_BYTES)).decode()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def normalised_code(code: str) -> str:
    """The code as typed (any case, spaces or dashes) in its canonical form."""
    clean = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(clean) != 24 or any(ch not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for ch in clean):
        raise InvalidValue("code: 24 letters and digits, as printed on the prescription")
    return "-".join(clean[i : i + 4] for i in range(0, 24, 4))


def prescription_id_of(code: str) -> UUID:
    """The prescription a code opens: the id is derived from the code's hash, so the code
    finds the prescription without an index, and an id never reveals its code."""
    digest = hashlib.sha256(normalised_code(code).encode()).hexdigest()
    return uuid5(NAMESPACE_URL, f"/prescriptions/{digest}")


class Prescription(Aggregate):
    """One medication line of a signed protocol, from issue to its last fill."""

    class Issued(RecordedCreation):
        personal_fields = ("medication", "code")
        subject_field = "patient_id"
        patient_id: UUID
        consultation_id: UUID
        protocol_id: UUID
        line: int
        doctor_id: UUID
        organisation_id: UUID | None
        medication: dict[str, Any]
        code: str
        fills_allowed: int
        issued_at: datetime
        valid_until: datetime

    class Dispensed(RecordedEvent):
        """A fill: the actor is the pharmacy (its machine client)."""

        subject_field = "patient_id"
        patient_id: UUID
        fill: int
        at: datetime
        status: PrescriptionStatus

    class Cancelled(RecordedEvent):
        personal_fields = ("reason",)
        subject_field = "patient_id"
        patient_id: UUID
        reason: str
        at: datetime

    class Completed(RecordedEvent):
        """The prescriber ends the course before its last fill."""

        subject_field = "patient_id"
        patient_id: UUID
        at: datetime

    @classmethod
    def issue(
        cls,
        *,
        code: str,
        patient_id: UUID,
        consultation_id: UUID,
        protocol_id: UUID,
        line: int,
        doctor_id: UUID,
        organisation_id: UUID | None,
        medication: dict[str, Any],
        issued_at: datetime,
        by: Actor,
    ) -> Prescription:
        """``medication`` is a validated prescription line of the protocol (its refills give
        the number of fills after the first)."""
        return cls(
            patient_id=patient_id,
            consultation_id=consultation_id,
            protocol_id=protocol_id,
            line=line,
            doctor_id=doctor_id,
            organisation_id=organisation_id,
            medication=medication,
            code=normalised_code(code),
            fills_allowed=1 + int(medication.get("refills", 0)),
            issued_at=issued_at,
            valid_until=issued_at + VALIDITY,
            by=by,
        )

    @staticmethod
    def create_id(code: str) -> UUID:
        return prescription_id_of(code)

    @event(Issued)
    def __init__(
        self,
        *,
        patient_id: UUID,
        consultation_id: UUID,
        protocol_id: UUID,
        line: int,
        doctor_id: UUID,
        organisation_id: UUID | None,
        medication: dict[str, Any],
        code: str,
        fills_allowed: int,
        issued_at: datetime,
        valid_until: datetime,
        by: Actor,
    ) -> None:
        self.patient_id, self.consultation_id = patient_id, consultation_id
        self.protocol_id, self.line = protocol_id, line
        self.doctor_id, self.organisation_id = doctor_id, organisation_id
        self.medication, self.code = medication, code
        self.fills_allowed, self.fills = fills_allowed, 0
        self.issued_at, self.valid_until = issued_at, valid_until
        self.status = PrescriptionStatus.ACTIVE

    def refusal(self, now: datetime) -> NotDispensable | None:
        """Why a pharmacy may not dispense it now (None: it may)."""
        reason = refusal_reason(self.status, self.valid_until, now)
        return NotDispensable(reason, _REFUSALS[reason]) if reason else None

    def dispense(self, *, at: datetime, by: Actor) -> None:
        refused = self.refusal(at)
        if refused is not None:
            raise refused
        fill = self.fills + 1
        status = (
            PrescriptionStatus.COMPLETED
            if fill >= self.fills_allowed
            else PrescriptionStatus.ACTIVE
        )
        self._dispensed(patient_id=self.patient_id, fill=fill, at=at, status=status, by=by)

    @event(Dispensed)
    def _dispensed(
        self, *, patient_id: UUID, fill: int, at: datetime, status: PrescriptionStatus, by: Actor
    ) -> None:
        self.fills, self.status = fill, status

    def cancel(self, reason: str, *, at: datetime, by: Actor) -> None:
        self._prescriber(by)
        if self.status is not PrescriptionStatus.ACTIVE:
            raise NotDispensable(self.status.value, "only an active prescription is cancelled")
        text = reason.strip() if isinstance(reason, str) else ""
        if not text or len(text) > 500:
            raise InvalidValue("reason: say why (at most 500 characters)")
        self._cancelled(patient_id=self.patient_id, reason=text, at=at, by=by)

    @event(Cancelled)
    def _cancelled(self, *, patient_id: UUID, reason: str, at: datetime, by: Actor) -> None:
        self.status = PrescriptionStatus.CANCELLED

    def complete(self, *, at: datetime, by: Actor) -> None:
        self._prescriber(by)
        if self.status is not PrescriptionStatus.ACTIVE:
            raise NotDispensable(self.status.value, "only an active prescription is completed")
        self._completed(patient_id=self.patient_id, at=at, by=by)

    @event(Completed)
    def _completed(self, *, patient_id: UUID, at: datetime, by: Actor) -> None:
        self.status = PrescriptionStatus.COMPLETED

    def _prescriber(self, by: Actor) -> None:
        if by.actor_id != self.doctor_id:
            raise NotThePrescriber("only the prescribing doctor changes a prescription")
