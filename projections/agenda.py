"""The agenda: every consultation with its current state, for doctors and patients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.consultation import Consultation, Status
from projections.base import Projection


@dataclass(frozen=True)
class AgendaEntry:
    consultation_id: UUID
    doctor_id: UUID
    patient_id: UUID
    practice_id: UUID | None
    organisation_id: UUID | None
    type_code: str
    kind: str
    start_at: datetime
    end_at: datetime
    status: str
    urgent: bool
    flagged: str | None
    booked_by_role: str
    booked_at: datetime
    version: int


class Agenda(Protocol):
    """What routers ask of the agenda."""

    def get(self, consultation_id: UUID) -> AgendaEntry | None: ...
    def of_doctor(self, doctor_id: UUID, start: datetime, end: datetime) -> list[AgendaEntry]: ...
    def flagged_of_doctor(self, doctor_id: UUID) -> list[AgendaEntry]: ...
    def of_patient(self, patient_id: UUID) -> list[AgendaEntry]: ...


class AgendaView(Protocol):
    def booked(self, consultation_id: UUID, row: dict[str, Any]) -> None: ...

    def changed(self, consultation_id: UUID, version: int, **fields: Any) -> None: ...


class AgendaProjection(Projection[AgendaView]):
    name = "agenda"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Consultation.Booked,
            Consultation.Confirmed,
            Consultation.Cancelled,
            Consultation.Rescheduled,
            Consultation.NoShowRecorded,
            Consultation.FlaggedForRescheduling,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events are not on the agenda."""

    @process_event.register
    def _(self, event: Consultation.Booked, tracking: Tracking) -> None:
        self.view.booked(
            event.originator_id,
            {
                "doctor_id": event.doctor_id,
                "patient_id": event.patient_id,
                "practice_id": event.practice_id,
                "organisation_id": event.organisation_id,
                "type_code": event.type_code,
                "kind": str(event.kind),
                "start_at": event.start,
                "end_at": event.end,
                "status": Status.BOOKED.value,
                "urgent": event.urgent,
                "booked_by_role": event.by.role.value,
                "booked_at": event.timestamp,
                "version": event.originator_version,
            },
        )

    @process_event.register
    def _(self, event: Consultation.Confirmed, tracking: Tracking) -> None:
        self.view.changed(
            event.originator_id, event.originator_version, status=Status.CONFIRMED.value
        )

    @process_event.register
    def _(self, event: Consultation.Cancelled, tracking: Tracking) -> None:
        self.view.changed(
            event.originator_id, event.originator_version, status=Status.CANCELLED.value
        )

    @process_event.register
    def _(self, event: Consultation.Rescheduled, tracking: Tracking) -> None:
        start: datetime = event.start
        self.view.changed(
            event.originator_id,
            event.originator_version,
            start_at=start,
            end_at=event.end,
            status=Status.BOOKED.value,
            flagged=None,
        )

    @process_event.register
    def _(self, event: Consultation.NoShowRecorded, tracking: Tracking) -> None:
        self.view.changed(
            event.originator_id, event.originator_version, status=Status.NO_SHOW.value
        )

    @process_event.register
    def _(self, event: Consultation.FlaggedForRescheduling, tracking: Tracking) -> None:
        self.view.changed(event.originator_id, event.originator_version, flagged=event.why)
