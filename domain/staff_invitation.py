"""An organisation invites a member of staff (or an analyst) by mailed link."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic

from domain.actor import Actor, Role
from domain.personal import RecordedCreation, RecordedEvent


class Invitation(Aggregate):
    """An organisation invites a member of staff: a single-use link, valid for a week."""

    class Issued(RecordedCreation):
        personal_fields = ("email",)
        email: str
        role: Role
        organisation_id: UUID
        token_hash: str
        expires_at: datetime

    class Accepted(RecordedEvent):
        account_id: UUID

    @event(Issued)
    def __init__(
        self,
        *,
        id: UUID,  # (random: the link's token starts with it)
        email: str,
        role: Role,
        organisation_id: UUID,
        token_hash: str,
        expires_at: datetime,
        by: Actor,
    ) -> None:
        self.email, self.role, self.organisation_id = email, Role(role), organisation_id
        self.token_hash, self.expires_at = token_hash, expires_at
        self.accepted_by: UUID | None = None

    def usable(self, token_hash: str, now: datetime) -> bool:
        return self.accepted_by is None and token_hash == self.token_hash and now < self.expires_at

    @event(Accepted)
    def accept(self, *, account_id: UUID, by: Actor) -> None:
        self.accepted_by = account_id


# stored before this class left domain/account.py: its events keep resolving under the old name
register_topic("domain.account:Invitation", Invitation)
