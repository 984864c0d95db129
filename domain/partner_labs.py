"""An organisation's partner labs: where its doctors may send lab orders. Each lab has an id, a
name and the machine client it reports results with (one of the organisation's own)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

NAME_LIMIT = 200


class NotAPartnerLab(DomainError):
    """The lab is not (or no longer) on the organisation's partner list."""


class PartnerLabs(Aggregate):
    """One organisation's list: deterministic id, so the first two adds meet on one stream."""

    @staticmethod
    def create_id(organisation_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/organisations/{organisation_id}/partner-labs")

    class Opened(RecordedCreation):
        organisation_id: UUID

    class LabAdded(RecordedEvent):
        lab_id: UUID
        name: str
        client_id: UUID

    class LabRemoved(RecordedEvent):
        lab_id: UUID

    @event(Opened)
    def __init__(self, *, organisation_id: UUID, by: Actor) -> None:
        self.organisation_id = organisation_id
        self.labs: dict[UUID, tuple[str, UUID]] = {}

    def add(self, lab_id: UUID, name: str, client_id: UUID, *, by: Actor) -> None:
        name = " ".join(name.split())
        if not name or len(name) > NAME_LIMIT:
            raise InvalidValue(f"name: 1 to {NAME_LIMIT} characters")
        if any(client == client_id for _, client in self.labs.values()):
            raise InvalidValue("client_id: that machine client already reports for a lab")
        self._added(lab_id=lab_id, name=name, client_id=client_id, by=by)

    @event(LabAdded)
    def _added(self, *, lab_id: UUID, name: str, client_id: UUID, by: Actor) -> None:
        self.labs[lab_id] = (name, client_id)

    def remove(self, lab_id: UUID, *, by: Actor) -> None:
        if lab_id not in self.labs:
            raise NotAPartnerLab(str(lab_id))
        self._removed(lab_id=lab_id, by=by)

    @event(LabRemoved)
    def _removed(self, *, lab_id: UUID, by: Actor) -> None:
        del self.labs[lab_id]

    def client_of(self, lab_id: UUID) -> UUID:
        """The machine client the lab reports with (``NotAPartnerLab`` if it is not listed)."""
        if lab_id not in self.labs:
            raise NotAPartnerLab(str(lab_id))
        return self.labs[lab_id][1]
