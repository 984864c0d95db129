"""The waiting room: a queue per doctor (or per on-call pool: the key is generic), with each
patient's position and estimated wait, computed from the consultations' events alone.

Order: urgent first, then booked consultations by appointment time, walk-ins by arrival. A
consultation leaves the queue when admitted, cancelled, marked no-show or rescheduled (it is
booked again for its new time); taking an urgent one moves it to the doctor who took it. Every
state keeps one meaning. The history the estimate learns from (lengths per doctor and type, how
long the doctor takes to admit, when patients arrive, who never comes) is kept as it happens; the
estimate itself is computed at query time (``projections.wait_estimate``), as time passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.consultation import Consultation
from projections.base import Projection
from projections.wait_estimate import Expected, History, InProgress, Waiting, estimate_waits

#: the samples of each kind kept per doctor (and type): the recent past counts
KEEP_SAMPLES = 60
#: an admission after this long without one starts a new session (the start lag applies)
SESSION_GAP = timedelta(minutes=45)


class Spot(StrEnum):
    """Where a consultation is, as the waiting room sees it."""

    BOOKED = "booked"  # not in the room (yet, or again after a reschedule)
    WAITING = "waiting"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no-show"


class Measure(StrEnum):
    DURATION = "duration"  # admitted -> completed, per type
    LAG = "lag"  # patient ready (the doctor was free) -> admitted
    START_LAG = "start-lag"  # the same, for a session's first admission
    TURNAROUND = "turnaround"  # doctor free (the patient was ready) -> admitted
    ARRIVAL = "arrival"  # check-in minus appointment (booked)
    SHOW = "show"  # 1 checked in, 0 no-show


def _minutes(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds() / 60)


def doctor_queue(doctor_id: UUID) -> str:
    return f"doctor:{doctor_id}"


def pool_queue(pool_id: UUID) -> str:
    return f"pool:{pool_id}"


@dataclass(frozen=True)
class Entry:
    consultation_id: UUID
    version: int
    queue_key: str
    doctor_id: UUID
    patient_id: UUID
    organisation_id: UUID | None
    type_code: str
    urgent: bool
    scheduled_at: datetime | None  # the appointment (None: urgent, by arrival)
    slot_minutes: float
    spot: Spot
    arrived_at: datetime | None
    admitted_at: datetime | None
    intake_at: datetime | None = None  # when the intake was last given (nothing clinical)


def intake_summary(consultation_id: UUID, intake_at: datetime | None) -> dict[str, Any] | None:
    """What a queue entry says of the intake: that it was given, when, and where the doctor
    reads it (an attributed read). Never its content: not even the severity."""
    if intake_at is None:
        return None
    return {
        "submitted": True,
        "submitted_at": intake_at.isoformat(),
        "href": f"/v1/consultations/{consultation_id}/intake",
    }


@dataclass(frozen=True)
class DoctorPace:
    doctor_id: UUID
    free_since: datetime | None
    last_admitted_at: datetime | None


@dataclass(frozen=True)
class QueuedPatient:
    position: int  # 1: next
    consultation_id: UUID
    patient_id: UUID
    type_code: str
    urgent: bool
    scheduled_at: datetime | None
    arrived_at: datetime
    estimated_wait_minutes: float
    intake: dict[str, Any] | None = None  # the intake summary, with the clinical record


@dataclass(frozen=True)
class Queue:
    queue_key: str
    as_of: datetime
    in_progress: Entry | None
    waiting: list[QueuedPatient]


@dataclass(frozen=True)
class WaitingSpot:
    consultation_id: UUID
    queue_key: str
    spot: Spot
    position: int | None
    estimated_wait_minutes: float | None
    queue_length: int
    as_of: datetime


class WaitingRoomWriter(Protocol):
    def entered(self, entry: Entry) -> None: ...

    def changed(self, consultation_id: UUID, version: int, **fields: Any) -> None: ...

    def entry(self, consultation_id: UUID) -> Entry | None: ...

    def pace(self, doctor_id: UUID) -> DoctorPace: ...

    def paced(self, pace: DoctorPace) -> None: ...

    def sample(self, doctor_id: UUID, measure: Measure, type_code: str, value: float) -> None: ...


class WaitingRoom(Protocol):
    """What routes (and the benchmark) ask of the waiting room."""

    def queue(self, queue_key: str, now: datetime) -> Queue: ...

    def of_consultation(self, consultation_id: UUID, now: datetime) -> WaitingSpot | None: ...


def queue_order(entry: Entry) -> tuple[int, datetime]:
    """Urgent first, then booked by appointment time, walk-ins (and urgent) by arrival."""
    assert entry.arrived_at is not None
    return (0 if entry.urgent else 1, entry.scheduled_at or entry.arrived_at)


def compute_queue(
    queue_key: str,
    now: datetime,
    entries: list[Entry],
    pace: DoctorPace | None,
    history: History,
) -> Queue:
    """The queue at ``now`` from its entries (waiting, in progress, booked for soon)."""
    waiting = sorted((e for e in entries if e.spot is Spot.WAITING), key=queue_order)
    current = next((e for e in entries if e.spot is Spot.IN_PROGRESS), None)
    expected = [
        Expected(e.type_code, e.slot_minutes, e.scheduled_at)
        for e in entries
        if e.spot is Spot.BOOKED and e.scheduled_at is not None
    ]
    last = pace.last_admitted_at if pace else None
    waits = estimate_waits(
        now,
        [Waiting(e.type_code, e.slot_minutes, e.scheduled_at) for e in waiting],
        history,
        current=InProgress(current.type_code, current.slot_minutes, current.admitted_at)
        if current is not None and current.admitted_at is not None
        else None,
        started=last is not None and now - last < SESSION_GAP,
        expected=expected,
        free_since=pace.free_since if pace else None,
    )
    return Queue(
        queue_key=queue_key,
        as_of=now,
        in_progress=current,
        waiting=[
            QueuedPatient(
                position=i + 1,
                consultation_id=e.consultation_id,
                patient_id=e.patient_id,
                type_code=e.type_code,
                urgent=e.urgent,
                scheduled_at=e.scheduled_at,
                arrived_at=e.arrived_at or now,
                estimated_wait_minutes=round(wait, 1),
                intake=intake_summary(e.consultation_id, e.intake_at),
            )
            for i, (e, wait) in enumerate(zip(waiting, waits, strict=True))
        ],
    )


def spot_in(queue: Queue, entry: Entry) -> WaitingSpot:
    mine = next((q for q in queue.waiting if q.consultation_id == entry.consultation_id), None)
    return WaitingSpot(
        consultation_id=entry.consultation_id,
        queue_key=entry.queue_key,
        spot=entry.spot,
        position=mine.position if mine else None,
        estimated_wait_minutes=mine.estimated_wait_minutes if mine else None,
        queue_length=len(queue.waiting),
        as_of=queue.as_of,
    )


class WaitingRoomProjection(Projection[WaitingRoomWriter]):
    name = "waiting_room"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Consultation.Booked,
            Consultation.Cancelled,
            Consultation.Rescheduled,
            Consultation.NoShowRecorded,
            Consultation.CheckedIn,
            Consultation.Taken,
            Consultation.Admitted,
            Consultation.Completed,
            Consultation.IntakeSubmitted,
            Consultation.IntakeFormAnswered,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change the waiting room."""

    @process_event.register
    def _(self, event: Consultation.Booked, tracking: Tracking) -> None:
        if event.asynchronous:
            return  # answered, never waited for
        self.view.entered(
            Entry(
                consultation_id=event.originator_id,
                version=event.originator_version,
                queue_key=doctor_queue(event.doctor_id),
                doctor_id=event.doctor_id,
                patient_id=event.patient_id,
                organisation_id=event.organisation_id,
                type_code=event.type_code,
                urgent=event.urgent,
                scheduled_at=None if event.urgent else event.start,
                slot_minutes=(event.end - event.start).total_seconds() / 60,
                spot=Spot.BOOKED,
                arrived_at=None,
                admitted_at=None,
            )
        )

    @process_event.register
    def _(self, event: Consultation.CheckedIn, tracking: Tracking) -> None:
        entry = self.view.entry(event.originator_id)
        if entry is None:
            return
        if entry.scheduled_at is not None:
            late = (event.at - entry.scheduled_at).total_seconds() / 60
            self.view.sample(entry.doctor_id, Measure.ARRIVAL, "", late)
            self.view.sample(entry.doctor_id, Measure.SHOW, "", 1.0)
        self._move(event, spot=Spot.WAITING, arrived_at=event.at)

    @process_event.register
    def _(self, event: Consultation.Taken, tracking: Tracking) -> None:
        self._move(event, doctor_id=event.doctor_id, queue_key=doctor_queue(event.doctor_id))

    @process_event.register
    def _(self, event: Consultation.Admitted, tracking: Tracking) -> None:
        entry = self.view.entry(event.originator_id)
        if entry is None:
            return
        pace = self.view.pace(entry.doctor_id)
        times = [t for t in (entry.scheduled_at, entry.arrived_at) if t is not None]
        patient_ready = min(max(times, default=event.at), event.at)
        minutes = _minutes(event.at, patient_ready)
        first = pace.last_admitted_at is None or event.at - pace.last_admitted_at >= SESSION_GAP
        if pace.free_since is not None and not first and pace.free_since >= patient_ready:
            self.view.sample(
                entry.doctor_id, Measure.TURNAROUND, "", _minutes(event.at, pace.free_since)
            )
        elif entry.scheduled_at is not None:  # urgent ones are not on time or late
            measure = Measure.START_LAG if first else Measure.LAG
            self.view.sample(entry.doctor_id, measure, "", minutes)
        self.view.paced(DoctorPace(entry.doctor_id, None, event.at))
        self._move(event, spot=Spot.IN_PROGRESS, admitted_at=event.at)

    @process_event.register
    def _(self, event: Consultation.Completed, tracking: Tracking) -> None:
        entry = self.view.entry(event.originator_id)
        if entry is None:
            return
        if entry.admitted_at is not None:
            minutes = (event.at - entry.admitted_at).total_seconds() / 60
            self.view.sample(entry.doctor_id, Measure.DURATION, entry.type_code, minutes)
        pace = self.view.pace(entry.doctor_id)
        self.view.paced(DoctorPace(entry.doctor_id, event.at, pace.last_admitted_at))
        self._move(event, spot=Spot.COMPLETED)

    @process_event.register
    def _(self, event: Consultation.Cancelled, tracking: Tracking) -> None:
        self._move(event, spot=Spot.CANCELLED)

    @process_event.register
    def _(self, event: Consultation.NoShowRecorded, tracking: Tracking) -> None:
        entry = self.view.entry(event.originator_id)
        if entry is not None and entry.scheduled_at is not None:
            self.view.sample(entry.doctor_id, Measure.SHOW, "", 0.0)
        self._move(event, spot=Spot.NO_SHOW)

    @process_event.register
    def _(self, event: Consultation.Rescheduled, tracking: Tracking) -> None:
        self._move(
            event,
            spot=Spot.BOOKED,
            scheduled_at=event.start,
            slot_minutes=(event.end - event.start).total_seconds() / 60,
            arrived_at=None,
        )

    @process_event.register
    def _(self, event: Consultation.IntakeSubmitted, tracking: Tracking) -> None:
        self._move(event, intake_at=event.at)

    @process_event.register
    def _(self, event: Consultation.IntakeFormAnswered, tracking: Tracking) -> None:
        self._move(event, intake_at=event.at)

    def _move(self, event: Any, **fields: Any) -> None:
        self.view.changed(event.originator_id, event.originator_version, **fields)
