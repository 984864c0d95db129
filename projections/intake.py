"""The intake of each consultation as its doctor reads it before admitting the patient (C4):
the complaint and the answers to the organisation's forms, kept sealed with the patient's own
key (opened at query time, so erasure reaches them), and the organisation's form versions.
Computed from the events alone; the waiting room only learns *that* an intake was given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.consultation import Consultation
from domain.intake import IntakeForm
from domain.personal import Erased
from projections.base import Projection


@dataclass(frozen=True)
class FormAnswers:
    form_code: str
    form_version: int
    answered_at: datetime
    answers: dict[str, Any] | None  # None once the patient is erased


@dataclass(frozen=True)
class Intake:
    consultation_id: UUID
    patient_id: UUID
    submitted_at: datetime | None = None
    complaint: dict[str, Any] | None = None  # None: not given, or erased
    forms: list[FormAnswers] = field(default_factory=list)


@dataclass(frozen=True)
class FormVersion:
    form_id: UUID
    version: int
    title: str
    questions: list[dict[str, Any]]
    published_at: datetime


class IntakeWriter(Protocol):
    """Clinical values arrive as the events carry them (clear, or ``ERASED``: then nothing is
    kept); the storage seals them with the patient's key."""

    def complaint(
        self,
        consultation_id: UUID,
        patient_id: UUID,
        at: datetime,
        complaint: dict[str, Any] | None,
    ) -> None: ...

    def answered(self, consultation_id: UUID, patient_id: UUID, answers: FormAnswers) -> None: ...

    def published(self, form: FormVersion) -> None: ...


class Intakes(Protocol):
    """What routes ask of the view."""

    def of_consultation(self, consultation_id: UUID) -> Intake | None: ...

    def form(self, form_id: UUID, version: int | None = None) -> FormVersion | None:
        """A version of a form (None: the latest)."""
        ...


def _clinical(value: Any) -> dict[str, Any] | None:
    return None if isinstance(value, Erased) or not isinstance(value, dict) else dict(value)


class IntakeProjection(Projection[IntakeWriter]):
    name = "intake"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Consultation.IntakeSubmitted,
            Consultation.IntakeFormAnswered,
            IntakeForm.Published,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change the intake."""

    @process_event.register
    def _(self, event: Consultation.IntakeSubmitted, tracking: Tracking) -> None:
        self.view.complaint(
            event.originator_id, event.patient_id, event.at, _clinical(event.complaint)
        )

    @process_event.register
    def _(self, event: Consultation.IntakeFormAnswered, tracking: Tracking) -> None:
        self.view.answered(
            event.originator_id,
            event.patient_id,
            FormAnswers(event.form_code, event.form_version, event.at, _clinical(event.answers)),
        )

    @process_event.register
    def _(self, event: IntakeForm.Published, tracking: Tracking) -> None:
        self.view.published(
            FormVersion(
                event.originator_id,
                event.version,
                event.title,
                list(event.questions),
                event.timestamp,
            )
        )
