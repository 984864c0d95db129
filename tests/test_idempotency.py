"""A retried command is applied once and answers its first result."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from adapters.composition import Services
from tests.conftest import Clinic, Person


def events(services: Services) -> int:
    """How many events are recorded (the people's own accounts are events too)."""
    return services.recorder.max_notification_id() or 0


def test_a_retried_registration_is_applied_once(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    before = events(services)
    headers = {**dr_weber.headers, "Idempotency-Key": "reg-anna-1"}
    body = {"given_name": "Anna", "family_name": "Muster", "email": "anna@example.lu"}
    first = clinic.client.post("/v1/patients", json=body, headers=headers)
    again = clinic.client.post("/v1/patients", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert events(services) == before + 1


def test_the_same_key_for_a_different_request_is_a_conflict(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    before = events(services)
    headers = {**dr_weber.headers, "Idempotency-Key": "k-1"}
    clinic.client.post(
        "/v1/patients", json={"given_name": "A", "family_name": "B"}, headers=headers
    )
    other = clinic.client.post(
        "/v1/patients", json={"given_name": "C", "family_name": "D"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert events(services) == before + 1


def test_keys_are_scoped_to_the_actor(
    clinic: Clinic, dr_weber: Person, admin_a: Person, services: Services
) -> None:
    before = events(services)
    body = {"given_name": "A", "family_name": "B"}
    for person in (dr_weber, admin_a):
        response = clinic.client.post(
            "/v1/patients", json=body, headers={**person.headers, "Idempotency-Key": "same"}
        )
        assert response.status_code == 201
    assert events(services) == before + 2


def test_a_retried_change_after_a_later_change_still_answers_its_first_result(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    before = events(services)
    patient = clinic.register(dr_weber)
    url = f"/v1/patients/{patient['id']}/contact-details"
    keyed = {**dr_weber.headers, "Idempotency-Key": "phone-1"}
    first = clinic.client.patch(url, json={"phone": "+352 1"}, headers=keyed)
    clinic.client.patch(url, json={"phone": "+352 2"}, headers=dr_weber.headers)
    retry = clinic.client.patch(url, json={"phone": "+352 1"}, headers=keyed)
    position = before + 2
    assert retry.json() == first.json() == {"id": patient["id"], "version": 2, "position": position}
    assert events(services) == before + 3


def test_racing_twins_with_one_key_record_one_patient(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    before = events(services)
    headers = {**dr_weber.headers, "Idempotency-Key": "twin"}
    body = {"given_name": "Twin", "family_name": "Race"}

    def post(_: int) -> tuple[int, str]:
        response = clinic.client.post("/v1/patients", json=body, headers=headers)
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))
    assert {status for status, _ in results} == {201}
    assert len({ident for _, ident in results}) == 1
    assert events(services) == before + 1
