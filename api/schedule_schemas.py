"""Bodies of the scheduling and booking routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Body, Timestamp

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
Span = Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")]
KindName = Literal["video", "chat", "in-person"]


class ScheduleProfile(Body):
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    specialty: Code
    languages: list[Annotated[str, StringConstraints(min_length=2, max_length=8)]] = Field(
        default_factory=list, max_length=20
    )


class PracticeLink(Body):
    practice_id: UUID = Field(
        description="a new UUID the client chooses (e.g. uuid4) to name this practice in later "
        "calls; adding the same id again changes nothing, so a retry is harmless"
    )
    organisation_id: UUID = Field(description="an organisation the doctor works for")


class ConsultationTypeBody(Body):
    duration_minutes: int = Field(ge=5, le=480)
    buffer_minutes: int = Field(default=0, ge=0, le=120)
    kinds: list[KindName] = Field(min_length=1, max_length=3)


class Hours(Body):
    spans: list[Span] | None = Field(
        max_length=24,
        description="local wall-clock spans like 09:00-12:30; [] = no hours; "
        "null (date overrides only) = back to the weekly hours",
    )


class TimeOffBody(Body):
    start: Timestamp
    end: Timestamp
    kind: Literal["vacation", "day-off", "break"] = "vacation"


class CalendarLinkBody(Body):
    kind: Literal["ics", "caldav"]
    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)]
    username: Annotated[str, StringConstraints(max_length=200)] | None = None
    password: Annotated[str, StringConstraints(max_length=500)] | None = None


class SlotOut(BaseModel):
    doctor_id: UUID
    practice_id: UUID
    organisation_id: UUID
    type_code: str
    kinds: list[str]
    start: datetime
    end: datetime
    specialty: str
    languages: list[str]
    doctor_time_zone: str


class SlotPage(BaseModel):
    time_zone: str
    slots: list[SlotOut]


class BookingBody(Body):
    patient_id: UUID
    doctor_id: UUID
    practice_id: UUID
    type_code: Code
    start: Timestamp
    kind: KindName


class UrgentBody(Body):
    patient_id: UUID
    doctor_id: UUID
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
    minutes: int = Field(default=20, ge=5, le=120)


class CancelBody(Body):
    reason: Code


class RescheduleBody(Body):
    start: Timestamp


class ConsultationOut(BaseModel):
    id: UUID
    version: int
    doctor_id: UUID
    patient_id: UUID
    practice_id: UUID | None
    organisation_id: UUID | None
    type_code: str
    kind: str
    start: datetime
    end: datetime
    status: str
    urgent: bool
    flagged: str | None
    booked_by_role: str
    options: dict[str, Any] = {}
    checked_in_at: datetime | None = None
    admitted_at: datetime | None = None
    ended_at: datetime | None = None
    taken: bool = True
    escalated: bool = False
    answer_by: datetime | None = Field(
        default=None, description="an asynchronous consultation's answer deadline"
    )
    asynchronous: bool = False
    rated: bool = False


class QuestionBody(Body):
    """An asynchronous consultation: the question goes to the doctor, encrypted with the
    patient's key; it is never shown in lists or read models."""

    patient_id: UUID
    doctor_id: UUID
    organisation_id: UUID
    type_code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)
    ]


class RatingBody(Body):
    score: int = Field(ge=0, le=10, description="0-10, as in a net promoter score")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = (
        Field(default=None, description="encrypted with the patient's key; never in analytics")
    )
