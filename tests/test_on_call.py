"""The on-call pool as a clinic lives it: doctors on duty see the open requests, the first to
accept gets the patient, an urgent consultation the named doctor leaves untaken goes to the
pool, requests nobody accepts expire, patients withdraw."""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from adapters.composition import Services
from commands.consultations import AskQuestion
from domain.actor import Actor, Role, system_actor
from domain.booking import DoctorDay
from domain.consultation import Consultation, Status
from domain.errors import DomainError
from domain.on_call import (
    AlreadyTaken,
    NotOnDuty,
    OnCallPool,
    PoolRequest,
    RequestOver,
    RequestState,
)
from domain.patient import record_of
from tests.clocks import RunningClock, running_clock, services_on_the_clock  # noqa: F401
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import set_up_schedule
from tests.test_privacy import raw_database_bytes

POOL = "cardiology"


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def dr_roth(clinic: Clinic) -> Person:
    return clinic.person("Dr Roth", Role.DOCTOR, clinic.org_a)


def duty(clinic: Clinic, doctor: Person, on: bool = True, pool: str = POOL) -> dict[str, Any]:
    path = f"/v1/on-call/pools/{doctor.actor.organisation_id}/{pool}/duty"
    call = clinic.client.put if on else clinic.client.delete
    response = call(path, headers=doctor.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def ask_pool(clinic: Clinic, patient: Person, **what: str) -> dict[str, Any]:
    response = clinic.client.post(
        "/v1/on-call/requests",
        headers=patient.headers,
        json={
            "patient_id": str(record_of(patient.actor.actor_id)),
            "organisation_id": str(clinic.org_a),
            "specialty": POOL,
            **what,
        },
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def offers(clinic: Clinic, doctor: Person, after: int | None = None) -> list[str]:
    position = after if after is not None else clinic.services.recorder.max_notification_id()
    response = clinic.client.get(
        "/v1/on-call/offers", headers=doctor.headers, params={"after": position}
    )
    assert response.status_code == 200, response.text
    return [o["request_id"] for o in response.json()]


def request_state(clinic: Clinic, patient: Person, request_id: str) -> dict[str, Any]:
    response = clinic.client.get(f"/v1/on-call/requests/{request_id}", headers=patient.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def accept(clinic: Clinic, doctor: Person, request_id: str) -> Any:
    return clinic.client.post(f"/v1/on-call/requests/{request_id}/accept", headers=doctor.headers)


def run_deadlines(services: Services) -> None:
    """What the deadline worker does on its next tick."""
    services.runners["on_call"].run_until_caught_up()
    services.deadlines.run_due()


def test_an_urgent_request_goes_to_the_doctor_on_duty_who_accepts_it(
    clinic: Clinic, services: Services, dr_weber: Person, dr_roth: Person, anna: Person
) -> None:
    duty(clinic, dr_weber)
    made = ask_pool(clinic, anna, reason="sudden chest pain")
    assert offers(clinic, dr_weber, made["position"]) == [str(made["id"])]
    assert offers(clinic, dr_roth) == []  # not on duty: not offered

    refused = accept(clinic, dr_roth, made["id"])
    assert refused.status_code == 409 and refused.json()["type"].endswith("not-on-duty")
    taken = accept(clinic, dr_weber, made["id"])
    assert taken.status_code == 200, taken.text
    consultation_id = taken.json()["consultation_id"]

    duty(clinic, dr_roth)  # too late: it is Dr Weber's
    late = accept(clinic, dr_roth, made["id"])
    assert late.status_code == 409 and late.json()["taken_by_role"] == "doctor"
    assert "Weber" not in late.text
    assert offers(clinic, dr_roth) == []

    seen = request_state(clinic, anna, made["id"])
    assert (seen["state"], seen["consultation_id"]) == ("accepted", consultation_id)
    duty(clinic, dr_weber, on=False)  # going off duty releases nothing
    consultation = services.bus_uow().get(Consultation, UUID(consultation_id))
    assert consultation.doctor_id == dr_weber.actor.actor_id and consultation.taken
    assert consultation.urgent and consultation.patient_id == record_of(anna.actor.actor_id)
    day = services.bus_uow().get(
        DoctorDay, DoctorDay.create_id(dr_weber.actor.actor_id, consultation.slot.start.date())
    )
    assert UUID(consultation_id) in day.urgent
    read = clinic.client.get(f"/v1/consultations/{consultation_id}", headers=anna.headers)
    assert read.status_code == 200 and read.json()["doctor_id"] == str(dr_weber.actor.actor_id)


def test_a_question_to_the_pool_becomes_the_accepting_doctors_consultation(
    clinic: Clinic, services: Services, dr_weber: Person, anna: Person
) -> None:
    duty(clinic, dr_weber)
    question = "Is zorbquatl syrup safe with my blood pressure pills?"
    made = ask_pool(clinic, anna, question=question)
    taken = accept(clinic, dr_weber, made["id"])
    assert taken.status_code == 200, taken.text
    consultation = services.bus_uow().get(Consultation, UUID(taken.json()["consultation_id"]))
    assert consultation.asynchronous and consultation.status is Status.TAKEN
    assert consultation.doctor_id == dr_weber.actor.actor_id
    [stored] = services.recorder.select_events(consultation.id, limit=1)
    booked = services.app.mapper.to_domain_event(stored)
    assert isinstance(booked, Consultation.Booked) and booked.question == question
    assert b"zorbquatl" not in raw_database_bytes(services)  # encrypted with Anna's key
    again = accept(clinic, dr_weber, made["id"])  # the same doctor's retry: the same answer
    assert again.status_code == 200 and again.json()["consultation_id"] == str(consultation.id)


def test_a_patient_withdraws_a_request_and_nobody_can_take_it_then(
    clinic: Clinic, dr_weber: Person, anna: Person
) -> None:
    duty(clinic, dr_weber)
    made = ask_pool(clinic, anna, reason="high fever since yesterday")
    withdrawn = clinic.client.post(
        f"/v1/on-call/requests/{made['id']}/withdraw", headers=anna.headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert offers(clinic, dr_weber) == []
    late = accept(clinic, dr_weber, made["id"])
    assert late.status_code == 409 and late.json()["state"] == "withdrawn"
    assert request_state(clinic, anna, made["id"])["state"] == "withdrawn"
    other = clinic.person("Ben", Role.PATIENT, None)
    not_his = clinic.client.post(
        f"/v1/on-call/requests/{made['id']}/withdraw", headers=other.headers
    )
    assert not_his.status_code == 403


def test_a_request_nobody_accepts_in_time_expires_and_the_patient_is_told(
    clinic: Clinic, services: Services, clock: RunningClock, dr_weber: Person, anna: Person
) -> None:
    made = ask_pool(clinic, anna, reason="dizzy and short of breath")
    run_deadlines(services)  # not due yet
    assert request_state(clinic, anna, made["id"])["state"] == "open"
    clock.ahead = timedelta(minutes=16)
    run_deadlines(services)
    assert request_state(clinic, anna, made["id"])["state"] == "expired"
    duty(clinic, dr_weber)
    assert offers(clinic, dr_weber) == []
    assert accept(clinic, dr_weber, made["id"]).json()["state"] == "expired"


def test_an_urgent_consultation_the_named_doctor_does_not_take_goes_to_the_pool(
    clinic: Clinic,
    services: Services,
    clock: RunningClock,
    dr_weber: Person,
    dr_roth: Person,
    anna: Person,
) -> None:
    set_up_schedule(clinic, dr_weber)  # cardiology, in organisation A
    booked = clinic.client.post(
        "/v1/consultations/urgent",
        headers=anna.headers,
        json={
            "patient_id": str(record_of(anna.actor.actor_id)),
            "doctor_id": str(dr_weber.actor.actor_id),
            "reason": "sudden dizziness",
        },
    )
    assert booked.status_code == 201, booked.text
    consultation_id = UUID(booked.json()["id"])
    duty(clinic, dr_roth)
    run_deadlines(services)
    assert offers(clinic, dr_roth) == []  # the named doctor still has five minutes

    clock.ahead = timedelta(minutes=6)
    run_deadlines(services)
    escalated = services.bus_uow().get(Consultation, consultation_id)
    assert escalated.escalated and not escalated.taken
    [offer] = clinic.client.get(
        "/v1/on-call/offers",
        headers=dr_roth.headers,
        params={"after": services.recorder.max_notification_id()},
    ).json()
    assert offer["escalated"] and offer["urgent"]
    taken = accept(clinic, dr_roth, offer["request_id"])
    assert taken.status_code == 200, taken.text
    assert taken.json()["consultation_id"] == str(consultation_id)

    uow = services.bus_uow()
    consultation = uow.get(Consultation, consultation_id)
    assert consultation.doctor_id == dr_roth.actor.actor_id and consultation.taken
    day = consultation.slot.start.date()
    roths = uow.get(DoctorDay, DoctorDay.create_id(dr_roth.actor.actor_id, day))
    webers = uow.get(DoctorDay, DoctorDay.create_id(dr_weber.actor.actor_id, day))
    assert consultation_id in roths.bookings and consultation_id not in webers.bookings
    parties = services.parties.of(consultation_id)
    assert parties is not None and parties.doctor_id == dr_roth.actor.actor_id
    requested = request_state(clinic, anna, offer["request_id"])
    assert requested["state"] == "accepted" and requested["escalated"]


def agenda_of(clinic: Clinic, doctor: Person) -> list[tuple[str, str]]:
    """The doctor's agenda as (consultation, status), caught up with the log."""
    response = clinic.client.get(
        f"/v1/doctors/{doctor.actor.actor_id}/agenda",
        headers=doctor.headers,
        params={"after": clinic.services.recorder.max_notification_id()},
    )
    assert response.status_code == 200, response.text
    return [(c["id"], c["status"]) for c in response.json()]


def test_an_urgent_consultation_taken_over_from_the_pool_moves_to_the_new_doctors_agenda(
    clinic: Clinic,
    services: Services,
    clock: RunningClock,
    dr_weber: Person,
    dr_roth: Person,
    anna: Person,
) -> None:
    set_up_schedule(clinic, dr_weber)
    booked = clinic.client.post(
        "/v1/consultations/urgent",
        headers=anna.headers,
        json={
            "patient_id": str(record_of(anna.actor.actor_id)),
            "doctor_id": str(dr_weber.actor.actor_id),
            "reason": "sudden dizziness",
        },
    )
    assert booked.status_code == 201, booked.text
    consultation_id = booked.json()["id"]
    assert agenda_of(clinic, dr_weber) == [(consultation_id, "booked")]

    duty(clinic, dr_roth)
    clock.ahead = timedelta(minutes=6)  # the named doctor let it go: the pool gets it
    run_deadlines(services)
    [request_id] = offers(clinic, dr_roth)
    assert accept(clinic, dr_roth, request_id).status_code == 200

    assert agenda_of(clinic, dr_roth) == [(consultation_id, "booked")]
    assert agenda_of(clinic, dr_weber) == []


def test_a_question_left_unanswered_past_its_deadline_goes_to_the_pool(
    clinic: Clinic,
    services: Services,
    clock: RunningClock,
    dr_weber: Person,
    dr_roth: Person,
    anna: Person,
) -> None:
    asked = services.bus.handle(
        AskQuestion(
            anna.actor,
            record_of(anna.actor.actor_id),
            dr_weber.actor.actor_id,
            clinic.org_a,
            "general",
            "May I take ibuprofen with my pills?",
        )
    )
    duty(clinic, dr_roth, pool="general")  # Dr Weber has no schedule: the general pool
    clock.ahead = timedelta(hours=23)
    run_deadlines(services)
    assert not services.bus_uow().get(Consultation, asked.aggregate_id).escalated
    clock.ahead = timedelta(hours=25)
    run_deadlines(services)
    [offer] = clinic.client.get(
        "/v1/on-call/offers",
        headers=dr_roth.headers,
        params={"after": services.recorder.max_notification_id()},
    ).json()
    assert offer["escalated"] and not offer["urgent"]
    taken = accept(clinic, dr_roth, offer["request_id"])
    assert taken.json()["consultation_id"] == str(asked.aggregate_id), taken.text
    consultation = services.bus_uow().get(Consultation, asked.aggregate_id)
    assert consultation.doctor_id == dr_roth.actor.actor_id
    assert consultation.status is Status.TAKEN


def test_fifty_doctors_accept_one_request_at_once_and_exactly_one_gets_it(
    postgres_only: str, clinic: Clinic, services: Services, anna: Person
) -> None:
    doctors = [clinic.person(f"Dr {i}", Role.DOCTOR, clinic.org_a) for i in range(50)]
    for doctor in doctors:
        duty(clinic, doctor)
    made = ask_pool(clinic, anna, reason="crushing chest pain")

    def attempt(doctor: Person) -> tuple[int, dict[str, Any]]:
        response = accept(clinic, doctor, made["id"])
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(attempt, doctors))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 49, statuses
    assert all(body["taken_by_role"] == "doctor" for status, body in answers if status == 409)
    [winner] = [body for status, body in answers if status == 200]
    seen = request_state(clinic, anna, made["id"])
    assert seen["consultation_id"] == winner["consultation_id"]


# -- the pool's invariants, on the domain: a hypothesis state machine ----------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOCTORS = [uuid4() for _ in range(3)]
CLINIC_ORG = uuid4()


class Conflict(Exception):
    """Another writer saved the stream since it was loaded (the event store's unique key)."""


class Streams:
    """The event store's optimistic concurrency, in memory: a save names the version loaded."""

    def __init__(self) -> None:
        self.saved: dict[UUID, PoolRequest] = {}

    def load(self, request_id: UUID) -> PoolRequest:
        return copy.deepcopy(self.saved[request_id])

    def save(self, request: PoolRequest, loaded_version: int) -> None:
        request.collect_events()
        current = self.saved.get(request.id)
        if current is not None and current.version != loaded_version:
            raise Conflict
        self.saved[request.id] = request


def doctor(n: int) -> Actor:
    return Actor(DOCTORS[n], Role.DOCTOR, CLINIC_ORG)


def accept_on(request: PoolRequest, pool: OnCallPool, who: Actor, now: datetime) -> None:
    if request.check_acceptable(who.actor_id, pool):
        request.accept(who.actor_id, uuid4(), now, by=who)


class PoolMachine(RuleBasedStateMachine):
    """Requests, duty, accepts (some of them racing), withdrawals and expiries in any order:
    no request is accepted twice (nor by a second doctor), and none is lost: once time has
    passed, every request is accepted, withdrawn or expired."""

    requests = Bundle("requests")

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.pool = OnCallPool.open(CLINIC_ORG, "cardiology", by=system_actor())
        self.streams = Streams()
        self.taker: dict[UUID, UUID] = {}  # request -> the doctor who got it

    @rule(n=st.integers(0, 2), on=st.booleans())
    def duty(self, n: int, on: bool) -> None:
        if on:
            self.pool.go_on_duty(DOCTORS[n], by=doctor(n))
        else:
            self.pool.go_off_duty(DOCTORS[n], by=doctor(n))

    @rule(target=requests, urgent=st.booleans())
    def request(self, urgent: bool) -> UUID:
        patient = Actor(uuid4(), Role.PATIENT)
        made = PoolRequest.make(
            self.pool,
            patient_id=patient.actor_id,
            reason="sudden pain" if urgent else None,
            question=None if urgent else "a question",
            now=self.now,
            by=patient,
        )
        self.streams.save(made, 0)
        return made.id

    @rule(request_id=requests, n=st.integers(0, 2))
    def accept(self, request_id: UUID, n: int) -> None:
        self._dispatch(request_id, lambda r: accept_on(r, self.pool, doctor(n), self.now))

    @rule(request_id=requests, first=st.integers(0, 2), second=st.integers(0, 2))
    def two_accept_at_once(self, request_id: UUID, first: int, second: int) -> None:
        """Both load the same version; the first save wins, the second is retried (the bus)."""
        copies = [self.streams.load(request_id) for _ in range(2)]
        versions = [c.version for c in copies]
        for copy_, n in zip(copies, (first, second), strict=True):
            try:
                accept_on(copy_, self.pool, doctor(n), self.now)
            except DomainError:
                return
        self.streams.save(copies[0], versions[0])
        self._observe(request_id)
        try:
            self.streams.save(copies[1], versions[1])
            assert not copies[1].collect_events() and first == second
        except Conflict:
            self.accept(request_id, second)

    @rule(request_id=requests)
    def withdraw(self, request_id: UUID) -> None:
        self._dispatch(request_id, lambda r: r.withdraw(self.now, by=system_actor()))

    @rule(minutes=st.integers(1, 40))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(request_id=requests)
    def expire(self, request_id: UUID) -> None:
        self._dispatch(request_id, lambda r: r.expire(self.now, by=system_actor()))

    def _dispatch(self, request_id: UUID, act: Callable[[PoolRequest], object]) -> None:
        for _ in range(3):
            request = self.streams.load(request_id)
            loaded = request.version
            try:
                act(request)
            except (AlreadyTaken, RequestOver, NotOnDuty):
                return
            try:
                self.streams.save(request, loaded)
            except Conflict:
                continue
            self._observe(request_id)
            return

    def _observe(self, request_id: UUID) -> None:
        request = self.streams.saved[request_id]
        if request.state is RequestState.ACCEPTED:
            assert request.accepted_by is not None
            assert self.taker.setdefault(request_id, request.accepted_by) == request.accepted_by

    @invariant()
    def accepted_once_by_one_doctor(self) -> None:
        for request_id, request in self.streams.saved.items():
            if request_id in self.taker:
                assert request.state is RequestState.ACCEPTED
                assert request.accepted_by == self.taker[request_id]

    def teardown(self) -> None:
        """None lost: after the longest expiry, the deadline worker expires what is open."""
        self.now += timedelta(days=2)
        for request_id in list(self.streams.saved):
            self.expire(request_id)
        states = {r.state for r in self.streams.saved.values()}
        assert states <= {RequestState.ACCEPTED, RequestState.WITHDRAWN, RequestState.EXPIRED}


TestPoolMachine = PoolMachine.TestCase
TestPoolMachine.settings = hypothesis_settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
