"""A partner lab with its machine client, and a consultation its doctor has treated: what the
lab scenarios, the privacy canary and the authorization matrix start from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from domain.actor import Actor, Role
from tests.conftest import Clinic, Person


@dataclass
class Lab:
    lab_id: str
    client_id: str
    secret: str
    person: Person  # the machine client, signed in with a bearer token


def machine_token(clinic: Clinic, client_id: str, secret: str) -> httpx.Response:
    """``grant_type=client_credentials`` as a form, as RFC 6749 has it."""
    response: httpx.Response = clinic.client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    return response


def machine_client(clinic: Clinic, admin: Person, org: uuid.UUID, name: str) -> tuple[str, str]:
    made = clinic.client.post(
        f"/v1/organisations/{org}/machine-clients", headers=admin.headers, json={"name": name}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["client_id"]), str(made.json()["client_secret"])


def partner_lab(clinic: Clinic, admin: Person, org: uuid.UUID, name: str) -> Lab:
    """A machine client for the lab, the lab on the organisation's list, and a token."""
    client_id, secret = machine_client(clinic, admin, org, f"{name} LIS")
    added = clinic.client.post(
        f"/v1/organisations/{org}/partner-labs",
        headers=admin.headers,
        json={"name": name, "client_id": client_id},
    )
    assert added.status_code == 201, added.text
    issued = machine_token(clinic, client_id, secret)
    assert issued.status_code == 200, issued.text
    token = str(issued.json()["access_token"])
    actor = Actor(uuid.UUID(client_id), Role.SYSTEM, org)
    return Lab(str(added.json()["id"]), client_id, secret, Person(name, actor, token, "", "", None))


def treated_consultation(
    clinic: Clinic, doctor: Person, patient_id: str, asker: Person | None = None
) -> str:
    """A question (the patient's, or staff's for a patient of theirs) the doctor took: a
    consultation of theirs they are treating."""
    assert doctor.actor.organisation_id is not None
    asked = clinic.client.post(
        "/v1/consultations/async",
        headers=(asker or doctor).headers,
        json={
            "patient_id": patient_id,
            "doctor_id": str(doctor.actor.actor_id),
            "organisation_id": str(doctor.actor.organisation_id),
            "type_code": "general",
            "question": "Tired for weeks",
        },
    )
    assert asked.status_code == 201, asked.text
    consultation_id = str(asked.json()["id"])
    taken = clinic.client.post(f"/v1/consultations/{consultation_id}/take", headers=doctor.headers)
    assert taken.status_code == 200, taken.text
    return consultation_id


def order(
    clinic: Clinic,
    doctor: Person,
    consultation_id: str,
    lab: Lab,
    tests: list[dict[str, str]] | None = None,
    note: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "lab_id": lab.lab_id,
        "tests": tests
        or [
            {"code": "2345-7", "display": "Glucose [Mass/volume] in Serum or Plasma"},
            {"code": "718-7", "display": "Hemoglobin [Mass/volume] in Blood"},
        ],
    }
    if note is not None:
        body["note"] = note
    response: httpx.Response = clinic.client.post(
        f"/v1/consultations/{consultation_id}/lab-orders", headers=doctor.headers, json=body
    )
    return response


def report(clinic: Clinic, who: Person, order_id: str, *results: dict[str, Any]) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/lab-orders/{order_id}/results", headers=who.headers, json={"results": list(results)}
    )
    return response


GLUCOSE_HIGH = {
    "code": "2345-7",
    "kind": "quantity",
    "value": "7.9",
    "unit": "mmol/L",
    "low": "3.9",
    "high": "5.5",
    "comment": "Fasting sample",
}
HEMOGLOBIN_NORMAL = {
    "code": "718-7",
    "kind": "quantity",
    "value": "14.10",
    "unit": "g/dL",
    "low": "12",
    "high": "16",
}
