"""Teleconferences: an organiser (staff) and up to 20 invited participants, staff of the
organiser's organisation (by account id) and/or patients the organiser may book for (by record
id). The organiser schedules, invites, removes, starts, ends or cancels; each participant
accepts or declines; the organiser and the participants read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from api.auth import (
    CurrentActor,
    authorize,
    authorize_patient,
    authorize_teleconference,
    teleconference_scope,
)
from api.policy import Action, Subject
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import PurposeHeader, accepted, record_access
from api.schemas import Accepted, Body, Timestamp
from api.state import services_of
from commands import teleconferences as cmd
from commands.results import NotFound
from domain.actor import Actor, Role
from domain.teleconference import MAX_PARTICIPANTS, ParticipantKind

router = APIRouter(
    prefix="/v1/teleconferences", tags=["teleconferences"], responses=PROBLEM_RESPONSES
)


class TeleconferenceBody(Body):
    start: Timestamp
    end: Timestamp
    participants: list[UUID] = Field(
        default_factory=list,
        max_length=2 * MAX_PARTICIPANTS,
        description=f"at most {MAX_PARTICIPANTS}: staff account ids and/or patient record ids",
    )


class InvitationBody(Body):
    participant_id: UUID


class ResponseBody(Body):
    accept: bool
    participant_id: UUID | None = Field(
        default=None,
        description="the participant answering (default: yourself; a holder or a caregiver "
        "names the patient they answer for)",
    )


class ParticipantOut(BaseModel):
    participant_id: UUID
    kind: str
    invitation: str


class TeleconferenceOut(BaseModel):
    id: UUID
    version: int
    organiser_id: UUID
    organisation_id: UUID
    start: datetime
    end: datetime
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    participants: list[ParticipantOut]


def _kind_of(request: Request, organiser: Actor, participant_id: UUID) -> ParticipantKind:
    """Staff of the organiser's organisation, or a patient the organiser may book for."""
    services = services_of(request)
    if organiser.organisation_id in services.relations.memberships(participant_id):
        return ParticipantKind.STAFF
    found = services.patient_registrations.of(participant_id)
    if found is None:
        raise Problem(
            422,
            "not-invitable",
            "Invite staff of your organisation or patients of yours",
            participant_id=str(participant_id),
        )
    subject = Subject(found.patient_id, found.organisation_id)
    authorize_patient(request, organiser, Action.BOOK, subject)
    return ParticipantKind.PATIENT


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Accepted)
def schedule(
    body: TeleconferenceBody, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Schedule one and invite its participants (the 21st is refused: 409)."""
    authorize(actor, Action.ORGANISE_TELECONFERENCE)
    if actor.organisation_id is None:
        raise Problem(403, "forbidden", "Organise a teleconference for your organisation")
    unique = list(dict.fromkeys(body.participants))
    people = tuple((p, _kind_of(request, actor, p)) for p in unique)
    saved = services_of(request).bus.handle(
        cmd.ScheduleTeleconference(actor, body.start, body.end, people)
    )
    response.headers["Location"] = f"/v1/teleconferences/{saved.aggregate_id}"
    return accepted(response, saved)


def _organiser(request: Request, teleconference_id: UUID, actor: Actor) -> Actor:
    scope = teleconference_scope(request, teleconference_id)
    acting, _ = authorize_teleconference(request, actor, Action.ORGANISE_TELECONFERENCE, scope)
    return acting


@router.get("/{teleconference_id}", response_model=TeleconferenceOut)
def read(
    teleconference_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> dict[str, Any]:
    """For the organiser and the participants: each participant's invitation state. The
    patient side sees the staff invited and itself, never the other patients."""
    services = services_of(request)
    scope = teleconference_scope(request, teleconference_id)
    acting, myself = authorize_teleconference(request, actor, Action.JOIN_TELECONFERENCE, scope)
    row = services.teleconferences.get(teleconference_id)
    if row is None:
        raise NotFound("Teleconference", teleconference_id)
    shown = [
        p
        for p in row.participants
        if actor.role is not Role.PATIENT
        or p.kind == ParticipantKind.STAFF
        or p.participant_id == myself
    ]
    patients = [p.participant_id for p in shown if p.kind == ParticipantKind.PATIENT]
    if patients:
        record_access(services, acting, patients, "teleconference", purpose)
    return {
        "id": row.teleconference_id,
        "version": row.version,
        "organiser_id": row.organiser_id,
        "organisation_id": row.organisation_id,
        "start": row.start_at,
        "end": row.end_at,
        "status": row.status,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "participants": [
            {"participant_id": p.participant_id, "kind": p.kind, "invitation": p.invitation}
            for p in shown
        ],
    }


@router.post("/{teleconference_id}/participants", response_model=Accepted)
def invite(
    teleconference_id: UUID,
    body: InvitationBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The organiser invites someone more (409 beyond 20)."""
    acting = _organiser(request, teleconference_id, actor)
    kind = _kind_of(request, actor, body.participant_id)
    saved = services_of(request).bus.handle(
        cmd.InviteParticipant(acting, teleconference_id, body.participant_id, kind)
    )
    return accepted(response, saved)


@router.delete("/{teleconference_id}/participants/{participant_id}", response_model=Accepted)
def remove(
    teleconference_id: UUID,
    participant_id: UUID,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The organiser removes a participant (their invitation shows ``removed``)."""
    acting = _organiser(request, teleconference_id, actor)
    saved = services_of(request).bus.handle(
        cmd.RemoveParticipant(acting, teleconference_id, participant_id)
    )
    return accepted(response, saved)


@router.post("/{teleconference_id}/respond", response_model=Accepted)
def respond(
    teleconference_id: UUID,
    body: ResponseBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """A participant accepts or declines (a holder, or a caregiver with the attend scope, for
    the patient)."""
    scope = teleconference_scope(request, teleconference_id)
    acting, participant = authorize_teleconference(
        request, actor, Action.JOIN_TELECONFERENCE, scope, body.participant_id
    )
    if participant == scope.organiser_id:
        raise Problem(403, "forbidden", "The organiser is not invited: they organise it")
    saved = services_of(request).bus.handle(
        cmd.RespondToInvitation(acting, teleconference_id, participant, body.accept)
    )
    return accepted(response, saved)


@router.post("/{teleconference_id}/start", response_model=Accepted)
def start(
    teleconference_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    acting = _organiser(request, teleconference_id, actor)
    saved = services_of(request).bus.handle(cmd.StartTeleconference(acting, teleconference_id))
    return accepted(response, saved)


@router.post("/{teleconference_id}/end", response_model=Accepted)
def end(
    teleconference_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    acting = _organiser(request, teleconference_id, actor)
    saved = services_of(request).bus.handle(cmd.EndTeleconference(acting, teleconference_id))
    return accepted(response, saved)


@router.post("/{teleconference_id}/cancel", response_model=Accepted)
def cancel(
    teleconference_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Only before it started (409 after)."""
    acting = _organiser(request, teleconference_id, actor)
    saved = services_of(request).bus.handle(cmd.CancelTeleconference(acting, teleconference_id))
    return accepted(response, saved)
