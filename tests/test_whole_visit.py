"""One whole visit, as Praxis am Park lives it, over HTTP only: Anna signs the treatment consent,
books a video consultation, describes her complaint and answers the allergies form; Dr Weber
sees in the waiting room that she did, reads the intake, admits her in the video room, drafts
the protocol during the call, completes the call and signs after a step-up; the signature issues
the prescription, which a pharmacy of another organisation verifies and fills; the lab posts
results, an abnormal one is flagged for Dr Weber; Anna's card shows the whole visit, and the
compliance officer replays the record with every stream that belongs to it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.composition import Services
from domain.actor import Role
from tests.clocks import Clock, services_on_the_clock, stopped_clock  # noqa: F401
from tests.conftest import Clinic, Person
from tests.lab_fixtures import GLUCOSE_HIGH, HEMOGLOBIN_NORMAL, order, partner_lab, report
from tests.prescription_fixtures import dispense, pharmacy, verify
from tests.protocol_fixtures import SECTIONS, draft, lapse_step_up, read, sign, step, step_up
from tests.scheduling_fixtures import Practices, set_up_schedule
from tests.test_consultation_lifecycle import booked
from tests.test_intake import answer, complaint, intake_of, organisation_asks_for_allergies


def listed(clinic: Clinic, who: Person, path: str) -> list[dict[str, Any]]:
    response = clinic.client.get(path, headers=who.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def practices(clinic: Clinic, dr_weber: Person, admin_a: Person) -> Practices:
    organisation_asks_for_allergies(clinic, admin_a)
    return set_up_schedule(clinic, dr_weber)


def test_a_whole_visit_from_consent_to_the_card_and_the_compliance_replay(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    admin_a: Person,
    anna: Person,
    officer: Person,
    practices: Practices,
) -> None:
    client = clinic.client
    annas = clinic.register(anna)["id"]
    published = client.post(
        f"/v1/organisations/{clinic.org_a}/consent-texts/treatment",
        headers=admin_a.headers,
        json={"text": "I agree to be treated by video consultation."},
    )
    assert published.status_code == 200, published.text
    consented = client.post(
        f"/v1/patients/{annas}/signed-consents",
        headers=anna.headers,
        json={"organisation_id": str(clinic.org_a), "kind": "treatment", "version": 1},
    )
    assert consented.status_code in (200, 201), consented.text

    # booked, the intake given before the appointment
    consultation, start = booked(clinic, anna, practices, annas)
    clock.now = start - timedelta(hours=1)
    assert complaint(clinic, anna, consultation).status_code == 200
    form = answer(clinic, anna, consultation, 1, **{"has-allergies": True, "which": ["nuts"]})
    assert form.status_code == 200, form.text

    # the waiting room links the intake; the doctor reads it, then admits Anna in the room
    clock.now = start - timedelta(minutes=5)
    checked_in = step(clinic, anna, consultation, "check-in")
    assert checked_in.status_code == 200, checked_in.text
    queue = read(
        clinic,
        dr_weber,
        f"/v1/waiting-room/doctors/{dr_weber.actor.actor_id}?after={checked_in.json()['position']}",
    )
    (waiting,) = queue["waiting"]
    assert waiting["intake"]["href"] == f"/v1/consultations/{consultation}/intake"
    intake = intake_of(clinic, dr_weber, consultation)
    assert intake.status_code == 200 and intake.json()["complaint"]["severity"] == 7
    clock.now = start + timedelta(minutes=1)
    assert step(clinic, dr_weber, consultation, "admit").status_code == 200
    room = read(clinic, anna, f"/v1/consultations/{consultation}/room")
    pin = room["link"].split("#pin=")[1]
    joined = client.post(
        f"/v1/rooms/{room['address']}/join", headers=anna.headers, json={"pin": pin}
    )
    assert joined.status_code == 200, joined.text
    assert joined.json()["role"] == "guest"

    # the protocol: drafted during the call, signed after it with a step-up
    drafted = draft(clinic, dr_weber, consultation, SECTIONS)
    assert drafted.status_code == 201, drafted.text
    protocol = str(drafted.json()["id"])
    clock.now = start + timedelta(minutes=14)
    assert step(clinic, dr_weber, consultation, "complete").status_code == 200
    lapse_step_up(services)
    unstepped = sign(clinic, dr_weber, protocol)
    assert unstepped.status_code == 401, unstepped.text
    step_up(clinic, dr_weber)
    signed = sign(clinic, dr_weber, protocol)
    assert signed.status_code == 200, signed.text
    verified = read(clinic, anna, f"/v1/protocols/{protocol}/verification")
    assert verified["valid"] is True

    # the prescription the signature issued: Anna's code, a pharmacy elsewhere fills it
    after = signed.json()["position"]
    (prescription,) = listed(clinic, anna, f"/v1/patients/{annas}/prescriptions?after={after}")
    assert prescription["status"] == "active" and prescription["medication"]["route"] == "oral"
    shop = pharmacy(
        clinic,
        clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b),
        clinic.org_b,
        "Apotheke am Markt",
    )
    checked = verify(clinic, shop, prescription["code"])
    assert checked.status_code == 200 and checked.json()["valid"] is True, checked.text
    assert annas not in checked.text and "Anna" not in checked.text
    filled = dispense(clinic, shop, prescription["code"])
    assert filled.status_code == 200 and filled.json()["status"] == "completed", filled.text
    again = dispense(clinic, shop, prescription["code"])
    assert again.status_code == 409 and again.json()["reason"] == "completed"

    # lab tests ordered after the call; the lab's results, the abnormal one flagged
    lab = partner_lab(clinic, admin_a, clinic.org_a, "Labor Nord")
    ordered = order(clinic, dr_weber, consultation, lab)
    assert ordered.status_code == 201, ordered.text
    order_id = str(ordered.json()["id"])
    resulted = report(clinic, lab.person, order_id, GLUCOSE_HIGH, HEMOGLOBIN_NORMAL)
    assert resulted.status_code == 200, resulted.text
    after = resulted.json()["position"]
    flagged = listed(clinic, dr_weber, f"/v1/doctors/me/abnormal-results?after={after}")
    assert [f["abnormal_results"] for f in flagged if f["order_id"] == order_id] == [1]

    # Anna's card: the visit, the signed diagnoses, the filled prescription, the results
    card = read(clinic, anna, f"/v1/patients/{annas}/clinical-record?after={after}")
    (visit,) = card["consultations"]
    assert visit["id"] == consultation and visit["status"] == "completed"
    assert [p["status"] for p in card["protocols"]] == ["signed"]
    assert {d["code"] for d in card["diagnoses"]} == {"J06.9", "R50.9"}
    (filled_line,) = card["prescriptions"]
    assert filled_line["status"] == "completed" and "code" not in filled_line
    (lab_order,) = card["lab_orders"]
    assert {r["code"]: r["abnormal"] for r in lab_order["results"]} == {
        "2345-7": True,
        "718-7": False,
    }
    assert [c["kind"] for c in card["consents"]] == ["treatment"]

    # the compliance officer replays every stream of the record
    timeline = listed(clinic, officer, f"/v1/compliance/patients/{annas}/timeline")
    kinds = {e["aggregate_type"] for e in timeline}
    assert {"Patient", "Consultation", "ClinicalProtocol", "Prescription", "LabOrder", "Room"} <= (
        kinds
    )
    positions = [e["position"] for e in timeline]
    assert positions == sorted(positions)
