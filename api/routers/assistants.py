"""A doctor's assistants: named assistants act for the doctor (schedule, agenda, bookings), in
an organisation the three of them share; nobody else's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request

from api.auth import CurrentActor, authorize_doctor
from api.policy import Action, DoctorScope
from api.problems import PROBLEM_RESPONSES, Problem
from api.schemas import Body
from api.state import services_of
from commands.memberships import AssignAssistant, UnassignAssistant, Unassigned
from commands.results import NotFound
from domain.account import NotAMember, RoleMismatch
from domain.actor import Role

router = APIRouter(prefix="/v1/doctors", tags=["assistants"], responses=PROBLEM_RESPONSES)


class AssignmentBody(Body):
    organisation_id: UUID | None = None


def _doctor_scope(request: Request, doctor_id: UUID) -> DoctorScope:
    return DoctorScope(doctor_id, frozenset(services_of(request).relations.memberships(doctor_id)))


@router.put("/{doctor_id}/assistants/{assistant_id}")
def assign(
    doctor_id: UUID,
    assistant_id: UUID,
    body: AssignmentBody,
    request: Request,
    actor: CurrentActor,
) -> dict[str, Any]:
    """By the doctor, or an admin of an organisation the doctor works for (in that one)."""
    scope = _doctor_scope(request, doctor_id)
    authorize_doctor(request, actor, Action.MANAGE_ASSISTANTS, scope)
    organisation_id = body.organisation_id or actor.organisation_id
    if organisation_id is None or organisation_id not in scope.organisation_ids:
        raise Problem(422, "not-a-member", "The doctor does not work for that organisation")
    if actor.role is Role.ORG_ADMIN and organisation_id != actor.organisation_id:
        raise Problem(403, "forbidden", "Admins assign assistants in their own organisation")
    assignment = AssignAssistant(actor, assistant_id, doctor_id, organisation_id)
    try:
        services_of(request).bus.handle(assignment)
    except NotFound:
        raise Problem(404, "not-found", "No such assistant") from None
    except RoleMismatch:
        raise Problem(422, "not-an-assistant", "That account is not an assistant") from None
    except NotAMember:
        raise Problem(
            422, "not-a-member", "The assistant does not work for that organisation"
        ) from None
    return {
        "doctor_id": doctor_id,
        "assistant_id": assistant_id,
        "organisation_id": organisation_id,
    }


@router.delete("/{doctor_id}/assistants/{assistant_id}")
def unassign(
    doctor_id: UUID, assistant_id: UUID, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """The assistant stops acting for the doctor at once."""
    authorize_doctor(request, actor, Action.MANAGE_ASSISTANTS, _doctor_scope(request, doctor_id))
    try:
        unassigned = services_of(request).bus.answer(
            UnassignAssistant(actor, assistant_id, doctor_id), Unassigned
        )
    except NotFound:
        raise Problem(404, "not-found", "No such assistant") from None
    return {"doctor_id": doctor_id, "assistant_id": assistant_id, "removed": unassigned.removed}


@router.get("/{doctor_id}/assistants")
def list_assistants(doctor_id: UUID, request: Request, actor: CurrentActor) -> list[dict[str, Any]]:
    """Who acts for the doctor (for the doctor and the admins of the doctor's organisations)."""
    authorize_doctor(request, actor, Action.MANAGE_ASSISTANTS, _doctor_scope(request, doctor_id))
    return [
        {"assistant_id": a, "organisation_id": o}
        for a, o in services_of(request).relations.assistants_of(doctor_id)
    ]
