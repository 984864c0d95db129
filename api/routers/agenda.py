"""A doctor's agenda: the consultations the doctor has, from the consultation view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.auth import CurrentActor, authorize_doctor, doctor_scope
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.reads import AfterHeader, AfterQuery, PurposeHeader, await_position, aware, record_access
from api.schedule_schemas import ConsultationOut
from api.schemas import Timestamp
from api.state import services_of
from projections.consultation_view import ConsultationRow

router = APIRouter(prefix="/v1", tags=["schedules"], responses=PROBLEM_RESPONSES)


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
    authorize_doctor(request, actor, Action.READ_AGENDA, doctor_scope(request, doctor_id))
    await_position(services, "consultation_view", after, after_header)
    if flagged:
        entries = services.consultations.flagged_of_doctor(doctor_id)
    else:
        begin = aware(start) or datetime.now(UTC) - timedelta(days=1)
        entries = services.consultations.of_doctor(
            doctor_id, begin, aware(end) or begin + timedelta(days=31)
        )
    patients = list(dict.fromkeys(e.patient_id for e in entries))
    record_access(services, actor, patients, "doctor.agenda", purpose)
    return [consultation_out(e) for e in entries]


def consultation_out(e: ConsultationRow) -> dict[str, Any]:
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
