"""Lab orders and results as the clinic lives them: the doctor orders tests from a partner lab,
the lab's machine client reports, the patient reads the results, the doctor sees the abnormal
ones; a revoked client, another lab and an unknown order are refused."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from adapters.composition import Services
from domain.actor import Role
from domain.lab_order import LabOrder
from domain.machine_client import MachineClient
from tests.conftest import Clinic, Person
from tests.lab_fixtures import (
    GLUCOSE_HIGH,
    HEMOGLOBIN_NORMAL,
    Lab,
    machine_token,
    order,
    partner_lab,
    report,
    treated_consultation,
)


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def lab(clinic: Clinic, admin_a: Person) -> Lab:
    return partner_lab(clinic, admin_a, clinic.org_a, "Laboratoire Ketterthill")


def results_of(clinic: Clinic, who: Person, patient_id: str, after: int) -> list[dict[str, Any]]:
    response = clinic.client.get(
        f"/v1/patients/{patient_id}/results", headers=who.headers, params={"after": after}
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_the_doctor_orders_the_lab_reports_the_patient_reads_the_doctor_is_flagged(
    clinic: Clinic, services: Services, dr_weber: Person, anna: Person, lab: Lab
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = treated_consultation(clinic, dr_weber, annas, anna)
    ordered = order(clinic, dr_weber, consultation, lab, note="Suspected diabetes")
    assert ordered.status_code == 201, ordered.text
    order_id = str(ordered.json()["id"])

    first = report(clinic, lab.person, order_id, GLUCOSE_HIGH)
    assert first.status_code == 200, first.text
    [partial] = results_of(clinic, anna, annas, first.json()["position"])
    assert partial["status"] == "partial" and partial["note"] == "Suspected diabetes"
    assert [t["code"] for t in partial["tests"]] == ["2345-7", "718-7"]
    [glucose] = partial["results"]
    assert glucose["flag"] == "H" and glucose["flag_by"] == "range" and glucose["abnormal"]
    assert glucose["value"] == "7.9" and glucose["comment"] == "Fasting sample"

    second = report(clinic, lab.person, order_id, HEMOGLOBIN_NORMAL)
    assert second.status_code == 200, second.text
    [resulted] = results_of(clinic, anna, annas, second.json()["position"])
    assert resulted["status"] == "resulted"
    assert [(r["code"], r["flag"], r["value"]) for r in resulted["results"]] == [
        ("2345-7", "H", "7.9"),
        ("718-7", "N", "14.10"),  # the lab's decimal, precision kept
    ]
    flagged = clinic.client.get(
        "/v1/doctors/me/abnormal-results",
        headers=dr_weber.headers,
        params={"after": second.json()["position"]},
    )
    assert flagged.status_code == 200, flagged.text
    [entry] = flagged.json()
    assert entry["order_id"] == order_id and entry["patient_id"] == annas
    assert entry["abnormal_results"] == 1 and "7.9" not in flagged.text
    # the events name their authors: the doctor ordered, the lab's machine client reported
    events = list(services.app.events.get(uuid.UUID(order_id)))
    reported = [e for e in events if isinstance(e, LabOrder.ResultsReported)]
    assert {e.by.actor_id for e in reported} == {uuid.UUID(lab.client_id)}
    assert {e.by.role for e in reported} == {Role.SYSTEM}
    assert isinstance(events[0], LabOrder.Ordered)
    assert events[0].by.actor_id == dr_weber.actor.actor_id


def test_the_lab_flags_and_coded_or_text_values_and_a_correction(
    clinic: Clinic, dr_weber: Person, anna: Person, lab: Lab
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = treated_consultation(clinic, dr_weber, annas, anna)
    order_id = order(clinic, dr_weber, consultation, lab).json()["id"]
    coded = {
        "code": "2345-7",
        "kind": "coded",
        "value": "260385009",
        "system": "http://snomed.info/sct",
        "display": "Negative",
        "flag": "A",
    }
    assert report(clinic, lab.person, order_id, coded).status_code == 200
    corrected = report(clinic, lab.person, order_id, {**GLUCOSE_HIGH, "value": "5.0"})
    assert corrected.status_code == 200, corrected.text
    [row] = results_of(clinic, anna, annas, corrected.json()["position"])
    assert [(r["code"], r["flag"]) for r in row["results"]] == [("2345-7", "N")]
    assert row["status"] == "partial"
    text = {"code": "718-7", "kind": "text", "value": "Haemolysed sample", "flag": "A"}
    done = report(clinic, lab.person, order_id, text)
    [row] = results_of(clinic, anna, annas, done.json()["position"])
    assert row["status"] == "resulted" and row["results"][1]["abnormal"]


def test_ordering_needs_the_treating_doctor_a_partner_lab_and_loinc_codes(
    clinic: Clinic, admin_a: Person, dr_weber: Person, anna: Person, lab: Lab
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = treated_consultation(clinic, dr_weber, annas, anna)
    colleague = clinic.person("Dr Muller", Role.DOCTOR, clinic.org_a)
    assert order(clinic, colleague, consultation, lab).status_code == 403
    bad = order(clinic, dr_weber, consultation, lab, [{"code": "2345-6", "display": "Glucose"}])
    assert bad.status_code == 422 and "check digit" in bad.text
    shape = order(clinic, dr_weber, consultation, lab, [{"code": "GLU", "display": "Glucose"}])
    assert shape.status_code == 422
    stranger = Lab(str(uuid.uuid4()), lab.client_id, lab.secret, lab.person)
    unknown = order(clinic, dr_weber, consultation, stranger)
    assert unknown.status_code == 422 and "not-a-partner-lab" in unknown.text
    removed = clinic.client.delete(
        f"/v1/organisations/{clinic.org_a}/partner-labs/{lab.lab_id}", headers=admin_a.headers
    )
    assert removed.status_code == 200, removed.text
    assert order(clinic, dr_weber, consultation, lab).status_code == 422

    asked = clinic.client.post(
        "/v1/consultations/async",
        headers=anna.headers,
        json={
            "patient_id": annas,
            "doctor_id": str(dr_weber.actor.actor_id),
            "organisation_id": str(clinic.org_a),
            "type_code": "general",
            "question": "Not taken yet",
        },
    )
    again = partner_lab(clinic, admin_a, clinic.org_a, "Bionext")
    untreated = order(clinic, dr_weber, str(asked.json()["id"]), again)
    assert untreated.status_code == 409 and untreated.json()["state"] == "asked"


def test_an_order_is_cancelled_with_a_reason_and_then_takes_no_results(
    clinic: Clinic, dr_weber: Person, anna: Person, lab: Lab
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = treated_consultation(clinic, dr_weber, annas, anna)
    order_id = order(clinic, dr_weber, consultation, lab).json()["id"]
    url = f"/v1/consultations/{consultation}/lab-orders/{order_id}/cancel"
    cancelled = clinic.client.post(url, headers=dr_weber.headers, json={"reason": "Duplicate"})
    assert cancelled.status_code == 200, cancelled.text
    late = report(clinic, lab.person, order_id, GLUCOSE_HIGH)
    assert late.status_code == 409 and late.json()["state"] == "cancelled"
    [row] = results_of(clinic, anna, annas, cancelled.json()["position"])
    assert row["status"] == "cancelled" and row["cancel_reason"] == "Duplicate"
    twice = clinic.client.post(url, headers=dr_weber.headers, json={"reason": "Again"})
    assert twice.status_code == 409


def test_only_the_lab_the_order_was_sent_to_reports_and_an_unknown_order_is_404(
    clinic: Clinic,
    admin_a: Person,
    dr_weber: Person,
    dr_other_clinic: Person,
    anna: Person,
    lab: Lab,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = treated_consultation(clinic, dr_weber, annas, anna)
    order_id = order(clinic, dr_weber, consultation, lab).json()["id"]
    other_lab = partner_lab(clinic, admin_a, clinic.org_a, "Bionext")
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    their_lab = partner_lab(clinic, admin_b, clinic.org_b, "Labo Nord")
    assert report(clinic, other_lab.person, order_id, GLUCOSE_HIGH).status_code == 403
    assert report(clinic, their_lab.person, order_id, GLUCOSE_HIGH).status_code == 403
    assert report(clinic, dr_weber, order_id, GLUCOSE_HIGH).status_code == 403
    unknown = report(clinic, lab.person, str(uuid.uuid4()), GLUCOSE_HIGH)
    assert unknown.status_code == 404, unknown.text
    not_ordered = report(clinic, lab.person, order_id, {**GLUCOSE_HIGH, "code": "2160-0"})
    assert not_ordered.status_code == 422 and "2160-0" in not_ordered.text
    # a machine client is nobody's session: it reads no patient and books nothing
    assert (
        clinic.client.get(f"/v1/patients/{annas}/results", headers=lab.person.headers).status_code
        == 403
    )
    assert clinic.client.get(f"/v1/patients/{annas}", headers=lab.person.headers).status_code == 403
    # other patients and doctors see nothing of it
    assert (
        clinic.client.get("/v1/doctors/me/abnormal-results", headers=dr_other_clinic.headers).json()
        == []
    )


def test_a_revoked_client_is_refused_at_once_and_gets_no_new_token(
    clinic: Clinic, services: Services, admin_a: Person, dr_weber: Person, anna: Person, lab: Lab
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = treated_consultation(clinic, dr_weber, annas, anna)
    order_id = order(clinic, dr_weber, consultation, lab).json()["id"]
    revoked = clinic.client.delete(
        f"/v1/organisations/{clinic.org_a}/machine-clients/{lab.client_id}",
        headers=admin_a.headers,
    )
    assert revoked.status_code == 200, revoked.text
    refused = report(clinic, lab.person, order_id, GLUCOSE_HIGH)
    assert refused.status_code == 401, refused.text
    again = machine_token(clinic, lab.client_id, lab.secret)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    client = services.bus_uow().get(MachineClient, uuid.UUID(lab.client_id))
    assert client.revoked


def test_the_token_exchange_takes_a_form_json_or_basic_and_expires(
    clinic: Clinic, services: Services, admin_a: Person, lab: Lab
) -> None:
    as_json = clinic.client.post(
        "/v1/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": lab.client_id,
            "client_secret": lab.secret,
        },
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["token_type"] == "Bearer" and as_json.json()["expires_in"] == 900
    basic = base64.b64encode(f"{lab.client_id}:{lab.secret}".encode()).decode()
    as_basic = clinic.client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert as_basic.status_code == 200, as_basic.text
    wrong = machine_token(clinic, lab.client_id, lab.secret + "x")
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = clinic.client.post("/v1/oauth/token", data={"grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    # the secret is kept as a hash only
    client = services.bus_uow().get(MachineClient, uuid.UUID(lab.client_id))
    assert lab.secret not in client.secret_hash
    # a token ends at its expiry
    token = as_json.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    listed = clinic.client.get("/v1/doctors/me/abnormal-results", headers=headers)
    assert listed.status_code == 403  # authenticated (a system actor), not a doctor
    with services.db.transaction() as cur:
        cur.execute(
            "UPDATE sessions SET expires_at = created_at WHERE account_id = %s",
            (uuid.UUID(lab.client_id),),
        )
    assert clinic.client.get("/v1/doctors/me/abnormal-results", headers=headers).status_code == 401
