"""Beneficiaries (A3), their transfer to an account of their own (A4), and invitations for
patients a practice registered (A1)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from pydantic import StringConstraints

from api.auth import (
    CurrentActor,
    CurrentSession,
    authorize,
    authorize_patient,
    client_address,
    patient_subject,
    require_step_up,
)
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import PurposeHeader, accepted, await_position, record_access
from api.schemas import Accepted, Body, Email, PatientRegistration
from api.state import services_of
from commands.accounts import EmailTaken, StepUpRequired
from commands.onboarding import AddBeneficiary
from commands.record_invitations import (
    AcceptRecordInvitation,
    DeclineRecordInvitation,
    OfferRecord,
    RecordAccepted,
    WithdrawRecordInvitation,
)
from commands.results import Saved
from domain.account import TotpNotEnrolled
from domain.errors import InvalidValue
from domain.record_invitation import AlreadyHasAccount, InvitationNotValid, InvitationPurpose

router = APIRouter(prefix="/v1", tags=["beneficiaries"], responses=PROBLEM_RESPONSES)
Token = Annotated[str, StringConstraints(min_length=10, max_length=200)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TransferBody(Body):
    email: Email


class InvitationBody(Body):
    email: Email | None = None


class AcceptBody(Body):
    token: Token
    password: Password


class DeclineBody(Body):
    token: Token


@router.post("/beneficiaries", status_code=status.HTTP_201_CREATED, response_model=Accepted)
def add_beneficiary(
    body: PatientRegistration,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """A child or dependent whose record you manage: their data is kept apart, under a key of
    their own, and seen only by you and the practices they consult."""
    authorize(actor, Action.ADD_BENEFICIARY)
    saved = services_of(request).bus.handle(AddBeneficiary(actor=actor, **body.model_dump()))
    response.headers["Location"] = f"/v1/patients/{saved.aggregate_id}"
    return accepted(response, saved)


@router.get("/beneficiaries")
def list_beneficiaries(
    request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> list[dict[str, Any]]:
    """The beneficiaries you hold now (a transferred one is no longer listed)."""
    authorize(actor, Action.ADD_BENEFICIARY)
    services = services_of(request)
    held = services.relations.held_by(actor.actor_id)  # the tie index, written with the events
    # as current as the write: both views are awaited (bounded) up to the log's head
    head = services.recorder.max_notification_id()
    await_position(services, "patient_directory", head)
    await_position(services, "record_invitations", head)
    entries = [e for e in (services.directory.get(i) for i in held) if e is not None]
    pending = services.invitations.pending(held)
    for e in entries:  # the holder reads each on the beneficiary's behalf
        record_access(
            services, actor.acting_for(e.patient_id), [e.patient_id], "beneficiary.list", purpose
        )
    return [
        {
            "id": e.patient_id,
            "given_name": e.given_name,
            "family_name": e.family_name,
            "birth_date": e.birth_date,
            "transfer_pending": e.patient_id in pending,
            "erased": e.erased,
        }
        for e in entries
    ]


@router.post(
    "/beneficiaries/{patient_id}/transfer",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
)
def offer_transfer(
    patient_id: UUID,
    body: TransferBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
    current: CurrentSession,
) -> dict[str, Any]:
    """Mail the beneficiary a single-use link (valid a week) to take over their record in an
    account of their own. Needs a recent step-up; until the beneficiary accepts, nothing
    changes (and declining or letting the link expire changes nothing)."""
    subject = patient_subject(request, patient_id)
    actor = authorize_patient(request, actor, Action.TRANSFER_BENEFICIARY, subject)
    session = current[0]
    offer = OfferRecord(
        actor,
        patient_id,
        InvitationPurpose.TRANSFER,
        body.email,
        stepped_up=session.stepped_up(datetime.now(UTC)),
    )
    try:
        return accepted(response, _offer(request, offer))
    except TotpNotEnrolled:
        raise Problem(
            409,
            "no-second-factor",
            "A transfer needs two-factor authentication: set it up first",
        ) from None
    except StepUpRequired:
        require_step_up(session)
        raise


@router.delete("/beneficiaries/{patient_id}/transfer", response_model=Accepted)
def withdraw_transfer(
    patient_id: UUID, request: Request, response: Response, actor: CurrentActor
) -> dict[str, Any]:
    """Take back a transfer that was not accepted yet: its link stops working."""
    subject = patient_subject(request, patient_id)
    actor = authorize_patient(request, actor, Action.TRANSFER_BENEFICIARY, subject)
    try:
        saved = services_of(request).bus.handle(WithdrawRecordInvitation(actor, patient_id))
    except InvitationNotValid:
        raise Problem(409, "no-pending-transfer", "No transfer is pending") from None
    return accepted(response, saved)


@router.post(
    "/patients/{patient_id}/invitation",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
)
def invite_patient(
    patient_id: UUID,
    body: InvitationBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """For a patient the practice registered (and maybe booked) who has no account yet: mail
    a single-use link (valid a week) to register; their bookings and history come along."""
    subject = patient_subject(request, patient_id)
    actor = authorize_patient(request, actor, Action.INVITE_PATIENT, subject)
    offer = OfferRecord(actor, patient_id, InvitationPurpose.JOIN, body.email)
    return accepted(response, _offer(request, offer))


def _offer(request: Request, offer: OfferRecord) -> Saved:
    try:
        return services_of(request).bus.handle(offer)
    except EmailTaken:
        raise Problem(
            409, "email-taken", "That address has an account already; use another one"
        ) from None
    except AlreadyHasAccount:
        raise Problem(409, "already-has-account", "This record has its own account") from None
    except InvalidValue as exc:
        raise Problem(422, "invalid-value", "The invitation cannot be sent", str(exc)) from None


def _not_throttled(request: Request) -> None:
    """Links are guessed no better than passwords: a client address with many bad links in a
    row is locked out for a while."""
    if services_of(request).throttle.locked_until(client_address(request)) is not None:
        raise Problem(429, "too-many-attempts", "Too many failed attempts from here")


@router.post("/record-invitations/accept", status_code=status.HTTP_201_CREATED)
def accept_record_invitation(body: AcceptBody, request: Request) -> dict[str, Any]:
    """Choose a password: the account is opened and the record, with its appointments and
    history, becomes its own. A former holder loses access at that moment."""
    services = services_of(request)
    _not_throttled(request)
    try:
        accept = AcceptRecordInvitation(body.token, body.password)
        done = services.bus.answer(accept, RecordAccepted)
    except InvitationNotValid:
        services.throttle.failed(client_address(request))
        raise Problem(
            400, "invalid-invitation", "The link is not valid (used, declined or expired)"
        ) from None
    except EmailTaken:
        raise Problem(409, "email-taken", "An account with that address exists") from None
    return {
        "account_id": done.account_id,
        "patient_id": done.aggregate_id,
        "purpose": done.purpose,
    }


@router.post("/record-invitations/decline")
def decline_record_invitation(body: DeclineBody, request: Request) -> dict[str, Any]:
    """Say no: the link stops working and nothing else changes."""
    services = services_of(request)
    _not_throttled(request)
    try:
        services.bus.handle(DeclineRecordInvitation(body.token))
    except InvitationNotValid:
        services.throttle.failed(client_address(request))
        raise Problem(
            400, "invalid-invitation", "The link is not valid (used, declined or expired)"
        ) from None
    return {"declined": True}
