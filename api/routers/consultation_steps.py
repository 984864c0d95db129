"""A consultation's life after booking: the patient checks in, the doctor takes, admits,
completes or answers, either side closes a question, the patient reopens and rates it; and
asking a question (an asynchronous consultation). Illegal steps answer 409 with the state."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from api.auth import (
    CurrentActor,
    authorize_consultation,
    authorize_patient,
    consultation_scope,
    patient_subject,
)
from api.policy import Action, ConsultationScope
from api.problems import PROBLEM_RESPONSES
from api.reads import accepted
from api.schedule_schemas import QuestionBody, RatingBody
from api.schemas import Accepted
from api.state import services_of
from commands import consultations as cmd
from domain.actor import Actor, Role

router = APIRouter(prefix="/v1/consultations", tags=["consultations"], responses=PROBLEM_RESPONSES)


def _step(
    request: Request, consultation_id: UUID, actor: Actor, action: Action, command: Any
) -> Any:
    """Authorize ``action`` on the consultation, then dispatch the command built for the actor
    as recorded (on the patient's behalf for a holder or a caregiver)."""
    scope = consultation_scope(request, consultation_id)
    acting = authorize_consultation(request, actor, action, scope)
    return services_of(request).bus.handle(command(acting, consultation_id))


@router.post("/async", status_code=status.HTTP_201_CREATED, response_model=Accepted)
def ask(
    body: QuestionBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Ask a doctor of an organisation a question: the patient (their holder, a caregiver with
    the booking scope) or staff of that organisation for a patient of theirs. The doctor has
    the organisation's answer deadline (``answer_within_hours``) to take and answer it."""
    services = services_of(request)
    working = body.organisation_id in services.relations.memberships(body.doctor_id)
    scope = ConsultationScope(
        body.patient_id, body.doctor_id, body.organisation_id if working else None
    )
    acting = authorize_consultation(request, actor, Action.ASK, scope)
    if acting.on_behalf_of is None and actor.role is not Role.PATIENT:
        authorize_patient(request, actor, Action.ASK, patient_subject(request, body.patient_id))
    saved = services.bus.handle(
        cmd.AskQuestion(
            acting,
            body.patient_id,
            body.doctor_id,
            body.organisation_id,
            body.type_code,
            body.question,
        )
    )
    response.headers["Location"] = f"/v1/consultations/{saved.aggregate_id}"
    return accepted(response, saved)


@router.post("/{consultation_id}/check-in", response_model=Accepted)
def check_in(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The patient is in the waiting room: from the organisation's lead time before the start
    (409 with the opening time before that). The patient, their holder, a caregiver with the
    attend scope (recorded on the patient's behalf), or staff of the organisation at the desk."""
    return accepted(response, _step(request, consultation_id, actor, Action.ATTEND, cmd.CheckIn))


@router.post("/{consultation_id}/take", response_model=Accepted)
def take(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The named doctor accepts an urgent offer or an asynchronous question."""
    return accepted(
        response, _step(request, consultation_id, actor, Action.TREAT, cmd.TakeConsultation)
    )


@router.post("/{consultation_id}/admit", response_model=Accepted)
def admit(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The doctor lets the waiting patient in. One at a time: 409 ``doctor-busy`` while another
    of the doctor's consultations is in progress."""
    return accepted(
        response, _step(request, consultation_id, actor, Action.TREAT, cmd.AdmitPatient)
    )


@router.post("/{consultation_id}/complete", response_model=Accepted)
def complete(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The doctor ends the call (the documentation may follow later)."""
    return accepted(
        response, _step(request, consultation_id, actor, Action.TREAT, cmd.CompleteConsultation)
    )


@router.post("/{consultation_id}/answer", response_model=Accepted)
def answer(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The doctor who took the question answered it (the messages come with the chat)."""
    return accepted(
        response, _step(request, consultation_id, actor, Action.TREAT, cmd.AnswerQuestion)
    )


@router.post("/{consultation_id}/close", response_model=Accepted)
def close(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Either side closes an asynchronous consultation: the patient's side or its doctor."""
    return accepted(
        response, _step(request, consultation_id, actor, Action.CLOSE, cmd.CloseConsultation)
    )


@router.post("/{consultation_id}/reopen", response_model=Accepted)
def reopen(
    consultation_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The patient's side asks again, within the organisation's window after closing."""
    return accepted(
        response, _step(request, consultation_id, actor, Action.REOPEN, cmd.ReopenConsultation)
    )


@router.post("/{consultation_id}/rate", response_model=Accepted)
def rate(
    consultation_id: UUID,
    body: RatingBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Once, after it happened (409 the second time); the comment is encrypted with the
    patient's key."""
    scope = consultation_scope(request, consultation_id)
    acting = authorize_consultation(request, actor, Action.RATE, scope)
    saved = services_of(request).bus.handle(
        cmd.RateConsultation(acting, consultation_id, body.score, body.comment or None)
    )
    return accepted(response, saved)
