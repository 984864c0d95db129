"""Personal data never sits in clear anywhere we store or log; erasure reaches everything."""

from __future__ import annotations

import logging
import sqlite3
import uuid

import psycopg
import pytest

from adapters.composition import Services
from domain.actor import Role
from tests.conftest import Clinic, Person

CANARY = {
    "given_name": "Zephyrinaqx",
    "family_name": "Quillbottomvz",
    "email": "zephyrinaqx.canary@example.org",
    "phone": "+352 691 777 313",
    "address": "7 Canarystraat, Quillbottomville",
    "notes": "Canarynote allergic to penicillin",
}
NEEDLES = [
    "Zephyrinaqx",
    "zephyrinaqx",
    "ZEPHYRINAQX",
    "Quillbottom",
    "canary@example",
    "691 777 313",
    "691777313",
    "Canarystraat",
    "Canarynote",
]


def raw_database_bytes(services: Services) -> bytes:
    """Every row of every table, as stored, concatenated."""
    chunks: list[bytes] = []
    if services.db.dialect == "sqlite":
        path = services.db.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    chunks.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
    else:
        with psycopg.connect(services.db.url) as conn:
            tables = [
                r[0]
                for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    chunks.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
    return b"\n".join(chunks)


def assert_no_canary(blob: bytes) -> None:
    lowered = blob.lower()
    for needle in NEEDLES:
        assert needle.lower().encode() not in lowered, f"found {needle!r} in clear"


def test_canary_personal_data_is_nowhere_in_clear(
    clinic: Clinic,
    dr_weber: Person,
    officer: Person,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    created = clinic.register(dr_weber, birth_date="1980-02-29", **CANARY)
    patient_id = created["id"]
    client = clinic.client
    client.patch(
        f"/v1/patients/{patient_id}/contact-details",
        headers=dr_weber.headers,
        json={"email": "zephyrinaqx.new@example.org", "phone": CANARY["phone"]},
    )
    client.post(
        f"/v1/patients/{patient_id}/consents",
        headers=dr_weber.headers,
        json={"purpose": "treatment"},
    )
    # exercise the reads, so the read models and the access log have rows too
    found = client.post(
        "/v1/patients/_search",
        headers=dr_weber.headers,
        json={"email": CANARY["email"].upper(), "after": created["position"]},
    )
    assert found.status_code == 200
    found = client.post(
        "/v1/patients/_search",
        headers=dr_weber.headers,
        json={"name": "zephyrinaqx  QUILLBOTTOMVZ"},
    )
    assert [p["id"] for p in found.json()["items"]] == [patient_id]
    assert client.get(f"/v1/patients/{patient_id}", headers=dr_weber.headers).status_code == 200
    timeline = client.get(f"/v1/compliance/patients/{patient_id}/timeline", headers=officer.headers)
    assert CANARY["given_name"] in timeline.text  # decrypted for the officer ...
    assert_no_canary(raw_database_bytes(services))  # ... but stored only as ciphertext
    assert_no_canary("\n".join(r.getMessage() for r in caplog.records).encode())


def test_erasure_shows_fields_as_erased_everywhere_and_the_chain_still_verifies(
    clinic: Clinic,
    dr_weber: Person,
    admin_a: Person,
    officer: Person,
    services: Services,
) -> None:
    client = clinic.client
    created = clinic.register(dr_weber, **CANARY)
    patient_id = created["id"]
    erased = client.delete(f"/v1/patients/{patient_id}", headers=admin_a.headers)
    assert erased.status_code == 200, erased.text

    record = client.get(f"/v1/patients/{patient_id}", headers=dr_weber.headers).json()
    assert record["erased"] is True
    assert record["given_name"] is None and record["email"] is None

    page = client.get(
        "/v1/patients", headers=dr_weber.headers, params={"after": erased.json()["position"]}
    ).json()
    entry = next(p for p in page["items"] if p["id"] == patient_id)
    assert entry["erased"] and entry["given_name"] is None
    assert (
        client.post(
            "/v1/patients/_search", headers=dr_weber.headers, json={"email": CANARY["email"]}
        ).json()["items"]
        == []
    )

    timeline = client.get(
        f"/v1/compliance/patients/{patient_id}/timeline", headers=officer.headers
    ).json()
    assert timeline[0]["data"]["given_name"] == "<erased>"
    assert timeline[0]["actor"]["actor_id"] == str(dr_weber.actor.actor_id)

    runner = services.runners["patient_directory"]
    runner.reset()
    runner.run_until_caught_up()
    rebuilt = services.directory.get(uuid.UUID(patient_id))
    assert rebuilt is not None and rebuilt.erased and rebuilt.given_name is None

    audit = client.get("/v1/compliance/audit", headers=officer.headers).json()
    assert audit["ok"], audit
    assert (
        client.patch(
            f"/v1/patients/{patient_id}/contact-details",
            headers=dr_weber.headers,
            json={"phone": "+352 1"},
        ).status_code
        == 409
    )


#: clinical canaries of the intake: free text, coded locations and symptoms, form answers
INTAKE_CANARY_TEXT = "Canaryache behind the Quillbottom knee"
INTAKE_NEEDLES = [
    "Canaryache",
    "pelvis",
    "loss-of-appetite",
    "palpitations",
    "Canaryanswer",
    "4711.5",
    '"smoker":true',
]


def test_canary_intake_is_nowhere_in_clear(
    clinic: Clinic,
    dr_weber: Person,
    admin_a: Person,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The complaint (text, locations, symptoms) and a form's answers: in no table, log or
    stream message in clear, yet the doctor reads them."""
    from domain.consultation import Consultation
    from projections.stream_contract import TRANSLATIONS
    from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at

    caplog.set_level(logging.DEBUG)
    client, base = clinic.client, f"/v1/organisations/{clinic.org_a}"
    assert client.put(base, headers=admin_a.headers, json={"name": "Praxis"}).status_code == 200
    form = {
        "title": "Habits",
        "questions": [
            {"code": "smoker", "type": "boolean", "label": "Do you smoke?"},
            {"code": "weight", "type": "number", "label": "Weight (g)"},
            {"code": "story", "type": "text", "label": "Tell us"},
        ],
    }
    published = client.post(f"{base}/intake-forms/habits", headers=admin_a.headers, json=form)
    assert published.status_code == 200, published.text
    practices = set_up_schedule(clinic, dr_weber)
    patient = clinic.register(dr_weber)["id"]
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    consultation = book_video(clinic, dr_weber, practices, slot, patient).json()["id"]
    holder = clinic.person("Hana", Role.PATIENT, None)
    granted = client.post(
        f"/v1/patients/{patient}/delegations",
        headers=clinic.person("Mia", Role.NURSE_MANAGER, clinic.org_a).headers,
        json={"grantee_id": str(holder.actor.actor_id), "scopes": ["attend"]},
    )
    assert granted.status_code == 201, granted.text
    given = client.post(
        f"/v1/consultations/{consultation}/intake",
        headers=holder.headers,
        json={
            "locations": ["pelvis"],
            "severity": 8,
            "onset": "2020-01-01T08:00:00+00:00",
            "symptoms": ["loss-of-appetite", "palpitations"],
            "text": INTAKE_CANARY_TEXT,
        },
    )
    assert given.status_code == 200, given.text
    answered = client.post(
        f"/v1/consultations/{consultation}/intake/forms/habits",
        headers=holder.headers,
        json={"version": 1, "answers": {"smoker": True, "weight": 4711.5, "story": "Canaryanswer"}},
    )
    assert answered.status_code == 200, answered.text
    read = client.get(f"/v1/consultations/{consultation}/intake", headers=dr_weber.headers)
    assert INTAKE_CANARY_TEXT in read.text and "Canaryanswer" in read.text  # opened to read

    stored = raw_database_bytes(services).lower().replace(b" ", b"")
    logged = "\n".join(r.getMessage() for r in caplog.records).lower().encode()
    for needle in INTAKE_NEEDLES:
        assert needle.lower().replace(" ", "").encode() not in stored, needle
        assert needle.lower().encode() not in logged, needle
    # the analysts' stream: the intake's events have no translation, so never leave the record
    assert Consultation.IntakeSubmitted not in TRANSLATIONS
    assert Consultation.IntakeFormAnswered not in TRANSLATIONS
