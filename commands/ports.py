"""What the command handlers need from the outside world, as protocols (adapters implement)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from commands.results import Saved
from domain.patient import Link

A = TypeVar("A", bound=Aggregate)


class UnitOfWork(Protocol):
    """One command's view of the event store: load aggregates, then save them atomically."""

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        """Load the aggregate, or raise ``NotFound``."""
        ...

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """Load the aggregate, or None when it does not exist yet."""
        ...

    def ensure_subject(self, subject_id: UUID) -> None:
        """Like ``add_subject``, unless the subject already has (or had) a key."""
        ...

    def find_existing(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> list[A]:
        """The aggregates among ``aggregate_ids`` that exist (absent ones cost little)."""
        ...

    def add_subject(self, subject_id: UUID) -> None:
        """A new data subject: create their data key in the same transaction as the save."""
        ...

    def erase_subject(self, subject_id: UUID) -> None:
        """Destroy the subject's data key in the same transaction as the save."""
        ...

    def attach(self, effect: object) -> None:
        """An adapter's write (an outgoing mail) that commits with the save, or not at all."""
        ...

    def save(self, *aggregates: Aggregate) -> Saved:
        """Record the pending events of all aggregates in one transaction; describe the first."""
        ...


class Ties(Protocol):
    """Row writers for who is tied to whom (adapters.relations), attached to a unit of work so
    a tie changes in the same transaction as the events."""

    def link(self, patient_id: UUID, party_id: UUID, relation: Link) -> object: ...
    def unlink(self, patient_id: UUID, party_id: UUID, relation: Link) -> object: ...
    def join(self, account_id: UUID, organisation_id: UUID) -> object: ...
    def leave(self, account_id: UUID, organisation_id: UUID) -> object: ...
    def assign(self, assistant_id: UUID, doctor_id: UUID, organisation_id: UUID) -> object: ...
    def unassign(self, assistant_id: UUID, doctor_id: UUID) -> object: ...
