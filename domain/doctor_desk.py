"""A doctor's desk: the consultation the doctor is in right now. One at a time: admitting a
second patient while a call is in progress is refused (teleconferences are not admissions). Two
racing admissions write the same stream, so optimistic concurrency lets exactly one through."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError
from domain.personal import RecordedCreation, RecordedEvent


class DoctorBusy(DomainError):
    """The doctor is in another consultation."""

    def __init__(self, consultation_id: UUID) -> None:
        super().__init__("the doctor is in another consultation")
        self.consultation_id = consultation_id


class DoctorDesk(Aggregate):
    @staticmethod
    def create_id(doctor_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/doctor-desks/{doctor_id}")

    class Opened(RecordedCreation):
        doctor_id: UUID

    class Occupied(RecordedEvent):
        consultation_id: UUID

    class Freed(RecordedEvent):
        consultation_id: UUID

    @event(Opened)
    def __init__(self, *, doctor_id: UUID, by: Actor) -> None:
        self.doctor_id = doctor_id
        self.current: UUID | None = None

    def occupy(self, consultation_id: UUID, *, by: Actor) -> None:
        if self.current is not None and self.current != consultation_id:
            raise DoctorBusy(self.current)
        if self.current is None:
            self._occupied(consultation_id=consultation_id, by=by)

    @event(Occupied)
    def _occupied(self, *, consultation_id: UUID, by: Actor) -> None:
        self.current = consultation_id

    def free(self, consultation_id: UUID, *, by: Actor) -> None:
        if self.current == consultation_id:
            self._freed(consultation_id=consultation_id, by=by)

    @event(Freed)
    def _freed(self, *, consultation_id: UUID, by: Actor) -> None:
        self.current = None
