"""Accounts: open one, see who is signed in, erase oneself, accept a staff invitation
(sessions, passwords and two-factor have their own routers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response, status

from api.account_schemas import InvitationAcceptance, Registration
from api.auth import CurrentActor, CurrentSession, client_address, require_step_up
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import PurposeHeader, accepted, await_position, record_access
from api.schemas import Accepted
from api.state import services_of
from commands.accounts import EmailTaken, InvalidCredentials, OpenAccount, StepUpRequired
from commands.erasure import EraseAccount
from commands.results import NotFound
from commands.sign_in import SecondFactorRequired
from commands.staff_invitations import AcceptStaffInvitation, StaffInvitationAccepted
from domain.account import AccountDeactivated, AccountLocked
from domain.actor import Actor, Role
from domain.patient import record_of

router = APIRouter(prefix="/v1", tags=["accounts"], responses=PROBLEM_RESPONSES)


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
def register(body: Registration, request: Request) -> dict[str, Any]:
    """Open a patient account with email and password (Argon2id)."""
    try:
        saved = services_of(request).bus.handle(OpenAccount(body.email, body.password))
    except EmailTaken:
        raise Problem(409, "email-taken", "An account with that email exists") from None
    return {"id": saved.aggregate_id}


@router.get("/accounts/me")
def who_am_i(
    request: Request, current: CurrentSession, purpose: PurposeHeader = None
) -> dict[str, Any]:
    """The signed-in account: role, organisations, own record, beneficiaries held, doctors
    assisted; what a client needs to show the right screens."""
    session, _ = current
    services = services_of(request)
    # as current as the write: the view is awaited (bounded) up to the log's head
    await_position(services, "account_view", services.recorder.max_notification_id())
    account = services.account_view.get(session.account_id)
    if account is None:
        raise NotFound("Account", session.account_id)
    relations = services.relations
    account_id = account.account_id
    own = relations.own_record(account_id)
    if own is None and account.role is Role.PATIENT:
        own = record_of(account_id) if services.patient_exists(record_of(account_id)) else None
    held = relations.held_by(account_id)
    reader = Actor(account_id, session.role, session.organisation_id)
    record_access(services, reader, [own] if own else [], "account.records", purpose)
    for beneficiary in held:  # which records one holds is about them too
        record_access(
            services, reader.acting_for(beneficiary), [beneficiary], "account.records", purpose
        )
    return {
        "account_id": account.account_id,
        "role": account.role.value,
        "organisations": relations.memberships(account_id),
        "record_id": own,
        "beneficiaries": held,
        "assists": [{"doctor_id": d, "organisation_id": o} for d, o in account.assists.items()],
        "second_factor": account.second_factor,
    }


@router.delete("/accounts/me", response_model=Accepted)
def erase_me(
    request: Request, response: Response, actor: CurrentActor, current: CurrentSession
) -> dict[str, Any]:
    """Erase yourself: the account, with your own record if you have one (README, "Erasure").
    Needs a recent step-up when two-factor is on; every session ends with it."""
    session = current[0]
    erase = EraseAccount(actor, actor.actor_id, session.stepped_up(datetime.now(UTC)))
    try:
        return accepted(response, services_of(request).bus.handle(erase))
    except StepUpRequired:
        require_step_up(session)
        raise


@router.post("/invitations/accept", status_code=status.HTTP_201_CREATED)
def accept_invitation(body: InvitationAcceptance, request: Request) -> dict[str, Any]:
    """Create the invited account (sign in next; staff set up two-factor first). Someone who
    has an account already joins the organisation with it: a practitioner may work for several
    organisations, in the account's own role."""
    services, client = services_of(request), client_address(request)
    if services.throttle.locked_until(client) is not None:
        raise Problem(429, "too-many-attempts", "Too many failed attempts from here")
    try:
        accept = AcceptStaffInvitation(body.token, body.password, body.code)
        account_id = services.bus.answer(accept, StaffInvitationAccepted).account_id
    except InvalidCredentials:
        services.throttle.failed(client)
        raise Problem(
            400, "invalid-invitation", "The invitation, password or code is not valid"
        ) from None
    except SecondFactorRequired:
        raise Problem(
            401, "second-factor-required", "Add a code from your authenticator app"
        ) from None
    except AccountLocked:
        raise Problem(429, "account-locked", "Too many failed attempts; try again later") from None
    except AccountDeactivated:
        raise Problem(403, "account-deactivated", "This account was deactivated") from None
    except EmailTaken:
        raise Problem(409, "email-taken", "An account with that email exists") from None
    return {"account_id": account_id}
