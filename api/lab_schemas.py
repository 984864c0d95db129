"""Bodies of the partner-lab, lab-order and result routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Body, Timestamp

#: a LOINC code (the check digit is verified too: 422 naming the code)
Loinc = Annotated[str, StringConstraints(pattern=r"^\d{1,5}-\d$")]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Number = Annotated[str, StringConstraints(pattern=r"^-?\d{1,12}(\.\d{1,8})?$")]


class PartnerLabBody(Body):
    name: Short
    client_id: UUID = Field(description="the organisation's machine client the lab reports with")


class PartnerLabOut(BaseModel):
    lab_id: UUID
    name: str
    client_id: UUID


class OrderedTest(Body):
    code: Loinc = Field(description="LOINC code, e.g. 2345-7 (glucose)")
    display: Short


class LabOrderBody(Body):
    lab_id: UUID = Field(description="one of the organisation's partner labs")
    tests: list[OrderedTest] = Field(min_length=1, max_length=50)
    note: Text | None = Field(default=None, description="clinical note for the lab")


class CancelBody(Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ResultBody(Body):
    """One Observation: ``quantity`` (decimal ``value`` as text, ``unit``, reference range
    ``low``/``high``), ``coded`` (``value`` a code of ``system``, with ``display``) or
    ``text``. ``flag``: the lab's interpretation (H, L, A or N); else computed from the range."""

    code: Loinc
    kind: Literal["quantity", "coded", "text"]
    value: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    unit: Annotated[str, StringConstraints(max_length=40)] | None = None
    low: Number | None = None
    high: Number | None = None
    system: Annotated[str, StringConstraints(max_length=200)] | None = None
    display: Annotated[str, StringConstraints(max_length=200)] | None = None
    flag: Literal["H", "L", "A", "N"] | None = None
    comment: Text | None = None
    effective_at: Timestamp | None = None


class ResultsBody(Body):
    results: list[ResultBody] = Field(min_length=1, max_length=50)


class ResultOut(BaseModel):
    code: str
    kind: str
    value: str | None
    unit: str | None
    low: str | None
    high: str | None
    system: str | None
    display: str | None
    flag: str | None
    flag_by: str | None
    abnormal: bool
    comment: str | None
    effective_at: datetime | None


class LabOrderOut(BaseModel):
    """A ServiceRequest with its DiagnosticReport: clinical fields null once erased."""

    id: UUID
    version: int
    patient_id: UUID
    consultation_id: UUID
    doctor_id: UUID
    organisation_id: UUID
    lab_id: UUID
    status: str
    ordered_at: datetime
    updated_at: datetime
    tests: list[dict[str, Any]] | None
    note: str | None
    cancel_reason: str | None
    results: list[ResultOut]


class AbnormalOut(BaseModel):
    order_id: UUID
    patient_id: UUID
    consultation_id: UUID
    lab_id: UUID
    status: str
    abnormal_results: int
    updated_at: datetime
