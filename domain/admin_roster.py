"""The active org admins of one organisation: the boundary that keeps at least one of them, so
an organisation can always be administered without the command line."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError
from domain.personal import RecordedCreation, RecordedEvent


class LastAdmin(DomainError):
    """The organisation's last active admin cannot be deactivated or leave."""


class AdminRoster(Aggregate):
    class Opened(RecordedCreation):
        organisation_id: UUID

    class AdminAdded(RecordedEvent):
        account_id: UUID

    class AdminRemoved(RecordedEvent):
        account_id: UUID

    @staticmethod
    def create_id(organisation_id: UUID) -> UUID:
        """Deterministic: two racing writers meet on one stream."""
        return uuid5(NAMESPACE_URL, f"/organisations/{organisation_id}/admins")

    @event(Opened)
    def __init__(self, *, id: UUID, organisation_id: UUID, by: Actor) -> None:
        self.organisation_id = organisation_id
        self.admins: set[UUID] = set()

    @classmethod
    def open(cls, organisation_id: UUID, *, by: Actor) -> AdminRoster:
        return cls(id=cls.create_id(organisation_id), organisation_id=organisation_id, by=by)

    def add(self, account_id: UUID, *, by: Actor) -> None:
        if account_id not in self.admins:
            self._added(account_id=account_id, by=by)

    @event(AdminAdded)
    def _added(self, *, account_id: UUID, by: Actor) -> None:
        self.admins.add(account_id)

    def remove(self, account_id: UUID, *, by: Actor) -> None:
        if account_id not in self.admins:
            return
        if self.admins == {account_id}:
            raise LastAdmin(f"the last active admin of organisation {self.organisation_id}")
        self._removed(account_id=account_id, by=by)

    @event(AdminRemoved)
    def _removed(self, *, account_id: UUID, by: Actor) -> None:
        self.admins.discard(account_id)
