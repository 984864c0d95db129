"""Which records have an invitation pending (a beneficiary's transfer offered, or a practice's
patient invited to join): issued, and not yet accepted, declined, withdrawn or erased. Only the
fact is kept, never the address the link was sent to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.patient import Patient
from projections.base import Projection


class PendingInvitationsWriter(Protocol):
    def issued(self, patient_id: UUID) -> None: ...

    def closed(self, patient_id: UUID) -> None: ...


class PendingInvitations(Protocol):
    """What routes ask of the view."""

    def pending(self, patient_ids: Iterable[UUID]) -> frozenset[UUID]: ...


class PendingInvitationsProjection(Projection[PendingInvitationsWriter]):
    name = "record_invitations"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Patient.InvitationIssued,
            Patient.InvitationDeclined,
            Patient.InvitationWithdrawn,
            Patient.AccountLinked,
            Patient.Erased,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not open or close an invitation."""

    @process_event.register
    def _(self, event: Patient.InvitationIssued, tracking: Tracking) -> None:
        self.view.issued(event.originator_id)

    @process_event.register
    def _(self, event: Patient.InvitationDeclined, tracking: Tracking) -> None:
        self.view.closed(event.originator_id)

    @process_event.register
    def _(self, event: Patient.InvitationWithdrawn, tracking: Tracking) -> None:
        self.view.closed(event.originator_id)

    @process_event.register
    def _(self, event: Patient.AccountLinked, tracking: Tracking) -> None:
        self.view.closed(event.originator_id)

    @process_event.register
    def _(self, event: Patient.Erased, tracking: Tracking) -> None:
        self.view.closed(event.originator_id)
