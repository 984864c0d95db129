"""A whole clinical visit with a canary in every clinical field, driven over HTTP: what the
privacy tests look for in the tables, the logs and the analysts' stream.

The per-field canaries of the protocol, the intake and the lab are those of
``tests.test_privacy``; this adds the urgent booking's reason, the rating's comment, and the
organisation's own texts (an intake form's labels, a consent text), which are stored in clear
by design (they are the organisation's documents, nobody's personal data) but must not reach
the stream either."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.actor import Role
from tests.conftest import Clinic, Person
from tests.lab_fixtures import order, partner_lab, report
from tests.protocol_fixtures import read, sign, step
from tests.scheduling_fixtures import set_up_schedule
from tests.test_privacy import (
    INTAKE_CANARY_TEXT,
    INTAKE_NEEDLES,
    LAB_NEEDLES,
    PROTOCOL_CANARY,
    PROTOCOL_NEEDLES,
)

URGENT_REASON = "Canaryurgent stabbing pain"
RATING_COMMENT = "Canaryrating the doctor mocked my rash"
ADDENDUM = "Canaryaddendum corrected dose"
FORM: dict[str, Any] = {
    "title": "Canaryformtitle habits",
    "questions": [
        {"code": "smoker", "type": "boolean", "label": "Canarylabel do you smoke?"},
        {"code": "weight", "type": "number", "label": "Weight (g)"},
        {"code": "story", "type": "text", "label": "Tell us"},
    ],
}
ANSWERS: dict[str, Any] = {"smoker": True, "weight": 4711.5, "story": "Canaryanswer"}
COMPLAINT: dict[str, Any] = {
    "locations": ["pelvis"],
    "severity": 8,
    "onset": "2020-01-01T08:00:00+00:00",
    "symptoms": ["loss-of-appetite", "palpitations"],
    "text": INTAKE_CANARY_TEXT,
}
CONSENT_TEXT = "Canaryconsent I agree to be treated remotely"
LAB_TESTS = [
    {"code": "2345-7", "display": "Canarynote glucose display"},
    {"code": "718-7", "display": "Hemoglobin"},
]
LAB_RESULTS: list[dict[str, Any]] = [
    {
        "code": "2345-7",
        "kind": "quantity",
        "value": "424242.4242",
        "unit": "mmol/L",
        "low": "3.9",
        "high": "5.5",
        "comment": "Canarynote haemolysed comment",
    },
    {
        "code": "718-7",
        "kind": "coded",
        "value": "Quillbottom-positive",
        "display": "Canarynote coded display",
        "flag": "A",
    },
]

#: what the patient and the doctor wrote: in no table, log or stream message in clear
CLINICAL_NEEDLES = [
    *PROTOCOL_NEEDLES,
    *INTAKE_NEEDLES,
    *LAB_NEEDLES,
    "Canaryurgent",
    "Canaryrating",
    "mocked my rash",
]
#: the organisation's own texts: in clear in its tables, but never on the stream
ORGANISATION_NEEDLES = ["Canaryformtitle", "Canarylabel", "Canaryconsent"]


@dataclass(frozen=True)
class Visit:
    patient_id: str
    consultation_id: str
    protocol_id: str
    order_id: str
    position: int


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def a_whole_clinical_visit(clinic: Clinic, doctor: Person, admin: Person) -> Visit:
    """The organisation's forms, consent text and rules; a patient who signs the consent,
    books an urgent call with a reason, fills the complaint and a form; a protocol refused by
    a rule, then drafted, signed and corrected; lab orders, results and a cancellation; the
    patient's rating. Everything read back once, as the people would."""
    client, org = clinic.client, f"/v1/organisations/{clinic.org_a}"
    ok(client.put(org, headers=admin.headers, json={"name": "Praxis"}))
    ok(client.post(f"{org}/intake-forms/habits", headers=admin.headers, json=FORM))
    texts = f"{org}/consent-texts/treatment"
    ok(client.post(texts, headers=admin.headers, json={"text": CONSENT_TEXT}))
    rules = f"{org}/rule-sets"
    ok(
        client.post(
            rules, headers=admin.headers, json={"rules": {"ru-remote-primary-diagnosis": {}}}
        ),
        201,
    )
    set_up_schedule(clinic, doctor)
    anna = clinic.person("Anna", Role.PATIENT, None)
    patient = str(clinic.register(anna)["id"])
    signature = {"organisation_id": str(clinic.org_a), "kind": "treatment", "version": 1}
    ok(client.post(f"/v1/patients/{patient}/signed-consents", headers=anna.headers, json=signature))

    urgent = client.post(
        "/v1/consultations/urgent",
        headers=anna.headers,
        json={
            "patient_id": patient,
            "doctor_id": str(doctor.actor.actor_id),
            "reason": URGENT_REASON,
        },
    )
    consultation = str(ok(urgent, 201)["id"])
    base = f"/v1/consultations/{consultation}"
    ok(client.post(f"{base}/intake", headers=anna.headers, json=COMPLAINT))
    answers = {"version": 1, "answers": ANSWERS}
    ok(client.post(f"{base}/intake/forms/habits", headers=anna.headers, json=answers))
    for who, name in ((anna, "check-in"), (doctor, "take"), (doctor, "admit")):
        ok(step(clinic, who, consultation, name))
    assert INTAKE_CANARY_TEXT in client.get(f"{base}/intake", headers=doctor.headers).text

    refused = client.post(f"{base}/protocol", headers=doctor.headers, json=PROTOCOL_CANARY)
    assert refused.status_code == 409 and refused.json()["type"].endswith("rule-violation")
    ok(client.post(rules, headers=admin.headers, json={"rules": {}}), 201)  # the rule is lifted
    protocol = str(
        ok(client.post(f"{base}/protocol", headers=doctor.headers, json=PROTOCOL_CANARY), 201)["id"]
    )
    ok(sign(clinic, doctor, protocol))
    addendum = {"text": ADDENDUM}
    ok(client.post(f"/v1/protocols/{protocol}/addenda", headers=doctor.headers, json=addendum), 201)

    lab = partner_lab(clinic, admin, clinic.org_a, "Laboratoire Ketterthill")
    order_id = str(
        ok(order(clinic, doctor, consultation, lab, LAB_TESTS, note="Canarynote suspected"), 201)[
            "id"
        ]
    )
    ok(report(clinic, lab.person, order_id, *LAB_RESULTS))
    other = ok(order(clinic, doctor, consultation, lab, [{"code": "718-7", "display": "Hb"}]), 201)
    cancel = {"reason": "Canarynote cancel reason"}
    ok(client.post(f"{base}/lab-orders/{other['id']}/cancel", headers=doctor.headers, json=cancel))

    ok(step(clinic, doctor, consultation, "complete"))
    rating = {"score": 9, "comment": RATING_COMMENT}
    rated = ok(client.post(f"{base}/rate", headers=anna.headers, json=rating))
    position = int(rated["position"])
    shown = read(clinic, anna, f"/v1/protocols/{protocol}?after={position}")
    assert [a["text"] for a in shown["addenda"]] == [ADDENDUM]  # opened for Anna
    assert read(clinic, anna, f"/v1/protocols/{protocol}/verification")["valid"] is True
    results = client.get(
        f"/v1/patients/{patient}/results", headers=anna.headers, params={"after": position}
    )
    assert "424242.4242" in results.text
    return Visit(patient, consultation, protocol, order_id, position)
