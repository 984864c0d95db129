"""Request and response bodies of the HTTP surface."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from domain.patient import ConsentPurpose

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
Phone = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=40, pattern=r"^\+?[0-9 ()./-]+$"
    ),
]
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _moment_text(value: object) -> object:
    """Only ISO 8601 text: pydantic would otherwise read 0 or "0.5" as seconds since 1970."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _MOMENT.match(value):
        raise ValueError("a moment is an ISO 8601 string with an offset")
    return value


def _day_text(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("a day is an ISO 8601 date string (YYYY-MM-DD)")
    return value


#: a moment on the wire: ISO 8601 text with an offset, never a number
Timestamp = Annotated[AwareDatetime, BeforeValidator(_moment_text)]
#: a calendar day on the wire: ``YYYY-MM-DD``, never a number
Day = Annotated[date, BeforeValidator(_day_text)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
FreeText = Annotated[str, StringConstraints(max_length=5000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatientRegistration(Body):
    given_name: Name
    family_name: Name
    birth_date: Day | None = None
    email: Email | None = None
    phone: Phone | None = None
    address: Address | None = None
    notes: FreeText | None = None


class ContactDetails(Body):
    email: Email | None = None
    phone: Phone | None = None
    address: Address | None = None


class PatientSearch(Body):
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    name: Annotated[str, StringConstraints(max_length=400)] | None = Field(
        default=None, description="given and family name, matched exactly after normalising"
    )
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None
    limit: int = Field(default=50, ge=1, le=200)
    after: int | None = Field(
        default=None, ge=0, description="wait until the read model has processed this position"
    )


class ConsentRequest(Body):
    purpose: ConsentPurpose


class Accepted(BaseModel):
    """A command's answer: the record, its new version, the position of its last event."""

    id: UUID
    version: int
    position: int | None = Field(description="Pass as `after` to a query to read your own write")


class PatientOut(BaseModel):
    id: UUID
    version: int
    organisation_id: UUID | None
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    email: str | None
    phone: str | None
    address: str | None = None
    notes: str | None = None
    consents: list[str]
    erased: bool
    holder_id: UUID | None = Field(
        default=None, description="the patient account managing this beneficiary, if any"
    )
    has_account: bool | None = None
    invitation_pending: bool | None = None


class PatientPage(BaseModel):
    items: list[PatientOut]
    next_cursor: str | None


class ActorOut(BaseModel):
    actor_id: UUID
    role: str
    organisation_id: UUID | None
    on_behalf_of: UUID | None
    correlation_id: UUID


class TimelineEntryOut(BaseModel):
    position: int
    version: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: ActorOut | None
    data: dict[str, Any]
    #: the stream the event belongs to (a patient's timeline merges all of the record's)
    aggregate_id: UUID | None = None
    aggregate_type: str | None = None


class AccessRecordOut(BaseModel):
    position: int | None
    at: datetime
    actor_id: UUID
    role: str
    organisation_id: UUID | None
    on_behalf_of: UUID | None
    what: str
    purpose: str


class ChainReport(BaseModel):
    chain: str
    checked: int
    ok: bool
    broken_at: int | None = None
    reason: str | None = None
    #: the newest signed checkpoint: rows after its position are not yet anchored outside
    checkpoint_position: int | None = None
    checkpoint_at: datetime | None = None


class AuditReport(BaseModel):
    ok: bool
    chains: list[ChainReport]


class AggregateAsOf(BaseModel):
    aggregate_id: UUID
    aggregate_type: str
    exists: bool
    version: int | None = None
    state: dict[str, Any] | None = None


class StateAsOf(BaseModel):
    """The patient record (``exists``, ``version``, ``state``) and, in ``aggregates``, every
    stream of the patient's whole record (the record first) as of ``at``."""

    at: datetime
    exists: bool
    version: int | None = None
    state: dict[str, Any] | None = None
    aggregates: list[AggregateAsOf] = []
