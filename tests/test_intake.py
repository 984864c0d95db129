"""Intake before a visit (C4), as the clinic lives it: the organisation asks for an allergies
form with its video consultations, Anna describes her complaint and answers the form, the
doctor sees in the waiting room that she did and reads it before admitting her; after that the
intake is closed. Bad codes and answers that do not fit the form's version are 422 naming the
field. The services run on a clock the test moves."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from adapters.composition import Services
from domain.actor import Role
from domain.consultation import Consultation
from tests.clocks import Clock, services_on_the_clock, stopped_clock  # noqa: F401
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import Practices, set_up_schedule
from tests.test_consultation_lifecycle import booked, recorded, step, stored_in_clear

ALLERGIES_V1: list[dict[str, Any]] = [
    {"code": "has-allergies", "type": "boolean", "label": "Any allergies?", "required": True},
    {
        "code": "which",
        "type": "multiple-choice",
        "label": "Which?",
        "options": ["penicillin", "nuts", "pollen"],
    },
    {"code": "since", "type": "date", "label": "Known since"},
    {"code": "reaction", "type": "number", "label": "Worst reaction", "minimum": 0, "maximum": 10},
    {"code": "notes", "type": "text", "label": "Anything else"},
]
COMPLAINT = {
    "locations": ["chest", "back"],
    "severity": 7,
    "duration_minutes": 180,
    "symptoms": ["shortness-of-breath", "palpitations"],
    "text": "Stechender Schmerz hinter dem Brustbein",
}


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


def organisation_asks_for_allergies(clinic: Clinic, admin: Person, recording: str = "off") -> None:
    base = f"/v1/organisations/{clinic.org_a}"
    client, headers = clinic.client, admin.headers
    assert client.put(base, headers=headers, json={"name": "Praxis am Park"}).status_code == 200
    template = {"room": "sfu", "recording": recording, "intake_forms": ["allergies"]}
    put = client.put(f"{base}/booking-templates/video-15", headers=headers, json=template)
    assert put.status_code == 200, put.text
    form = {"title": "Allergies", "questions": ALLERGIES_V1}
    published = client.post(f"{base}/intake-forms/allergies", headers=headers, json=form)
    assert published.status_code == 200, published.text


@pytest.fixture
def practices(clinic: Clinic, dr_weber: Person, admin_a: Person) -> Practices:
    organisation_asks_for_allergies(clinic, admin_a)
    return set_up_schedule(clinic, dr_weber)


def complaint(clinic: Clinic, who: Person, consultation: str, **changes: Any) -> httpx.Response:
    onset = (clinic.services.clock() - timedelta(hours=3)).isoformat()
    body = {"onset": onset, **COMPLAINT, **changes}
    response: httpx.Response = clinic.client.post(
        f"/v1/consultations/{consultation}/intake", headers=who.headers, json=body
    )
    return response


def answer(
    clinic: Clinic, who: Person, consultation: str, version: int, **answers: Any
) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/consultations/{consultation}/intake/forms/allergies",
        headers=who.headers,
        json={"version": version, "answers": answers},
    )
    return response


def intake_of(clinic: Clinic, who: Person, consultation: str) -> httpx.Response:
    response: httpx.Response = clinic.client.get(
        f"/v1/consultations/{consultation}/intake", headers=who.headers
    )
    return response


def test_anna_gives_her_intake_and_dr_weber_reads_it_before_admitting_her(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    admin_a: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation, start = booked(clinic, anna, practices, annas)
    clock.now = start - timedelta(hours=2)

    first = complaint(clinic, anna, consultation, severity=4, text="Druck auf der Brust")
    assert first.status_code == 200, first.text
    assert complaint(clinic, anna, consultation).status_code == 200  # replaces the first
    nuts = answer(clinic, anna, consultation, 1, **{"has-allergies": True, "which": ["nuts"]})
    assert nuts.status_code == 200, nuts.text
    assert len(recorded(services, consultation, Consultation.IntakeSubmitted)) == 2

    clock.now = start - timedelta(minutes=5)
    checked_in = step(clinic, anna, consultation, "check-in")
    assert checked_in.status_code == 200
    queue = clinic.client.get(
        f"/v1/waiting-room/doctors/{dr_weber.actor.actor_id}",
        headers=dr_weber.headers,
        params={"after": checked_in.json()["position"]},
    )
    assert queue.status_code == 200, queue.text
    (entry,) = queue.json()["waiting"]
    assert entry["intake"]["submitted"] is True
    assert entry["intake"]["href"] == f"/v1/consultations/{consultation}/intake"
    assert "severity" not in queue.text and "chest" not in queue.text

    shown = intake_of(clinic, dr_weber, consultation)
    assert shown.status_code == 200, shown.text
    intake = shown.json()
    assert intake["requested_forms"] == ["allergies"]
    assert intake["complaint"]["severity"] == 7  # the second complaint replaced the first
    assert intake["complaint"]["locations"] == ["back", "chest"]
    assert intake["complaint"]["text"] == COMPLAINT["text"]
    (form,) = intake["forms"]
    assert form["form_version"] == 1
    assert form["answers"] == {"has-allergies": True, "which": ["nuts"]}
    log = services.access_log.for_subject(uuid.UUID(annas))
    assert any(
        r.what == "consultation.intake" and r.actor_id == dr_weber.actor.actor_id for r in log
    )

    clock.now = start + timedelta(minutes=1)
    assert step(clinic, dr_weber, consultation, "admit").status_code == 200
    late = complaint(clinic, anna, consultation, severity=9)
    assert late.status_code == 409 and late.json()["state"] == "in-progress"
    late_form = answer(clinic, anna, consultation, 1, **{"has-allergies": False})
    assert late_form.status_code == 409
    assert intake_of(clinic, dr_weber, consultation).json()["complaint"]["severity"] == 7
    assert not stored_in_clear(services, "Brustbein")
    assert not stored_in_clear(services, "shortness-of-breath")


def test_only_the_care_team_and_the_patient_side_read_an_intake(
    clinic: Clinic,
    clock: Clock,
    dr_weber: Person,
    dr_other_clinic: Person,
    admin_a: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation, start = booked(clinic, anna, practices, annas)
    clock.now = start - timedelta(hours=1)
    assert complaint(clinic, anna, consultation).status_code == 200
    nurse = clinic.person("Nurse Ida", Role.NURSE, clinic.org_a)
    stranger = clinic.person("Someone", Role.PATIENT, None)
    for reader in (dr_weber, nurse, anna):
        assert intake_of(clinic, reader, consultation).status_code == 200
    for reader in (dr_other_clinic, admin_a, stranger):
        assert intake_of(clinic, reader, consultation).status_code == 403
    # staff do not fill the patient's complaint for them
    assert complaint(clinic, nurse, consultation).status_code == 403
    assert complaint(clinic, dr_weber, consultation).status_code == 403
    assert intake_of(clinic, dr_weber, str(uuid.uuid4())).status_code == 404


def test_bad_complaints_are_refused_naming_the_field(
    clinic: Clinic, clock: Clock, anna: Person, practices: Practices
) -> None:
    annas = clinic.register(anna)["id"]
    consultation, start = booked(clinic, anna, practices, annas)
    clock.now = start - timedelta(hours=1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"locations": ["elbow-of-doom"]}, "locations"),
        ({"symptoms": ["sneezing-backwards"]}, "symptoms"),
        ({"onset": (start + timedelta(days=1)).isoformat()}, "onset"),
    ]
    for change, field in cases:
        refused = complaint(clinic, anna, consultation, **change)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field
    for severity in (0, 11):
        refused = complaint(clinic, anna, consultation, severity=severity)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["location"] == ["body", "severity"]


def test_answers_are_checked_against_the_version_they_were_given_for(
    clinic: Clinic, clock: Clock, admin_a: Person, anna: Person, practices: Practices
) -> None:
    annas = clinic.register(anna)["id"]
    consultation, start = booked(clinic, anna, practices, annas)
    clock.now = start - timedelta(hours=1)
    version_2 = [
        *ALLERGIES_V1,
        {"code": "epipen", "type": "boolean", "label": "EpiPen?", "required": True},
    ]
    published = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/intake-forms/allergies",
        headers=admin_a.headers,
        json={"title": "Allergies", "questions": version_2},
    )
    assert published.status_code == 200, published.text
    latest = clinic.client.get(
        f"/v1/organisations/{clinic.org_a}/intake-forms/allergies", headers=anna.headers
    )
    assert latest.json()["version"] == 2
    first = clinic.client.get(
        f"/v1/organisations/{clinic.org_a}/intake-forms/allergies",
        headers=anna.headers,
        params={"version": 1},
    )
    assert [q["code"] for q in first.json()["questions"]] == [q["code"] for q in ALLERGIES_V1]

    refusals: list[tuple[int, dict[str, Any], str]] = [
        (1, {"has-allergies": True, "epipen": True}, "answers.epipen"),  # not asked in v1
        (2, {"has-allergies": True}, "answers.epipen"),  # required in v2
        (1, {"has-allergies": "yes"}, "answers.has-allergies"),
        (1, {"has-allergies": True, "which": ["cats"]}, "answers.which"),
        (1, {"has-allergies": True, "reaction": 11}, "answers.reaction"),
        (1, {"has-allergies": True, "since": "last spring"}, "answers.since"),
        (3, {"has-allergies": True}, "version"),
    ]
    for version, answers, field in refusals:
        refused = answer(clinic, anna, consultation, version, **answers)
        assert refused.status_code == 422, (answers, refused.text)
        assert refused.json()["field"] == field
    assert answer(clinic, anna, consultation, 1, **{"has-allergies": False}).status_code == 200
    ok = answer(clinic, anna, consultation, 2, **{"has-allergies": True, "epipen": True})
    assert ok.status_code == 200, ok.text
    unknown = clinic.client.post(
        f"/v1/consultations/{consultation}/intake/forms/hobbies",
        headers=anna.headers,
        json={"version": 1, "answers": {}},
    )
    assert unknown.status_code == 404


def test_a_caregiver_with_the_attend_scope_gives_the_intake_for_the_patient(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    practices: Practices,
) -> None:
    patient = clinic.register(dr_weber, given_name="Otto")["id"]
    manager = clinic.person("Manager Mia", Role.NURSE_MANAGER, clinic.org_a)
    gus = clinic.person("Gus caregiver", Role.PATIENT, None)
    bea = clinic.person("Bea books", Role.PATIENT, None)
    for person, scopes in ((gus, ["attend"]), (bea, ["book"])):
        granted = clinic.client.post(
            f"/v1/patients/{patient}/delegations",
            headers=manager.headers,
            json={"grantee_id": str(person.actor.actor_id), "scopes": scopes},
        )
        assert granted.status_code == 201, granted.text
    consultation, start = booked(clinic, dr_weber, practices, patient)
    clock.now = start - timedelta(hours=1)
    assert complaint(clinic, bea, consultation).status_code == 403
    assert complaint(clinic, gus, consultation).status_code == 200
    [given] = recorded(services, consultation, Consultation.IntakeSubmitted)
    assert given.by.actor_id == gus.actor.actor_id
    assert given.by.on_behalf_of == uuid.UUID(patient)
