"""The on-call pool: doctors go on and off duty and accept the requests offered to them (the
first accept wins; the others get 409 ``already-taken`` naming the taker's role); patients
request, follow and withdraw. A doctor not on duty in the request's pool gets 409
``not-on-duty`` (the route is theirs; the pool's state refuses it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints, model_validator

from api.auth import CurrentActor, authorize, authorize_patient
from api.policy import Action, Subject
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import AfterHeader, AfterQuery, accepted, await_position
from api.schemas import Accepted, Body
from api.state import services_of
from commands import on_call as cmd
from commands.results import NotFound
from domain.actor import Actor, Role
from domain.on_call import QUESTION_LIMIT, REASON_LIMIT
from domain.patient import record_of
from projections.on_call import RequestRow

router = APIRouter(prefix="/v1/on-call", tags=["on-call"], responses=PROBLEM_RESPONSES)

Specialty = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]


class OnCallRequestBody(Body):
    """Urgent (``reason``) or an asynchronous question (``question``): exactly one."""

    patient_id: UUID
    organisation_id: UUID
    specialty: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
    reason: Annotated[
        str | None, StringConstraints(strip_whitespace=True, min_length=3, max_length=REASON_LIMIT)
    ] = None
    question: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=QUESTION_LIMIT),
    ] = None

    @model_validator(mode="after")
    def _one_of(self) -> OnCallRequestBody:
        if (self.reason is None) == (self.question is None):
            raise ValueError("give either an urgent reason or a question")
        return self


class AcceptedRequest(Accepted):
    consultation_id: UUID | None = Field(description="The consultation the doctor now has")


class OfferOut(BaseModel):
    request_id: UUID
    organisation_id: UUID
    specialty: str
    urgent: bool
    escalated: bool
    made_at: datetime
    expires_at: datetime


class RequestOut(BaseModel):
    id: UUID
    version: int
    organisation_id: UUID
    specialty: str
    urgent: bool
    escalated: bool
    state: str = Field(description="open, accepted, withdrawn or expired")
    made_at: datetime
    expires_at: datetime
    consultation_id: UUID | None = Field(
        description="Once accepted: the consultation (an escalated request: the one escalated)"
    )
    taken_by_role: str | None


def _on_duty_in(request: Request, actor: Actor, action: Action, organisation_id: UUID) -> None:
    authorize(actor, action)
    if organisation_id not in services_of(request).relations.memberships(actor.actor_id):
        raise Problem(403, "forbidden", "You do not work for that organisation")


@router.put("/pools/{organisation_id}/{specialty}/duty", response_model=Accepted)
def go_on_duty(
    organisation_id: UUID,
    specialty: Specialty,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The signed-in doctor is on duty in the pool of an organisation they work for."""
    _on_duty_in(request, actor, Action.ON_CALL_DUTY, organisation_id)
    saved = services_of(request).bus.handle(cmd.GoOnDuty(actor, organisation_id, specialty))
    return accepted(response, saved)


