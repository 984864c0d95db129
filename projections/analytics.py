"""Analytics read model: daily counts per organisation, never a person.

Activity counts (bookings, cancellations, reschedules, ...) fall on the day they happened. Rates
are taken over a cohort instead: the appointments *due* in a period are those whose latest start
falls in it, that were not cancelled before that start, and whose start has come; the no-show
rate is the share of them with a no-show recorded (a no-show is recorded only once the start has
passed, on an appointment still open, so it is always one of them: the rate stays within 0..1).

Care figures (G2) take the same cohorts, counting cancelled ones too (an asynchronous
consultation's start is when it was asked): how many were completed (or answered), the
booking-to-completed conversion, the wait in the waiting room (check-in to admission; an urgent
patient waits from the consultation's start, which is its booking) and the time to the first
answer of a question. NPS is taken over the ratings given in a period: scores 9-10 promote, 0-6
detract, NPS = % promoters - % detractors. Only scores are kept; the comment never is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.consultation import Consultation
from domain.patient import Patient
from domain.schedule import DoctorSchedule
from projections.base import Projection

METRICS = ("registrations", "consents-given", "consents-withdrawn", "erasures")
Granularity = Literal["day", "week", "month"]
NO_ORGANISATION = "none"


@dataclass(frozen=True)
class Count:
    period: date
    organisation_id: str
    dimension: str
    count: int


@dataclass(frozen=True)
class ConsultationFigures:
    period: date
    organisation_id: str
    specialty: str
    type_code: str
    bookings: int
    urgent: int
    cancellations: int
    reschedules: int
    due: int
    no_shows: int
    average_lead_minutes: float | None
    no_show_rate: float | None
    cohort: int = 0  # due in the period, cancelled ones included
    completed: int = 0  # of the cohort
    conversion_rate: float | None = None  # completed / cohort


@dataclass(frozen=True)
class CareFigures:
    """One cohort (consultations whose start falls in the period and has come) of an
    organisation, specialty and kind: how many, how many completed, how long patients waited
    to be admitted and questions to be answered (minutes)."""

    period: date
    organisation_id: str
    specialty: str
    kind: str
    consultations: int
    completed: int
    conversion_rate: float | None
    waits: int
    average_wait_minutes: float | None
    p90_wait_minutes: float | None
    answers: int
    average_answer_minutes: float | None
    p90_answer_minutes: float | None


@dataclass(frozen=True)
class Nps:
    """Net promoter score of some ratings (None without any)."""

    ratings: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


@dataclass(frozen=True)
class NpsFigure:
    """NPS of an organisation (specialty and doctor None), of one of its specialties (doctor
    None) or of one of its doctors (a keyed pseudonym, with the specialty)."""

    organisation_id: str
    specialty: str | None
    doctor: str | None
    score: Nps


def nps_of(scores: Sequence[int]) -> Nps:
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    n = len(scores)
    nps = round(100 * (promoters - detractors) / n, 1) if n else None
    return Nps(n, promoters, n - promoters - detractors, detractors, nps)


def average(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def p90(values: Sequence[float]) -> float | None:
    """The 90th percentile by nearest rank: 90% of the values are at most this."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[math.ceil(0.9 * len(ordered)) - 1], 1)


CONSULTATION_METRICS = ("bookings", "urgent", "cancellations", "reschedules")


class Analytics(Protocol):
    """What routers ask of the analytics read model."""

    def consultations(
        self,
        start: date,
        end: date,
        granularity: Granularity = "day",
        organisation_id: UUID | None = None,
        as_of: datetime | None = None,
    ) -> list[ConsultationFigures]: ...

    def care(
        self,
        start: date,
        end: date,
        granularity: Granularity = "day",
        organisation_id: UUID | None = None,
        as_of: datetime | None = None,
    ) -> list[CareFigures]: ...

    def nps(
        self, start: date, end: date, organisation_id: UUID | None = None
    ) -> list[NpsFigure]: ...

    def nps_of_doctor(self, doctor_id: UUID, start: date, end: date) -> Nps:
        """One doctor's own NPS, over the ratings of all their organisations."""
        ...

    def query(
        self,
        metric: str,
        start: date,
        end: date,
        granularity: Granularity = "day",
        organisation_id: UUID | None = None,
    ) -> list[Count]: ...


