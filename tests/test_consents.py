"""Digital consents and the recording rule (C4, C8): the clinic publishes its recording consent
text, Anna signs it, the consultation may be recorded; she withdraws it and permission ends at
once; a new text version needs a new signature; a template that does not allow recording never
does. The signatures and withdrawals are on Anna's compliance timeline, with who signed."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from adapters.composition import Services
from domain.actor import Role
from tests.clocks import Clock, services_on_the_clock, stopped_clock  # noqa: F401
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import Practices, set_up_schedule
from tests.test_consultation_lifecycle import booked, step

RECORDING_V1 = "Ich willige ein, dass meine Videosprechstunde aufgezeichnet wird."
RECORDING_V2 = RECORDING_V1 + " Die Aufzeichnung wird nach 30 Tagen gelöscht."


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


def template(clinic: Clinic, admin: Person, recording: str) -> None:
    base = f"/v1/organisations/{clinic.org_a}"
    client, headers = clinic.client, admin.headers
    assert client.put(base, headers=headers, json={"name": "Praxis am Park"}).status_code == 200
    put = client.put(
        f"{base}/booking-templates/video-15",
        headers=headers,
        json={"room": "sfu", "recording": recording},
    )
    assert put.status_code == 200, put.text


def publish(clinic: Clinic, admin: Person, text: str, kind: str = "recording") -> None:
    published = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/consent-texts/{kind}",
        headers=admin.headers,
        json={"text": text},
    )
    assert published.status_code == 200, published.text


def sign(clinic: Clinic, who: Person, patient: str, version: int) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/patients/{patient}/signed-consents",
        headers=who.headers,
        json={"organisation_id": str(clinic.org_a), "kind": "recording", "version": version},
    )
    return response


def withdraw(clinic: Clinic, who: Person, patient: str) -> httpx.Response:
    response: httpx.Response = clinic.client.post(
        f"/v1/patients/{patient}/signed-consents/withdraw",
        headers=who.headers,
        json={"organisation_id": str(clinic.org_a), "kind": "recording"},
    )
    return response


def permission(clinic: Clinic, who: Person, consultation: str) -> dict[str, Any]:
    response = clinic.client.get(
        f"/v1/consultations/{consultation}/recording-permission", headers=who.headers
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def practices(clinic: Clinic, dr_weber: Person) -> Practices:
    return set_up_schedule(clinic, dr_weber)


def test_recording_is_allowed_while_anna_consents_to_the_current_text(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    admin_a: Person,
    anna: Person,
    officer: Person,
    practices: Practices,
) -> None:
    template(clinic, admin_a, "with-consent")
    annas = clinic.register(anna)["id"]
    consultation, _ = booked(clinic, anna, practices, annas)
    off = permission(clinic, dr_weber, consultation)
    assert off["allowed"] is False  # off by default: no text, no consent
    assert off["lacking_consent"] == [annas]

    publish(clinic, admin_a, RECORDING_V1)
    shown = clinic.client.get(
        f"/v1/organisations/{clinic.org_a}/consent-texts/recording", headers=anna.headers
    ).json()
    assert shown["version"] == 1 and shown["text"] == RECORDING_V1
    assert shown["sha256"] == hashlib.sha256(RECORDING_V1.encode()).hexdigest()
    assert sign(clinic, anna, annas, 1).status_code == 200
    assert permission(clinic, dr_weber, consultation) == {
        "consultation_id": consultation,
        "patient_id": annas,
        "allowed": True,
        "reasons": [],
        "lacking_consent": [],
    }
    assert permission(clinic, anna, consultation)["allowed"] is True

    assert withdraw(clinic, anna, annas).status_code == 200
    withdrawn = permission(clinic, dr_weber, consultation)
    assert withdrawn["allowed"] is False and withdrawn["lacking_consent"] == [annas]
    assert withdraw(clinic, anna, annas).status_code == 409  # nothing in force

    assert sign(clinic, anna, annas, 1).status_code == 200
    publish(clinic, admin_a, RECORDING_V2)
    outdated = permission(clinic, dr_weber, consultation)
    assert outdated["allowed"] is False
    assert "version 1, not the current 2" in outdated["reasons"][0]
    stale = sign(clinic, anna, annas, 1)
    assert stale.status_code == 409 and stale.json()["type"].endswith("stale-consent-version")
    assert sign(clinic, anna, annas, 2).status_code == 200
    assert permission(clinic, dr_weber, consultation)["allowed"] is True

    in_force = clinic.client.get(f"/v1/patients/{annas}/signed-consents", headers=anna.headers)
    (signature,) = in_force.json()
    assert signature["version"] == 2 and signature["on_behalf"] is False
    assert signature["sha256"] == hashlib.sha256(RECORDING_V2.encode()).hexdigest()

    timeline = clinic.client.get(
        f"/v1/compliance/patients/{annas}/timeline", headers=officer.headers
    ).json()
    steps = [
        (e["event_type"], e["data"].get("version"))
        for e in timeline
        if "Consent" in e["event_type"]
    ]
    assert steps == [
        ("Patient.ConsentSigned", 1),
        ("Patient.SignedConsentWithdrawn", None),
        ("Patient.ConsentSigned", 1),
        ("Patient.ConsentSigned", 2),
    ]
    last = [e for e in timeline if e["event_type"] == "Patient.ConsentSigned"][-1]
    assert last["actor"]["actor_id"] == str(anna.actor.actor_id)
    assert last["data"]["sha256"] == signature["sha256"]


def test_a_template_that_does_not_allow_recording_never_does(
    clinic: Clinic, dr_weber: Person, admin_a: Person, anna: Person, practices: Practices
) -> None:
    template(clinic, admin_a, "off")
    publish(clinic, admin_a, RECORDING_V1)
    annas = clinic.register(anna)["id"]
    consultation, _ = booked(clinic, anna, practices, annas)
    assert sign(clinic, anna, annas, 1).status_code == 200
    refused = permission(clinic, dr_weber, consultation)
    assert refused["allowed"] is False and refused["lacking_consent"] == []
    assert refused["reasons"] == ["the booking template does not allow recording"]


def test_a_holder_signs_for_a_beneficiary_and_the_timeline_says_so(
    clinic: Clinic,
    clock: Clock,
    dr_weber: Person,
    dr_other_clinic: Person,
    admin_a: Person,
    officer: Person,
    practices: Practices,
) -> None:
    template(clinic, admin_a, "with-consent")
    publish(clinic, admin_a, RECORDING_V1)
    hana = clinic.person("Hana", Role.PATIENT, None)
    added = clinic.client.post(
        "/v1/beneficiaries",
        headers=hana.headers,
        json={"given_name": "Bea", "family_name": "Holder", "birth_date": "2019-05-01"},
    )
    bea = str(added.json()["id"])
    consultation, start = booked(clinic, hana, practices, bea)
    stranger = clinic.person("Someone", Role.PATIENT, None)
    assert sign(clinic, stranger, bea, 1).status_code == 403
    assert sign(clinic, dr_weber, bea, 1).status_code == 403  # staff do not consent for patients
    assert sign(clinic, hana, bea, 1).status_code == 200
    assert permission(clinic, hana, consultation)["allowed"] is True
    for outsider in (dr_other_clinic, stranger):
        outside = clinic.client.get(
            f"/v1/consultations/{consultation}/recording-permission", headers=outsider.headers
        )
        assert outside.status_code == 403

    timeline = clinic.client.get(
        f"/v1/compliance/patients/{bea}/timeline", headers=officer.headers
    ).json()
    (signed,) = [e for e in timeline if e["event_type"] == "Patient.ConsentSigned"]
    assert signed["actor"]["actor_id"] == str(hana.actor.actor_id)
    assert signed["actor"]["on_behalf_of"] == bea
    assert signed["data"]["kind"] == "recording" and signed["data"]["version"] == 1

    clock.now = start - timedelta(minutes=5)
    assert step(clinic, hana, consultation, "check-in").status_code == 200
    assert withdraw(clinic, hana, bea).status_code == 200
    assert permission(clinic, dr_weber, consultation)["lacking_consent"] == [bea]
    assert sign(clinic, hana, str(uuid.uuid4()), 1).status_code == 404
