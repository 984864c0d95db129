"""Care figures (G2): waits, conversion, answer times and NPS. Analysts and organisation admins
read their organisation's figures, doctors as keyed pseudonyms; a doctor reads their own NPS."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.auth import CurrentActor, authorize, authorize_doctor, doctor_scope
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.reads import AfterHeader, AfterQuery, await_position
from api.routers.analytics import date_range, organisation_scope
from api.schemas import Day
from api.state import services_of

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=PROBLEM_RESPONSES)
doctors_router = APIRouter(prefix="/v1/doctors", tags=["analytics"], responses=PROBLEM_RESPONSES)

From = Annotated[Day | None, Query(alias="from")]
To = Annotated[Day | None, Query(alias="to")]


class CareFiguresOut(BaseModel):
    period: date
    organisation_id: str
    specialty: str
    kind: str
    consultations: int
    completed: int
    conversion_rate: float | None
    waits: int
    average_wait_minutes: float | None
    p90_wait_minutes: float | None
    answers: int
    average_answer_minutes: float | None
    p90_answer_minutes: float | None


class CareReport(BaseModel):
    granularity: str
    start: date
    end: date
    figures: list[CareFiguresOut]


class NpsOut(BaseModel):
    ratings: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


class NpsFigureOut(NpsOut):
    organisation_id: str
    specialty: str | None
    doctor: str | None


class NpsReport(BaseModel):
    start: date
    end: date
    figures: list[NpsFigureOut]


class OwnNps(NpsOut):
    doctor_id: UUID
    start: date
    end: date


@router.get("/care", response_model=CareReport)
def care_figures(
    request: Request,
    actor: CurrentActor,
    start: From = None,
    end: To = None,
    granularity: Literal["day", "week", "month"] = "day",
    organisation_id: UUID | None = None,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> dict[str, Any]:
    """Per cohort (the consultations whose start falls in the period and has come; a question's
    start is when it was asked), organisation, the doctor's specialty and the kind: how many,
    how many completed (or answered), `conversion_rate` = completed / consultations; the wait
    in the waiting room from check-in to admission (urgent: from booking), average and 90th
    percentile in minutes; the time from a question to its first answer, likewise."""
    authorize(actor, Action.READ_ANALYTICS)
    organisation_id = organisation_scope(actor, organisation_id)
    start, end = date_range(start, end)
    services = services_of(request)
    await_position(services, "analytics", after, after_header)
    figures = services.analytics.care(
        start, end, granularity, organisation_id, as_of=services.clock()
    )
    return {
        "granularity": granularity,
        "start": start,
        "end": end,
        "figures": [vars(f) for f in figures],
    }


@router.get("/nps", response_model=NpsReport)
def nps_figures(
    request: Request,
    actor: CurrentActor,
    start: From = None,
    end: To = None,
    organisation_id: UUID | None = None,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> dict[str, Any]:
    """Net promoter score of the ratings given in the period (scores 9-10 promote, 0-6
    detract; NPS = % promoters - % detractors), per organisation (specialty and doctor null),
    specialty (doctor null) and doctor (a keyed pseudonym). Scores only: never a comment."""
    authorize(actor, Action.READ_ANALYTICS)
    organisation_id = organisation_scope(actor, organisation_id)
    start, end = date_range(start, end)
    services = services_of(request)
    await_position(services, "analytics", after, after_header)
    rows = services.analytics.nps(start, end, organisation_id)
    figures = [
        {"organisation_id": f.organisation_id, "specialty": f.specialty, "doctor": f.doctor}
        | vars(f.score)
        for f in rows
    ]
    return {"start": start, "end": end, "figures": figures}


@doctors_router.get("/{doctor_id}/nps", response_model=OwnNps)
def own_nps(
    doctor_id: UUID,
    request: Request,
    actor: CurrentActor,
    start: From = None,
    end: To = None,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> dict[str, Any]:
    """The doctor's own NPS over the ratings given in the period, in all their organisations.
    Only the doctor reads it; analysts and admins read the pseudonymous figures."""
    authorize_doctor(request, actor, Action.READ_OWN_NPS, doctor_scope(request, doctor_id))
    start, end = date_range(start, end)
    services = services_of(request)
    await_position(services, "analytics", after, after_header)
    score = services.analytics.nps_of_doctor(doctor_id, start, end)
    return {"doctor_id": doctor_id, "start": start, "end": end} | vars(score)
