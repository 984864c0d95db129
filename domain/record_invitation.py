"""A record offered to an account of its own: a practice invites the person behind a record
it made to register (A1); a holder transfers a beneficiary to their own address (A4). The
facts of the offer, its rules and the steps of its single-use link; the facts are recorded on
the ``Patient`` stream (``domain.patient`` records them, under the topics they always had:
``domain.patient:Patient.InvitationIssued`` and so on)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.utils import register_topic

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue, PatientErased
from domain.personal import RecordedEvent, normalise_email


class InvitationPurpose(StrEnum):
    JOIN = "join"  # a record the practice made: the patient is invited to register (A1)
    TRANSFER = "transfer"  # a beneficiary becomes independent of their holder (A4)


# stored (in InvitationIssued events) before this enum left domain/patient.py
register_topic("domain.patient:InvitationPurpose", InvitationPurpose)


class AlreadyHasAccount(DomainError):
    """The record belongs to an account already."""


class InvitationNotValid(DomainError):
    """No open invitation matches (wrong link, used, declined, withdrawn or expired)."""


@dataclass(frozen=True)
class PendingInvitation:
    purpose: InvitationPurpose
    email: str
    token_hash: str
    expires_at: datetime


def check_offer(
    record_id: UUID,
    purpose: InvitationPurpose,
    account_id: UUID | None,
    holder_id: UUID | None,
) -> None:
    """Only a record without an account is offered: a beneficiary by transfer from its
    holder, any other by invitation to register."""
    if account_id is not None:
        raise AlreadyHasAccount(str(record_id))
    if purpose is InvitationPurpose.TRANSFER and holder_id is None:
        raise InvalidValue("only a beneficiary is transferred")
    if purpose is InvitationPurpose.JOIN and holder_id is not None:
        raise InvalidValue("a beneficiary becomes independent by transfer from the holder")


def opened(
    record_id: UUID, invitation: PendingInvitation | None, token_hash: str, now: datetime
) -> PendingInvitation:
    """The invitation a link opens: single use, and only until it expires."""
    if invitation is None or invitation.token_hash != token_hash or now >= invitation.expires_at:
        raise InvitationNotValid(str(record_id))
    return invitation


# -- the facts (the ``Patient`` aggregate redefines each as ``Patient.<name>``) -------------------
class BecameBeneficiary(RecordedEvent):
    holder_id: UUID


class InvitationIssued(RecordedEvent):
    personal_fields = ("email",)
    purpose: InvitationPurpose
    email: str
    token_hash: str
    expires_at: datetime


class InvitationDeclined(RecordedEvent):
    pass


class InvitationWithdrawn(RecordedEvent):
    pass


class AccountLinked(RecordedEvent):
    account_id: UUID
    former_holder_id: UUID | None


class OfferedRecord:
    """The invitation flow of a patient record: each step checks, then records its fact
    through the record's own ``@event`` methods (on ``Patient``)."""

    id: UUID
    erased: bool
    holder_id: UUID | None
    #: the account whose record this is
    account_id: UUID | None
    invitation: PendingInvitation | None

    def invite(
        self,
        *,
        purpose: InvitationPurpose,
        email: str,
        token_hash: str,
        expires_at: datetime,
        by: Actor,
    ) -> None:
        """Offer the record to the owner of ``email``; a new offer replaces an open one."""
        if self.erased:
            raise PatientErased(str(self.id))
        check_offer(self.id, purpose, self.account_id, self.holder_id)
        self._invitation_issued(
            purpose=purpose,
            email=normalise_email(email),
            token_hash=token_hash,
            expires_at=expires_at,
            by=by,
        )

    def open_invitation(self, token_hash: str, now: datetime) -> PendingInvitation:
        """The invitation this link opens: single use, and only until it expires."""
        return opened(self.id, None if self.erased else self.invitation, token_hash, now)

    def accept_invitation(
        self, token_hash: str, account_id: UUID, now: datetime, *, by: Actor
    ) -> None:
        """The record becomes the account's own; a former holder's access ends with it."""
        self.open_invitation(token_hash, now)
        self._account_linked(account_id=account_id, former_holder_id=self.holder_id, by=by)

    def decline_invitation(self, token_hash: str, now: datetime, *, by: Actor) -> None:
        self.open_invitation(token_hash, now)
        self._invitation_declined(by=by)

    def withdraw_invitation(self, *, by: Actor) -> None:
        if self.invitation is None:
            raise InvitationNotValid(str(self.id))
        self._invitation_withdrawn(by=by)

    # -- recorded by the aggregate ----------------------------------------------------------------
    def _invitation_issued(
        self,
        *,
        purpose: InvitationPurpose,
        email: str,
        token_hash: str,
        expires_at: datetime,
        by: Actor,
    ) -> None:
        raise NotImplementedError

    def _account_linked(
        self, *, account_id: UUID, former_holder_id: UUID | None, by: Actor
    ) -> None:
        raise NotImplementedError

    def _invitation_declined(self, *, by: Actor) -> None:
        raise NotImplementedError

    def _invitation_withdrawn(self, *, by: Actor) -> None:
        raise NotImplementedError
