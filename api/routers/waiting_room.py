"""The waiting room: a doctor's queue for the care team, and one's place in it for the patient.
Estimates are computed when asked (time passes); ``after`` waits for a write as other reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.auth import (
    CurrentActor,
    authorize_consultation,
    authorize_doctor,
    consultation_scope,
    doctor_scope,
)
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.reads import AfterHeader, AfterQuery, PurposeHeader, await_position, record_access
from api.state import services_of
from commands.results import NotFound
from projections.waiting_room import doctor_queue

router = APIRouter(prefix="/v1", tags=["waiting room"], responses=PROBLEM_RESPONSES)


class QueuedOut(BaseModel):
    position: int
    consultation_id: UUID
    patient_id: UUID  # the record's id: no name
    type_code: str
    urgent: bool
    scheduled_at: datetime | None
    arrived_at: datetime
    estimated_wait_minutes: float
    intake: dict[str, Any] | None  # the intake summary, with the clinical record


class InProgressOut(BaseModel):
    consultation_id: UUID
    patient_id: UUID
    type_code: str
    admitted_at: datetime | None


class QueueOut(BaseModel):
    doctor_id: UUID
    as_of: datetime
    in_progress: InProgressOut | None
    waiting: list[QueuedOut]


class WaitingOut(BaseModel):
    consultation_id: UUID
    state: str  # booked, waiting, in-progress, completed, cancelled, no-show
    position: int | None  # 1: next; null when not waiting
    estimated_wait_minutes: float | None
    queue_length: int
    as_of: datetime


@router.get("/waiting-room/doctors/{doctor_id}", response_model=QueueOut)
def doctor_waiting_room(
    doctor_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> dict[str, Any]:
    """The doctor's queue in order (urgent first), each with an estimated wait: for the doctor,
    their assistants and the staff of their organisation."""
    services = services_of(request)
    authorize_doctor(request, actor, Action.READ_WAITING_ROOM, doctor_scope(request, doctor_id))
    await_position(services, "waiting_room", after, after_header)
    queue = services.waiting_room.queue(doctor_queue(doctor_id), datetime.now(UTC))
    current = queue.in_progress
    patients = [q.patient_id for q in queue.waiting] + ([current.patient_id] if current else [])
    record_access(services, actor, patients, "doctor.waiting-room", purpose)
    return {
        "doctor_id": doctor_id,
        "as_of": queue.as_of,
        "in_progress": None
        if current is None
        else {
            "consultation_id": current.consultation_id,
            "patient_id": current.patient_id,
            "type_code": current.type_code,
            "admitted_at": current.admitted_at,
        },
        "waiting": [
            {
                "position": q.position,
                "consultation_id": q.consultation_id,
                "patient_id": q.patient_id,
                "type_code": q.type_code,
                "urgent": q.urgent,
                "scheduled_at": q.scheduled_at,
                "arrived_at": q.arrived_at,
                "estimated_wait_minutes": q.estimated_wait_minutes,
                "intake": q.intake,
            }
            for q in queue.waiting
        ],
    }


@router.get("/consultations/{consultation_id}/waiting", response_model=WaitingOut)
def consultation_waiting(
    consultation_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> dict[str, Any]:
    """The patient's place in the waiting room and the estimated wait, to poll (``after``:
    the position of one's own write, e.g. the check-in)."""
    services = services_of(request)
    scope = consultation_scope(request, consultation_id)
    authorize_consultation(request, actor, Action.READ_CONSULTATION, scope)
    await_position(services, "waiting_room", after, after_header)
    spot = services.waiting_room.of_consultation(consultation_id, datetime.now(UTC))
    if spot is None:  # asynchronous, or not seen by the waiting room yet
        raise NotFound("Consultation", consultation_id)
    return {
        "consultation_id": spot.consultation_id,
        "state": spot.spot.value,
        "position": spot.position,
        "estimated_wait_minutes": spot.estimated_wait_minutes,
        "queue_length": spot.queue_length,
        "as_of": spot.as_of,
    }
