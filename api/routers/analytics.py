"""Analytics for analysts and organisation admins: counts only, never a person."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.auth import CurrentActor, authorize
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import AfterHeader, AfterQuery, await_position
from api.schemas import Day
from api.state import services_of
from projections.analytics import METRICS

router = APIRouter(prefix="/v1/analytics", tags=["analytics"], responses=PROBLEM_RESPONSES)

Metric = Literal["registrations", "consents-given", "consents-withdrawn", "erasures"]
assert set(Metric.__args__) == set(METRICS)  # type: ignore[attr-defined]


class CountOut(BaseModel):
    period: date
    organisation_id: str
    dimension: str
    count: int


class CountsOut(BaseModel):
    metric: str
    granularity: str
    start: date
    end: date
    counts: list[CountOut]


class ConsultationFiguresOut(BaseModel):
    period: date
    organisation_id: str
    specialty: str
    type_code: str
    bookings: int
    urgent: int
    cancellations: int
    reschedules: int
    due: int
    no_shows: int
    average_lead_minutes: float | None
    no_show_rate: float | None
    cohort: int
    completed: int
    conversion_rate: float | None


class ConsultationReport(BaseModel):
    granularity: str
    start: date
    end: date
    figures: list[ConsultationFiguresOut]


def organisation_scope(actor: Any, organisation_id: UUID | None) -> UUID | None:
    """The organisation whose figures the actor reads (403 for another one)."""
    if actor.organisation_id is not None:  # organisation staff see their own organisation
        if organisation_id not in (None, actor.organisation_id):
            raise Problem(403, "forbidden", "Only your own organisation's figures")
        return UUID(str(actor.organisation_id))
    return organisation_id


def date_range(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or date.today()
    start = start or end - timedelta(days=30)
    if start > end or (end - start).days > 3660:
        raise Problem(422, "bad-range", "`from` must be before `to`, within ten years")
    return start, end


@router.get("/consultations", response_model=ConsultationReport)
def consultation_figures(
    request: Request,
    actor: CurrentActor,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
    granularity: Literal["day", "week", "month"] = "day",
    organisation_id: UUID | None = None,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> dict[str, Any]:
    """Bookings, urgent requests, cancellations and reschedules per period (the day each
    happened), organisation, specialty and consultation type, with the average time from booking
    to appointment. Rates are per cohort: `due` counts the appointments whose start falls in the
    period and has come, not cancelled before it; `no_shows` counts those of them recorded as
    no-shows, and `no_show_rate` = no_shows / due. `cohort` counts every consultation whose start
    falls in the period and has come (cancelled ones and questions included), `completed` those
    of them completed or answered, and `conversion_rate` = completed / cohort."""
    authorize(actor, Action.READ_ANALYTICS)
    organisation_id = organisation_scope(actor, organisation_id)
    start, end = date_range(start, end)
    services = services_of(request)
    await_position(services, "analytics", after, after_header)
    figures = services.analytics.consultations(
        start, end, granularity, organisation_id, as_of=services.clock()
    )
    return {
        "granularity": granularity,
        "start": start,
        "end": end,
        "figures": [vars(f) for f in figures],
    }


@router.get("/{metric}", response_model=CountsOut)
def counts(
    metric: Metric,
    request: Request,
    actor: CurrentActor,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
    granularity: Literal["day", "week", "month"] = "day",
    organisation_id: UUID | None = None,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> dict[str, Any]:
    """Daily counts (or weekly/monthly sums) per organisation and dimension: how patients
    registered (self or by which role), consents by purpose, erasures by reason."""
    authorize(actor, Action.READ_ANALYTICS)
    organisation_id = organisation_scope(actor, organisation_id)
    start, end = date_range(start, end)
    services = services_of(request)
    await_position(services, "analytics", after, after_header)
    rows = services.analytics.query(metric, start, end, granularity, organisation_id)
    return {
        "metric": metric,
        "granularity": granularity,
        "start": start,
        "end": end,
        "counts": [vars(r) for r in rows],
    }
