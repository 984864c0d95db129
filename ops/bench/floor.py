"""The availability benchmark's floor: a route of the one-doctor slots route's shape (path, auth
dependency, policy check, query parameters, response model) that answers a constant empty page.

The served app includes ``router`` beside the real ones (``harness.server``, ``--router
floor:router``); it uses only the API's public dependencies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from api.auth import CurrentActor, authorize
from api.policy import Action
from api.schedule_schemas import SlotPage

router = APIRouter(prefix="/v1")
PAGE: dict[str, Any] = {"time_zone": "UTC", "slots": []}


@router.get("/bench-floor/{doctor_id}/slots", response_model=SlotPage)
def floor_slots(
    doctor_id: UUID,
    actor: CurrentActor,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    type_code: Annotated[str | None, Query(alias="type", max_length=60)] = None,
    practice_id: UUID | None = None,
    tz: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    authorize(actor, Action.READ_SLOTS)
    return PAGE
