"""Machine clients: systems (a partner lab, later FHIR and webhook integrators) that act for one
organisation with OAuth 2.0 client credentials. The secret is kept only as a hash, like a
password; a revoked client's tokens stop working at once (the command ends them)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

NAME_LIMIT = 200


class ClientRevoked(DomainError):
    """The machine client was revoked: it authenticates no more."""


class MachineClient(Aggregate):
    """One system's credentials for one organisation."""

    class Created(RecordedCreation):
        organisation_id: UUID
        name: str
        secret_hash: str

    class TokenIssued(RecordedEvent):
        """A bearer token was issued (the audit trail of the client's sign-ins)."""

        expires_at: datetime

    class Revoked(RecordedEvent):
        pass

    @classmethod
    def create(
        cls, organisation_id: UUID, name: str, secret_hash: str, *, by: Actor
    ) -> MachineClient:
        name = " ".join(name.split())
        if not name or len(name) > NAME_LIMIT:
            raise InvalidValue(f"name: 1 to {NAME_LIMIT} characters")
        return cls(organisation_id=organisation_id, name=name, secret_hash=secret_hash, by=by)

    @event(Created)
    def __init__(self, *, organisation_id: UUID, name: str, secret_hash: str, by: Actor) -> None:
        self.organisation_id, self.name, self.secret_hash = organisation_id, name, secret_hash
        self.revoked = False

    def check_active(self) -> None:
        if self.revoked:
            raise ClientRevoked(str(self.id))

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
