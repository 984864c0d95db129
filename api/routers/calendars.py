"""A doctor's external calendars: linked feeds whose busy times block booking."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request, Response

from adapters.composition import Services
from api.auth import CurrentActor, authorize_doctor, doctor_scope
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.reads import accepted
from api.schedule_schemas import CalendarLinkBody
from api.schemas import Accepted
from api.state import services_of
from commands import scheduling as cmd
from domain.actor import Actor

router = APIRouter(prefix="/v1", tags=["schedules"], responses=PROBLEM_RESPONSES)


def _manage(request: Request, actor: Actor, doctor_id: UUID) -> Services:
    authorize_doctor(request, actor, Action.MANAGE_SCHEDULE, doctor_scope(request, doctor_id))
    return services_of(request)


@router.post("/doctors/{doctor_id}/calendars", response_model=Accepted, status_code=201)
def link_calendar(
    doctor_id: UUID,
    body: CalendarLinkBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Link an iCalendar feed or a CalDAV calendar; its busy times will block booking."""
    services = _manage(request, actor, doctor_id)
    calendar_id = uuid4()
    saved = services.bus.handle(
        cmd.LinkCalendar(
            actor, doctor_id, calendar_id, body.kind, body.url, body.username, body.password
        )
    )
    return {**accepted(response, saved), "id": calendar_id}


@router.delete("/doctors/{doctor_id}/calendars/{calendar_id}", response_model=Accepted)
def unlink_calendar(
    doctor_id: UUID, calendar_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    services = _manage(request, actor, doctor_id)
    return accepted(
        response, services.bus.handle(cmd.UnlinkCalendar(actor, doctor_id, calendar_id))
    )


@router.post("/doctors/{doctor_id}/calendars/sync")
def sync_calendars(doctor_id: UUID, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """Read the linked calendars now; answers how many were read and which failed."""
    services = _manage(request, actor, doctor_id)
    report = services.calendar_sync.sync_doctor(doctor_id, actor)
    return {
        "calendars": report.calendars,
        "failed": report.failed,
        "position": services.recorder.max_notification_id() or 0,
    }