@router.delete("/pools/{organisation_id}/{specialty}/duty", response_model=Accepted)
def go_off_duty(
    organisation_id: UUID,
    specialty: Specialty,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Off duty: no new offers; the requests the doctor accepted stay theirs."""
    _on_duty_in(request, actor, Action.ON_CALL_DUTY, organisation_id)
    saved = services_of(request).bus.handle(cmd.GoOffDuty(actor, organisation_id, specialty))
    return accepted(response, saved)


@router.post("/requests", status_code=status.HTTP_201_CREATED, response_model=Accepted)
def make_request(
    body: OnCallRequestBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """The patient (their holder, or a grantee with the booking scope) asks the pool."""
    acting = _for_patient(request, actor, Action.REQUEST_ON_CALL, body.patient_id)
    saved = services_of(request).bus.handle(
        cmd.RequestOnCall(
            acting,
            body.patient_id,
            body.organisation_id,
            body.specialty,
            reason=body.reason,
            question=body.question,
        )
    )
    response.headers["Location"] = f"/v1/on-call/requests/{saved.aggregate_id}"
    return accepted(response, saved)


@router.get("/offers", response_model=list[OfferOut])
def offers(
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    after_header: AfterHeader = None,
) -> list[dict[str, Any]]:
    """The open requests of the pools the signed-in doctor is on duty in, oldest first."""
    authorize(actor, Action.READ_ON_CALL_OFFERS)
    services = services_of(request)
    await_position(services, "on_call", after, after_header)
    return [
        {
            "request_id": r.request_id,
            "organisation_id": r.organisation_id,
            "specialty": r.specialty,
            "urgent": r.urgent,
            "escalated": r.escalated,
            "made_at": r.made_at,
            "expires_at": r.expires_at,
        }
        for r in services.on_call.offers_for(actor.actor_id)
    ]


@router.post("/requests/{request_id}/accept", response_model=AcceptedRequest)
def accept(
    request_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """First accept wins: the doctor has the consultation (created for a patient's request, or
    the escalated one), in the same transaction."""
    authorize(actor, Action.ACCEPT_ON_CALL)
    services = services_of(request)
    saved = services.bus.handle(cmd.AcceptRequest(actor, request_id))
    consultation_id = saved.consultation_id if isinstance(saved, cmd.RequestAccepted) else None
    if consultation_id is None:  # a replay under the same Idempotency-Key
        row = _row(request, request_id, saved.position)
        consultation_id = row.consultation_id
    return {**accepted(response, saved), "consultation_id": consultation_id}


@router.post("/requests/{request_id}/withdraw", response_model=Accepted)
def withdraw(
    request_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    acting = _requester(request, actor, request_id, Action.REQUEST_ON_CALL)
    saved = services_of(request).bus.handle(cmd.WithdrawRequest(acting, request_id))
    return accepted(response, saved)


@router.get("/requests/{request_id}", response_model=RequestOut)
def read_request(request_id: UUID, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """The requester's side, as current as the write: open, accepted (with the consultation),
    withdrawn or expired (nobody accepted it in time)."""
    _requester(request, actor, request_id, Action.READ_ON_CALL_REQUEST)
    r = _row(request, request_id, None)
    return {
        "id": r.request_id,
        "version": r.version,
        "organisation_id": r.organisation_id,
        "specialty": r.specialty,
        "urgent": r.urgent,
        "escalated": r.escalated,
        "state": r.state,
        "made_at": r.made_at,
        "expires_at": r.expires_at,
        "consultation_id": r.consultation_id,
        "taken_by_role": r.taken_by_role,
    }


def _row(request: Request, request_id: UUID, position: int | None) -> RequestRow:
    """The request as the read model has it, awaited (bounded) up to ``position`` (or the
    log's head)."""
    services = services_of(request)
    head = position if position is not None else services.recorder.max_notification_id()
    await_position(services, "on_call", head)
    row = services.on_call.request(request_id)
    if row is None:
        raise NotFound("Request", request_id)
    return row


def _requester(request: Request, actor: Actor, request_id: UUID, action: Action) -> Actor:
    """The patient the request is for (their holder, a grantee by scope) may act on it. Whose
    request it is never changes: the read model is awaited only when it has not seen it yet."""
    row = services_of(request).on_call.request(request_id) or _row(request, request_id, None)
    return _for_patient(request, actor, action, row.patient_id)


def _for_patient(request: Request, actor: Actor, action: Action, patient_id: UUID) -> Actor:
    """A patient's own record (registered or not, as for booking), or one the policy allows
    them (holder, grantee)."""
    if actor.role is Role.PATIENT and record_of(actor.actor_id) == patient_id:
        return actor
    found = services_of(request).patient_registrations.of(patient_id)
    subject = Subject(patient_id, found.organisation_id if found else None)
    return authorize_patient(request, actor, action, subject)
