"""Bad input gets a clear problem document and changes nothing; never a 500."""

from __future__ import annotations

import uuid

import pytest

from adapters.composition import Services
from tests.conftest import Clinic, Person

PROBLEM = "application/problem+json"


def events_count(services: Services) -> int:
    return services.recorder.max_notification_id() or 0


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"{not json", 400, "malformed-json"),
        (b'{"given_name": 42, "family_name": "X"}', 422, "validation"),
        (b'{"given_name": "A"}', 422, "validation"),
        (b'{"given_name": "A", "family_name": "B", "birth_date": "yesterday"}', 422, "validation"),
        (b'{"given_name": "A", "family_name": "B", "email": "nope"}', 422, "validation"),
        (b'{"given_name": "A", "family_name": "B", "shoe_size": 42}', 422, "validation"),
        (
            b'{"given_name": "A", "family_name": "B", "birth_date": "2999-01-01"}',
            422,
            "invalid-value",
        ),
        (b"[]", 422, "validation"),
        (b"", 422, "validation"),
    ],
)
def test_a_bad_registration_is_refused_with_a_problem_and_records_nothing(
    clinic: Clinic, dr_weber: Person, services: Services, body: bytes, status: int, kind: str
) -> None:
    before = events_count(services)  # the doctor's own account is events too
    response = clinic.client.post(
        "/v1/patients",
        content=body,
        headers={**dr_weber.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith(kind) and problem["status"] == status and problem["title"]
    assert events_count(services) == before


def test_a_huge_body_is_refused_before_parsing(clinic: Clinic, dr_weber: Person) -> None:
    huge = b'{"given_name": "' + b"A" * 2_000_000 + b'", "family_name": "B"}'
    response = clinic.client.post(
        "/v1/patients",
        content=huge,
        headers={**dr_weber.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


def test_unknown_and_malformed_ids_are_404_and_422(clinic: Clinic, dr_weber: Person) -> None:
    unknown = clinic.client.get(f"/v1/patients/{uuid.uuid4()}", headers=dr_weber.headers)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    malformed = clinic.client.get("/v1/patients/not-a-uuid", headers=dr_weber.headers)
    assert malformed.status_code == 422
    nowhere = clinic.client.get("/v1/nowhere", headers=dr_weber.headers)
    assert nowhere.status_code == 404 and nowhere.headers["content-type"] == PROBLEM


def test_no_token_or_a_forged_token_is_401(clinic: Clinic) -> None:
    assert clinic.client.get("/v1/patients").status_code == 401
    for token in ("ts_forged", "tm_a-bootstrap-token-of-old"):  # a session, or no longer any
        forged = clinic.client.get("/v1/patients", headers={"Authorization": f"Bearer {token}"})
        assert forged.status_code == 401
        assert forged.json()["type"].endswith("unauthenticated")


def test_a_doctor_of_another_clinic_and_an_analyst_are_refused(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person, analyst: Person
) -> None:
    patient = clinic.register(dr_weber)
    for person in (dr_other_clinic, analyst):
        response = clinic.client.get(f"/v1/patients/{patient['id']}", headers=person.headers)
        assert response.status_code == 403, person.name
    listing = clinic.client.get("/v1/patients", headers=dr_other_clinic.headers)
    assert listing.status_code == 200 and listing.json()["items"] == []
    assert clinic.client.get("/v1/compliance/audit", headers=dr_weber.headers).status_code == 403


def test_a_stale_if_match_is_412_and_changes_nothing(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    patient = clinic.register(dr_weber)
    url = f"/v1/patients/{patient['id']}/contact-details"
    first = clinic.client.patch(
        url, json={"phone": "+352 111"}, headers={**dr_weber.headers, "If-Match": 'W/"1"'}
    )
    assert first.status_code == 200 and first.headers["ETag"] == 'W/"2"'
    before = events_count(services)
    stale = clinic.client.patch(
        url, json={"phone": "+352 222"}, headers={**dr_weber.headers, "If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert events_count(services) == before
    bad = clinic.client.patch(
        url, json={"phone": "+352 222"}, headers={**dr_weber.headers, "If-Match": "banana"}
    )
    assert bad.status_code == 400


def test_withdrawing_a_consent_never_given_is_a_conflict(clinic: Clinic, dr_weber: Person) -> None:
    patient = clinic.register(dr_weber)
    response = clinic.client.delete(
        f"/v1/patients/{patient['id']}/consents/research", headers=dr_weber.headers
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("consent-not-given")


def test_bad_cursors_positions_and_purposes_are_clear_problems(
    clinic: Clinic, dr_weber: Person
) -> None:
    client = clinic.client
    assert (
        client.get("/v1/patients", params={"cursor": "%%%"}, headers=dr_weber.headers).status_code
        == 400
    )
    assert (
        client.get("/v1/patients", params={"after": 10_000}, headers=dr_weber.headers).status_code
        == 422
    )
    assert (
        client.get("/v1/patients", params={"limit": 0}, headers=dr_weber.headers).status_code == 422
    )
    assert (
        client.get(
            "/v1/patients", headers={**dr_weber.headers, "X-Access-Purpose": "curiosity"}
        ).status_code
        == 422
    )


def test_the_openapi_document_describes_every_route(clinic: Clinic) -> None:
    spec = clinic.client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    operations = [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]
    assert len(operations) >= 12
    for path, method, op in operations:
        if op.get("security"):  # signed-in routes; sign-up, sign-in and links are public
            assert "401" in op["responses"], (path, method)


def test_a_patient_registers_themself_once_and_sees_only_their_own_record(
    clinic: Clinic, dr_weber: Person
) -> None:
    from domain.actor import Role
    from domain.patient import record_of

    anna = clinic.person("Anna", Role.PATIENT, None)
    mine = clinic.register(anna, email="anna@example.lu")
    assert mine["id"] == str(record_of(anna.actor.actor_id))
    own = clinic.client.get(f"/v1/patients/{mine['id']}", headers=anna.headers)
    assert own.status_code == 200 and own.json()["email"] == "anna@example.lu"
    again = clinic.client.post(
        "/v1/patients", headers=anna.headers, json={"given_name": "Anna", "family_name": "Again"}
    )
    assert again.status_code == 409 and again.json()["type"].endswith("already-registered")
    other = clinic.register(dr_weber)
    assert clinic.client.get(f"/v1/patients/{other['id']}", headers=anna.headers).status_code == 403
    assert clinic.client.get("/v1/patients", headers=anna.headers).status_code == 403
