"""Helpers for protocol scenarios: a visit driven to the call over HTTP, a full set of
sections, and the doctor's step-up."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.composition import Services
from tests.conftest import Clinic, Person

SECTIONS: dict[str, Any] = {
    "complaints": "Sore throat and fever since three days",
    "objective_findings": "Temperature 38.4, pharynx red, no exudate",
    "diagnoses": [
        {"code": "J06.9", "text": "Acute upper respiratory infection", "primary": True},
        {"code": "R50.9", "text": "Fever, unspecified"},
    ],
    "recommendations": "Rest, fluids, come back if it lasts beyond a week",
    "referrals": [
        {"service_code": "ent", "service_text": "Otorhinolaryngology", "reason": "If recurrent"}
    ],
    "prescriptions": [
        {
            "medication_system": "atc",
            "medication_code": "N02BE01",
            "medication_text": "Paracetamol 500 mg tablets",
            "dose_value": 500,
            "dose_unit": "mg",
            "route": "oral",
            "frequency": 3,
            "period": 1,
            "period_unit": "d",
            "duration_days": 5,
            "quantity": 15,
            "refills": 0,
            "instructions": "After meals",
        }
    ],
}


def urgent_call(clinic: Clinic, doctor: Person, patient: Person, patient_id: str) -> str:
    """An urgent video consultation, taken and admitted: the call is on."""
    urgent = clinic.client.post(
        "/v1/consultations/urgent",
        headers=patient.headers,
        json={"patient_id": patient_id, "doctor_id": str(doctor.actor.actor_id), "reason": "fever"},
    )
    assert urgent.status_code == 201, urgent.text
    consultation = str(urgent.json()["id"])
    for who, name in ((patient, "check-in"), (doctor, "take"), (doctor, "admit")):
        done = step(clinic, who, consultation, name)
        assert done.status_code == 200, done.text
    return consultation


def step(clinic: Clinic, who: Person, consultation_id: str, name: str) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/consultations/{consultation_id}/{name}", headers=who.headers
    )
    return response


def draft(
    clinic: Clinic, who: Person, consultation_id: str, sections: dict[str, Any], **headers: str
) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/consultations/{consultation_id}/protocol",
        headers={**who.headers, **headers},
        json=sections,
    )
    return response


def sign(clinic: Clinic, who: Person, protocol_id: str) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/protocols/{protocol_id}/sign", headers=who.headers
    )
    return response


def read(clinic: Clinic, who: Person, path: str) -> dict[str, Any]:
    response = clinic.client.get(path, headers=who.headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def lapse_step_up(services: Services) -> None:
    """Ten minutes later: every session's step-up has lapsed."""
    with services.db.transaction() as cur:
        cur.execute(
            "UPDATE sessions SET stepped_up_at = %s", (datetime.now(UTC) - timedelta(minutes=10),)
        )


def step_up(clinic: Clinic, who: Person) -> None:
    assert who.totp is not None
    code = who.totp.at(time.time() + who.totp.interval)
    done = clinic.client.post(
        "/v1/sessions/current/step-up", headers=who.headers, json={"code": code}
    )
    assert done.status_code == 204, done.text


def protocol_of(consultation_id: str) -> str:
    from domain.clinical_protocol import protocol_id_of

    return str(protocol_id_of(uuid.UUID(consultation_id)))
