"""The consultations as their parties read them, one row each, computed from the consultation's
events: one by id (``GET /v1/consultations/{id}``), a doctor's agenda (``GET
/v1/doctors/{id}/agenda``, flagged ones apart) and a patient's list. A row holds the state, the
doctor who has it now (an on-call doctor who took it over included), the times of its life
(checked in, admitted, ended, the answer deadline of a question) and the options its
organisation's booking template preset. Never the question, the urgent reason or a rating's
comment."""

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
    checked_in_at: datetime | None = None
    admitted_at: datetime | None = None
    ended_at: datetime | None = None
    taken: bool = True
    escalated: bool = False
    answer_by: datetime | None = None
    asynchronous: bool = False
    rated: bool = False


class ConsultationViewWriter(Protocol):
    def booked(self, row: ConsultationRow) -> None: ...

    def changed(self, consultation_id: UUID, version: int, **fields: Any) -> None: ...

    def taken(self, consultation_id: UUID, version: int, doctor_id: UUID) -> None:
        """A doctor took it: theirs now; a question waits for their answer (``taken``)."""

    def escalated(self, consultation_id: UUID, version: int) -> None:
        """Handed to the on-call pool: an unanswered question is nobody's again (``asked``)."""

    def reopened(self, consultation_id: UUID, version: int, answer_by: datetime) -> None:
        """Asked again: ``taken`` by the doctor who had it, or ``asked`` of the pool."""


class Consultations(Protocol):
    """What routes ask of the view."""

    def get(self, consultation_id: UUID) -> ConsultationRow | None: ...

    def of_doctor(self, doctor_id: UUID, start: datetime, end: datetime) -> list[ConsultationRow]:
        """The doctor's agenda: their consultations overlapping ``[start, end)``, by start."""

    def flagged_of_doctor(self, doctor_id: UUID) -> list[ConsultationRow]:
        """The doctor's booked or confirmed consultations flagged for rescheduling."""

    def of_patient(self, patient_id: UUID) -> list[ConsultationRow]:
        """The patient's consultations, by start."""


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
            Consultation.CheckedIn,
            Consultation.Taken,
            Consultation.Escalated,
            Consultation.Admitted,
            Consultation.Completed,
            Consultation.Answered,
            Consultation.Closed,
            Consultation.Reopened,
            Consultation.Rated,
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
                status=(Status.ASKED if event.asynchronous else Status.BOOKED).value,
                urgent=event.urgent,
                flagged=None,
                booked_by_role=event.by.role.value,
                options=dict(event.options),
                taken=not (event.urgent or event.asynchronous),
                answer_by=event.answer_by,
                asynchronous=event.asynchronous,
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
            checked_in_at=None,
        )

    @process_event.register
    def _(self, event: Consultation.FlaggedForRescheduling, tracking: Tracking) -> None:
        self.view.changed(event.originator_id, event.originator_version, flagged=event.why)

    @process_event.register
    def _(self, event: Consultation.CheckedIn, tracking: Tracking) -> None:
        self._status(event, Status.CHECKED_IN, checked_in_at=event.at)

    @process_event.register
    def _(self, event: Consultation.Taken, tracking: Tracking) -> None:
        self.view.taken(event.originator_id, event.originator_version, event.doctor_id)

    @process_event.register
    def _(self, event: Consultation.Escalated, tracking: Tracking) -> None:
        self.view.escalated(event.originator_id, event.originator_version)

    @process_event.register
    def _(self, event: Consultation.Admitted, tracking: Tracking) -> None:
        self._status(event, Status.IN_PROGRESS, admitted_at=event.at)

    @process_event.register
    def _(self, event: Consultation.Completed, tracking: Tracking) -> None:
        self._status(event, Status.COMPLETED, ended_at=event.at)

    @process_event.register
    def _(self, event: Consultation.Answered, tracking: Tracking) -> None:
        self._status(event, Status.ANSWERED, ended_at=event.at)

    @process_event.register
    def _(self, event: Consultation.Closed, tracking: Tracking) -> None:
        self._status(event, Status.CLOSED, ended_at=event.at)

    @process_event.register
    def _(self, event: Consultation.Reopened, tracking: Tracking) -> None:
        self.view.reopened(event.originator_id, event.originator_version, event.answer_by)

    @process_event.register
    def _(self, event: Consultation.Rated, tracking: Tracking) -> None:
        self.view.changed(event.originator_id, event.originator_version, rated=True)

    def _status(self, event: Any, status: Status, **times: datetime) -> None:
        self.view.changed(
            event.originator_id, event.originator_version, status=status.value, **times
        )
