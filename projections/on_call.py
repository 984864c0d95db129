"""The on-call read model: who is on duty in which pool, the requests with their state and
expiry (a doctor's offers are the open requests of the pools they are on duty in), and the
consultations with a deadline that escalates them (an urgent offer to the named doctor, an
answer due). The deadline worker finds what is due here; the aggregates decide. Computed from
events alone; no personal field (a reason, a question) is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.consultation import URGENT_OFFER_MINUTES, Consultation
from domain.on_call import OnCallPool, PoolRequest, RequestState
from projections.base import Projection

URGENT_OFFER = "urgent-offer"
ANSWER = "answer"


@dataclass(frozen=True)
class RequestRow:
    request_id: UUID
    version: int
    pool_id: UUID
    organisation_id: UUID
    specialty: str
    patient_id: UUID
    urgent: bool
    escalated: bool
    consultation_id: UUID | None  # the escalated one, or the one the accepting doctor has
    state: str
    made_at: datetime
    expires_at: datetime
    taken_by_role: str | None


class OnCallWriter(Protocol):
    def on_duty(self, pool_id: UUID, doctor_id: UUID) -> None: ...
    def off_duty(self, pool_id: UUID, doctor_id: UUID) -> None: ...
    def request_made(self, row: RequestRow) -> None: ...
    def request_changed(self, request_id: UUID, version: int, **fields: Any) -> None: ...
    def deadline(self, consultation_id: UUID, due_at: datetime, kind: str) -> None: ...
    def no_deadline(self, consultation_id: UUID, kind: str | None = None) -> None: ...


class OnCall(Protocol):
    """What routes and the deadline worker ask of the read model."""

    def offers_for(self, doctor_id: UUID) -> list[RequestRow]:
        """The open requests of the pools the doctor is on duty in, oldest first."""
        ...

    def request(self, request_id: UUID) -> RequestRow | None: ...

    def due_expiries(self, now: datetime, limit: int) -> list[UUID]:
        """Open requests whose time to be accepted is over."""
        ...

    def due_escalations(self, now: datetime, limit: int) -> list[UUID]:
        """Consultations whose urgent offer lapsed or whose answer is overdue."""
        ...


class OnCallProjection(Projection[OnCallWriter]):
    name = "on_call"
    topics = tuple(
        get_topic(cls)
        for cls in (
            OnCallPool.WentOnDuty,
            OnCallPool.WentOffDuty,
            PoolRequest.Made,
            PoolRequest.Accepted,
            PoolRequest.Withdrawn,
            PoolRequest.Expired,
            Consultation.Booked,
            Consultation.Taken,
            Consultation.Escalated,
            Consultation.Reopened,
            Consultation.Answered,
            Consultation.Closed,
            Consultation.Cancelled,
            Consultation.Completed,
            Consultation.NoShowRecorded,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events change no offer and no deadline."""

    @process_event.register
    def _(self, event: OnCallPool.WentOnDuty, tracking: Tracking) -> None:
        self.view.on_duty(event.originator_id, event.doctor_id)

    @process_event.register
    def _(self, event: OnCallPool.WentOffDuty, tracking: Tracking) -> None:
        self.view.off_duty(event.originator_id, event.doctor_id)

    @process_event.register
    def _(self, event: PoolRequest.Made, tracking: Tracking) -> None:
        self.view.request_made(
            RequestRow(
                request_id=event.originator_id,
                version=event.originator_version,
                pool_id=event.pool_id,
                organisation_id=event.organisation_id,
                specialty=event.specialty,
                patient_id=event.patient_id,
                urgent=event.urgent,
                escalated=event.consultation_id is not None,
                consultation_id=event.consultation_id,
                state=RequestState.OPEN.value,
                made_at=event.at,
                expires_at=event.expires_at,
                taken_by_role=None,
            )
        )

    @process_event.register
    def _(self, event: PoolRequest.Accepted, tracking: Tracking) -> None:
        self.view.request_changed(
            event.originator_id,
            event.originator_version,
            state=RequestState.ACCEPTED.value,
            consultation_id=event.consultation_id,
            taken_by_role=event.by.role.value,
        )

    @process_event.register
    def _(self, event: PoolRequest.Withdrawn, tracking: Tracking) -> None:
        self.view.request_changed(
            event.originator_id, event.originator_version, state=RequestState.WITHDRAWN.value
        )

    @process_event.register
    def _(self, event: PoolRequest.Expired, tracking: Tracking) -> None:
        self.view.request_changed(
            event.originator_id, event.originator_version, state=RequestState.EXPIRED.value
        )

    @process_event.register
    def _(self, event: Consultation.Booked, tracking: Tracking) -> None:
        if event.organisation_id is None:
            return  # no organisation: no pool to escalate to
        if event.urgent:
            minutes = _positive(event.options.get("urgent_offer_minutes"), URGENT_OFFER_MINUTES)
            due = event.start + timedelta(minutes=minutes)
            self.view.deadline(event.originator_id, due, URGENT_OFFER)
        elif event.asynchronous and event.answer_by is not None:
            self.view.deadline(event.originator_id, event.answer_by, ANSWER)

    @process_event.register
    def _(self, event: Consultation.Taken, tracking: Tracking) -> None:
        self.view.no_deadline(event.originator_id, URGENT_OFFER)

    @process_event.register
    def _(self, event: Consultation.Reopened, tracking: Tracking) -> None:
        self.view.deadline(event.originator_id, event.answer_by, ANSWER)

    @process_event.register
    def _(self, event: Consultation.Escalated, tracking: Tracking) -> None:
        self.view.no_deadline(event.originator_id)

    @process_event.register
    def _(self, event: Consultation.Answered, tracking: Tracking) -> None:
        self.view.no_deadline(event.originator_id)

    @process_event.register
    def _(self, event: Consultation.Closed, tracking: Tracking) -> None:
        self.view.no_deadline(event.originator_id)

    @process_event.register
    def _(self, event: Consultation.Cancelled, tracking: Tracking) -> None:
        self.view.no_deadline(event.originator_id)

    @process_event.register
    def _(self, event: Consultation.Completed, tracking: Tracking) -> None:
        self.view.no_deadline(event.originator_id)

    @process_event.register
    def _(self, event: Consultation.NoShowRecorded, tracking: Tracking) -> None:
        self.view.no_deadline(event.originator_id)


def _positive(value: object, default: int) -> int:
    """As the consultation reads its options: a positive whole number, or the default."""
    valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if valid and isinstance(value, int) else default
