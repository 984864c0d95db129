"""Free slots: of one doctor, and the earliest across doctors of a specialty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response

from api.auth import CurrentActor, authorize
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import AfterHeader, AfterQuery, await_position, aware
from api.schedule_schemas import SlotPage
from api.schemas import Timestamp
from api.state import services_of
from domain.errors import InvalidValue
from domain.time_rules import zone
from projections.free_slots import FreeSlot

router = APIRouter(prefix="/v1", tags=["schedules"], responses=PROBLEM_RESPONSES)
TimeZone = Annotated[str | None, Query(max_length=64, description="answer times in this zone")]


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
    begin = aware(start) or datetime.now(UTC)
    finish = aware(end) or begin + timedelta(days=14)
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
    begin = max(aware(start) or datetime.now(UTC), datetime.now(UTC))
    slots = services.availability.earliest(
        specialty=specialty,
        type_code=type_code,
        after=begin,
        organisation_id=organisation_id,
        language=language,
        limit=limit,
    )
    return _json(_page(slots, tz))


def _json(body: dict[str, Any]) -> Response:
    """Slot pages can hold hundreds of slots: serialised by orjson directly (UUIDs and aware
    datetimes natively), skipping a second validation pass."""
    return Response(orjson.dumps(body), media_type="application/json")


def _page(slots: list[FreeSlot], tz: str | None) -> dict[str, Any]:
    try:
        target = zone(tz) if tz else UTC
    except InvalidValue:
        raise Problem(422, "unknown-time-zone", f"Unknown time zone {tz!r}") from None

    def at(t: datetime) -> datetime:
        return t if t.tzinfo is target else t.astimezone(target)

    return {  # orjson writes tuples as arrays
        "time_zone": tz or "UTC",
        "slots": [
            {
                "doctor_id": s.doctor_id,
                "practice_id": s.practice_id,
                "organisation_id": s.organisation_id,
                "type_code": s.type_code,
                "kinds": s.kinds,
                "start": at(s.start),
                "end": at(s.end),
                "specialty": s.specialty,
                "languages": s.languages,
                "doctor_time_zone": s.time_zone,
            }
            for s in slots
        ],
    }
