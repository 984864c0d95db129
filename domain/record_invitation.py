"""A record offered to an account of its own: a practice invites the person behind a record
it made to register (A1); a holder transfers a beneficiary to their own address (A4). The
rules of the offer and of its single-use link; the facts are recorded on ``Patient``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.utils import register_topic

from domain.errors import DomainError, InvalidValue


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
