"""Prescriptions as the clinic and the pharmacy live them: signing the protocol issues one per
medication line, the patient sees theirs with the code to show, a pharmacy of any organisation
verifies it by that code (seeing only what dispensing needs) and dispenses each fill; the
prescriber cancels with a reason or completes it; it expires; wrong codes are throttled; nobody
but a pharmacy uses the pharmacy's routes, and a pharmacy nothing else; erasure leaves the
prescriptions unreadable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.composition import Services, build
from adapters.settings import Settings
from adapters.throttle import MAX_FAILURES
from domain.actor import Actor, Role
from domain.errors import InvalidValue
from domain.machine_client import ClientPurpose, MachineClient
from domain.prescription import (
    NotDispensable,
    NotThePrescriber,
    Prescription,
    PrescriptionStatus,
    new_code,
    normalised_code,
    prescription_id_of,
)
from tests.conftest import Clinic, Person
from tests.lab_fixtures import machine_client, partner_lab
from tests.prescription_fixtures import (
    AMOXICILLIN,
    PARACETAMOL,
    dispense,
    pharmacy,
    prescribe,
    prescriptions_of,
    verify,
    with_lines,
)
from tests.protocol_fixtures import protocol_of
from tests.scheduling_fixtures import Practices, set_up_schedule

#: what a pharmacy is told, and nothing else
PHARMACIST_FIELDS = {
    "valid",
    "reason",
    "medication_system",
    "medication_code",
    "medication_text",
    "dose_value",
    "dose_unit",
    "route",
    "frequency",
    "period",
    "period_unit",
    "duration_days",
    "quantity",
    "fills_left",
    "valid_until",
    "prescriber_id",
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(settings: Settings, clock: Clock) -> Iterator[Services]:
    built = build(settings, clock=clock)
    yield built
    built.close()


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def practices(clinic: Clinic, dr_weber: Person) -> Practices:
    return set_up_schedule(clinic, dr_weber)


@pytest.fixture
def apotheke(clinic: Clinic) -> Person:
    """A pharmacy of another organisation than the prescriber's."""
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    return pharmacy(clinic, admin_b, clinic.org_b, "Pharmacie du Globe")


def annas_prescriptions(
    clinic: Clinic, dr_weber: Person, anna: Person, *lines: dict[str, Any]
) -> tuple[str, list[dict[str, Any]]]:
    annas = str(clinic.register(anna)["id"])
    signed = prescribe(clinic, dr_weber, anna, annas, with_lines(*lines))
    return annas, prescriptions_of(clinic, anna, annas, signed)


def test_signing_the_protocol_issues_one_prescription_per_line_the_patient_sees_with_its_code(
    clinic: Clinic, services: Services, dr_weber: Person, anna: Person, practices: Practices
) -> None:
    annas, issued = annas_prescriptions(clinic, dr_weber, anna, PARACETAMOL, AMOXICILLIN)
    by_line = sorted(issued, key=lambda p: p["line"])
    assert [p["medication"]["medication_code"] for p in by_line] == ["N02BE01", "J01CA04"]
    assert [(p["status"], p["fills"], p["fills_allowed"]) for p in by_line] == [
        ("active", 0, 1),
        ("active", 0, 3),  # the first fill and two refills
    ]
    codes = [p["code"] for p in by_line]
    assert all(normalised_code(c) == c for c in codes) and codes[0] != codes[1]
    for p in by_line:
        assert p["id"] == str(prescription_id_of(p["code"]))
        assert p["doctor_id"] == str(dr_weber.actor.actor_id)
        assert p["protocol_id"] == protocol_of(p["consultation_id"])
        assert datetime.fromisoformat(p["valid_until"]) - datetime.fromisoformat(
            p["issued_at"]
        ) == timedelta(days=60)
    one = clinic.client.get(f"/v1/prescriptions/{by_line[1]['id']}", headers=anna.headers)
    assert one.status_code == 200 and one.json()["code"] == codes[1]
    # the prescriber sees the codes too; the rest of the care team does not
    assert prescriptions_of(clinic, dr_weber, annas)[0]["code"] in codes
    nurse = clinic.person("Nurse", Role.NURSE, clinic.org_a)
    seen = prescriptions_of(clinic, nurse, annas)
    assert len(seen) == 2 and {p["code"] for p in seen} == {None}
    assert seen[0]["medication"] is not None
    # issued with the signature, at its time, by the doctor
    for p in by_line:
        [event] = list(services.app.events.get(uuid.UUID(p["id"])))
        assert isinstance(event, Prescription.Issued)
        assert event.by.actor_id == dr_weber.actor.actor_id
    access = {a.what for a in services.access_log.for_subject(uuid.UUID(annas))}
    assert {"patient.prescriptions", "prescription.read"} <= access


