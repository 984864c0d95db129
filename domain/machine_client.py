"""Machine clients: systems (a partner lab, a pharmacy, later FHIR and webhook integrators) that
act for one organisation with OAuth 2.0 client credentials. The secret is kept only as a hash,
like a password; a revoked client's tokens stop working at once (the command ends them). A
client has one purpose: a lab reports results, a pharmacy verifies and dispenses prescriptions
by their code (any organisation's: the code is the patient's authorisation)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

NAME_LIMIT = 200


class ClientPurpose(StrEnum):
    LAB = "lab"
    PHARMACY = "pharmacy"


class ClientRevoked(DomainError):
    """The machine client was revoked: it authenticates no more."""


class WrongPurpose(DomainError):
    """The machine client is not for this (a pharmacy's client reports no lab results, a
    lab's dispenses nothing)."""

    def __init__(self, purpose: str, detail: str) -> None:
        super().__init__(detail)
        self.purpose = purpose


class MachineClient(Aggregate):
    """One system's credentials for one organisation."""

    class Created(RecordedCreation):
        class_version = 2  # v2: a purpose (every earlier client was a lab's)
        organisation_id: UUID
        name: str
        secret_hash: str
        purpose: ClientPurpose

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["purpose"] = ClientPurpose.LAB.value

    class TokenIssued(RecordedEvent):
        """A bearer token was issued (the audit trail of the client's sign-ins)."""

        expires_at: datetime

    class Revoked(RecordedEvent):
        pass

    @classmethod
    def create(
        cls,
        organisation_id: UUID,
        name: str,
        secret_hash: str,
        *,
        purpose: str = ClientPurpose.LAB,
        by: Actor,
    ) -> MachineClient:
        name = " ".join(name.split())
        if not name or len(name) > NAME_LIMIT:
            raise InvalidValue(f"name: 1 to {NAME_LIMIT} characters")
        if purpose not in set(ClientPurpose):
            raise InvalidValue("purpose: lab or pharmacy")
        return cls(
            organisation_id=organisation_id,
            name=name,
            secret_hash=secret_hash,
            purpose=ClientPurpose(purpose),
            by=by,
        )

    @event(Created)
    def __init__(
        self,
        *,
        organisation_id: UUID,
        name: str,
        secret_hash: str,
        purpose: ClientPurpose,
        by: Actor,
    ) -> None:
        self.organisation_id, self.name, self.secret_hash = organisation_id, name, secret_hash
        self.purpose = ClientPurpose(purpose)
        self.revoked = False

    def check_active(self) -> None:
        if self.revoked:
            raise ClientRevoked(str(self.id))

    def check_purpose(self, purpose: ClientPurpose) -> None:
        """Raise unless the client is active and has this purpose."""
        self.check_active()
        if self.purpose is not purpose:
            raise WrongPurpose(
                self.purpose.value,
                f"the machine client is a {self.purpose.value}'s, not a {purpose.value}'s",
            )

    def issue_token(self, expires_at: datetime, *, by: Actor) -> None:
        self.check_active()
        self._issued(expires_at=expires_at, by=by)

    @event(TokenIssued)
    def _issued(self, *, expires_at: datetime, by: Actor) -> None:
        pass

    def revoke(self, *, by: Actor) -> None:
        if not self.revoked:  # revoking twice changes nothing
            self._revoked(by=by)

    @event(Revoked)
    def _revoked(self, by: Actor) -> None:
        self.revoked = True
