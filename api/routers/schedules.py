"""A doctor's schedule rules: profile, practices, consultation types, hours, time off."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request, Response

from adapters.composition import Services
from api.auth import CurrentActor, authorize_doctor, doctor_scope
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import accepted
from api.schedule_schemas import (
    ConsultationTypeBody,
    Hours,
    PracticeLink,
    ScheduleProfile,
    TimeOffBody,
)
from api.schemas import Accepted, Day
from api.state import services_of
from commands import scheduling as cmd
from domain.actor import Actor

router = APIRouter(prefix="/v1", tags=["schedules"], responses=PROBLEM_RESPONSES)


def _manage(request: Request, actor: Actor, doctor_id: UUID) -> Services:
    authorize_doctor(request, actor, Action.MANAGE_SCHEDULE, doctor_scope(request, doctor_id))
    return services_of(request)


@router.put("/doctors/{doctor_id}/schedule", response_model=Accepted)
def put_schedule(
    doctor_id: UUID,
    body: ScheduleProfile,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Open the doctor's schedule, or change its time zone, specialty and languages."""
    services = _manage(request, actor, doctor_id)
    command = cmd.SetProfile(
        actor, doctor_id, body.time_zone, body.specialty, tuple(body.languages)
    )
    return accepted(response, services.bus.handle(command))


@router.post("/doctors/{doctor_id}/practices", response_model=Accepted)
def add_practice(
    doctor_id: UUID, body: PracticeLink, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    services = _manage(request, actor, doctor_id)
    if actor.role.value != "doctor" and actor.organisation_id != body.organisation_id:
        raise Problem(403, "forbidden", "Staff add practices of their own organisation only")
    if body.organisation_id not in doctor_scope(request, doctor_id).organisation_ids:
        raise Problem(
            422, "not-a-member", "The doctor does not work for that organisation (invite them)"
        )
    return accepted(
        response,
        services.bus.handle(
            cmd.AddPractice(actor, doctor_id, body.practice_id, body.organisation_id)
        ),
    )


@router.put(
    "/doctors/{doctor_id}/practices/{practice_id}/consultation-types/{code}",
    response_model=Accepted,
)
def put_consultation_type(
    doctor_id: UUID,
    practice_id: UUID,
    code: str,
    body: ConsultationTypeBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    services = _manage(request, actor, doctor_id)
    return accepted(
        response,
        services.bus.handle(
            cmd.SetConsultationType(
                actor,
                doctor_id,
                practice_id,
                code,
                body.duration_minutes,
                body.buffer_minutes,
                tuple(body.kinds),
            )
        ),
    )


@router.put(
    "/doctors/{doctor_id}/practices/{practice_id}/weekly-hours/{weekday}", response_model=Accepted
)
def put_weekly_hours(
    doctor_id: UUID,
    practice_id: UUID,
    weekday: int,
    body: Hours,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Working spans of one weekday (0 = Monday), in the doctor's local time; gaps are
    breaks."""
    services = _manage(request, actor, doctor_id)
    return accepted(
        response,
        services.bus.handle(
            cmd.SetWeeklyHours(actor, doctor_id, practice_id, weekday, tuple(body.spans or ()))
        ),
    )


@router.put("/doctors/{doctor_id}/practices/{practice_id}/dates/{day}", response_model=Accepted)
def put_date_override(
    doctor_id: UUID,
    practice_id: UUID,
    day: Day,
    body: Hours,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    services = _manage(request, actor, doctor_id)
    spans = None if body.spans is None else tuple(body.spans)
    return accepted(
        response,
        services.bus.handle(cmd.SetDateOverride(actor, doctor_id, practice_id, day, spans)),
    )


@router.post("/doctors/{doctor_id}/time-off", response_model=Accepted, status_code=201)
def add_time_off(
    doctor_id: UUID, body: TimeOffBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    services = _manage(request, actor, doctor_id)
    period_id = uuid4()
    saved = services.bus.handle(
        cmd.AddTimeOff(actor, doctor_id, period_id, body.start, body.end, body.kind)
    )
    return {**accepted(response, saved), "id": period_id}


@router.delete("/doctors/{doctor_id}/time-off/{period_id}", response_model=Accepted)
def remove_time_off(
    doctor_id: UUID, period_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    services = _manage(request, actor, doctor_id)
    return accepted(response, services.bus.handle(cmd.RemoveTimeOff(actor, doctor_id, period_id)))
