"""The beneficiaries one holds are listed from the patient directory and the pending
invitations view (no aggregate is loaded): they say what the records' events say, live or
rebuilt."""

from __future__ import annotations

import uuid
from typing import Any

from adapters.composition import Services
from domain.actor import Role
from domain.patient import Patient
from tests.conftest import Clinic
from tests.test_beneficiaries import BEN_EMAIL, add_beneficiary, stepped_up_holder


def test_the_list_says_what_the_records_say_and_shows_a_pending_transfer(
    clinic: Clinic, services: Services
) -> None:
    hana = clinic.person("Hana Holder", Role.PATIENT, None)
    ben = add_beneficiary(clinic, hana)
    mia = add_beneficiary(clinic, hana, given_name="Mia", birth_date="2015-06-07")

    def listed() -> list[dict[str, Any]]:
        answer = clinic.client.get("/v1/beneficiaries", headers=hana.headers)
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    def as_aggregates_say() -> list[dict[str, Any]]:
        uow = services.bus_uow()
        records = [uow.get(Patient, uuid.UUID(i)) for i in (ben, mia)]
        return [
            {
                "id": str(p.id),
                "given_name": p.given_name,
                "family_name": p.family_name,
                "birth_date": str(p.birth_date),
                "transfer_pending": p.invitation is not None,
                "erased": p.erased,
            }
            for p in records
        ]

    assert sorted(listed(), key=lambda b: b["id"]) == sorted(
        as_aggregates_say(), key=lambda b: b["id"]
    )
    assert {b["given_name"]: b["transfer_pending"] for b in listed()} == {
        "Ben": False,
        "Mia": False,
    }

    stepped_up_holder(clinic, hana)
    offer = f"/v1/beneficiaries/{ben}/transfer"
    made = clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL})
    assert made.status_code == 202, made.text
    shown = listed()  # read right after the write
    assert {b["given_name"]: b["transfer_pending"] for b in shown} == {"Ben": True, "Mia": False}
    assert sorted(shown, key=lambda b: b["id"]) == sorted(
        as_aggregates_say(), key=lambda b: b["id"]
    )

    for name in ("patient_directory", "record_invitations"):
        services.runners[name].reset()
        services.runners[name].run_until_caught_up()
    assert listed() == shown

    assert clinic.client.delete(offer, headers=hana.headers).status_code == 200
    assert {b["given_name"]: b["transfer_pending"] for b in listed()} == {
        "Ben": False,
        "Mia": False,
    }
