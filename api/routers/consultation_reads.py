"""Reading consultations from the consultation view: one by id, and a patient's list."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request

from api.auth import CurrentActor, authorize_consultation, consultation_scope, consultation_ties
from api.policy import STAFF, Action, ConsultationScope, decide_for_consultation
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import AfterHeader, AfterQuery, PurposeHeader, await_position, record_access
from api.routers.agenda import consultation_out
from api.schedule_schemas import ConsultationOut
from api.state import services_of
from commands.results import NotFound

router = APIRouter(prefix="/v1/consultations", tags=["consultations"], responses=PROBLEM_RESPONSES)


@router.get("/{consultation_id}", response_model=ConsultationOut)
def read(
    consultation_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> dict[str, Any]:
    """As current as the write: the view is awaited (bounded) up to the log's head."""
    services = services_of(request)
    scope = consultation_scope(request, consultation_id)
    actor = authorize_consultation(request, actor, Action.READ_CONSULTATION, scope)
    await_position(services, "consultation_view", services.recorder.max_notification_id())
    c = services.consultations.get(consultation_id)
    if c is None:
        raise NotFound("Consultation", consultation_id)
    record_access(services, actor, [c.patient_id], "consultation", purpose)
    return {
        "id": c.consultation_id,
        "version": c.version,
        "doctor_id": c.doctor_id,
        "patient_id": c.patient_id,
        "practice_id": c.practice_id,
        "organisation_id": c.organisation_id,
        "type_code": c.type_code,
        "kind": c.kind,
        "start": c.start_at,
        "end": c.end_at,
        "status": c.status,
        "urgent": c.urgent,
        "flagged": c.flagged,
        "booked_by_role": c.booked_by_role,
        "options": c.options,
        "checked_in_at": c.checked_in_at,
        "admitted_at": c.admitted_at,
        "ended_at": c.ended_at,
        "taken": c.taken,
        "escalated": c.escalated,
        "answer_by": c.answer_by,
        "asynchronous": c.asynchronous,
        "rated": c.rated,
    }


patients_router = APIRouter(
    prefix="/v1/patients", tags=["consultations"], responses=PROBLEM_RESPONSES
)


@patients_router.get("/{patient_id}/consultations", response_model=list[ConsultationOut])
def patient_consultations(
    patient_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
    purpose: PurposeHeader = None,
) -> list[dict[str, Any]]:
    """A patient's appointments: for the patient (or their holder, or a grantee), and for the
    care team of each appointment's organisation."""
    services = services_of(request)
    probe = ConsultationScope(patient_id, patient_id, actor.organisation_id)
    ties = consultation_ties(request, actor, probe)
    # staff see the list, filtered below to what each consultation allows them
    verdict = decide_for_consultation(actor, Action.READ_CONSULTATION, probe, ties)
    if actor.role not in STAFF and not verdict:
        raise Problem(403, "forbidden", "Your role does not allow this for that patient")
    await_position(services, "consultation_view", after, after_header)
    entries = [
        e
        for e in services.consultations.of_patient(patient_id)
        if decide_for_consultation(
            actor,
            Action.READ_CONSULTATION,
            ConsultationScope(e.patient_id, e.doctor_id, e.organisation_id),
            ties,
        )
    ]
    # even an empty list tells whether the patient has appointments here
    reader = actor.acting_for(patient_id) if verdict.on_behalf else actor
    record_access(services, reader, [patient_id], "patient.consultations", purpose)
    return [consultation_out(e) for e in entries]
