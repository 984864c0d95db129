"""Bodies of the protocol, signing and jurisdiction-rule routes. Sections map onto FHIR R4 (see
README, "Protocols"): diagnoses -> Condition, prescriptions -> MedicationRequest, referrals ->
ServiceRequest."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(max_length=8000)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,39}$")]
Icd10 = Annotated[
    str,
    StringConstraints(pattern=r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$"),
    Field(description="ICD-10 code, e.g. J06.9", examples=["J06.9"]),
]


class DiagnosisIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Icd10
    text: Short
    primary: bool = False


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service_code: Code
    service_text: Short
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class PrescriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    medication_system: Literal["atc", "rxnorm", "local"] = "atc"
    medication_code: Code
    medication_text: Short
    dose_value: float = Field(gt=0, le=100000)
    dose_unit: Code = Field(description="UCUM unit, e.g. mg")
    route: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{0,39}$")]
    frequency: int = Field(ge=1, le=48, description="times per period")
    period: int = Field(default=1, ge=1, le=365)
    period_unit: Literal["h", "d", "wk", "mo"] = "d"
    duration_days: int = Field(ge=1, le=365)
    quantity: int = Field(ge=1, le=10000)
    refills: int = Field(default=0, ge=0, le=12)
    instructions: Annotated[str, StringConstraints(max_length=1000)] = ""


class ProtocolBody(BaseModel):
    """The protocol's sections; what is left out is empty."""

    model_config = ConfigDict(extra="forbid")
    complaints: Text = ""
    objective_findings: Text = ""
    diagnoses: list[DiagnosisIn] = Field(default_factory=list, max_length=50)
    recommendations: Text = ""
    referrals: list[ReferralIn] = Field(default_factory=list, max_length=50)
    prescriptions: list[PrescriptionIn] = Field(default_factory=list, max_length=50)

    def content(self) -> dict[str, Any]:
        return self.model_dump()


class AddendumBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, StringConstraints(min_length=1, max_length=8000)]


class SignatureOut(BaseModel):
    signer_id: UUID
    signed_at: datetime
    key_id: str


class AddendumOut(SignatureOut):
    addendum_id: UUID
    text: str | None


class ProtocolOut(BaseModel):
    """``content`` is null once the patient is erased."""

    id: UUID
    consultation_id: UUID
    patient_id: UUID
    doctor_id: UUID
    organisation_id: UUID | None
    version: int
    status: Literal["draft", "signed"]
    content: dict[str, Any] | None
    signature: SignatureOut | None
    addenda: list[AddendumOut]


class SignatureCheckOut(BaseModel):
    signer_id: UUID
    signed_at: datetime
    key_id: str
    algorithm: str
    public_key: str | None
    key_valid_then: bool
    signature_matches: bool
    valid: bool
    key_valid_from: datetime | None = None
    key_valid_until: datetime | None = Field(
        default=None, description="the key's end: replaced, or retired at deactivation/erasure"
    )


class AddendumCheckOut(SignatureCheckOut):
    addendum_id: UUID


class VerificationOut(BaseModel):
    """Whether the stored signature and content still match (re-derived from the events)."""

    protocol_id: UUID
    patient_id: UUID
    signed: bool
    valid: bool
    problem: str | None = Field(
        description="not-signed, content-erased, stored-events-unreadable, signature-mismatch"
    )
    signature: SignatureCheckOut | None
    addenda: list[AddendumCheckOut]


class PublicKeyOut(BaseModel):
    key_id: str
    algorithm: str
    public_key: str = Field(description="base64 of the raw Ed25519 public key")
    valid_from: datetime
    valid_until: datetime | None


class SigningKeysOut(BaseModel):
    practitioner_id: UUID
    keys: list[PublicKeyOut]


class RuleSetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: dict[str, dict[str, Any]] = Field(
        description="rule id -> parameters: `ru-remote-primary-diagnosis` {}, "
        "`remote-follow-up-window` {months, type_codes}"
    )


class RuleSetVersionOut(BaseModel):
    version: int
    rules: dict[str, Any]
    published_at: datetime
    published_by: UUID


class RuleSetsOut(BaseModel):
    organisation_id: UUID
    current: RuleSetVersionOut | None
    versions: list[RuleSetVersionOut]


class RuleDecisionOut(BaseModel):
    position: int
    consultation_id: UUID
    rule_id: str
    version: int
    allowed: bool
    step: str
    explanation: str
    decided_at: datetime
    actor_id: UUID