def test_a_pharmacy_of_any_organisation_verifies_sees_only_what_it_needs_and_dispenses_each_fill(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
    apotheke: Person,
) -> None:
    annas, [issued] = annas_prescriptions(clinic, dr_weber, anna, AMOXICILLIN)
    typed = issued["code"].lower().replace("-", " ")  # as a pharmacist types it
    checked = verify(clinic, apotheke, typed)
    assert checked.status_code == 200, checked.text
    answer = checked.json()
    assert set(answer) == PHARMACIST_FIELDS
    assert answer["valid"] is True and answer["reason"] is None and answer["fills_left"] == 3
    assert answer["medication_text"] == "Amoxicillin 500 mg capsules"
    assert (answer["dose_value"], answer["dose_unit"], answer["route"]) == (500, "mg", "oral")
    assert answer["prescriber_id"] == str(dr_weber.actor.actor_id)
    for secret in (annas, "Anna", issued["consultation_id"], "J06.9", "Finish the course"):
        assert secret not in checked.text  # nothing of the patient, the visit, the diagnosis
    [record] = [
        a
        for a in services.access_log.for_subject(uuid.UUID(annas))
        if a.what == "prescription.verification"
    ]
    assert record.actor_id == apotheke.actor.actor_id and record.purpose == "dispensing"

    fills = [dispense(clinic, apotheke, issued["code"]) for _ in range(3)]
    assert [f.status_code for f in fills] == [200, 200, 200], fills[-1].text
    assert [(f.json()["fill"], f.json()["fills_left"]) for f in fills] == [(1, 2), (2, 1), (3, 0)]
    assert fills[-1].json()["status"] == "completed"
    after = verify(clinic, apotheke, issued["code"]).json()
    assert (after["valid"], after["reason"], after["fills_left"]) == (False, "completed", 0)
    again = dispense(clinic, apotheke, issued["code"])
    assert again.status_code == 409 and again.json()["reason"] == "completed"
    assert again.json()["type"].endswith("not-dispensable")
    [seen] = prescriptions_of(clinic, anna, annas, fills[-1].json()["position"])
    assert (seen["status"], seen["fills"]) == ("completed", 3)
    dispensed = [
        e
        for e in services.app.events.get(uuid.UUID(issued["id"]))
        if isinstance(e, Prescription.Dispensed)
    ]
    assert {e.by.actor_id for e in dispensed} == {apotheke.actor.actor_id}


