"""A pharmacy (a machine client with that purpose, signed in with a bearer token) and a signed
protocol with prescriptions: what the prescription scenarios, the privacy canary and the
authorization matrix start from."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import httpx

from domain.actor import Actor, Role
from tests.conftest import Clinic, Person
from tests.lab_fixtures import machine_token
from tests.protocol_fixtures import SECTIONS, draft, sign, urgent_call

PARACETAMOL = SECTIONS["prescriptions"][0]
AMOXICILLIN: dict[str, Any] = {
    "medication_system": "atc",
    "medication_code": "J01CA04",
    "medication_text": "Amoxicillin 500 mg capsules",
    "dose_value": 500,
    "dose_unit": "mg",
    "route": "oral",
    "frequency": 3,
    "period": 1,
    "period_unit": "d",
    "duration_days": 7,
    "quantity": 21,
    "refills": 2,
    "instructions": "Finish the course",
}


def pharmacy(clinic: Clinic, admin: Person, org: uuid.UUID, name: str) -> Person:
    """The organisation's admin creates a pharmacy's machine client; it takes a token."""
    made = clinic.client.post(
        f"/v1/organisations/{org}/machine-clients",
        headers=admin.headers,
        json={"name": name, "purpose": "pharmacy"},
    )
    assert made.status_code == 201, made.text
    client_id, secret = str(made.json()["client_id"]), str(made.json()["client_secret"])
    issued = machine_token(clinic, client_id, secret)
    assert issued.status_code == 200, issued.text
    actor = Actor(uuid.UUID(client_id), Role.SYSTEM, org)
    return Person(name, actor, str(issued.json()["access_token"]), "", "", None)


def with_lines(*lines: dict[str, Any]) -> dict[str, Any]:
    sections = copy.deepcopy(SECTIONS)
    sections["prescriptions"] = [dict(line) for line in lines]
    return sections


def prescribe(
    clinic: Clinic,
    doctor: Person,
    booker: Person,
    patient_id: str,
    sections: dict[str, Any] | None = None,
) -> int:
    """An urgent call, its protocol drafted and signed: the position of the signature."""
    consultation = urgent_call(clinic, doctor, booker, patient_id)
    drafted = draft(clinic, doctor, consultation, sections or SECTIONS)
    assert drafted.status_code == 201, drafted.text
    signed = sign(clinic, doctor, str(drafted.json()["id"]))
    assert signed.status_code == 200, signed.text
    return int(signed.json()["position"])


def prescriptions_of(
    clinic: Clinic, who: Person, patient_id: str, after: int | None = None
) -> list[dict[str, Any]]:
    response = clinic.client.get(
        f"/v1/patients/{patient_id}/prescriptions",
        headers=who.headers,
        params={"after": after} if after else {},
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def verify(
    clinic: Clinic, who: Person, code: str, idempotency_key: str | None = None
) -> httpx.Response:
    return _pharmacy_call(clinic, who, "verify", code, idempotency_key)


def dispense(
    clinic: Clinic, who: Person, code: str, idempotency_key: str | None = None
) -> httpx.Response:
    return _pharmacy_call(clinic, who, "dispense", code, idempotency_key)


def _pharmacy_call(
    clinic: Clinic, who: Person, action: str, code: str, idempotency_key: str | None
) -> httpx.Response:
    keyed = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    response: httpx.Response = clinic.client.post(
        f"/v1/pharmacy/prescriptions/{action}",
        headers={**who.headers, **keyed},
        json={"code": code},
    )
    return response
