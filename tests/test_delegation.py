"""A nurse represents a patient under an explicit grant: scoped, timed, revocable at once."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from adapters.composition import Services
from domain.actor import Role
from domain.consultation import Consultation
from domain.patient import record_of
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at


def grant(
    clinic: Clinic,
    by: Person,
    patient_id: object,
    grantee: Person,
    scopes: list[str],
    ends_in: timedelta | None = None,
) -> dict[str, object]:
    body: dict[str, object] = {"grantee_id": str(grantee.actor.actor_id), "scopes": scopes}
    if ends_in is not None:
        body["ends_at"] = (datetime.now(UTC) + ends_in).isoformat()
    response = clinic.client.post(
        f"/v1/patients/{patient_id}/delegations", headers=by.headers, json=body
    )
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def test_a_patient_lets_a_caregiver_read_and_book_then_revokes_it(
    clinic: Clinic, dr_weber: Person, officer: Person, services: Services
) -> None:
    anna = clinic.person("Anna", Role.PATIENT, None)
    ada = clinic.person("Nurse Ada", Role.NURSE, clinic.org_b)  # another organisation
    record = clinic.register(anna)["id"]
    url = f"/v1/patients/{record}"
    assert clinic.client.get(url, headers=ada.headers).status_code == 403
    given = grant(clinic, anna, record, ada, ["read-records", "book"], timedelta(days=30))
    assert clinic.client.get(url, headers=ada.headers).status_code == 200
    log = clinic.client.get(
        f"{url.replace('/v1/', '/v1/compliance/')}/access-log", headers=officer.headers
    ).json()
    assert log[-1]["actor_id"] == str(ada.actor.actor_id) and log[-1]["on_behalf_of"] == record

    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, anna, practices, practices.city, "video-15")
    booked = book_video(clinic, ada, practices, slot, record)
    assert booked.status_code == 201, booked.text
    first = next(iter(services.app.events.get(uuid.UUID(booked.json()["id"]))))
    assert isinstance(first, Consultation.Booked)
    assert (first.by.actor_id, first.by.on_behalf_of) == (ada.actor.actor_id, uuid.UUID(record))

    revoked = clinic.client.delete(f"{url}/delegations/{given['id']}", headers=anna.headers)
    assert revoked.status_code == 200
    assert clinic.client.get(url, headers=ada.headers).status_code == 403  # at once


def test_a_grant_stops_working_when_it_expires_and_scopes_are_kept(
    clinic: Clinic, dr_weber: Person
) -> None:
    anna = clinic.person("Anna", Role.PATIENT, None)
    ben = clinic.person("Ben", Role.NURSE, clinic.org_b)
    record = clinic.register(anna)["id"]
    grant(clinic, anna, record, ben, ["book"], timedelta(days=1))
    assert clinic.client.get(f"/v1/patients/{record}", headers=ben.headers).status_code == 403
    grant(clinic, anna, record, ben, ["read-records"], timedelta(seconds=1.5))
    assert clinic.client.get(f"/v1/patients/{record}", headers=ben.headers).status_code == 200
    time.sleep(1.6)
    assert clinic.client.get(f"/v1/patients/{record}", headers=ben.headers).status_code == 403


def test_the_nurse_manager_assigns_a_nurse_and_strangers_cannot(
    clinic: Clinic, dr_weber: Person
) -> None:
    manager = clinic.person("Manager Mo", Role.NURSE_MANAGER, clinic.org_a)
    ada = clinic.person("Nurse Ada", Role.NURSE, clinic.org_b)
    record = clinic.register(dr_weber)["id"]  # a patient of organisation A
    grant(clinic, manager, record, ada, ["read-records"])
    assert clinic.client.get(f"/v1/patients/{record}", headers=ada.headers).status_code == 200
    stranger = clinic.person("Eve", Role.PATIENT, None)
    other_manager = clinic.person("Manager B", Role.NURSE_MANAGER, clinic.org_b)
    for person in (stranger, other_manager, ada):
        refused = clinic.client.post(
            f"/v1/patients/{record}/delegations",
            headers=person.headers,
            json={"grantee_id": str(person.actor.actor_id), "scopes": ["book"]},
        )
        assert refused.status_code == 403, person.name
    bad = clinic.client.post(
        f"/v1/patients/{record}/delegations",
        headers=manager.headers,
        json={"grantee_id": str(ada.actor.actor_id), "scopes": ["fly"]},
    )
    assert bad.status_code == 422
    assert record_of(stranger.actor.actor_id) != uuid.UUID(record)
