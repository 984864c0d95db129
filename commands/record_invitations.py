"""How a record comes to have an account of its own: a practice invites the person behind a
record it made to register (A1); a holder transfers a beneficiary to the beneficiary's own
address (A4). Both mail a single-use link valid a week. Accepting it opens the account and
makes the record (with its whole history) the account's own, in one transaction; a former
holder loses access at that commit. Declining, withdrawing or letting the link expire changes
nothing else."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from commands.accounts import (
    EmailTaken,
    find_account,
    hash_token,
    new_account,
    password_rules,
    require_step_up,
)
from commands.ports import Ports, UnitOfWork
from commands.results import ConcurrencyConflict, Saved
from domain.account import Account, TotpNotEnrolled
from domain.actor import Actor, Role
from domain.patient import Link, Patient
from domain.personal import normalise_email
from domain.record_invitation import AlreadyHasAccount, InvitationNotValid, InvitationPurpose

INVITATION_VALID = timedelta(days=7)


@dataclass(frozen=True)
class OfferRecord:
    """Mail a link to ``email`` (or the record's own address). A transfer needs the holder's
    second factor, confirmed recently (``stepped_up``)."""

    actor: Actor
    patient_id: UUID
    purpose: InvitationPurpose
    email: str | None = None
    stepped_up: bool = False


def offer_record(cmd: OfferRecord, uow: UnitOfWork, ports: Ports) -> Saved:
    if cmd.purpose is InvitationPurpose.TRANSFER:
        holder = uow.get(Account, cmd.actor.actor_id)
        if not holder.totp_confirmed:
            raise TotpNotEnrolled(str(holder.id))
        require_step_up(holder, cmd.stepped_up)
    patient = uow.get(Patient, cmd.patient_id)
    if patient.account_id is not None:
        raise AlreadyHasAccount(str(patient.id))
    own = patient.email if isinstance(patient.email, str) else ""
    address = normalise_email(cmd.email or own)
    if find_account(uow, ports, address) is not None:
        raise EmailTaken("that address has an account already")
    token = f"{patient.id.hex}.{secrets.token_urlsafe(24)}"
    token_hash = hash_token(token)
    patient.invite(
        purpose=cmd.purpose,
        email=address,
        token_hash=token_hash,
        expires_at=datetime.now(UTC) + INVITATION_VALID,
        by=cmd.actor.acting_for(patient.id),
    )
    subject, body = _letter(cmd.purpose, f"{ports.public_url.rstrip('/')}/join#token={token}")
    uow.attach(ports.mail.enqueue(patient.id, f"record-{token_hash[:32]}", address, subject, body))
    return uow.save(patient)


def _letter(purpose: InvitationPurpose, link: str) -> tuple[str, str]:
    if purpose is InvitationPurpose.TRANSFER:
        return (
            "Your own Telemed account",
            "The person who has managed your Telemed record until now would like you to "
            "have it in an account of your own.\n\n"
            f"To choose a password and take over your record, open this link within a week:"
            f"\n{link}\n\nIf you do not want this, open the link and decline, or ignore "
            "this message: nothing changes.\n",
        )
    return (
        "You are invited to Telemed",
        "Your practice has booked you in with Telemed and invites you to create an "
        "account, so that you can see your appointments and join video consultations."
        f"\n\nTo choose a password, open this link within a week:\n{link}\n",
    )


@dataclass(frozen=True)
class AcceptRecordInvitation:
    token: str
    password: str


@dataclass(frozen=True)
class RecordAccepted(Saved):
    """``aggregate_id`` is the record's; the account opened for it is ``account_id``."""

    account_id: UUID
    purpose: InvitationPurpose


def accept_record_invitation(
    cmd: AcceptRecordInvitation, uow: UnitOfWork, ports: Ports
) -> RecordAccepted:
    """Open the account and make the record its own, in one transaction."""
    password_rules(cmd.password)
    now = datetime.now(UTC)
    patient = uow.find(Patient, _patient_of(cmd.token))
    if patient is None:
        raise InvitationNotValid("the link is not valid")
    invitation = patient.open_invitation(hash_token(cmd.token), now)
    account = new_account(uow, ports, invitation.email, cmd.password, Role.PATIENT, None)
    former_holder = patient.holder_id
    patient.accept_invitation(
        invitation.token_hash, account.id, now, by=Actor(account.id, Role.PATIENT, None)
    )
    uow.attach(ports.ties.link(patient.id, account.id, Link.SELF))
    if former_holder is not None:
        uow.attach(ports.ties.unlink(patient.id, former_holder, Link.HOLDER))
    try:
        saved = uow.save(patient, account)
    except ConcurrencyConflict:
        raise InvitationNotValid("the link was used a moment ago") from None
    return RecordAccepted(
        saved.aggregate_id, saved.version, saved.position, account.id, invitation.purpose
    )


@dataclass(frozen=True)
class DeclineRecordInvitation:
    token: str


def decline_record_invitation(cmd: DeclineRecordInvitation, uow: UnitOfWork, ports: Ports) -> Saved:
    patient = uow.find(Patient, _patient_of(cmd.token))
    if patient is None:
        raise InvitationNotValid("the link is not valid")
    # the person behind the link, who has no account: recorded as the record itself
    actor = Actor(patient.id, Role.PATIENT, None, patient.id)
    patient.decline_invitation(hash_token(cmd.token), datetime.now(UTC), by=actor)
    try:
        return uow.save(patient)
    except ConcurrencyConflict:
        raise InvitationNotValid("the link was used a moment ago") from None


@dataclass(frozen=True)
class WithdrawRecordInvitation:
    actor: Actor
    patient_id: UUID


def withdraw_record_invitation(
    cmd: WithdrawRecordInvitation, uow: UnitOfWork, ports: Ports
) -> Saved:
    patient = uow.get(Patient, cmd.patient_id)
    patient.withdraw_invitation(by=cmd.actor.acting_for(patient.id))
    return uow.save(patient)


def _patient_of(token: str) -> UUID:
    try:
        return UUID(hex=token.split(".", 1)[0])
    except ValueError:
        raise InvitationNotValid("the link is not valid") from None
