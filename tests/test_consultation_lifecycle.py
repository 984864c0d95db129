"""A consultation's life over HTTP, as the clinic lives it: the waiting room opens, the doctor
admits and completes, the patient rates; caregivers and holders check in for the patient; an
urgent offer is taken; a question is asked, taken, answered, closed and reopened. The services
run on a clock the test moves, so the waiting room and the reopening window are met exactly."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.composition import Services
from domain.actor import Role
from domain.consultation import Consultation
from tests.clocks import Clock, services_on_the_clock, stopped_clock  # noqa: F401
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import Practices, book_video, set_up_schedule, tomorrow_at


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def practices(clinic: Clinic, dr_weber: Person) -> Practices:
    return set_up_schedule(clinic, dr_weber)


def step(
    clinic: Clinic, who: Person, consultation_id: str, name: str, **json: Any
) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/consultations/{consultation_id}/{name}", headers=who.headers, json=json or None
    )
    return response


def shown(clinic: Clinic, who: Person, consultation_id: str) -> dict[str, Any]:
    response = clinic.client.get(f"/v1/consultations/{consultation_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def booked(
    clinic: Clinic, who: Person, practices: Practices, patient_id: object, index: int = 0
) -> tuple[str, datetime]:
    slot = tomorrow_at(clinic, who, practices, practices.city, "video-15", index)
    response = book_video(clinic, who, practices, slot, patient_id)
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), datetime.fromisoformat(slot["start"])


def recorded(services: Services, consultation_id: str, kind: type[Any]) -> list[Any]:
    return [e for e in services.app.events.get(uuid.UUID(consultation_id)) if isinstance(e, kind)]


def stored_in_clear(services: Services, text: str) -> bool:
    """Whether a stored event of any stream holds ``text`` as is."""
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT state FROM stored_events")
        return any(text.encode() in bytes(row[0]) for row in cur.fetchall())


def test_a_video_consultation_from_booking_to_rating(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation, start = booked(clinic, anna, practices, annas)
    assert step(clinic, dr_weber, consultation, "confirm").status_code == 200

    early = step(clinic, anna, consultation, "check-in")
    assert early.status_code == 409, early.text
    opens = (start - timedelta(minutes=30)).isoformat()
    assert early.json()["state"] == "confirmed" and opens in early.json()["detail"]

    clock.now = start - timedelta(minutes=10)
    assert step(clinic, anna, consultation, "check-in").status_code == 200
    assert shown(clinic, anna, consultation)["status"] == "checked-in"
    clock.now = start + timedelta(minutes=2)
    assert step(clinic, dr_weber, consultation, "admit").status_code == 200
    assert shown(clinic, dr_weber, consultation)["status"] == "in-progress"
    clock.now = start + timedelta(minutes=14)
    assert step(clinic, dr_weber, consultation, "complete").status_code == 200

    view = shown(clinic, anna, consultation)
    assert view["status"] == "completed" and view["rated"] is False
    assert datetime.fromisoformat(view["checked_in_at"]) == start - timedelta(minutes=10)
    assert datetime.fromisoformat(view["admitted_at"]) == start + timedelta(minutes=2)
    assert datetime.fromisoformat(view["ended_at"]) == start + timedelta(minutes=14)

    rated = step(clinic, anna, consultation, "rate", score=9, comment="Dr Weber was very kind")
    assert rated.status_code == 200, rated.text
    again = step(clinic, anna, consultation, "rate", score=3)
    assert again.status_code == 409 and again.json()["state"] == "completed"
    cancelled = step(clinic, anna, consultation, "cancel", reason="patient-request")
    assert cancelled.status_code == 409, cancelled.text
    view = shown(clinic, anna, consultation)
    assert view["status"] == "completed" and view["rated"] is True
    assert "very kind" not in str(view)
    assert not stored_in_clear(services, "very kind")


def test_the_agenda_and_the_patients_list_follow_the_consultations_life(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation, start = booked(clinic, anna, practices, annas)

    def statuses() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        after = {"after": services.recorder.max_notification_id()}
        agenda = clinic.client.get(
            f"/v1/doctors/{dr_weber.actor.actor_id}/agenda", headers=dr_weber.headers, params=after
        )
        mine = clinic.client.get(
            f"/v1/patients/{annas}/consultations", headers=anna.headers, params=after
        )
        assert agenda.status_code == 200 and mine.status_code == 200, (agenda.text, mine.text)
        return (
            [(c["id"], c["status"]) for c in agenda.json()],
            [(c["id"], c["status"]) for c in mine.json()],
        )

    clock.now = start - timedelta(minutes=10)
    assert step(clinic, anna, consultation, "check-in").status_code == 200
    assert statuses() == ([(consultation, "checked-in")], [(consultation, "checked-in")])
    clock.now = start + timedelta(minutes=2)
    assert step(clinic, dr_weber, consultation, "admit").status_code == 200
    assert statuses() == ([(consultation, "in-progress")], [(consultation, "in-progress")])
    clock.now = start + timedelta(minutes=14)
    assert step(clinic, dr_weber, consultation, "complete").status_code == 200
    assert statuses() == ([(consultation, "completed")], [(consultation, "completed")])


def test_steps_on_someone_elses_or_an_unknown_consultation_are_refused(
    clinic: Clinic,
    clock: Clock,
    dr_weber: Person,
    dr_other_clinic: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation, start = booked(clinic, anna, practices, annas)
    ben = clinic.person("Ben", Role.PATIENT, None)
    colleague = clinic.person("Dr Roth", Role.DOCTOR, clinic.org_a)
    clock.now = start - timedelta(minutes=5)
    assert step(clinic, ben, consultation, "check-in").status_code == 403
    assert step(clinic, anna, consultation, "admit").status_code == 403
    assert step(clinic, dr_other_clinic, consultation, "check-in").status_code == 403
    for doctor in (dr_other_clinic, colleague):  # only the consultation's own doctor admits
        assert step(clinic, doctor, consultation, "admit").status_code == 403
    assert step(clinic, dr_weber, str(uuid.uuid4()), "admit").status_code == 404
    # a nurse of the practice checks the patient in at the desk
    nurse = clinic.person("Nurse Ida", Role.NURSE, clinic.org_a)
    assert step(clinic, nurse, consultation, "check-in").status_code == 200
    assert step(clinic, nurse, consultation, "admit").status_code == 403


def test_a_caregiver_with_the_attend_scope_checks_in_for_the_patient(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    practices: Practices,
) -> None:
    patient = clinic.register(dr_weber, given_name="Otto")["id"]
    manager = clinic.person("Manager Mia", Role.NURSE_MANAGER, clinic.org_a)
    gus = clinic.person("Gus caregiver", Role.PATIENT, None)
    bookers_only = clinic.person("Bea books", Role.PATIENT, None)
    for person, scopes in ((gus, ["attend"]), (bookers_only, ["book"])):
        granted = clinic.client.post(
            f"/v1/patients/{patient}/delegations",
            headers=manager.headers,
            json={"grantee_id": str(person.actor.actor_id), "scopes": scopes},
        )
        assert granted.status_code == 201, granted.text
    consultation, start = booked(clinic, dr_weber, practices, patient)
    clock.now = start - timedelta(minutes=20)

    assert step(clinic, bookers_only, consultation, "check-in").status_code == 403
    assert step(clinic, gus, consultation, "check-in").status_code == 200
    [checked_in] = recorded(services, consultation, Consultation.CheckedIn)
    assert checked_in.by.actor_id == gus.actor.actor_id
    assert checked_in.by.on_behalf_of == uuid.UUID(patient)
    assert shown(clinic, gus, consultation)["status"] == "checked-in"


def test_a_holder_checks_in_for_their_beneficiary(
    clinic: Clinic, services: Services, clock: Clock, practices: Practices
) -> None:
    hana = clinic.person("Hana", Role.PATIENT, None)
    added = clinic.client.post(
        "/v1/beneficiaries",
        headers=hana.headers,
        json={"given_name": "Bea", "family_name": "Holder", "birth_date": "2019-05-01"},
    )
    assert added.status_code == 201, added.text
    bea = str(added.json()["id"])
    consultation, start = booked(clinic, hana, practices, bea)
    clock.now = start - timedelta(minutes=1)

    assert step(clinic, hana, consultation, "check-in").status_code == 200
    [checked_in] = recorded(services, consultation, Consultation.CheckedIn)
    assert checked_in.by.on_behalf_of == uuid.UUID(bea)


def test_the_named_doctor_takes_an_urgent_consultation_then_admits_the_patient(
    clinic: Clinic,
    dr_weber: Person,
    dr_other_clinic: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    urgent = clinic.client.post(
        "/v1/consultations/urgent",
        headers=anna.headers,
        json={"patient_id": annas, "doctor_id": str(dr_weber.actor.actor_id), "reason": "fever"},
    )
    assert urgent.status_code == 201, urgent.text
    consultation = str(urgent.json()["id"])
    assert shown(clinic, anna, consultation)["taken"] is False

    assert step(clinic, anna, consultation, "check-in").status_code == 200  # at once
    not_yet = step(clinic, dr_weber, consultation, "admit")
    assert not_yet.status_code == 409 and not_yet.json()["state"] == "checked-in"
    assert step(clinic, dr_other_clinic, consultation, "take").status_code == 403
    assert step(clinic, dr_weber, consultation, "take").status_code == 200
    assert step(clinic, dr_weber, consultation, "admit").status_code == 200
    view = shown(clinic, anna, consultation)
    assert view["taken"] is True and view["status"] == "in-progress" and view["urgent"]


def test_a_question_is_taken_answered_closed_reopened_within_the_window_and_rated(
    clinic: Clinic, services: Services, clock: Clock, dr_weber: Person, anna: Person
) -> None:
    annas = clinic.register(anna)["id"]
    asked = clinic.client.post(
        "/v1/consultations/async",
        headers=anna.headers,
        json={
            "patient_id": annas,
            "doctor_id": str(dr_weber.actor.actor_id),
            "organisation_id": str(clinic.org_a),
            "type_code": "dermatology",
            "question": "A red patch on my arm since Monday",
        },
    )
    assert asked.status_code == 201, asked.text
    question = str(asked.json()["id"])
    view = shown(clinic, anna, question)
    assert view["status"] == "asked" and view["asynchronous"] and view["taken"] is False
    assert datetime.fromisoformat(view["answer_by"]) == clock.now + timedelta(hours=24)
    assert "red patch" not in str(view)
    assert not stored_in_clear(services, "red patch")

    assert step(clinic, anna, question, "answer").status_code == 403
    unanswered = step(clinic, dr_weber, question, "answer")
    assert unanswered.status_code == 409 and unanswered.json()["state"] == "asked"
    assert step(clinic, dr_weber, question, "take").status_code == 200
    assert shown(clinic, dr_weber, question)["status"] == "taken"
    clock.now += timedelta(hours=3)
    assert step(clinic, dr_weber, question, "answer").status_code == 200
    assert step(clinic, anna, question, "close").status_code == 200
    assert shown(clinic, anna, question)["status"] == "closed"

    clock.now += timedelta(days=2)
    assert step(clinic, anna, question, "reopen").status_code == 200
    view = shown(clinic, anna, question)
    assert view["status"] == "taken" and view["ended_at"] is None
    assert datetime.fromisoformat(view["answer_by"]) == clock.now + timedelta(hours=24)
    assert step(clinic, dr_weber, question, "answer").status_code == 200
    assert step(clinic, dr_weber, question, "close").status_code == 200  # the doctor's side

    clock.now += timedelta(days=7, minutes=1)
    late = step(clinic, anna, question, "reopen")
    assert late.status_code == 409 and late.json()["state"] == "closed"
    assert "7 days" in late.json()["detail"]
    assert step(clinic, dr_weber, question, "reopen").status_code == 403  # the patient's side
    assert step(clinic, anna, question, "rate", score=10).status_code == 200
    assert step(clinic, anna, question, "rate", score=10).status_code == 409


def test_a_doctor_admits_one_patient_at_a_time(
    clinic: Clinic, clock: Clock, dr_weber: Person, practices: Practices
) -> None:
    first, start = booked(clinic, dr_weber, practices, clinic.register(dr_weber)["id"], 0)
    second, _ = booked(clinic, dr_weber, practices, clinic.register(dr_weber)["id"], 0)
    clock.now = start + timedelta(minutes=1)
    nurse = clinic.person("Nurse Ida", Role.NURSE, clinic.org_a)
    for consultation in (first, second):
        assert step(clinic, nurse, consultation, "check-in").status_code == 200
    assert step(clinic, dr_weber, first, "admit").status_code == 200

    busy = step(clinic, dr_weber, second, "admit")
    assert busy.status_code == 409 and busy.json()["type"].endswith("doctor-busy")
    assert busy.json()["consultation_id"] == first
    assert shown(clinic, dr_weber, second)["status"] == "checked-in"
    assert step(clinic, dr_weber, first, "complete").status_code == 200
    assert step(clinic, dr_weber, second, "admit").status_code == 200
