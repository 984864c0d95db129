"""Analytics read model: daily counts per organisation, never a person."""

from __future__ import annotations

from datetime import date
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.patient import Patient
from projections.base import Projection


class AnalyticsView(Protocol):
    def joined(self, patient_id: UUID, organisation_id: UUID | None) -> None: ...

    def count(self, metric: str, patient_id: UUID, day: date, dimension: str) -> None: ...


class AnalyticsProjection(Projection[AnalyticsView]):
    name = "analytics"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Patient.Registered,
            Patient.ConsentRecorded,
            Patient.ConsentWithdrawn,
            Patient.Erased,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events are not counted."""

    @process_event.register
    def _(self, event: Patient.Registered, tracking: Tracking) -> None:
        self.view.joined(event.originator_id, event.organisation_id)
        how = "self" if event.self_registered else event.by.role.value
        self.view.count("registrations", event.originator_id, event.timestamp.date(), how)

    @process_event.register
    def _(self, event: Patient.ConsentRecorded, tracking: Tracking) -> None:
        self.view.count(
            "consents-given", event.originator_id, event.timestamp.date(), str(event.purpose)
        )

    @process_event.register
    def _(self, event: Patient.ConsentWithdrawn, tracking: Tracking) -> None:
        self.view.count(
            "consents-withdrawn", event.originator_id, event.timestamp.date(), str(event.purpose)
        )

    @process_event.register
    def _(self, event: Patient.Erased, tracking: Tracking) -> None:
        self.view.count("erasures", event.originator_id, event.timestamp.date(), str(event.reason))
