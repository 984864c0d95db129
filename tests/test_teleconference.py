"""A teleconference as the clinic runs one: Dr Weber organises a case conference with a nurse
and patients of the practice; each answers their invitation; the organiser removes one, starts
and ends it. Twenty participants at most; only the organiser runs it; only those in it read it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.composition import Services
from domain.actor import Role
from domain.patient import record_of
from tests.conftest import Clinic, Person

TOMORROW = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)


def organise(clinic: Clinic, organiser: Person, participants: list[Any]) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        "/v1/teleconferences",
        headers=organiser.headers,
        json={
            "start": TOMORROW.isoformat(),
            "end": (TOMORROW + timedelta(hours=1)).isoformat(),
            "participants": [str(p) for p in participants],
        },
    )
    return response


def act(clinic: Clinic, who: Person, conference: str, name: str, **json: Any) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/teleconferences/{conference}/{name}", headers=who.headers, json=json or None
    )
    return response


def invitations(clinic: Clinic, who: Person, conference: str) -> dict[str, str]:
    read = clinic.client.get(f"/v1/teleconferences/{conference}", headers=who.headers)
    assert read.status_code == 200, read.text
    return {p["participant_id"]: p["invitation"] for p in read.json()["participants"]}


def a_patient_of_the_practice(clinic: Clinic, doctor: Person) -> tuple[Person, str]:
    """A patient with an account, tied to the practice by a question to its doctor."""
    patient = clinic.person("Anna", Role.PATIENT, None)
    record = clinic.register(patient)["id"]
    asked = clinic.client.post(
        "/v1/consultations/async",
        headers=patient.headers,
        json={
            "patient_id": record,
            "doctor_id": str(doctor.actor.actor_id),
            "organisation_id": str(doctor.actor.organisation_id),
            "type_code": "general",
            "question": "Could we discuss my results together?",
        },
    )
    assert asked.status_code == 201, asked.text
    return patient, record


def test_a_case_conference_from_invitations_to_its_end(
    clinic: Clinic, services: Services, dr_weber: Person, dr_other_clinic: Person
) -> None:
    nurse = clinic.person("Nurse Ida", Role.NURSE, clinic.org_a)
    anna, annas = a_patient_of_the_practice(clinic, dr_weber)
    otto = clinic.register(dr_weber, given_name="Otto")["id"]
    created = organise(clinic, dr_weber, [nurse.actor.actor_id, annas, otto])
    assert created.status_code == 201, created.text
    conference = str(created.json()["id"])
    nurse_id = str(nurse.actor.actor_id)
    assert invitations(clinic, dr_weber, conference) == {
        nurse_id: "invited",
        annas: "invited",
        otto: "invited",
    }

    assert act(clinic, anna, conference, "respond", accept=True).status_code == 200
    assert act(clinic, nurse, conference, "respond", accept=False).status_code == 200
    removed = clinic.client.delete(
        f"/v1/teleconferences/{conference}/participants/{otto}", headers=dr_weber.headers
    )
    assert removed.status_code == 200, removed.text
    assert invitations(clinic, nurse, conference) == {
        nurse_id: "declined",
        annas: "accepted",
        otto: "removed",
    }
    # a patient sees the staff and themself, never the other patients invited
    assert invitations(clinic, anna, conference) == {nurse_id: "declined", annas: "accepted"}
    assert record_of(anna.actor.actor_id) == uuid.UUID(annas)

    outsider = clinic.person("Nurse Lea", Role.NURSE, clinic.org_a)
    for stranger in (outsider, dr_other_clinic, clinic.person("Ben", Role.PATIENT, None)):
        read = clinic.client.get(f"/v1/teleconferences/{conference}", headers=stranger.headers)
        assert read.status_code == 403, stranger.name
        assert act(clinic, stranger, conference, "respond", accept=True).status_code == 403
    for participant in (nurse, anna):  # only the organiser runs it
        assert act(clinic, participant, conference, "start").status_code == 403
    assert act(clinic, dr_weber, conference, "respond", accept=True).status_code == 403

    assert act(clinic, dr_weber, conference, "start").status_code == 200
    assert act(clinic, nurse, conference, "respond", accept=True).status_code == 200  # late
    assert act(clinic, dr_weber, conference, "end").status_code == 200
    read = clinic.client.get(f"/v1/teleconferences/{conference}", headers=nurse.headers).json()
    assert read["status"] == "ended" and read["started_at"] and read["ended_at"]
    too_late = act(clinic, dr_weber, conference, "cancel")
    assert too_late.status_code == 409 and too_late.json()["state"] == "ended"
    over = act(clinic, anna, conference, "respond", accept=False)
    assert over.status_code == 409 and over.json()["state"] == "ended"


def test_the_twenty_first_participant_is_refused(clinic: Clinic, dr_weber: Person) -> None:
    patients = [clinic.register(dr_weber, given_name=f"P{i}")["id"] for i in range(21)]
    assert organise(clinic, dr_weber, patients).status_code == 409
    created = organise(clinic, dr_weber, patients[:20])
    assert created.status_code == 201, created.text
    conference = str(created.json()["id"])
    more = act(clinic, dr_weber, conference, "participants", participant_id=patients[20])
    assert more.status_code == 409 and more.json()["type"].endswith("teleconference-full")
    removed = clinic.client.delete(
        f"/v1/teleconferences/{conference}/participants/{patients[0]}", headers=dr_weber.headers
    )
    assert removed.status_code == 200, removed.text
    again = act(clinic, dr_weber, conference, "participants", participant_id=patients[20])
    assert again.status_code == 200, again.text
    assert len(invitations(clinic, dr_weber, conference)) == 21  # one of them removed


def test_only_staff_of_the_organisation_and_its_patients_are_invited(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person
) -> None:
    theirs = clinic.register(dr_other_clinic)["id"]
    for stranger in (dr_other_clinic.actor.actor_id, uuid.uuid4()):
        assert organise(clinic, dr_weber, [stranger]).status_code == 422
    assert organise(clinic, dr_weber, [theirs]).status_code == 403
    anna = clinic.person("Anna", Role.PATIENT, None)
    assert organise(clinic, anna, []).status_code == 403


def test_a_teleconference_cancelled_before_it_starts_stays_cancelled(
    clinic: Clinic, dr_weber: Person
) -> None:
    nurse = clinic.person("Nurse Ida", Role.NURSE, clinic.org_a)
    created = organise(clinic, dr_weber, [nurse.actor.actor_id])
    conference = str(created.json()["id"])
    assert act(clinic, dr_weber, conference, "cancel").status_code == 200
    started = act(clinic, dr_weber, conference, "start")
    assert started.status_code == 409 and started.json()["state"] == "cancelled"
    assert act(clinic, nurse, conference, "respond", accept=True).status_code == 409
    assert (
        clinic.client.get(f"/v1/teleconferences/{uuid.uuid4()}", headers=nurse.headers).status_code
        == 404
    )
