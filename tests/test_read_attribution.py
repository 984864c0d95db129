"""Every read that discloses anything about an identifiable patient leaves an access record:
who (actor, role, organisation, on whose behalf), whom, what and why, before it is answered.

The GET routes come from the OpenAPI document, and each is classified here: either it
discloses patients (and which ones, read from its answer), or it is listed, with the reason,
among those that disclose no patient. A new GET route fails the first test until classified.
Every route is called by every actor the authorization matrix allows on their own record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adapters.composition import Services
from domain.actor import Role
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at
from tests.test_authorization_matrix import CASES, SESSION_ROUTES, WHO, Tie, Who, build_world

Disclosed = Callable[[Any, str], set[str]]  # (answer, url) -> patient ids


def _the_record(answer: Any, url: str) -> set[str]:
    return {url.split("/v1/patients/")[1].split("/")[0]}


def _items(answer: Any, url: str) -> set[str]:
    return {str(item["id"]) for item in answer["items"]}


def _ids(answer: Any, url: str) -> set[str]:
    return {str(item["id"]) for item in answer}


def _patients_of(answer: Any, url: str) -> set[str]:
    return {str(item["patient_id"]) for item in answer}


def _the_patient_of(answer: Any, url: str) -> set[str]:
    return {str(answer["patient_id"])}


def _record_and_its_consultations(answer: Any, url: str) -> set[str]:
    return _the_record(answer, url) | _patients_of(answer, url)


def _records_held(answer: Any, url: str) -> set[str]:
    own = {str(answer["record_id"])} if answer["record_id"] else set()
    return own | {str(b) for b in answer["beneficiaries"]}


def _patient_participants(answer: Any, url: str) -> set[str]:
    return {str(p["participant_id"]) for p in answer["participants"] if p["kind"] == "patient"}


def _in_the_waiting_room(answer: Any, url: str) -> set[str]:
    current = [answer["in_progress"]] if answer.get("in_progress") else []
    return {str(e["patient_id"]) for e in [*current, *answer["waiting"]]}


def _compliance_record(answer: Any, url: str) -> set[str]:
    return {url.split("/v1/compliance/patients/")[1].split("/")[0]}


def _compliance_stream(answer: Any, url: str) -> set[str]:
    return {url.split("/v1/compliance/aggregates/")[1].split("/")[0]}


DISCLOSES: dict[tuple[str, str], Disclosed] = {
    ("GET", "/v1/patients"): _items,
    ("GET", "/v1/patients/{patient_id}"): _the_record,
    ("GET", "/v1/patients/{patient_id}/consultations"): _record_and_its_consultations,
    ("GET", "/v1/consultations/{consultation_id}"): _the_patient_of,
    ("GET", "/v1/doctors/{doctor_id}/agenda"): _patients_of,
    ("GET", "/v1/beneficiaries"): _ids,
    ("GET", "/v1/accounts/me"): _records_held,
    ("GET", "/v1/compliance/patients/{patient_id}/timeline"): _compliance_record,
    ("GET", "/v1/compliance/patients/{patient_id}/state"): _compliance_record,
    ("GET", "/v1/compliance/patients/{patient_id}/access-log"): _compliance_record,
    ("GET", "/v1/teleconferences/{teleconference_id}"): _patient_participants,
    ("GET", "/v1/waiting-room/doctors/{doctor_id}"): _in_the_waiting_room,
    ("GET", "/v1/protocols/{protocol_id}"): _the_patient_of,
    ("GET", "/v1/protocols/{protocol_id}/verification"): _the_patient_of,
    ("GET", "/v1/patients/{patient_id}/results"): _the_record,
    ("GET", "/v1/doctors/me/abnormal-results"): _patients_of,
    ("GET", "/v1/consultations/{consultation_id}/intake"): _the_patient_of,
    ("GET", "/v1/patients/{patient_id}/signed-consents"): _the_record,
    ("GET", "/v1/consultations/{consultation_id}/recording-permission"): _the_patient_of,
    ("GET", "/v1/patients/{patient_id}/prescriptions"): _the_record,
    ("GET", "/v1/prescriptions/{prescription_id}"): _the_patient_of,
    ("GET", "/v1/consultations/{consultation_id}/room"): _the_patient_of,
    ("GET", "/v1/patients/{patient_id}/clinical-record"): _the_record,
    ("GET", "/v1/compliance/aggregates/{aggregate_id}/timeline"): _compliance_stream,
}
DISCLOSES_NO_PATIENT: dict[tuple[str, str], str] = {
    ("GET", "/v1/health"): "positions of the read models",
    ("GET", "/v1/doctors/{doctor_id}/slots"): "free slots: whom a slot is not free for is not said",
    ("GET", "/v1/slots"): "free slots across doctors",
    ("GET", "/v1/doctors/{doctor_id}/assistants"): "staff only",
    ("GET", "/v1/organisations/{organisation_id}"): "the organisation's own settings",
    ("GET", "/v1/analytics/consultations"): "counts, never a person",
    ("GET", "/v1/analytics/{metric}"): "counts, never a person",
    ("GET", "/v1/compliance/audit"): "whether the audit chains verify",
    ("GET", "/v1/audit/public-key"): "the deployment's checkpoint verification key",
    ("GET", "/v1/consultations/{consultation_id}/waiting"): "a party's place in the queue",
    ("GET", "/v1/on-call/offers"): "open requests of the doctor's pools, no patient",
    ("GET", "/v1/on-call/requests/{request_id}"): "the requester's own request's state",
    ("GET", "/v1/analytics/care"): "counts, never a person",
    ("GET", "/v1/analytics/nps"): "counts, never a person",
    ("GET", "/v1/doctors/{doctor_id}/nps"): "the doctor's own score, never a patient",
    ("GET", "/v1/practitioners/{practitioner_id}/signing-keys"): "a practitioner's public keys",
    ("GET", "/v1/organisations/{organisation_id}/rule-sets"): "the organisation's rules",
    ("GET", "/v1/organisations/{organisation_id}/rule-decisions"): "rule, version, outcome by "
    "consultation id: no patient named",
    ("GET", "/v1/organisations/{organisation_id}/partner-labs"): "the organisation's labs",
    ("GET", "/v1/organisations/{organisation_id}/intake-forms/{form_code}"): "a form's questions",
    ("GET", "/v1/organisations/{organisation_id}/consent-texts/{kind}"): "a consent text",
}


def test_every_get_route_is_classified(clinic: Clinic) -> None:
    spec = clinic.client.get("/openapi.json").json()
    reads = {("GET", path) for path, item in spec["paths"].items() if "get" in item}
    assert reads == set(DISCLOSES) | set(DISCLOSES_NO_PATIENT)
    assert not set(DISCLOSES) & set(DISCLOSES_NO_PATIENT)


def _log_head(services: Services) -> int:
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT COALESCE(MAX(seq), 0) FROM access_log")
        return int(cur.fetchone()[0])


def _records_since(services: Services, seq: int) -> list[tuple[str, ...]]:
    with services.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT actor_id, role, organisation_id, on_behalf_of, subject_id, what, purpose "
            "FROM access_log WHERE seq > %s ORDER BY seq",
            (seq,),
        )
        return [tuple(str(v) if v is not None else "" for v in row) for row in cur.fetchall()]


def _allowed(route: tuple[str, str]) -> list[Who]:
    if route in SESSION_ROUTES:  # a person's own session (a machine client has no account)
        return [who for who in WHO if who not in (Tie.LAB_CLIENT, Tie.PHARMACY)]
    return [who for who in WHO if CASES[route].rule(who, True)]


def _call(route: tuple[str, str], world: Any, who: Who) -> tuple[str, dict[str, Any]]:
    if route in SESSION_ROUTES:
        return route[1], {}
    _, url, kwargs = CASES[route].call(world, who, True)
    return url, kwargs


def test_every_read_of_a_patient_is_attributed_to_its_reader(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person, services: Services
) -> None:
    world = build_world(clinic, dr_weber, dr_other_clinic)
    wrong: list[str] = []
    for route, disclosed in DISCLOSES.items():
        for who in _allowed(route):
            person = world.people[who]
            url, kwargs = _call(route, world, who)
            head = _log_head(services)
            response = clinic.client.get(url, headers=person.headers, **kwargs)
            label = f"{route[1]} as {who.value}"
            if response.status_code != 200:
                wrong.append(f"{label}: {response.status_code} {response.text[:120]}")
                continue
            patients = disclosed(response.json(), url)
            records = _records_since(services, head)
            mine = [r for r in records if r[0] == str(person.actor.actor_id)]
            if {r[4] for r in mine} != patients or len(mine) != len(patients):
                wrong.append(f"{label}: disclosed {sorted(patients)}, recorded {mine}")
                continue
            for _, role, org, behalf, subject, what, purpose in mine:
                acts_for = subject if who in (Tie.HOLDER, Tie.GRANTEE) else ""
                expected_org = str(person.actor.organisation_id or "")
                if (role, org, behalf) != (person.actor.role.value, expected_org, acts_for):
                    wrong.append(f"{label}: recorded as {role}/{org} for {behalf or 'nobody'}")
                if not what or not purpose:
                    wrong.append(f"{label}: what or why missing")
    assert not wrong, "\n".join(wrong)


def test_the_scenario_discloses_patients_on_every_disclosing_route(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person
) -> None:
    """So that the test above cannot pass by answering nobody: one allowed reader per route
    sees at least one patient."""
    world = build_world(clinic, dr_weber, dr_other_clinic)
    for route, disclosed in DISCLOSES.items():
        seen: set[str] = set()
        for who in _allowed(route):
            url, kwargs = _call(route, world, who)
            answer = clinic.client.get(url, headers=world.people[who].headers, **kwargs)
            seen |= disclosed(answer.json(), url)
        assert seen, route


def test_reads_that_disclose_no_patient_name_none_and_leave_no_record(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person, services: Services
) -> None:
    world = build_world(clinic, dr_weber, dr_other_clinic)
    patients = {str(p) for p in world.patient.values()}
    for route in DISCLOSES_NO_PATIENT:
        kwargs: dict[str, Any]
        if route in (("GET", "/v1/health"), ("GET", "/v1/audit/public-key")):  # public
            who: Who = Role.DOCTOR
            url, kwargs = route[1], {}
        else:
            who = _allowed(route)[0]
            url, kwargs = _call(route, world, who)
        head = _log_head(services)
        answer = clinic.client.get(url, headers=world.people[who].headers, **kwargs)
        assert answer.status_code == 200, (route, answer.text)
        assert not [p for p in patients if p in answer.text], route
        assert _records_since(services, head) == [], route


def test_a_doctor_reading_a_consultation_is_on_the_patients_access_log(
    clinic: Clinic, dr_weber: Person, officer: Person
) -> None:
    """The compliance officer sees who looked at Anna's appointment, and why."""
    practices = set_up_schedule(clinic, dr_weber)
    anna = clinic.register(dr_weber)["id"]
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    booked = book_video(clinic, dr_weber, practices, slot, anna).json()["id"]
    read = clinic.client.get(
        f"/v1/consultations/{booked}",
        headers={**dr_weber.headers, "X-Access-Purpose": "billing"},
    )
    assert read.status_code == 200
    log = clinic.client.get(
        f"/v1/compliance/patients/{anna}/access-log", headers=officer.headers
    ).json()
    by_weber = [r for r in log if r["actor_id"] == str(dr_weber.actor.actor_id)]
    assert [(r["role"], r["what"], r["purpose"]) for r in by_weber] == [
        ("doctor", "consultation", "billing")
    ]