def test_the_prescriber_cancels_with_a_reason_or_completes_and_the_pharmacy_is_told(
    clinic: Clinic,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
    apotheke: Person,
) -> None:
    annas, issued = annas_prescriptions(clinic, dr_weber, anna, PARACETAMOL, AMOXICILLIN)
    paracetamol, amoxicillin = sorted(issued, key=lambda p: p["line"])
    url = f"/v1/prescriptions/{amoxicillin['id']}"
    colleague = clinic.person("Dr Muller", Role.DOCTOR, clinic.org_a)
    for who in (colleague, anna, apotheke):
        refused = clinic.client.post(f"{url}/cancel", headers=who.headers, json={"reason": "x"})
        assert refused.status_code == 403, (who.name, refused.text)
    blank = clinic.client.post(f"{url}/cancel", headers=dr_weber.headers, json={"reason": " "})
    assert blank.status_code == 422
    assert dispense(clinic, apotheke, amoxicillin["code"]).status_code == 200  # one fill first
    cancelled = clinic.client.post(
        f"{url}/cancel", headers=dr_weber.headers, json={"reason": "Allergic reaction"}
    )
    assert cancelled.status_code == 200, cancelled.text
    told = verify(clinic, apotheke, amoxicillin["code"]).json()
    assert (told["valid"], told["reason"], told["fills_left"]) == (False, "cancelled", 0)
    refused = dispense(clinic, apotheke, amoxicillin["code"])
    assert refused.status_code == 409 and refused.json()["reason"] == "cancelled"
    twice = clinic.client.post(f"{url}/cancel", headers=dr_weber.headers, json={"reason": "y"})
    assert twice.status_code == 409
    assert clinic.client.post(f"{url}/complete", headers=dr_weber.headers).status_code == 409

    ended = clinic.client.post(
        f"/v1/prescriptions/{paracetamol['id']}/complete", headers=dr_weber.headers
    )
    assert ended.status_code == 200, ended.text
    assert verify(clinic, apotheke, paracetamol["code"]).json()["reason"] == "completed"
    seen = {p["id"]: p for p in prescriptions_of(clinic, anna, annas, ended.json()["position"])}
    assert seen[amoxicillin["id"]]["status"] == "cancelled"
    assert seen[amoxicillin["id"]]["cancel_reason"] == "Allergic reaction"
    assert (seen[paracetamol["id"]]["status"], seen[paracetamol["id"]]["fills"]) == (
        "completed",
        0,
    )
    unknown = clinic.client.post(
        f"/v1/prescriptions/{uuid.uuid4()}/complete", headers=dr_weber.headers
    )
    assert unknown.status_code == 404


def test_a_prescription_expires_sixty_days_after_signing(
    clinic: Clinic,
    clock: Clock,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
    apotheke: Person,
) -> None:
    _, [issued] = annas_prescriptions(clinic, dr_weber, anna, AMOXICILLIN)
    clock.now += timedelta(days=59, hours=23)
    assert verify(clinic, apotheke, issued["code"]).json()["valid"] is True
    clock.now += timedelta(hours=1)
    expired = verify(clinic, apotheke, issued["code"]).json()
    assert (expired["valid"], expired["reason"]) == (False, "expired")
    refused = dispense(clinic, apotheke, issued["code"])
    assert refused.status_code == 409 and refused.json()["reason"] == "expired"


def test_wrong_codes_are_counted_against_the_pharmacy_and_its_address_then_locked_out(
    clinic: Clinic, admin_a: Person, dr_weber: Person, anna: Person, practices: Practices
) -> None:
    _, [issued] = annas_prescriptions(clinic, dr_weber, anna, AMOXICILLIN)
    guesser = pharmacy(clinic, admin_a, clinic.org_a, "Guessing pharmacy")
    neighbour = pharmacy(clinic, admin_a, clinic.org_a, "Pharmacy next door")
    wrong = [verify(clinic, guesser, new_code()) for _ in range(MAX_FAILURES - 2)]
    wrong.append(dispense(clinic, guesser, new_code()))
    wrong.append(verify(clinic, guesser, "not a code at all"))
    assert {w.status_code for w in wrong} == {404}
    assert wrong[0].json()["type"].endswith("not-found")
    for call in (verify, dispense):  # even the right code, from that pharmacy or address
        locked = call(clinic, guesser, issued["code"])
        assert locked.status_code == 429 and locked.json()["type"].endswith("too-many-attempts")
    assert verify(clinic, neighbour, issued["code"]).status_code == 429  # same address
    signed_in = clinic.client.post(  # people signing in from there are not locked out by it
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": str(uuid.uuid4())},
    )
    assert signed_in.status_code == 401


