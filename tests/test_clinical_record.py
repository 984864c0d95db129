"""The clinical part of the patient card (E3), as the clinic lives it: a visit, its protocol
drafted then signed (its diagnoses appear only once signed), the prescription its signature
issued, filled at the pharmacy, lab results with their flags, consents; read by the patient
and the care team, never by another clinic; sealed in storage, unreadable once the patient is
erased; moving with a beneficiary's transfer (A4); and replayed by compliance as the
patient's whole record as of any moment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.composition import Services
from commands.results import Saved
from domain.actor import Actor, Role
from domain.clinical_protocol import validated
from domain.partner_labs import PartnerLabs
from domain.prescription import NotDispensable, NotThePrescriber, Prescription, new_code
from tests.conftest import Clinic, Person
from tests.lab_fixtures import GLUCOSE_HIGH, HEMOGLOBIN_NORMAL, Lab, order, partner_lab, report
from tests.protocol_fixtures import SECTIONS, draft, sign, urgent_call
from tests.scheduling_fixtures import set_up_schedule
from tests.test_accounts import bearer, enrol, next_code, sign_in
from tests.test_beneficiaries import BEN_EMAIL, BEN_PASSWORD, add_beneficiary, mailed_token
from tests.test_mail import Inbox, inbox  # noqa: F401  (the SMTP fixture)
from tests.test_privacy import raw_database_bytes

PRESCRIBED = validated(SECTIONS)["prescriptions"][0]


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def lab(clinic: Clinic, admin_a: Person) -> Lab:
    return partner_lab(clinic, admin_a, clinic.org_a, "Laboratoire Ketterthill")


def card(
    clinic: Clinic, who: Person | dict[str, str], patient_id: str, after: int | None = None
) -> dict[str, Any]:
    headers = who.headers if isinstance(who, Person) else who
    params = {"after": after} if after is not None else {}
    answer = clinic.client.get(
        f"/v1/patients/{patient_id}/clinical-record", headers=headers, params=params
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"] == f'W/"{answer.json()["position"]}"'
    found: dict[str, Any] = answer.json()
    return found


def issued(
    clinic: Clinic, services: Services, who: Person, patient_id: str, signed: int
) -> Prescription:
    """The prescription the protocol's signature (at position ``signed``) issued for its
    medication line, as the write side has it."""
    [line] = card(clinic, who, patient_id, signed)["prescriptions"]
    return services.bus_uow().get(Prescription, uuid.UUID(line["id"]))


def save(services: Services, prescription: Prescription) -> Saved:
    return services.bus_uow().save(prescription)


def visit_with_protocol(
    clinic: Clinic, doctor: Person, patient: Person, patient_id: str
) -> tuple[str, str, int]:
    """An urgent call and its drafted protocol: (consultation, protocol, position)."""
    consultation = urgent_call(clinic, doctor, patient, patient_id)
    drafted = draft(clinic, doctor, consultation, SECTIONS)
    assert drafted.status_code == 201, drafted.text
    return consultation, str(drafted.json()["id"]), int(drafted.json()["position"])


def test_the_card_shows_the_visit_its_signed_diagnoses_the_prescription_and_the_results(
    clinic: Clinic, services: Services, dr_weber: Person, anna: Person, lab: Lab
) -> None:
    set_up_schedule(clinic, dr_weber)
    annas = clinic.register(anna)["id"]
    consented = clinic.client.post(
        f"/v1/patients/{annas}/consents", headers=anna.headers, json={"purpose": "treatment"}
    )
    assert consented.status_code == 200, consented.text
    consultation, protocol, position = visit_with_protocol(clinic, dr_weber, anna, annas)

    drafted = card(clinic, anna, annas, position)
    [visit] = drafted["consultations"]
    assert visit["id"] == consultation and visit["status"] == "in-progress"
    assert visit["kind"] == "video" and visit["doctor_id"] == str(dr_weber.actor.actor_id)
    [shown] = drafted["protocols"]
    assert shown["id"] == protocol and shown["status"] == "draft" and shown["signer_id"] is None
    assert drafted["diagnoses"] == []  # a draft's diagnoses are not the record's
    assert [(p["purpose"], p["status"]) for p in drafted["consent_purposes"]] == [
        ("treatment", "given")
    ]

    signed = sign(clinic, dr_weber, protocol)
    assert signed.status_code == 200, signed.text
    prescription = issued(clinic, services, anna, annas, signed.json()["position"])
    assert prescription.status.value == "active" and prescription.fills == 0
    pharmacy = Actor(uuid.uuid4(), Role.SYSTEM, clinic.org_a)
    prescription.dispense(at=datetime.now(UTC), by=pharmacy)
    filled = save(services, prescription)
    ordered = order(clinic, dr_weber, consultation, lab, note="Suspected diabetes")
    assert ordered.status_code == 201, ordered.text
    reported = report(clinic, lab.person, str(ordered.json()["id"]), GLUCOSE_HIGH)
    assert reported.status_code == 200, reported.text
    step = clinic.client.post(
        f"/v1/consultations/{consultation}/complete", headers=dr_weber.headers
    )
    assert step.status_code == 200, step.text

    latest = max(filled.position or 0, reported.json()["position"], step.json()["position"])
    record = card(clinic, anna, annas, latest)
    assert record["consultations"][0]["status"] == "completed"
    [signed_protocol] = record["protocols"]
    assert signed_protocol["status"] == "signed" and signed_protocol["addenda"] == 0
    assert signed_protocol["signer_id"] == str(dr_weber.actor.actor_id)
    assert [(d["code"], d["primary"]) for d in record["diagnoses"]] == [
        ("J06.9", True),
        ("R50.9", False),
    ]
    assert record["diagnoses"][0]["consultation_id"] == consultation
    [rx] = record["prescriptions"]
    assert rx["id"] == str(prescription.id) and rx["status"] == "completed"
    assert rx["fills"] == 1 and rx["fills_allowed"] == 1
    assert rx["medication"]["medication_text"] == "Paracetamol 500 mg tablets"
    assert rx["medication"]["dose_value"] == 500 and rx["medication"]["frequency"] == 3
    assert "code" not in rx["medication"]  # the code that opens it is the patient's alone
    assert prescription.code not in str(record)
    [labs] = record["lab_orders"]
    assert labs["status"] == "partial" and labs["note"] == "Suspected diabetes"
    [glucose] = labs["results"]
    assert glucose["value"] == "7.9" and glucose["flag"] == "H" and glucose["abnormal"] is True

    # the care team reads it too; another clinic and another patient do not
    assert card(clinic, dr_weber, annas)["diagnoses"] == record["diagnoses"]
    other = clinic.person("Dr Novak", Role.DOCTOR, clinic.org_b)
    stranger = clinic.person("Bob", Role.PATIENT, None)
    for refused in (other, stranger):
        answer = clinic.client.get(f"/v1/patients/{annas}/clinical-record", headers=refused.headers)
        assert answer.status_code == 403, answer.text
    missing = clinic.client.get(
        f"/v1/patients/{uuid.uuid4()}/clinical-record", headers=dr_weber.headers
    )
    assert missing.status_code == 404
    reads = services.access_log.for_subject(uuid.UUID(annas))
    assert "patient.clinical-record" in {a.what for a in reads}


def test_the_card_is_sealed_and_an_erased_patient_s_card_answers_nulls_live_and_rebuilt(
    clinic: Clinic, services: Services, dr_weber: Person, admin_a: Person
) -> None:
    set_up_schedule(clinic, dr_weber)
    annas = clinic.register(dr_weber)["id"]  # the clinic's record: its admin erases it
    _, protocol, _ = visit_with_protocol(clinic, dr_weber, dr_weber, annas)
    signed = sign(clinic, dr_weber, protocol)
    assert signed.status_code == 200, signed.text
    assert len(card(clinic, dr_weber, annas, signed.json()["position"])["prescriptions"]) == 1
    stored = b"\n".join(
        v if isinstance(v, bytes) else str(v).encode()
        for row in services.clinical_record.rows()
        for v in row
    )
    for clinical in (b"J06.9", b"Acute upper", b"Paracetamol", b"N02BE01", b"video"):
        assert clinical not in stored

    erased = clinic.client.delete(f"/v1/patients/{annas}", headers=admin_a.headers)
    assert erased.status_code == 200, erased.text
    live = card(clinic, dr_weber, annas, erased.json()["position"])
    assert [p["status"] for p in live["protocols"]] == ["signed"]  # what happened stays
    assert live["diagnoses"] == []  # what it said is gone
    assert [rx["medication"] for rx in live["prescriptions"]] == [None]
    assert [c["kind"] for c in live["consultations"]] == [None]

    runner = services.runners["clinical_record"]
    runner.reset()
    assert services.clinical_record.rows() == []
    runner.run_until_caught_up()
    assert card(clinic, dr_weber, annas) == live


def test_a_transferred_beneficiary_takes_the_whole_clinical_record_along(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    lab: Lab,
    inbox: Inbox,  # noqa: F811
) -> None:
    set_up_schedule(clinic, dr_weber)
    hana = clinic.person("Hana Holder", Role.PATIENT, None)
    ben = add_beneficiary(clinic, hana, email=BEN_EMAIL)
    consultation, protocol, _ = visit_with_protocol(clinic, dr_weber, hana, ben)
    signed = sign(clinic, dr_weber, protocol)
    assert signed.status_code == 200, signed.text
    prescription = issued(clinic, services, hana, ben, signed.json()["position"])
    ordered = order(clinic, dr_weber, consultation, lab)
    reported = report(
        clinic, lab.person, str(ordered.json()["id"]), GLUCOSE_HIGH, HEMOGLOBIN_NORMAL
    )
    assert reported.status_code == 200, reported.text
    held = card(clinic, hana, ben, reported.json()["position"])  # the holder reads it for Ben
    assert len(held["diagnoses"]) == 2 and held["lab_orders"][0]["status"] == "resulted"

    totp, _ = enrol(clinic, hana.token)
    stepped = clinic.client.post(
        "/v1/sessions/current/step-up", headers=hana.headers, json={"code": next_code(totp)}
    )
    assert stepped.status_code == 204, stepped.text
    offered = clinic.client.post(
        f"/v1/beneficiaries/{ben}/transfer", headers=hana.headers, json={"email": BEN_EMAIL}
    )
    assert offered.status_code == 202, offered.text
    token = mailed_token(services, inbox, 1)
    accepted = clinic.client.post(
        "/v1/record-invitations/accept", json={"token": token, "password": BEN_PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text

    # the former holder no longer reads it, in the session she already has
    gone = clinic.client.get(f"/v1/patients/{ben}/clinical-record", headers=hana.headers)
    assert gone.status_code == 403
    # Ben, independent now, reads all of its history
    status, session = sign_in(clinic, BEN_EMAIL, BEN_PASSWORD)
    assert status == 201, session
    own = card(clinic, bearer(session["token"]), ben)
    assert own["consultations"] == held["consultations"]
    assert own["protocols"] == held["protocols"] and own["diagnoses"] == held["diagnoses"]
    assert [rx["id"] for rx in own["prescriptions"]] == [str(prescription.id)]
    assert own["lab_orders"] == held["lab_orders"]
    assert card(clinic, dr_weber, ben)["protocols"] == held["protocols"]  # the care team too


def test_compliance_replays_the_patient_s_whole_record_as_of_any_moment(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    admin_a: Person,
    officer: Person,
    lab: Lab,
) -> None:
    set_up_schedule(clinic, dr_weber)
    annas = clinic.register(dr_weber)["id"]  # the clinic's record: its admin erases it
    consultation, protocol, _ = visit_with_protocol(clinic, dr_weber, dr_weber, annas)
    signed = sign(clinic, dr_weber, protocol)
    assert signed.status_code == 200, signed.text
    prescription = issued(clinic, services, dr_weber, annas, signed.json()["position"])
    ordered = order(clinic, dr_weber, consultation, lab)
    assert ordered.status_code == 201, ordered.text

    timeline = clinic.client.get(
        f"/v1/compliance/patients/{annas}/timeline", headers=officer.headers
    ).json()
    positions = [e["position"] for e in timeline]
    assert positions == sorted(positions)
    streams = {(e["aggregate_type"], e["aggregate_id"]) for e in timeline}
    assert {
        ("Patient", annas),
        ("Consultation", consultation),
        ("ClinicalProtocol", protocol),
        ("Prescription", str(prescription.id)),
        ("LabOrder", str(ordered.json()["id"])),
    } <= streams
    assert all(e["event_type"].startswith(e["aggregate_type"] + ".") for e in timeline)
    drafted_at = next(
        e["occurred_at"] for e in timeline if e["event_type"] == "ClinicalProtocol.Drafted"
    )
    signed_at = next(
        e["occurred_at"] for e in timeline if e["event_type"] == "ClinicalProtocol.Signed"
    )

    def as_of(moment: str) -> dict[str, dict[str, Any]]:
        answer = clinic.client.get(
            f"/v1/compliance/patients/{annas}/state",
            params={"at": moment},
            headers=officer.headers,
        )
        assert answer.status_code == 200, answer.text
        replayed = answer.json()
        assert replayed["aggregates"][0]["aggregate_id"] == annas  # the record first
        assert replayed["state"] == replayed["aggregates"][0]["state"]
        return {a["aggregate_type"]: a for a in replayed["aggregates"]}

    before = as_of(drafted_at)  # drafted, not signed yet
    assert before["ClinicalProtocol"]["exists"] and before["ClinicalProtocol"]["version"] == 1
    assert before["ClinicalProtocol"]["state"]["signature"] is None
    assert before["ClinicalProtocol"]["state"]["content"]["complaints"] == SECTIONS["complaints"]
    assert not before["Prescription"]["exists"] and not before["LabOrder"]["exists"]
    after = as_of(signed_at)
    signature = after["ClinicalProtocol"]["state"]["signature"]
    assert signature["signer_id"] == str(dr_weber.actor.actor_id)
    assert after["Consultation"]["state"]["status"] == "in-progress"

    one = clinic.client.get(
        f"/v1/compliance/aggregates/{protocol}/timeline", headers=officer.headers
    )
    assert one.status_code == 200, one.text
    assert [e["event_type"] for e in one.json()] == [
        "ClinicalProtocol.Drafted",
        "ClinicalProtocol.Signed",
    ]
    unknown = clinic.client.get(
        f"/v1/compliance/aggregates/{uuid.uuid4()}/timeline", headers=officer.headers
    )
    assert unknown.status_code == 404
    access = {a.what for a in services.access_log.for_subject(uuid.UUID(annas))}
    assert {"patient.timeline", "patient.state-as-of", "aggregate.timeline"} <= access

    # erased: the events stay, what they said is gone
    erased = clinic.client.delete(f"/v1/patients/{annas}", headers=admin_a.headers)
    assert erased.status_code == 200, erased.text
    later = (datetime.fromisoformat(signed_at) + timedelta(hours=1)).isoformat()
    shredded = as_of(later)
    assert shredded["ClinicalProtocol"]["state"]["content"] == "<erased>"
    assert shredded["Prescription"]["state"]["medication"] == "<erased>"
    assert shredded["LabOrder"]["state"]["status"] == "ordered"
    replayed = clinic.client.get(
        f"/v1/compliance/patients/{annas}/timeline", headers=officer.headers
    ).json()
    issue = next(e for e in replayed if e["event_type"] == "Prescription.Issued")
    assert issue["data"]["medication"] == "<erased>" and issue["data"]["code"] == "<erased>"
    assert b"Paracetamol" not in raw_database_bytes(services)


def test_a_teleconference_is_in_each_patient_s_record_and_any_stream_is_replayable(
    clinic: Clinic, services: Services, dr_weber: Person, officer: Person, lab: Lab
) -> None:
    """A teleconference with two patients belongs to both records; the partner labs' list is
    the organisation's: replayable too, on nobody's access log."""
    anna, ben = clinic.register(dr_weber)["id"], clinic.register(dr_weber)["id"]
    start = datetime.now(UTC) + timedelta(days=1)
    made = clinic.client.post(
        "/v1/teleconferences",
        headers=dr_weber.headers,
        json={
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "participants": [anna, ben],
        },
    )
    assert made.status_code == 201, made.text
    conference = str(made.json()["id"])
    for patient in (anna, ben):
        timeline = clinic.client.get(
            f"/v1/compliance/patients/{patient}/timeline", headers=officer.headers
        ).json()
        assert {e["aggregate_type"] for e in timeline} == {"Patient", "Teleconference"}
        assert conference in {e["aggregate_id"] for e in timeline}
    seen = clinic.client.get(
        f"/v1/compliance/aggregates/{conference}/timeline", headers=officer.headers
    )
    assert seen.status_code == 200, seen.text
    assert seen.json()[0]["event_type"] == "Teleconference.Scheduled"
    for patient in (anna, ben):
        logged = services.access_log.for_subject(uuid.UUID(patient))
        assert "aggregate.timeline" in {a.what for a in logged}

    labs = PartnerLabs.create_id(clinic.org_a)
    before = services.access_log.for_subject(uuid.UUID(anna))
    answer = clinic.client.get(
        f"/v1/compliance/aggregates/{labs}/timeline", headers=officer.headers
    )
    assert answer.status_code == 200, answer.text
    assert {e["aggregate_type"] for e in answer.json()} == {"PartnerLabs"}
    assert services.access_log.for_subject(uuid.UUID(anna)) == before


ACTIONS = st.lists(st.sampled_from(["dispense", "cancel", "complete"]), max_size=5)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS, refills=st.integers(min_value=0, max_value=3))
def test_a_prescription_on_the_card_is_what_its_events_say(
    clinic: Clinic, services: Services, dr_weber: Person, actions: list[str], refills: int
) -> None:
    """Whatever the pharmacy and the prescriber do, in any order the domain accepts, the card
    shows the prescription's status and fills as the aggregate has them."""
    patient = clinic.register(dr_weber)["id"]
    prescription = Prescription.issue(
        code=new_code(),
        patient_id=uuid.UUID(patient),
        consultation_id=uuid.uuid4(),
        protocol_id=uuid.uuid4(),
        line=0,
        doctor_id=dr_weber.actor.actor_id,
        organisation_id=clinic.org_a,
        medication={**PRESCRIBED, "refills": refills},
        issued_at=datetime.now(UTC),
        by=dr_weber.actor,
    )
    pharmacy = Actor(uuid.uuid4(), Role.SYSTEM, clinic.org_a)
    for action in actions:
        try:
            if action == "dispense":
                prescription.dispense(at=datetime.now(UTC), by=pharmacy)
            elif action == "cancel":
                prescription.cancel("changed my mind", at=datetime.now(UTC), by=dr_weber.actor)
            else:
                prescription.complete(at=datetime.now(UTC), by=dr_weber.actor)
        except (NotDispensable, NotThePrescriber):
            pass
    saved = save(services, prescription)
    [shown] = card(clinic, dr_weber, patient, saved.position)["prescriptions"]
    assert shown["status"] == prescription.status.value
    assert shown["fills"] == prescription.fills
    assert shown["fills_allowed"] == prescription.fills_allowed == 1 + refills
