"""Accounts and sessions: register, sign in (with a second factor), step up, sign out,
change password, set up TOTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints

from adapters.crypto.passwords import provisioning_uri
from api.auth import CurrentActor, CurrentSession, Session, client_address, require_step_up
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import PurposeHeader, accepted, await_position, record_access
from api.schemas import Accepted, Body, Email
from api.state import services_of
from commands.accounts import EmailTaken, InvalidCredentials, OpenAccount, StepUpRequired
from commands.erasure import EraseAccount
from commands.passwords import ChangePassword, RequestReset, ResetPassword
from commands.results import NotFound
from commands.second_factor import (
    ConfirmTotp,
    DisableTotp,
    EnrolTotp,
    SecondFactorMandatory,
    TotpConfirmed,
    TotpEnrolled,
)
from commands.sign_in import SecondFactorRequired, SignedIn, SteppedUp, StepUp
from commands.sign_in import SignIn as SignInCommand
from commands.staff_invitations import AcceptStaffInvitation, StaffInvitationAccepted
from domain.account import AccountDeactivated, AccountLocked, TotpNotEnrolled
from domain.actor import Actor, Role
from domain.patient import record_of

router = APIRouter(prefix="/v1", tags=["accounts"], responses=PROBLEM_RESPONSES)
#: a password as it is checked at sign-in: whatever was set (the rules may have changed)
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]
#: a password being set: the rules of ``commands.accounts.password_rules``
NewPassword = Annotated[str, StringConstraints(min_length=10, max_length=200)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=20)]


class Registration(Body):
    email: Email
    password: NewPassword


class SignIn(Body):
    email: Annotated[str, StringConstraints(max_length=320)]
    password: Password
    code: Code | None = None


class CodeBody(Body):
    code: Code


class PasswordChange(Body):
    current: Password
    new: NewPassword


class ResetRequest(Body):
    email: Annotated[str, StringConstraints(max_length=320)]


class ResetConfirm(Body):
    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    password: NewPassword


class InvitationAcceptance(Body):
    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    password: NewPassword = Field(
        description="a new password; or, if the address has an account, that account's"
    )
    code: Code | None = Field(
        default=None, description="for an existing account with two-factor: a current code"
    )


class SessionOut(BaseModel):
    token: str
    account_id: UUID
    role: str
    enrolment_only: bool = Field(description="sign-in needs a second factor set up first")


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
def register(body: Registration, request: Request) -> dict[str, Any]:
    """Open a patient account with email and password (Argon2id)."""
    try:
        saved = services_of(request).bus.handle(OpenAccount(body.email, body.password))
    except EmailTaken:
        raise Problem(409, "email-taken", "An account with that email exists") from None
    return {"id": saved.aggregate_id}


@router.post("/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
def sign_in(body: SignIn, request: Request) -> dict[str, Any]:
    services, client = services_of(request), client_address(request)
    until = services.throttle.locked_until(client)
    if until is not None:
        raise Problem(
            429,
            "too-many-attempts",
            "Too many failed sign-ins from here",
            retry_after=until.isoformat(),
        )
    try:
        signed = services.bus.answer(SignInCommand(body.email, body.password, body.code), SignedIn)
    except InvalidCredentials:
        services.throttle.failed(client)
        raise Problem(401, "invalid-credentials", "Wrong email, password or code") from None
    except SecondFactorRequired:
        raise Problem(
            401,
            "second-factor-required",
            "Add the code from your authenticator app (or a recovery code)",
        ) from None
    except AccountLocked as locked:
        raise Problem(
            429,
            "account-locked",
            "Too many failed attempts; try again later",
            locked_until=str(locked),
        ) from None
    except AccountDeactivated:
        raise Problem(403, "account-deactivated", "This account was deactivated") from None
    return {
        "token": signed.token,
        "account_id": signed.aggregate_id,
        "role": signed.role.value,
        "enrolment_only": signed.enrolment_only,
    }


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


@router.delete("/sessions/current", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(request: Request, current: CurrentSession) -> Response:
    services_of(request).sessions.revoke(current[1])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sessions/current/step-up", status_code=status.HTTP_204_NO_CONTENT)
def step_up(body: CodeBody, request: Request, current: CurrentSession) -> Response:
    """Verify a fresh code; sensitive actions are allowed for the next 5 minutes."""
    session, token = current
    services = services_of(request)
    try:
        ok = services.bus.answer(StepUp(_actor(session), body.code), SteppedUp).ok
    except TotpNotEnrolled:
        raise Problem(409, "no-second-factor", "Set up two-factor authentication first") from None
    except AccountLocked:
        raise Problem(429, "account-locked", "Too many failed attempts; try again later") from None
    if not ok:
        raise Problem(401, "invalid-code", "That code is wrong or was already used")
    services.sessions.step_up(token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/accounts/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, request: Request, current: CurrentSession) -> Response:
    """Needs a recent step-up when two-factor is on; signs out every session."""
    session, _ = current
    services = services_of(request)
    change = ChangePassword(_actor(session), body.current, body.new, _stepped_up(session))
    try:
        services.bus.handle(change)
    except StepUpRequired:
        require_step_up(session)
        raise
    except InvalidCredentials:
        raise Problem(401, "invalid-credentials", "The current password is wrong") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/accounts/me/totp")
def enrol_totp(request: Request, current: CurrentSession) -> dict[str, Any]:
    """A new TOTP secret and its otpauth:// URI (for a QR code); active once confirmed.
    Replacing a confirmed second factor needs a recent step-up."""
    session, _ = current
    enrol = EnrolTotp(_actor(session), _stepped_up(session))
    try:
        enrolled = services_of(request).bus.answer(enrol, TotpEnrolled)
    except StepUpRequired:
        require_step_up(session)
        raise
    return {
        "secret": enrolled.secret,
        "provisioning_uri": provisioning_uri(enrolled.secret, enrolled.email),
    }


@router.post("/accounts/me/totp/confirm")
def confirm_totp(body: CodeBody, request: Request, current: CurrentSession) -> dict[str, Any]:
    """Confirm with a first code; answers 10 single-use recovery codes, shown only now."""
    session, token = current
    services = services_of(request)
    try:
        codes = services.bus.answer(
            ConfirmTotp(_actor(session), body.code), TotpConfirmed
        ).recovery_codes
    except TotpNotEnrolled:
        raise Problem(409, "no-second-factor", "Start with POST /v1/accounts/me/totp") from None
    if codes is None:
        raise Problem(401, "invalid-code", "That code is wrong or was already used")
    services.sessions.step_up(token, complete_enrolment=True)
    return {"recovery_codes": list(codes)}


@router.post("/accounts/password-reset", status_code=status.HTTP_202_ACCEPTED)
def request_password_reset(body: ResetRequest, request: Request) -> dict[str, Any]:
    """Mails a single-use link valid for an hour. The answer is the same whether or not the
    address has an account."""
    services = services_of(request)
    if services.throttle.locked_until(client_address(request)) is None:
        services.bus.handle(RequestReset(body.email))
    return {"status": "if that address has an account, a link is on its way"}


@router.post("/accounts/password-reset/confirm", status_code=status.HTTP_204_NO_CONTENT)
def confirm_password_reset(body: ResetConfirm, request: Request) -> Response:
    """Set a new password with the emailed token; every session is signed out."""
    services = services_of(request)
    try:
        services.bus.handle(ResetPassword(body.token, body.password))
    except InvalidCredentials:
        services.throttle.failed(client_address(request))
        raise Problem(
            400, "invalid-reset-link", "The link is not valid (used or expired)"
        ) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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


@router.delete("/accounts/me/totp", status_code=status.HTTP_204_NO_CONTENT)
def disable_totp(request: Request, current: CurrentSession) -> Response:
    """Turn two-factor off (patients only; needs a recent step-up)."""
    session, _ = current
    try:
        services_of(request).bus.handle(DisableTotp(_actor(session), _stepped_up(session)))
    except TotpNotEnrolled:
        raise Problem(409, "no-second-factor", "Two-factor authentication is not on") from None
    except StepUpRequired:
        require_step_up(session)
        raise
    except SecondFactorMandatory:
        raise Problem(
            409, "second-factor-mandatory", "Two-factor authentication is mandatory for staff"
        ) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _stepped_up(session: Session) -> bool:
    return session.stepped_up(datetime.now(UTC))


def _actor(session: Session) -> Actor:
    """The account acting on itself (a session that may only enrol its second factor, too)."""
    return Actor(session.account_id, session.role, session.organisation_id)
