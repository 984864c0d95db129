"""One consultation as its parties read it (``GET /v1/consultations/{id}``): its state and the
options its organisation's booking template preset, computed from the consultation's events."""

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
class ConsultationRow:
    consultation_id: UUID
    version: int
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
    options: dict[str, Any]


class ConsultationViewWriter(Protocol):
    def booked(self, row: ConsultationRow) -> None: ...

    def changed(self, consultation_id: UUID, version: int, **fields: Any) -> None: ...


class Consultations(Protocol):
    """What routes ask of the view."""

    def get(self, consultation_id: UUID) -> ConsultationRow | None: ...


class ConsultationViewProjection(Projection[ConsultationViewWriter]):
    name = "consultation_view"
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
        """Other events do not change a consultation."""

    @process_event.register
    def _(self, event: Consultation.Booked, tracking: Tracking) -> None:
        self.view.booked(
            ConsultationRow(
                consultation_id=event.originator_id,
                version=event.originator_version,
                doctor_id=event.doctor_id,
                patient_id=event.patient_id,
                practice_id=event.practice_id,
                organisation_id=event.organisation_id,
                type_code=event.type_code,
                kind=str(event.kind),
                start_at=event.start,
                end_at=event.end,
                status=Status.BOOKED.value,
                urgent=event.urgent,
                flagged=None,
                booked_by_role=event.by.role.value,
                options=dict(event.options),
            )
        )

    @process_event.register
    def _(self, event: Consultation.Confirmed, tracking: Tracking) -> None:
        self._status(event, Status.CONFIRMED)

    @process_event.register
    def _(self, event: Consultation.Cancelled, tracking: Tracking) -> None:
        self._status(event, Status.CANCELLED)

    @process_event.register
    def _(self, event: Consultation.NoShowRecorded, tracking: Tracking) -> None:
        self._status(event, Status.NO_SHOW)

    @process_event.register
    def _(self, event: Consultation.Rescheduled, tracking: Tracking) -> None:
        self.view.changed(
            event.originator_id,
            event.originator_version,
            start_at=event.start,
            end_at=event.end,
            status=Status.BOOKED.value,
            flagged=None,
        )

    @process_event.register
    def _(self, event: Consultation.FlaggedForRescheduling, tracking: Tracking) -> None:
        self.view.changed(event.originator_id, event.originator_version, flagged=event.why)

    def _status(self, event: Any, status: Status) -> None:
        self.view.changed(event.originator_id, event.originator_version, status=status.value)
