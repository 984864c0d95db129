"""Personal data never sits in clear anywhere we store or log; erasure reaches everything."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import Any

import psycopg
import pytest

from adapters.composition import Services
from domain.actor import Role
from domain.lab_order import LabOrder
from domain.machine_client import MachineClient
from domain.partner_labs import PartnerLabs
from domain.prescription import Prescription
from projections.stream_contract import TRANSLATIONS
from tests.conftest import Clinic, Person
from tests.lab_fixtures import order, partner_lab, report, treated_consultation
from tests.prescription_fixtures import (
    dispense,
    pharmacy,
    prescribe,
    prescriptions_of,
    verify,
    with_lines,
)
from tests.protocol_fixtures import draft, read, sign, urgent_call
from tests.scheduling_fixtures import set_up_schedule

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


#: one canary per clinical field of a protocol (and of an addendum)
PROTOCOL_CANARY: dict[str, Any] = {
    "complaints": "Canarycomplaint throbbing",
    "objective_findings": "Canaryfinding rash",
    "diagnoses": [{"code": "Q87.11", "text": "Canarydiagnosis syndrome", "primary": True}],
    "recommendations": "Canaryadvice rest",
    "referrals": [
        {
            "service_code": "canaryreferralcode",
            "service_text": "Canaryservice",
            "reason": "Canaryreason",
        }
    ],
    "prescriptions": [
        {
            "medication_code": "Z99CANARY",
            "medication_text": "Canarymedicine 5 mg",
            "dose_value": 5,
            "dose_unit": "mg",
            "route": "canaryroute",
            "frequency": 2,
            "duration_days": 3,
            "quantity": 6,
            "instructions": "Canaryinstruction with water",
        }
    ],
}
PROTOCOL_NEEDLES = [
    "Canarycomplaint",
    "Canaryfinding",
    "Q87.11",
    "Canarydiagnosis",
    "Canaryadvice",
    "canaryreferralcode",
    "Canaryservice",
    "Canaryreason",
    "Z99CANARY",
    "Canarymedicine",
    "canaryroute",
    "Canaryinstruction",
    "Canaryaddendum",
]


def test_every_protocol_field_is_nowhere_in_clear(
    clinic: Clinic, dr_weber: Person, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """Drafted, revised, signed, corrected by an addendum, read and verified: the sections
    reach the event store, the protocol view and the logs only as ciphertext."""
    caplog.set_level(logging.DEBUG)
    set_up_schedule(clinic, dr_weber)
    anna = clinic.person("Anna", Role.PATIENT, None)
    annas = clinic.register(anna)["id"]
    consultation = urgent_call(clinic, dr_weber, anna, annas)
    protocol = str(draft(clinic, dr_weber, consultation, {"complaints": "first"}).json()["id"])
    revised = clinic.client.put(
        f"/v1/protocols/{protocol}", headers=dr_weber.headers, json=PROTOCOL_CANARY
    )
    assert revised.status_code == 200, revised.text
    assert sign(clinic, dr_weber, protocol).status_code == 200
    added = clinic.client.post(
        f"/v1/protocols/{protocol}/addenda",
        headers=dr_weber.headers,
        json={"text": "Canaryaddendum corrected dose"},
    )
    assert added.status_code == 201, added.text
    shown = read(clinic, anna, f"/v1/protocols/{protocol}?after={added.json()['position']}")
    assert shown["content"]["complaints"] == PROTOCOL_CANARY["complaints"]  # opened for Anna
    assert read(clinic, anna, f"/v1/protocols/{protocol}/verification")["valid"] is True
    stored = raw_database_bytes(services).lower()
    logged = "\n".join(r.getMessage() for r in caplog.records).encode().lower()
    for needle in PROTOCOL_NEEDLES:
        assert needle.lower().encode() not in stored, f"found {needle!r} in the database"
        assert needle.lower().encode() not in logged, f"found {needle!r} in the logs"


#: the lab's clinical fields: tests' display text, the order's note, values, comments, reasons
LAB_NEEDLES = ["Canarynote", "424242.4242", "Quillbottom"]


def test_canary_lab_orders_and_results_are_nowhere_in_clear(
    clinic: Clinic,
    dr_weber: Person,
    admin_a: Person,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:

    caplog.set_level(logging.DEBUG)
    anna = clinic.person("Anna", Role.PATIENT, None)
    annas = clinic.register(anna)["id"]
    lab = partner_lab(clinic, admin_a, clinic.org_a, "Laboratoire Ketterthill")
    consultation = treated_consultation(clinic, dr_weber, annas, anna)
    tests = [
        {"code": "2345-7", "display": "Canarynote glucose display"},
        {"code": "718-7", "display": "Hemoglobin"},
        {"code": "2160-0", "display": "Creatinine"},
    ]
    ordered = order(clinic, dr_weber, consultation, lab, tests, note="Canarynote suspected")
    assert ordered.status_code == 201, ordered.text
    order_id = ordered.json()["id"]
    quantity = {
        "code": "2345-7",
        "kind": "quantity",
        "value": "424242.4242",
        "unit": "mmol/L",
        "low": "3.9",
        "high": "5.5",
        "comment": "Canarynote haemolysed comment",
    }
    coded = {
        "code": "718-7",
        "kind": "coded",
        "value": "Quillbottom-positive",
        "display": "Canarynote coded display",
        "flag": "A",
    }
    text = {"code": "2160-0", "kind": "text", "value": "Canarynote free text value"}
    for result in (quantity, coded, text):
        assert report(clinic, lab.person, order_id, result).status_code == 200
    cancelled = clinic.client.post(
        f"/v1/consultations/{consultation}/lab-orders",
        headers=dr_weber.headers,
        json={"lab_id": lab.lab_id, "tests": [{"code": "718-7", "display": "Hb"}]},
    )
    done = clinic.client.post(
        f"/v1/consultations/{consultation}/lab-orders/{cancelled.json()['id']}/cancel",
        headers=dr_weber.headers,
        json={"reason": "Canarynote cancel reason"},
    )
    seen = clinic.client.get(
        f"/v1/patients/{annas}/results",
        headers=anna.headers,
        params={"after": done.json()["position"]},
    )
    assert "Canarynote cancel reason" in seen.text and "424242.4242" in seen.text  # opened...
    flagged = clinic.client.get("/v1/doctors/me/abnormal-results", headers=dr_weber.headers)
    assert flagged.json()[0]["abnormal_results"] == 2
    stored = raw_database_bytes(services).lower()  # ... but stored only as ciphertext
    logged = "\n".join(r.getMessage() for r in caplog.records).lower().encode()
    for needle in LAB_NEEDLES:
        assert needle.lower().encode() not in stored, f"found {needle!r} in the database"
        assert needle.lower().encode() not in logged, f"found {needle!r} in the logs"
    # nor on the analysts' stream: no lab, order or machine-client event is translated for it
    for aggregate in (LabOrder, MachineClient, PartnerLabs):
        published = [t for t in TRANSLATIONS if t.__qualname__.startswith(aggregate.__name__)]
        assert published == [], published


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


def test_canary_a_whole_clinical_visit_is_nowhere_in_clear(
    clinic: Clinic,
    dr_weber: Person,
    admin_a: Person,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every clinical field of one visit at once (intake, consent, a rule's refusal, protocol
    and addendum, lab orders, results and cancellation, the urgent reason, the rating's
    comment): in no table and no log line in clear, on SQLite as on PostgreSQL. The stream's
    half is in tests/test_stream.py."""
    from tests.canaries import CLINICAL_NEEDLES, a_whole_clinical_visit

    caplog.set_level(logging.DEBUG)
    a_whole_clinical_visit(clinic, dr_weber, admin_a)
    stored = raw_database_bytes(services).lower().replace(b" ", b"")
    logged = "\n".join(r.getMessage() for r in caplog.records).lower()
    for needle in CLINICAL_NEEDLES:
        assert needle.lower().replace(" ", "").encode() not in stored, f"{needle!r} in a table"
        assert needle.lower() not in logged, f"found {needle!r} in the logs"


