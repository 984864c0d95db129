"""Organisations: their tree, settings and booking templates, administered by the org admins
of the organisation or of an organisation above it."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import Field, StringConstraints

from api.auth import CurrentActor, authorize_organisation, organisation_chain
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import accepted
from api.schemas import Accepted, Body
from api.state import services_of
from commands import organisations as cmd
from domain.account import Account
from domain.actor import Actor, Role
from domain.organisation import Organisation

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
    organisation = services_of(request).bus_uow().get(Organisation, organisation_id)
    return {
        "id": organisation.id,
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
    services = services_of(request)
    invitation_id = services.accounts.invite(body.email, body.role, organisation_id, actor)
    return {"id": invitation_id}


def _member(request: Request, organisation_id: UUID, account_id: UUID) -> Account:
    account = services_of(request).bus_uow().find(Account, account_id)
    if account is None or organisation_id not in account.organisations:
        raise Problem(404, "not-found", "No such member of staff in this organisation")
    return account


@router.delete("/{organisation_id}/staff/{account_id}")
def remove_member(
    organisation_id: UUID, account_id: UUID, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """End someone's work for this organisation (they keep their other organisations); an
    account left with none is deactivated and its sessions end at once."""
    authorize_organisation(request, actor, Action.MANAGE_STAFF, organisation_id)
    _member(request, organisation_id, account_id)
    services = services_of(request)
    account = services.accounts.leave(account_id, organisation_id, actor)
    ended = 0 if account.active else services.sessions.revoke_all(account_id)
    return {"id": account_id, "organisations": account.organisations, "sessions_ended": ended}


@router.post("/{organisation_id}/staff/{account_id}/deactivate")
def deactivate(
    organisation_id: UUID, account_id: UUID, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """The account can no longer sign in, and its sessions end at once. Only for an account
    that works nowhere outside this organisation's tree (else: remove it from here)."""
    authorize_organisation(request, actor, Action.MANAGE_STAFF, organisation_id)
    services = services_of(request)
    account = services.bus_uow().find(Account, account_id)
    inside = [
        organisation_id in organisation_chain(request, org).chain
        for org in (account.organisations if account else [])
    ]
    if not any(inside):
        raise Problem(404, "not-found", "No such member of staff in this organisation")
    if not all(inside):
        raise Problem(
            409,
            "works-elsewhere",
            "The account works for an organisation outside yours: remove it from yours",
        )
    services.accounts.deactivate(account_id, actor)
    return {"id": account_id, "sessions_ended": services.sessions.revoke_all(account_id)}