def test_only_a_pharmacy_uses_the_pharmacy_routes_and_a_pharmacy_nothing_else(
    clinic: Clinic,
    admin_a: Person,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
    apotheke: Person,
) -> None:
    annas, [issued] = annas_prescriptions(clinic, dr_weber, anna, AMOXICILLIN)
    lab = partner_lab(clinic, admin_a, clinic.org_a, "Laboratoire Ketterthill")
    for who in (lab.person, dr_weber, anna, admin_a):
        for call in (verify, dispense):
            refused = call(clinic, who, issued["code"])
            assert refused.status_code == 403, (who.name, call.__name__, refused.text)
    assert machine_client(clinic, admin_a, clinic.org_a, "Default purpose")  # a lab's
    pharmacy_client = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/machine-clients",
        headers=admin_a.headers,
        json={"name": "Apotheke", "purpose": "pharmacy"},
    ).json()["client_id"]
    as_lab = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/partner-labs",
        headers=admin_a.headers,
        json={"name": "Not a lab", "client_id": pharmacy_client},
    )
    assert as_lab.status_code == 422 and as_lab.json()["type"].endswith("wrong-client-purpose")
    odd = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/machine-clients",
        headers=admin_a.headers,
        json={"name": "Odd", "purpose": "webhook"},
    )
    assert odd.status_code == 422
    for path in (
        f"/v1/patients/{annas}",
        f"/v1/patients/{annas}/prescriptions",
        f"/v1/prescriptions/{issued['id']}",
        f"/v1/patients/{annas}/results",
        f"/v1/protocols/{protocol_of(issued['consultation_id'])}",
        f"/v1/consultations/{issued['consultation_id']}",
    ):
        assert clinic.client.get(path, headers=apotheke.headers).status_code == 403, path
    assert (
        clinic.client.post(
            f"/v1/prescriptions/{issued['id']}/complete", headers=apotheke.headers
        ).status_code
        == 403
    )
    revoked = clinic.client.delete(
        f"/v1/organisations/{clinic.org_b}/machine-clients/{apotheke.actor.actor_id}",
        headers=clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b).headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert verify(clinic, apotheke, issued["code"]).status_code == 401


def test_erasure_leaves_the_prescriptions_unreadable_and_their_codes_open_nothing(
    clinic: Clinic,
    services: Services,
    admin_a: Person,
    dr_weber: Person,
    practices: Practices,
    apotheke: Person,
) -> None:
    patient = str(clinic.register(dr_weber, given_name="Eve", family_name="Erased")["id"])
    signed = prescribe(clinic, dr_weber, dr_weber, patient, with_lines(AMOXICILLIN))
    [issued] = prescriptions_of(clinic, dr_weber, patient, signed)
    assert verify(clinic, apotheke, issued["code"]).status_code == 200
    erased = clinic.client.delete(f"/v1/patients/{patient}", headers=admin_a.headers)
    assert erased.status_code == 200, erased.text
    [row] = prescriptions_of(clinic, dr_weber, patient, erased.json()["position"])
    assert (row["medication"], row["code"], row["status"]) == (None, None, "active")
    assert verify(clinic, apotheke, issued["code"]).status_code == 404
    assert dispense(clinic, apotheke, issued["code"]).status_code == 404  # opens nothing
    runner = services.runners["prescriptions"]
    runner.reset()
    runner.run_until_caught_up()
    [rebuilt] = services.prescriptions.of_patient(uuid.UUID(patient))
    assert rebuilt.medication is None and rebuilt.code is None
    assert services.prescriptions.by_code(issued["code"]) is None


