"""The waiting room: Dr Weber's patients check in, the queue orders them (urgent first, then by
appointment), they leave it when admitted, cancelled or rescheduled, and each sees an estimated
wait that grows with the queue and shrinks as consultations end.

The commands go through the bus with a clock the test moves (the lifecycle's own routes come
with their issue); the read routes are exercised over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from adapters.composition import Services, build
from adapters.settings import Settings
from commands import scheduling
from commands.booking import (
    BookConsultation,
    BookUrgent,
    CancelConsultation,
    RescheduleConsultation,
)
from commands.consultations import AdmitPatient, CheckIn, CompleteConsultation, TakeConsultation
from commands.patients import RegisterPatient
from domain.actor import Actor, Role
from domain.consultation import URGENT_OFFER_MINUTES, Consultation, Kind
from projections.waiting_room import Queue, Spot, WaitingRoomProjection, doctor_queue
from tests.clocks import Clock
from tests.conftest import Clinic, Person


def a_weekday_ahead() -> date:
    day = datetime.now(UTC).date() + timedelta(days=3)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@dataclass
class Room:
    services: Services
    clock: Clock
    doctor: Actor
    practice: UUID
    nurse: Actor

    def booked(self, hour: int, minute: int) -> UUID:
        """A new patient booked for a ``video-15`` at that time of the day."""
        patient = self.services.bus.handle(
            RegisterPatient(self.nurse, given_name="Pat", family_name="Ient")
        ).aggregate_id
        start = datetime.combine(self.clock.now.date(), time(hour, minute), UTC)
        return self.services.bus.handle(
            BookConsultation(
                self.doctor,
                patient,
                self.doctor.actor_id,
                self.practice,
                "video-15",
                start,
                Kind.VIDEO,
            )
        ).aggregate_id

    def urgent(self) -> UUID:
        patient = self.services.bus.handle(
            RegisterPatient(self.nurse, given_name="Urs", family_name="Gent")
        ).aggregate_id
        consultation = self.services.bus.handle(
            BookUrgent(self.nurse, patient, self.doctor.actor_id, "sudden chest pain")
        ).aggregate_id
        self.services.bus.handle(TakeConsultation(self.doctor, consultation))
        return consultation

    def do(self, command: object) -> None:
        self.services.bus.handle(command)

    def queue(self) -> Queue:
        while self.services.runners["waiting_room"].run_once():
            pass
        return self.services.waiting_room.queue(doctor_queue(self.doctor.actor_id), self.clock.now)

    def order(self) -> list[UUID]:
        return [q.consultation_id for q in self.queue().waiting]

    def waits(self) -> list[float]:
        return [q.estimated_wait_minutes for q in self.queue().waiting]


@pytest.fixture
def room(settings: Settings) -> Iterator[Room]:
    """Dr Weber's ``video-15`` consultations, 08:00-12:00 UTC every day; the clock at 07:00 of
    a weekday ahead, when everything is booked."""
    clock = Clock(datetime.combine(a_weekday_ahead(), time(7), UTC))
    services = build(settings, clock=clock)
    org = uuid4()
    doctor = Actor(uuid4(), Role.DOCTOR, org)
    practice = uuid4()
    bus = services.bus
    bus.handle(scheduling.OpenSchedule(doctor, doctor.actor_id, "UTC", "general-practice"))
    bus.handle(scheduling.AddPractice(doctor, doctor.actor_id, practice, org))
    bus.handle(
        scheduling.SetConsultationType(
            doctor, doctor.actor_id, practice, "video-15", 15, 0, ("video",)
        )
    )
    for weekday in range(7):
        bus.handle(
            scheduling.SetWeeklyHours(doctor, doctor.actor_id, practice, weekday, ("08:00-12:00",))
        )
    yield Room(services, clock, doctor, practice, Actor(uuid4(), Role.NURSE, org))
    services.close()


def test_patients_queue_by_appointment_and_an_urgent_arrival_goes_first(room: Room) -> None:
    nine, quarter_past = room.booked(9, 0), room.booked(9, 15)
    room.clock.at(8, 50)
    room.do(CheckIn(room.nurse, quarter_past))  # arrives first, booked later
    room.clock.at(8, 52)
    room.do(CheckIn(room.nurse, nine))
    assert room.order() == [nine, quarter_past]
    room.clock.at(8, 55)
    urgent = room.urgent()
    room.do(CheckIn(room.nurse, urgent))
    queue = room.queue()
    assert [q.consultation_id for q in queue.waiting] == [urgent, nine, quarter_past]
    assert [q.position for q in queue.waiting] == [1, 2, 3]
    assert all(q.intake is None for q in queue.waiting)  # the slot for the intake summary


def test_an_admitted_patient_leaves_the_queue_and_is_in_progress(room: Room) -> None:
    nine, quarter_past = room.booked(9, 0), room.booked(9, 15)
    room.clock.at(8, 55)
    room.do(CheckIn(room.nurse, nine))
    room.do(CheckIn(room.nurse, quarter_past))
    room.clock.at(9, 1)
    room.do(AdmitPatient(room.doctor, nine))
    queue = room.queue()
    assert [q.consultation_id for q in queue.waiting] == [quarter_past]
    assert queue.in_progress is not None and queue.in_progress.consultation_id == nine
    spot = room.services.waiting_room.of_consultation(nine, room.clock.now)
    assert spot is not None and spot.spot is Spot.IN_PROGRESS and spot.position is None


def test_a_cancelled_or_rescheduled_patient_leaves_the_queue_at_once(room: Room) -> None:
    nine, quarter_past, half_past = room.booked(9, 0), room.booked(9, 15), room.booked(9, 30)
    room.clock.at(9, 0)
    for c in (nine, quarter_past, half_past):
        room.do(CheckIn(room.nurse, c))
    room.do(CancelConsultation(room.nurse, nine, "doctor-unavailable"))
    assert room.order() == [quarter_past, half_past]
    later = datetime.combine(room.clock.now.date(), time(11, 0), UTC)
    room.do(RescheduleConsultation(room.nurse, half_past, later))
    assert room.order() == [quarter_past]
    spot = room.services.waiting_room.of_consultation(half_past, room.clock.now)
    assert spot is not None and spot.spot is Spot.BOOKED and spot.position is None
    cancelled = room.services.waiting_room.of_consultation(nine, room.clock.now)
    assert cancelled is not None and cancelled.spot is Spot.CANCELLED


def test_the_estimate_grows_with_the_queue_and_shrinks_as_consultations_end(room: Room) -> None:
    booked = [room.booked(9, m) for m in (0, 15, 30, 45)]
    room.clock.at(9, 0)
    room.do(CheckIn(room.nurse, booked[0]))
    room.do(AdmitPatient(room.doctor, booked[0]))
    urgents = []
    for _ in range(3):
        urgents.append(room.urgent())
        room.do(CheckIn(room.nurse, urgents[-1]))
    waits = room.waits()
    assert len(waits) == 3 and waits == sorted(waits) and waits[0] < waits[-1]
    assert waits[-1] > 20  # three consultations ahead of the last one, at least
    room.clock.at(9, 12)
    room.do(CompleteConsultation(room.doctor, booked[0]))
    room.do(AdmitPatient(room.doctor, urgents[0]))
    after = room.waits()
    assert len(after) == 2 and after[-1] < waits[-1]


def test_the_patient_polls_their_place_and_the_doctor_reads_the_queue(
    clinic: Clinic, dr_weber: Person
) -> None:
    nurse = clinic.person("Nurse Nora", Role.NURSE, clinic.org_a)
    services = clinic.services
    organisation = dr_weber.actor.organisation_id or clinic.org_a
    services.bus.handle(
        scheduling.OpenSchedule(dr_weber.actor, dr_weber.actor.actor_id, "UTC", "cardiology")
    )
    services.bus.handle(
        scheduling.AddPractice(dr_weber.actor, dr_weber.actor.actor_id, uuid4(), organisation)
    )
    anna = clinic.register(nurse, given_name="Anna")["id"]
    booked = clinic.client.post(
        "/v1/consultations/urgent",
        headers=nurse.headers,
        json={"patient_id": anna, "doctor_id": str(dr_weber.actor.actor_id), "reason": "pain"},
    )
    assert booked.status_code == 201, booked.text
    consultation = UUID(booked.json()["id"])
    services.bus.handle(TakeConsultation(dr_weber.actor, consultation))
    position = services.bus.handle(CheckIn(nurse.actor, consultation)).position

    mine = clinic.client.get(
        f"/v1/consultations/{consultation}/waiting",
        headers=nurse.headers,
        params={"after": position},
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["state"] == "waiting" and mine.json()["position"] == 1
    assert mine.json()["estimated_wait_minutes"] >= 0

    queue = clinic.client.get(
        f"/v1/waiting-room/doctors/{dr_weber.actor.actor_id}", headers=dr_weber.headers
    )
    assert queue.status_code == 200, queue.text
    (entry,) = queue.json()["waiting"]
    assert entry["consultation_id"] == str(consultation) and entry["patient_id"] == anna
    assert entry["intake"] is None and "Anna" not in queue.text


def test_an_urgent_patient_taken_by_a_doctor_of_the_pool_moves_to_that_doctors_queue(
    room: Room,
) -> None:
    """The on-call pool's commands come with their issue: the consultation's own events are
    fed to the waiting room here, as the runner would."""
    nurse, dr_pool = room.nurse, Actor(uuid4(), Role.DOCTOR, room.nurse.organisation_id)
    room.clock.at(9, 0)
    consultation = Consultation.book_urgent(
        patient_id=uuid4(),
        doctor_id=room.doctor.actor_id,
        organisation_id=nurse.organisation_id,
        reason="sudden pain",
        now=room.clock.now,
        minutes=20,
        by=nurse,
    )
    consultation.check_in(room.clock.now, by=nurse)
    events = list(consultation.collect_events())
    offered = room.clock.now + timedelta(minutes=URGENT_OFFER_MINUTES)
    assert consultation.escalate("nobody-took-it", offered, by=nurse)
    consultation.take(dr_pool.actor_id, offered, by=dr_pool)
    moved = list(consultation.collect_events())
    view = room.services.waiting_room
    projection = WaitingRoomProjection(view)
    for batch in (events, moved):
        with view.batch():
            for event in batch:
                projection.process_event(event, Tracking(projection.name, 0))
        if batch is events:
            assert room.order() == [consultation.id]
    assert room.order() == []
    theirs = view.queue(doctor_queue(dr_pool.actor_id), offered)
    assert [q.consultation_id for q in theirs.waiting] == [consultation.id]
