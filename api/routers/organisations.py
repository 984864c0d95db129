"""Organisations: their tree, settings and booking templates, administered by the org admins
of the organisation or of an organisation above it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field, StringConstraints

from api.auth import CurrentActor, authorize_organisation
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import accepted, await_position
from api.schemas import Accepted, Body
from api.state import services_of
from commands import organisations as cmd
from commands.memberships import (
    DeactivateAccount,
    LeaveOrganisation,
    Membership,
    WorksElsewhere,
)
from commands.results import NotFound
from commands.staff_invitations import InviteStaff
from domain.actor import Actor, Role

router = APIRouter(prefix="/v1/organisations", tags=["organisations"], responses=PROBLEM_RESPONSES)
Key = Annotated[str, StringConstraints(min_length=1, max_length=60)]


class OrganisationBody(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    parent_id: UUID | None = None


class SettingsBody(Body):
    settings: dict[Key, Annotated[str, StringConstraints(max_length=500)]] = Field(max_length=50)


class TemplateBody(Body):
    room: Annotated[str, StringConstraints(pattern="^(p2p|sfu)$")]
    waiting_room: bool = True
    recording: Annotated[str, StringConstraints(pattern="^(off|with-consent)$")] = "off"
    duration_minutes: int | None = Field(default=None, ge=5, le=480)
    #: the organisation's intake forms (codes) a patient booked for the type fills
    intake_forms: list[Annotated[str, StringConstraints(pattern="^[a-z0-9][a-z0-9-]{0,59}$")]] = (
        Field(default_factory=list, max_length=10)
    )
    #: the video room opens this long before the start (default 10) and closes this long
    #: after the end (default 15)
    room_lead_in_minutes: int | None = Field(default=None, ge=0, le=240)
    room_grace_minutes: int | None = Field(default=None, ge=0, le=240)


def _admin(request: Request, actor: Actor, organisation_id: UUID) -> None:
    authorize_organisation(request, actor, Action.MANAGE_ORGANISATION, organisation_id)


@router.put("/{organisation_id}", response_model=Accepted)
def found(
    organisation_id: UUID,
    body: OrganisationBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Record one's own organisation, or found a sub-organisation under it."""
    # one's own organisation, or a new one under an organisation of one's tree
    authorize_organisation(
        request,
        actor,
        Action.MANAGE_ORGANISATION,
        organisation_id if body.parent_id is None else body.parent_id,
    )
    if body.parent_id is None and organisation_id != actor.organisation_id:
        raise Problem(403, "forbidden", "Org admins found their own organisation's tree only")
    return accepted(
        response,
        services_of(request).bus.handle(
            cmd.FoundOrganisation(actor, organisation_id, body.name, body.parent_id)
        ),
    )


@router.get("/{organisation_id}")
def read(organisation_id: UUID, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """Name, parent, settings and booking templates, for the organisation's own staff."""
    authorize_organisation(request, actor, Action.READ_ORGANISATION, organisation_id)
    services = services_of(request)
    # as current as the write: the view is awaited (bounded) up to the log's head
    await_position(services, "organisation_view", services.recorder.max_notification_id())
    organisation = services.organisations.get(organisation_id)
    if organisation is None:
        raise NotFound("Organisation", organisation_id)
    return {
        "id": organisation.organisation_id,
        "name": organisation.name,
        "parent_id": organisation.parent_id,
        "settings": organisation.settings,
        "booking_templates": organisation.templates,
        "version": organisation.version,
    }


@router.put("/{organisation_id}/settings", response_model=Accepted)
def change_settings(
    organisation_id: UUID,
    body: SettingsBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    _admin(request, actor, organisation_id)
    return accepted(
        response,
        services_of(request).bus.handle(
            cmd.ChangeSettings(actor, organisation_id, tuple(sorted(body.settings.items())))
        ),
    )


@router.put("/{organisation_id}/booking-templates/{type_code}", response_model=Accepted)
def set_template(
    organisation_id: UUID,
    type_code: str,
    body: TemplateBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Preset room and security options of what is booked as ``type_code`` (B9)."""
    _admin(request, actor, organisation_id)
    return accepted(
        response,
        services_of(request).bus.handle(
            cmd.SetBookingTemplate(
                actor, organisation_id, type_code, tuple(sorted(body.model_dump().items()))
            )
        ),
    )


@router.delete("/{organisation_id}/booking-templates/{type_code}", response_model=Accepted)
def remove_template(
    organisation_id: UUID, type_code: str, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    _admin(request, actor, organisation_id)
    return accepted(
        response,
        services_of(request).bus.handle(
            cmd.RemoveBookingTemplate(actor, organisation_id, type_code)
        ),
    )


class InvitationBody(Body):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    role: Role


@router.post("/{organisation_id}/invitations", status_code=201)
def invite(
    organisation_id: UUID, body: InvitationBody, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """Mail a member of staff a single-use link (a week) to create their account here."""
    _admin(request, actor, organisation_id)
    invite = InviteStaff(actor, organisation_id, body.email, body.role)
    return {"id": services_of(request).bus.handle(invite).aggregate_id}


@router.delete("/{organisation_id}/staff/{account_id}")
def remove_member(
    organisation_id: UUID, account_id: UUID, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """End someone's work for this organisation (they keep their other organisations); an
    account left with none is deactivated and its sessions end at once."""
    authorize_organisation(request, actor, Action.MANAGE_STAFF, organisation_id)
    services = services_of(request)
    try:
        left = services.bus.answer(
            LeaveOrganisation(actor, account_id, organisation_id), Membership
        )
    except NotFound:
        raise _no_member() from None
    ended = 0 if left.active else services.sessions.revoke_all(account_id)
    return {"id": account_id, "organisations": list(left.organisations), "sessions_ended": ended}


@router.post("/{organisation_id}/staff/{account_id}/deactivate")
def deactivate(
    organisation_id: UUID, account_id: UUID, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """The account can no longer sign in, and its sessions end at once. Only for an account
    that works nowhere outside this organisation's tree (else: remove it from here)."""
    authorize_organisation(request, actor, Action.MANAGE_STAFF, organisation_id)
    services = services_of(request)
    try:
        services.bus.handle(DeactivateAccount(actor, account_id, organisation_id))
    except NotFound:
        raise _no_member() from None
    except WorksElsewhere:
        raise Problem(
            409,
            "works-elsewhere",
            "The account works for an organisation outside yours: remove it from yours",
        ) from None
    return {"id": account_id, "sessions_ended": services.sessions.revoke_all(account_id)}


def _no_member() -> Problem:
    return Problem(404, "not-found", "No such member of staff in this organisation")
