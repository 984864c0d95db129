"""``GET /v1/patients/{id}`` reads the patient card, which says what the record's events say,
live or rebuilt from the events alone; it keeps nothing personal in clear, and an erased
patient's card answers nulls."""

from __future__ import annotations

import uuid
from typing import Any

from adapters.composition import Services
from domain.actor import Role
from domain.patient import Patient
from tests.conftest import Clinic, Person
from tests.test_beneficiaries import BEN_EMAIL, add_beneficiary, stepped_up_holder
from tests.test_privacy import CANARY, assert_no_canary

PERSONAL = ("given_name", "family_name", "birth_date", "email", "phone", "address", "notes")


def read(clinic: Clinic, person: Person, patient_id: str) -> tuple[dict[str, Any], str]:
    answer = clinic.client.get(f"/v1/patients/{patient_id}", headers=person.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()), answer.headers["ETag"]


def rebuild(services: Services) -> None:
    runner = services.runners["patient_card"]
    runner.reset()
    assert services.patient_cards.rows() == []
    runner.run_until_caught_up()


def test_the_card_says_what_the_record_says_live_or_rebuilt(
    clinic: Clinic, services: Services, dr_weber: Person
) -> None:
    anna = clinic.register(dr_weber, birth_date="1980-02-29", **CANARY)["id"]
    url = f"/v1/patients/{anna}"
    changed = clinic.client.patch(
        f"{url}/contact-details",
        headers=dr_weber.headers,
        json={"email": "anna.new@example.org", "phone": "+352 1", "address": None},
    )
    assert changed.status_code == 200, changed.text
    for purpose in ("treatment", "research"):
        given = clinic.client.post(
            f"{url}/consents", headers=dr_weber.headers, json={"purpose": purpose}
        )
        assert given.status_code == 200, given.text
    withdrawn = clinic.client.delete(f"{url}/consents/research", headers=dr_weber.headers)
    assert withdrawn.status_code == 200, withdrawn.text

    shown, tag = read(clinic, dr_weber, anna)  # read right after the write, no position passed
    record = services.bus_uow().get(Patient, uuid.UUID(anna))
    assert tag == f'W/"{record.version}"' and shown["version"] == record.version
    assert shown["given_name"] == record.given_name == CANARY["given_name"]
    assert shown["notes"] == record.notes == CANARY["notes"]
    assert shown["birth_date"] == "1980-02-29"
    assert (shown["email"], shown["phone"], shown["address"]) == (
        "anna.new@example.org",
        "+352 1",
        None,
    )
    assert shown["consents"] == ["treatment"]
    assert shown["holder_id"] is None and not shown["has_account"]
    assert not shown["invitation_pending"] and not shown["erased"]

    hana = clinic.person("Hana Holder", Role.PATIENT, None)
    ben = add_beneficiary(clinic, hana)
    stepped_up_holder(clinic, hana)
    offered = clinic.client.post(
        f"/v1/beneficiaries/{ben}/transfer", headers=hana.headers, json={"email": BEN_EMAIL}
    )
    assert offered.status_code == 202, offered.text
    held, held_tag = read(clinic, hana, ben)
    assert held["holder_id"] == str(hana.actor.actor_id)
    assert held["invitation_pending"] and not held["has_account"]
    assert held_tag == f'W/"{services.bus_uow().get(Patient, uuid.UUID(ben)).version}"'

    rebuild(services)
    assert read(clinic, dr_weber, anna) == (shown, tag)
    assert read(clinic, hana, ben) == (held, held_tag)

    withdrawn = clinic.client.delete(f"/v1/beneficiaries/{ben}/transfer", headers=hana.headers)
    assert withdrawn.status_code == 200, withdrawn.text
    assert not read(clinic, hana, ben)[0]["invitation_pending"]


def test_the_card_keeps_nothing_personal_in_clear(
    clinic: Clinic, services: Services, dr_weber: Person
) -> None:
    anna = clinic.register(dr_weber, birth_date="1980-02-29", **CANARY)["id"]
    assert read(clinic, dr_weber, anna)[0]["family_name"] == CANARY["family_name"]
    rows = services.patient_cards.rows()
    assert len(rows) == 1 and rows[0][3] and rows[0][4]  # identity and contact, sealed
    assert_no_canary(b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in rows[0]))


def test_an_erased_patient_s_card_answers_nulls_live_and_rebuilt(
    clinic: Clinic, services: Services, dr_weber: Person, admin_a: Person
) -> None:
    anna = clinic.register(dr_weber, **CANARY)["id"]
    consented = clinic.client.post(
        f"/v1/patients/{anna}/consents", headers=dr_weber.headers, json={"purpose": "treatment"}
    )
    assert consented.status_code == 200, consented.text
    erased = clinic.client.delete(f"/v1/patients/{anna}", headers=admin_a.headers)
    assert erased.status_code == 200, erased.text

    shown, tag = read(clinic, dr_weber, anna)
    assert shown["erased"] and shown["consents"] == []
    assert all(shown[field] is None for field in PERSONAL)
    assert tag == f'W/"{erased.json()["version"]}"'

    rebuild(services)  # the events now carry fields no key opens
    assert read(clinic, dr_weber, anna) == (shown, tag)
    row = services.patient_cards.rows()[0]
    assert row[3] is None and row[4] is None
