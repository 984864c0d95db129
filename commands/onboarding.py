"""Beneficiaries and the ways a record comes to have an account of its own.

- A holder (a patient account) adds beneficiaries: records of their own, with their own data
  key, managed by the holder (A3).
- A practice invites the person behind a record it made to register (A1); a holder transfers a
  beneficiary to the beneficiary's own email (A4). Both mail a single-use link valid a week.
  Accepting it opens the account and makes the record (with its whole history) the account's
  own, in one transaction; a former holder loses access at that commit. Declining, withdrawing
  or letting the link expire changes nothing else.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from commands.accounts import AccountService, EmailTaken, Mailer, hash_token, password_rules
from commands.ports import Ties, UnitOfWork
from commands.results import ConcurrencyConflict, Saved
from domain.actor import Actor, Role
from domain.errors import InvalidValue
from domain.patient import (
    AlreadyHasAccount,
    InvitationNotValid,
    InvitationPurpose,
    Link,
    Patient,
    normalise_email,
)

INVITATION_VALID = timedelta(days=7)


@dataclass(frozen=True)
class AddBeneficiary:
    actor: Actor
    given_name: str
    family_name: str
    birth_date: date | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    notes: str | None = None


def add_beneficiary(cmd: AddBeneficiary, uow: UnitOfWork, ties: Ties) -> Saved:
    """A record of the beneficiary's own (own key), held by the patient who adds it."""
    if cmd.actor.role is not Role.PATIENT:
        raise InvalidValue("beneficiaries are added by a patient account (their holder)")
    patient = Patient.register(
        by=cmd.actor,
        given_name=cmd.given_name,
        family_name=cmd.family_name,
        birth_date=cmd.birth_date,
        email=cmd.email,
        phone=cmd.phone,
        address=cmd.address,
        notes=cmd.notes,
        organisation_id=None,
        self_registered=False,
    )
    patient.become_beneficiary_of(holder_id=cmd.actor.actor_id, by=cmd.actor.acting_for(patient.id))
    uow.add_subject(patient.id)
    uow.attach(ties.link(patient.id, cmd.actor.actor_id, Link.HOLDER))
    return uow.save(patient)


def _patient_of(token: str) -> UUID:
    try:
        return UUID(hex=token.split(".", 1)[0])
    except ValueError:
        raise InvitationNotValid("the link is not valid") from None


@dataclass(frozen=True)
class Accepted:
    account_id: UUID
    patient_id: UUID
    purpose: InvitationPurpose


class RecordInvitations:
    """Invitations to register (A1) and beneficiary transfers (A4), by mailed link."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        accounts: AccountService,
        mailer: Mailer,
        ties: Ties,
        public_url: str,
    ) -> None:
        self.uow, self.accounts = unit_of_work, accounts
        self.mailer, self.ties, self.public_url = mailer, ties, public_url.rstrip("/")

    def offer(
        self,
        patient_id: UUID,
        purpose: InvitationPurpose,
        email: str | None,
        by: Actor,
    ) -> Saved:
        """Mail a single-use link, valid a week, to ``email`` (or the record's own address)."""
        uow = self.uow()
        patient = uow.get(Patient, patient_id)
        if patient.account_id is not None:
            raise AlreadyHasAccount(str(patient.id))
        address = normalise_email(
            email or (patient.email if isinstance(patient.email, str) else "")
        )
        if self.accounts.find_account(uow, address) is not None:
            raise EmailTaken("that address has an account already")
        token = f"{patient.id.hex}.{secrets.token_urlsafe(24)}"
        token_hash = hash_token(token)
        patient.invite(
            purpose=purpose,
            email=address,
            token_hash=token_hash,
            expires_at=datetime.now(UTC) + INVITATION_VALID,
            by=by.acting_for(patient.id),
        )
        link = f"{self.public_url}/join#token={token}"
        if purpose is InvitationPurpose.TRANSFER:
            subject, body = (
                "Your own Telemed account",
                "The person who has managed your Telemed record until now would like you to "
                "have it in an account of your own.\n\n"
                f"To choose a password and take over your record, open this link within a week:"
                f"\n{link}\n\nIf you do not want this, open the link and decline, or ignore "
                "this message: nothing changes.\n",
            )
        else:
            subject, body = (
                "You are invited to Telemed",
                "Your practice has booked you in with Telemed and invites you to create an "
                "account, so that you can see your appointments and join video consultations."
                f"\n\nTo choose a password, open this link within a week:\n{link}\n",
            )
        uow.attach(
            self.mailer.enqueue(patient.id, f"record-{token_hash[:32]}", address, subject, body)
        )
        return uow.save(patient)

    def accept(self, token: str, password: str) -> Accepted:
        """Open the account and make the record its own, in one transaction."""
        password_rules(password)
        now = datetime.now(UTC)
        uow = self.uow()
        patient = uow.find(Patient, _patient_of(token))
        if patient is None:
            raise InvitationNotValid("the link is not valid")
        invitation = patient.open_invitation(hash_token(token), now)
        account = self.accounts.new_account(uow, invitation.email, password, Role.PATIENT, None)
        former_holder = patient.holder_id
        patient.accept_invitation(
            invitation.token_hash, account.id, now, by=Actor(account.id, Role.PATIENT, None)
        )
        uow.attach(self.ties.link(patient.id, account.id, Link.SELF))
        if former_holder is not None:
            uow.attach(self.ties.unlink(patient.id, former_holder, Link.HOLDER))
        try:
            uow.save(patient, account)
        except ConcurrencyConflict:
            raise InvitationNotValid("the link was used a moment ago") from None
        return Accepted(account.id, patient.id, invitation.purpose)

    def decline(self, token: str) -> UUID:
        uow = self.uow()
        patient = uow.find(Patient, _patient_of(token))
        if patient is None:
            raise InvitationNotValid("the link is not valid")
        # the person behind the link, who has no account: recorded as the record itself
        actor = Actor(patient.id, Role.PATIENT, None, patient.id)
        patient.decline_invitation(hash_token(token), datetime.now(UTC), by=actor)
        try:
            uow.save(patient)
        except ConcurrencyConflict:
            raise InvitationNotValid("the link was used a moment ago") from None
        return patient.id

    def withdraw(self, patient_id: UUID, by: Actor) -> Saved:
        uow = self.uow()
        patient = uow.get(Patient, patient_id)
        patient.withdraw_invitation(by=by.acting_for(patient.id))
        return uow.save(patient)
