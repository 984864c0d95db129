"""Doctors' schedules, external calendars, free slots and agendas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

import orjson
from fastapi import APIRouter, Query, Request, Response

from adapters.composition import Services
from api.auth import CurrentActor, authorize, authorize_doctor
from api.policy import Action, DoctorScope
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import (
    AfterHeader,
    AfterQuery,
    PurposeHeader,
    accepted,
    await_position,
    record_access,
)
from api.schedule_schemas import (
    CalendarLinkBody,
    ConsultationOut,
    ConsultationTypeBody,
    Hours,
    PracticeLink,
    ScheduleProfile,
    SlotPage,
    TimeOffBody,
)
from api.schemas import Accepted, Day, Timestamp
from api.state import services_of
from commands import scheduling as cmd
from domain.errors import InvalidValue
from domain.schedule import DoctorSchedule
from domain.time_rules import zone
from projections.agenda import AgendaEntry
from projections.availability import FreeSlot

router = APIRouter(prefix="/v1", tags=["schedules"], responses=PROBLEM_RESPONSES)
TimeZone = Annotated[str | None, Query(max_length=64, description="answer times in this zone")]


def doctor_scope(services: Services, doctor_id: UUID) -> DoctorScope:
    """The doctor, and the organisations the doctor works for now."""
    return DoctorScope(doctor_id, frozenset(services.relations.memberships(doctor_id)))


def _manage(request: Request, actor: Any, doctor_id: UUID) -> Services:
    services = services_of(request)
    authorize_doctor(request, actor, Action.MANAGE_SCHEDULE, doctor_scope(services, doctor_id))
    return services


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
    exists = services.bus_uow().find(DoctorSchedule, DoctorSchedule.create_id(doctor_id))
    command: Any = (cmd.ChangeProfile if exists else cmd.OpenSchedule)(
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
    if body.organisation_id not in doctor_scope(services, doctor_id).organisation_ids:
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


@router.get("/doctors/{doctor_id}/slots", response_model=SlotPage)
def doctor_slots(
    doctor_id: UUID,
    request: Request,
    actor: CurrentActor,
    start: Annotated[Timestamp | None, Query(alias="from")] = None,
    end: Annotated[Timestamp | None, Query(alias="to")] = None,
    type_code: Annotated[str | None, Query(alias="type", max_length=60)] = None,
    practice_id: UUID | None = None,
    tz: TimeZone = None,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> Response:
    """Free slots of one doctor (default: the next 14 days)."""
    authorize(actor, Action.READ_SLOTS)
    services = services_of(request)
    await_position(services, "availability", after, after_header)
    begin = _aware(start) or datetime.now(UTC)
    finish = _aware(end) or begin + timedelta(days=14)
    if finish <= begin or finish - begin > timedelta(days=120):
        raise Problem(422, "bad-range", "`to` after `from`, at most 120 days apart")
    slots = services.availability.of_doctor(
        doctor_id, max(begin, datetime.now(UTC)), finish, type_code, practice_id
    )
    return _json(_page(slots, tz))


@router.get("/slots", response_model=SlotPage)
def earliest_slots(
    request: Request,
    actor: CurrentActor,
    specialty: Annotated[str, Query(min_length=1, max_length=60)],
    type_code: Annotated[str | None, Query(alias="type", max_length=60)] = None,
    organisation_id: UUID | None = None,
    language: Annotated[str | None, Query(max_length=8)] = None,
    start: Annotated[Timestamp | None, Query(alias="from")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    tz: TimeZone = None,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> Response:
    """The earliest free slots across doctors of a specialty."""
    authorize(actor, Action.READ_SLOTS)
    services = services_of(request)
    await_position(services, "availability", after, after_header)
    begin = max(_aware(start) or datetime.now(UTC), datetime.now(UTC))
    slots = services.availability.earliest(
        specialty=specialty,
        type_code=type_code,
        after=begin,
        organisation_id=organisation_id,
        language=language,
        limit=limit,
    )
    return _json(_page(slots, tz))


@router.get("/doctors/{doctor_id}/agenda", response_model=list[ConsultationOut])
def agenda(
    doctor_id: UUID,
    request: Request,
    actor: CurrentActor,
    start: Annotated[Timestamp | None, Query(alias="from")] = None,
    end: Annotated[Timestamp | None, Query(alias="to")] = None,
    flagged: bool = False,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> list[dict[str, Any]]:
    """The doctor's consultations (urgent ones included); ``flagged=true``: those that no
    longer fit the schedule and need rescheduling."""
    services = services_of(request)
    authorize_doctor(request, actor, Action.READ_AGENDA, doctor_scope(services, doctor_id))
    await_position(services, "agenda", after, after_header)
    if flagged:
        entries = services.agenda.flagged_of_doctor(doctor_id)
    else:
        begin = _aware(start) or datetime.now(UTC) - timedelta(days=1)
        entries = services.agenda.of_doctor(
            doctor_id, begin, _aware(end) or begin + timedelta(days=31)
        )
    patients = list(dict.fromkeys(e.patient_id for e in entries))
    record_access(services, actor, patients, "doctor.agenda", purpose)
    return [consultation_out(e) for e in entries]


def consultation_out(e: AgendaEntry) -> dict[str, Any]:
    return {
        "id": e.consultation_id,
        "version": e.version,
        "doctor_id": e.doctor_id,
        "patient_id": e.patient_id,
        "practice_id": e.practice_id,
        "organisation_id": e.organisation_id,
        "type_code": e.type_code,
        "kind": e.kind,
        "start": e.start_at,
        "end": e.end_at,
        "status": e.status,
        "urgent": e.urgent,
        "flagged": e.flagged,
        "booked_by_role": e.booked_by_role,
    }


def _json(body: dict[str, Any]) -> Response:
    """Slot pages can hold hundreds of slots: serialised by orjson directly (UUIDs and aware
    datetimes natively), skipping a second validation pass."""
    return Response(orjson.dumps(body), media_type="application/json")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Problem(422, "naive-datetime", "Times need a UTC offset (ISO 8601)")
    return value


def _page(slots: list[FreeSlot], tz: str | None) -> dict[str, Any]:
    try:
        target = zone(tz) if tz else UTC
    except InvalidValue:
        raise Problem(422, "unknown-time-zone", f"Unknown time zone {tz!r}") from None
    return {
        "time_zone": tz or "UTC",
        "slots": [
            {
                "doctor_id": s.doctor_id,
                "practice_id": s.practice_id,
                "organisation_id": s.organisation_id,
                "type_code": s.type_code,
                "kinds": list(s.kinds),
                "start": s.start.astimezone(target),
                "end": s.end.astimezone(target),
                "specialty": s.specialty,
                "languages": list(s.languages),
                "doctor_time_zone": s.time_zone,
            }
            for s in slots
        ],
    }
