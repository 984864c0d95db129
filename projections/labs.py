"""Labs as clinicians and patients see them: each organisation's partner labs; each patient's
lab orders with their results (for ``GET /v1/patients/{id}/results``); and, for each ordering
doctor, the orders with an abnormal result. Tests, notes, values and comments stay sealed with
the patient's key in storage and are opened at query time; only ids, states, times and an
``abnormal`` flag per result are kept in clear. Computed from events alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.lab_order import LabOrder, is_abnormal
from domain.partner_labs import PartnerLabs
from projections.base import Projection


@dataclass(frozen=True)
class PartnerLab:
    lab_id: UUID
    name: str
    client_id: UUID


@dataclass(frozen=True)
class OrderRow:
    """One order; clinical fields are None once the patient is erased."""

    order_id: UUID
    version: int
    patient_id: UUID
    consultation_id: UUID
    doctor_id: UUID
    organisation_id: UUID
    lab_id: UUID
    status: str
    ordered_at: datetime
    updated_at: datetime
    tests: list[dict[str, str]] | None
    note: str | None
    cancel_reason: str | None = None
    #: the latest result per test, in the order's test order
    results: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class AbnormalOrder:
    """An order with abnormal results, for its doctor: no clinical content, only counts."""

    order_id: UUID
    patient_id: UUID
    consultation_id: UUID
    lab_id: UUID
    status: str
    abnormal_results: int
    updated_at: datetime


class LabsWriter(Protocol):
    """The steps; clinical values arrive as the events carry them (clear, or ``ERASED``)."""

    def lab_added(self, list_id: UUID, lab: PartnerLab) -> None: ...
    def lab_removed(self, list_id: UUID, lab_id: UUID) -> None: ...
    def ordered(self, order: OrderRow) -> None: ...
    def reported(
        self,
        order_id: UUID,
        patient_id: UUID,
        version: int,
        status: str,
        at: datetime,
        results: list[tuple[int, bool, dict[str, Any]]],
    ) -> None:
        """``results``: (the test's position in the order, abnormal, the result)."""
        ...

    def cancelled(
        self, order_id: UUID, patient_id: UUID, version: int, at: datetime, reason: str
    ) -> None: ...


class Labs(Protocol):
    """What routes ask of the view."""

    def partners(self, organisation_id: UUID) -> list[PartnerLab]: ...
    def of_patient(self, patient_id: UUID) -> list[OrderRow]: ...
    def abnormal_for(self, doctor_id: UUID) -> list[AbnormalOrder]: ...


class LabsProjection(Projection[LabsWriter]):
    name = "labs"
    topics = tuple(
        get_topic(cls)
        for cls in (
            PartnerLabs.LabAdded,
            PartnerLabs.LabRemoved,
            LabOrder.Ordered,
            LabOrder.ResultsReported,
            LabOrder.Cancelled,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change the labs' view."""

    @process_event.register
    def _(self, event: PartnerLabs.LabAdded, tracking: Tracking) -> None:
        lab = PartnerLab(event.lab_id, event.name, event.client_id)
        self.view.lab_added(event.originator_id, lab)

    @process_event.register
    def _(self, event: PartnerLabs.LabRemoved, tracking: Tracking) -> None:
        self.view.lab_removed(event.originator_id, event.lab_id)

    @process_event.register
    def _(self, event: LabOrder.Ordered, tracking: Tracking) -> None:
        self.view.ordered(
            OrderRow(
                order_id=event.originator_id,
                version=event.originator_version,
                patient_id=event.patient_id,
                consultation_id=event.consultation_id,
                doctor_id=event.doctor_id,
                organisation_id=event.organisation_id,
                lab_id=event.lab_id,
                status="ordered",
                ordered_at=event.at,
                updated_at=event.at,
                tests=event.tests,
                note=event.note,
            )
        )

    @process_event.register
    def _(self, event: LabOrder.ResultsReported, tracking: Tracking) -> None:
        results = event.results if isinstance(event.results, list) else []
        self.view.reported(
            event.originator_id,
            event.patient_id,
            event.originator_version,
            str(event.status),
            event.at,
            [(int(r["position"]), is_abnormal(r), r) for r in results],
        )

    @process_event.register
    def _(self, event: LabOrder.Cancelled, tracking: Tracking) -> None:
        self.view.cancelled(
            event.originator_id,
            event.patient_id,
            event.originator_version,
            event.at,
            event.reason,
        )