#: a prescription's medication line (text and code); its own code is drawn per run
PRESCRIPTION_CANARY: dict[str, Any] = {
    "medication_system": "local",
    "medication_code": "CANARYRX7",
    "medication_text": "Canarypill 7 mg",
    "dose_value": 7,
    "dose_unit": "mg",
    "route": "oral",
    "frequency": 1,
    "duration_days": 10,
    "quantity": 10,
    "refills": 1,
}


def test_canary_prescriptions_and_their_codes_are_nowhere_in_clear(
    clinic: Clinic,
    dr_weber: Person,
    admin_a: Person,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issued, listed by the patient, verified and dispensed by a pharmacy, cancelled with a
    reason: the medication, the code and the reason reach the event store, the prescriptions'
    view, the access log and the logs only as ciphertext (the code as a blind index)."""
    caplog.set_level(logging.DEBUG)
    set_up_schedule(clinic, dr_weber)
    anna = clinic.person("Anna", Role.PATIENT, None)
    annas = clinic.register(anna)["id"]
    signed = prescribe(clinic, dr_weber, anna, annas, with_lines(PRESCRIPTION_CANARY))
    [issued] = prescriptions_of(clinic, anna, annas, signed)
    code = issued["code"]
    assert issued["medication"]["medication_text"] == "Canarypill 7 mg"  # opened for Anna
    shop = pharmacy(clinic, admin_a, clinic.org_a, "Pharmacie Canary")
    checked = verify(clinic, shop, code.lower(), idempotency_key="canary-verify")
    assert checked.status_code == 200 and checked.json()["medication_code"] == "CANARYRX7"
    filled = dispense(clinic, shop, code, idempotency_key="canary-dispense")
    assert filled.status_code == 200, filled.text
    cancelled = clinic.client.post(
        f"/v1/prescriptions/{issued['id']}/cancel",
        headers={**dr_weber.headers, "Idempotency-Key": "canary-cancel"},
        json={"reason": "Canarycancel reason"},
    )
    assert cancelled.status_code == 200, cancelled.text
    [seen] = prescriptions_of(clinic, anna, annas, cancelled.json()["position"])
    assert seen["cancel_reason"] == "Canarycancel reason"
    stored = raw_database_bytes(services).lower()
    logged = "\n".join(r.getMessage() for r in caplog.records).lower().encode()
    needles = ["CANARYRX7", "Canarypill", "Canarycancel", code, code.replace("-", "")]
    for needle in needles:
        assert needle.lower().encode() not in stored, f"found {needle!r} in the database"
        assert needle.lower().encode() not in logged, f"found {needle!r} in the logs"
    published = [t for t in TRANSLATIONS if t.__qualname__.startswith(Prescription.__name__)]
    assert published == [], published  # nor on the analysts' stream


#: the card's clinical part: a signed protocol's diagnosis, the prescription its signature
#: issued (medication and dose line), a lab order's tests, note and result
CARD_NEEDLES = ["Canarydiagnosis", "Q87.11", "Canarymedicine", "Z99CANARY", "Canaryinstruction"]
CARD_NEEDLES += ["Canarynote", "424242.4242"]


def test_canary_the_clinical_record_is_nowhere_in_clear(
    clinic: Clinic,
    dr_weber: Person,
    admin_a: Person,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The card's clinical part is opened for its reader, and stored only sealed."""
    caplog.set_level(logging.DEBUG)
    set_up_schedule(clinic, dr_weber)
    anna = clinic.person("Anna", Role.PATIENT, None)
    annas = clinic.register(anna)["id"]
    consultation = urgent_call(clinic, dr_weber, anna, annas)
    protocol = str(draft(clinic, dr_weber, consultation, PROTOCOL_CANARY).json()["id"])
    assert sign(clinic, dr_weber, protocol).status_code == 200
    lab = partner_lab(clinic, admin_a, clinic.org_a, "Laboratoire Ketterthill")
    tests = [{"code": "2345-7", "display": "Canarynote glucose"}]
    ordered = order(clinic, dr_weber, consultation, lab, tests, note="Canarynote suspected")
    assert ordered.status_code == 201, ordered.text
    result = {"code": "2345-7", "kind": "quantity", "value": "424242.4242", "unit": "mmol/L"}
    reported = report(clinic, lab.person, ordered.json()["id"], result)
    assert reported.status_code == 200, reported.text
    shown = clinic.client.get(
        f"/v1/patients/{annas}/clinical-record",
        headers=anna.headers,
        params={"after": reported.json()["position"]},
    )
    assert shown.status_code == 200, shown.text
    assert len(shown.json()["prescriptions"]) == 1  # issued by the signature
    for needle in CARD_NEEDLES:
        assert needle in shown.text, needle  # opened for Anna ...
    stored = raw_database_bytes(services).lower()  # ... on SQLite and PostgreSQL only sealed
    logged = "\n".join(r.getMessage() for r in caplog.records).lower().encode()
    for needle in CARD_NEEDLES:
        assert needle.lower().encode() not in stored, f"found {needle!r} in the database"
        assert needle.lower().encode() not in logged, f"found {needle!r} in the logs"
    assert services.clinical_record.rows(), "the card has rows"