def test_of_two_pharmacies_dispensing_the_last_fill_at_once_exactly_one_wins(
    postgres_only: str,
    clinic: Clinic,
    admin_a: Person,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
    apotheke: Person,
) -> None:
    _, [issued] = annas_prescriptions(clinic, dr_weber, anna, PARACETAMOL)  # one fill only
    other = pharmacy(clinic, admin_a, clinic.org_a, "Pharmacie de la Gare")
    counters = [apotheke, other] * 5
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda who: dispense(clinic, who, issued["code"]), counters))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 1 and statuses.count(409) == 9, statuses
    assert {a.json()["reason"] for a in answers if a.status_code == 409} == {"completed"}


def test_a_machine_client_stored_before_purposes_existed_reads_back_as_a_labs(
    clinic: Clinic, services: Services, admin_a: Person
) -> None:
    client_id, _ = machine_client(clinic, admin_a, clinic.org_a, "Old LIS")
    ident = uuid.UUID(client_id)
    with services.db.transaction() as cur:  # turn the stored event into a version 1 event
        cur.execute(
            "SELECT state FROM stored_events WHERE originator_id = %s AND originator_version = 1",
            (ident,),
        )
        state = orjson.loads(bytes(cur.fetchone()[0]))
        state.pop("purpose"), state.pop("class_version")
        cur.execute(
            "UPDATE stored_events SET state = %s WHERE originator_id = %s "
            "AND originator_version = 1",
            (orjson.dumps(state), ident),
        )
    services.app.repository.cache.clear()  # type: ignore[union-attr]
    first = next(iter(services.app.events.get(ident)))
    assert isinstance(first, MachineClient.Created) and first.purpose == ClientPurpose.LAB
    assert services.bus_uow().get(MachineClient, ident).purpose is ClientPurpose.LAB
    added = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/partner-labs",
        headers=admin_a.headers,
        json={"name": "Old lab", "client_id": client_id},
    )
    assert added.status_code == 201, added.text


# -- the aggregate's invariant ---------------------------------------------------------------

DOCTOR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())
PHARMACY = Actor(uuid.uuid4(), Role.SYSTEM, uuid.uuid4())
ISSUED_AT = datetime(2030, 1, 7, 9, tzinfo=UTC)
Step = tuple[str, int]  # (what, days after issue)


@settings(max_examples=200, deadline=None)
@given(
    refills=st.integers(0, 12),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["dispense", "cancel", "complete", "stranger"]), st.integers(0, 70)
        ),
        max_size=20,
    ),
)
def test_fills_never_exceed_those_allowed_and_completed_means_all_filled_or_ended(
    refills: int, steps: list[Step]
) -> None:
    prescription = Prescription.issue(
        code=new_code(),
        patient_id=uuid.uuid4(),
        consultation_id=uuid.uuid4(),
        protocol_id=uuid.uuid4(),
        line=0,
        doctor_id=DOCTOR.actor_id,
        organisation_id=DOCTOR.organisation_id,
        medication={**AMOXICILLIN, "refills": refills},
        issued_at=ISSUED_AT,
        by=DOCTOR,
    )
    ended_by_doctor = False
    for what, days in sorted(steps, key=lambda s: s[1]):
        at = ISSUED_AT + timedelta(days=days)
        try:
            if what == "dispense":
                prescription.dispense(at=at, by=PHARMACY)
            elif what == "cancel":
                prescription.cancel("changed my mind", at=at, by=DOCTOR)
            elif what == "complete":
                prescription.complete(at=at, by=DOCTOR)
                ended_by_doctor = True
            else:
                prescription.complete(at=at, by=PHARMACY)
        except (NotDispensable, NotThePrescriber, InvalidValue):
            pass
        assert 0 <= prescription.fills <= prescription.fills_allowed == refills + 1
        completed = prescription.status is PrescriptionStatus.COMPLETED
        all_filled = prescription.fills == prescription.fills_allowed
        assert completed == (all_filled or ended_by_doctor)
    replayed: Prescription | None = None  # the recorded events replay to the same state
    for recorded in prescription.collect_events():
        replayed = recorded.mutate(replayed)
    assert replayed is not None
    assert (replayed.fills, replayed.status) == (prescription.fills, prescription.status)
