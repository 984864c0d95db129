"""What ``GET /v1/patients/{id}/clinical-record`` answers: the card's clinical part, by section.
Clinical values are null once the patient is erased."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class ConsultationItem(BaseModel):
    id: UUID
    kind: str | None
    type_code: str | None
    asynchronous: bool | None
    doctor_id: UUID | None
    organisation_id: UUID | None
    start: datetime
    end: datetime | None
    status: str


class ProtocolItem(BaseModel):
    id: UUID
    consultation_id: UUID | None
    doctor_id: UUID | None
    status: str  # draft | signed
    signer_id: UUID | None
    signed_at: datetime | None
    addenda: int


class DiagnosisItem(BaseModel):
    code: str | None
    text: str | None
    primary: bool
    protocol_id: UUID
    consultation_id: UUID | None
    date: datetime | None


class PrescriptionItem(BaseModel):
    id: UUID
    consultation_id: UUID | None
    doctor_id: UUID | None
    organisation_id: UUID | None
    issued_at: datetime
    valid_until: datetime | None
    status: str  # active | completed | cancelled
    medication: dict[str, Any] | None
    fills: int
    fills_allowed: int | None


class LabOrderItem(BaseModel):
    id: UUID
    consultation_id: UUID | None
    doctor_id: UUID | None
    organisation_id: UUID | None
    ordered_at: datetime
    status: str
    tests: list[dict[str, Any]] | None
    note: str | None
    results: list[dict[str, Any]]


class ConsentItem(BaseModel):
    organisation_id: UUID | None
    kind: str | None
    version: int | None
    sha256: str | None
    status: str  # signed | withdrawn
    at: datetime


class PurposeItem(BaseModel):
    purpose: str | None
    status: str  # given | withdrawn
    at: datetime


class ClinicalRecordOut(BaseModel):
    patient_id: UUID
    #: the log position of the record's latest change (also its ETag)
    position: int
    consultations: list[ConsultationItem]
    protocols: list[ProtocolItem]
    diagnoses: list[DiagnosisItem]
    prescriptions: list[PrescriptionItem]
    lab_orders: list[LabOrderItem]
    consents: list[ConsentItem]
    consent_purposes: list[PurposeItem]