def period_of(day: date, granularity: Granularity) -> date:
    """The first day of the period (day, ISO week from Monday, month) that holds ``day``."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


class AnalyticsView(Protocol):
    def joined(self, patient_id: UUID, organisation_id: UUID | None) -> None: ...

    def count(self, metric: str, patient_id: UUID, day: date, dimension: str) -> None: ...

    def specialty(self, schedule_id: UUID, specialty: str) -> None: ...

    def consultation_booked(
        self,
        consultation_id: UUID,
        schedule_id: UUID,
        organisation_id: UUID | None,
        type_code: str,
        day: date,
        lead_minutes: int,
        urgent: bool,
        start: datetime,
        doctor_id: UUID,
        kind: str,
        asynchronous: bool,
    ) -> None: ...

    def consultation_counted(
        self, metric: str, consultation_id: UUID, day: date, amount: int = 0
    ) -> None: ...

    def start_of(self, consultation_id: UUID) -> datetime | None:
        """The appointment's latest start, as this read model stored it."""
        ...

    def appointment_moved(self, consultation_id: UUID, start: datetime) -> None: ...

    def appointment_cancelled(self, consultation_id: UUID, before_start: bool) -> None: ...

    def appointment_missed(self, consultation_id: UUID) -> None: ...

    def checked_in(self, consultation_id: UUID, at: datetime) -> None:
        """The patient waits from ``at`` (unless already waiting: urgent ones from booking)."""
        ...

    def admitted(self, consultation_id: UUID, at: datetime) -> None: ...

    def taken(self, consultation_id: UUID, schedule_id: UUID, doctor_id: UUID) -> None:
        """The doctor (and their specialty) who has it now."""
        ...

    def completed(self, consultation_id: UUID) -> None: ...

    def answered(self, consultation_id: UUID, at: datetime) -> None:
        """Completed; the first answer's time counts from the question."""
        ...

    def rated(self, consultation_id: UUID, score: int, day: date) -> None: ...


def lead_minutes(start: datetime, at: datetime) -> int:
    return max(0, int((start - at).total_seconds() // 60))


class AnalyticsProjection(Projection[AnalyticsView]):
    name = "analytics"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Patient.Registered,
            Patient.ConsentRecorded,
            Patient.ConsentWithdrawn,
            Patient.Erased,
            DoctorSchedule.Opened,
            DoctorSchedule.ProfileChanged,
            Consultation.Booked,
            Consultation.Cancelled,
            Consultation.Rescheduled,
            Consultation.NoShowRecorded,
            Consultation.CheckedIn,
            Consultation.Admitted,
            Consultation.Taken,
            Consultation.Completed,
            Consultation.Answered,
            Consultation.Rated,
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

    @process_event.register(DoctorSchedule.Opened)
    @process_event.register(DoctorSchedule.ProfileChanged)
    def _(self, event: DoctorSchedule.Event, tracking: Tracking) -> None:
        self.view.specialty(event.originator_id, event.specialty)  # type: ignore[attr-defined]

    @process_event.register
    def _(self, event: Consultation.Booked, tracking: Tracking) -> None:
        self.view.consultation_booked(
            event.originator_id,
            DoctorSchedule.create_id(event.doctor_id),
            event.organisation_id,
            event.type_code,
            event.timestamp.date(),
            lead_minutes(event.start, event.timestamp),
            event.urgent,
            event.start,
            event.doctor_id,
            str(event.kind),
            bool(event.asynchronous),
        )

    @process_event.register
    def _(self, event: Consultation.Cancelled, tracking: Tracking) -> None:
        self.view.consultation_counted("cancellations", event.originator_id, event.timestamp.date())
        start = self.view.start_of(event.originator_id)
        early = start is not None and event.timestamp < start
        self.view.appointment_cancelled(event.originator_id, before_start=early)

    @process_event.register
    def _(self, event: Consultation.Rescheduled, tracking: Tracking) -> None:
        self.view.consultation_counted(
            "reschedules",
            event.originator_id,
            event.timestamp.date(),
            lead_minutes(event.start, event.timestamp),
        )
        self.view.appointment_moved(event.originator_id, event.start)

    @process_event.register
    def _(self, event: Consultation.NoShowRecorded, tracking: Tracking) -> None:
        self.view.appointment_missed(event.originator_id)

    @process_event.register
    def _(self, event: Consultation.CheckedIn, tracking: Tracking) -> None:
        self.view.checked_in(event.originator_id, event.at)

    @process_event.register
    def _(self, event: Consultation.Admitted, tracking: Tracking) -> None:
        self.view.admitted(event.originator_id, event.at)

    @process_event.register
    def _(self, event: Consultation.Taken, tracking: Tracking) -> None:
        schedule = DoctorSchedule.create_id(event.doctor_id)
        self.view.taken(event.originator_id, schedule, event.doctor_id)

    @process_event.register
    def _(self, event: Consultation.Completed, tracking: Tracking) -> None:
        self.view.completed(event.originator_id)

    @process_event.register
    def _(self, event: Consultation.Answered, tracking: Tracking) -> None:
        self.view.answered(event.originator_id, event.at)

    @process_event.register
    def _(self, event: Consultation.Rated, tracking: Tracking) -> None:
        self.view.rated(event.originator_id, event.score, event.timestamp.date())
