"""Every route x every role (and tie) x own / other record: allowed or refused exactly as intended.

The routes come from the app's own OpenAPI document, so a new route without an entry here fails
this test. "Own" is the actor's own record, organisation or schedule; "other" belongs to another
organisation (or another patient). Besides the eight roles, three ties are actors of their own:
a holder (own = the beneficiary they hold), a grantee (a caregiver with a delegation grant; own =
the granted patient) and an assistant of the organisation who assists nobody (own = their
organisation's records and Dr Weber, whom they do not assist). A refusal is a 403; an allowed
call may still be refused for other reasons (409 slot taken or no second factor, 404 grant
unknown), but never with 403.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from commands.booking import BookUrgent
from commands.consultations import CheckIn
from commands.on_call import RequestOnCall
from commands.protocols import SignProtocol
from domain.actor import Role, system_actor
from domain.patient import record_of
from tests.conftest import Clinic, Person
from tests.lab_fixtures import GLUCOSE_HIGH, Lab, order, partner_lab, report, treated_consultation
from tests.prescription_fixtures import AMOXICILLIN, pharmacy
from tests.scheduling_fixtures import Practices, book_video, set_up_schedule, tomorrow_at

CARE = {Role.DOCTOR, Role.ASSISTANT, Role.NURSE, Role.NURSE_MANAGER}
STAFF = CARE | {Role.ORG_ADMIN}
ROLES: list[Role] = [r for r in Role if r is not Role.SYSTEM]


class Tie(StrEnum):
    HOLDER = "holder"  # a patient account holding a beneficiary
    GRANTEE = "grantee"  # a caregiver (patient account) granted book, attend and read-records
    LONE_ASSISTANT = "assistant-of-nobody"  # an assistant of organisation A assisting nobody
    LAB_CLIENT = "lab-client"  # the machine client of a partner lab of organisation A
    PHARMACY = "pharmacy"  # a pharmacy's machine client (of organisation B)


Who = Role | Tie
WHO: list[Who] = [*ROLES, *Tie]
ROLE_OF: dict[Who, Role] = {
    **{r: r for r in ROLES},
    Tie.HOLDER: Role.PATIENT,
    Tie.GRANTEE: Role.PATIENT,
    Tie.LONE_ASSISTANT: Role.ASSISTANT,
    Tie.LAB_CLIENT: Role.SYSTEM,
    Tie.PHARMACY: Role.SYSTEM,
}

Rule = Callable[[Who, bool], bool]  # (who, own) -> allowed


def anyone_of(roles: set[Role]) -> Rule:
    """By role alone."""
    return lambda who, own: ROLE_OF[who] in roles


def own_only(roles: set[Role]) -> Rule:
    """The given roles, in their own organisation."""
    return lambda who, own: ROLE_OF[who] in roles and own


def doctor_own(roles: set[Role]) -> Rule:
    """The doctor's own schedule or agenda: the doctor, and staff of the doctor's organisation
    in the given roles; an assistant only for a doctor they assist."""
    return lambda who, own: own and who in roles


def patient_record(care: set[Role], *, holder: bool = True, grantee: bool = False) -> Rule:
    """The patient on their own record (a holder on their beneficiary's, a grantee where the
    grant's scopes reach); the given staff on their organisation's records."""

    def rule(who: Who, own: bool) -> bool:
        if who is Tie.HOLDER:
            return own and holder
        if who is Tie.GRANTEE:
            return own and grantee
        return own and (ROLE_OF[who] is Role.PATIENT or ROLE_OF[who] in care)

    return rule


def consultation(care: set[Role], *, holder: bool = True, grantee: bool = True) -> Rule:
    """As ``patient_record``, but an assistant only for the doctors they assist."""
    base = patient_record(care, holder=holder, grantee=grantee)
    return lambda who, own: who is not Tie.LONE_ASSISTANT and base(who, own)


@dataclass
class World:
    clinic: Clinic
    people: dict[Who, Person]
    patient: dict[tuple[Who, bool], str]
    doctor: dict[bool, Practices]
    consultation: dict[tuple[Who, bool], str]
    slot: dict[bool, dict[str, Any]]
    org: dict[bool, uuid.UUID]
    spare_assistant: Person
    other_doctor: Person
    teleconferences: dict[bool, str] = field(default_factory=dict)
    waiting_position: dict[bool, int] = field(default_factory=dict)
    protocols: dict[bool, str] = field(default_factory=dict)
    labs: dict[bool, Lab] = field(default_factory=dict)
    lab_orders: dict[bool, str] = field(default_factory=dict)
    #: own: Dr Weber's prescriptions for the organisation's own patient; other: Dr Novak's
    prescriptions: dict[bool, list[tuple[str, str]]] = field(default_factory=dict)


def build_world(clinic: Clinic, dr_weber: Person, dr_other: Person) -> World:
    people: dict[Who, Person] = {r: clinic.person(r.value, r, clinic.org_a) for r in ROLES}
    people[Role.DOCTOR] = dr_weber
    people[Role.PATIENT] = clinic.person("Anna", Role.PATIENT, None)
    people[Role.COMPLIANCE_OFFICER] = clinic.person("Officer", Role.COMPLIANCE_OFFICER, None)
    people[Tie.HOLDER] = clinic.person("Hana holder", Role.PATIENT, None)
    people[Tie.GRANTEE] = clinic.person("Gus caregiver", Role.PATIENT, None)
    people[Tie.LONE_ASSISTANT] = clinic.person("Lone assistant", Role.ASSISTANT, clinic.org_a)
    spare = clinic.person("Spare assistant", Role.ASSISTANT, clinic.org_a)
    labs: dict[bool, Lab] = {}
    for org, admin in ((clinic.org_a, Role.ORG_ADMIN), (clinic.org_b, Role.ORG_ADMIN)):
        founder = clinic.person("founder", admin, org)
        founded = clinic.client.put(
            f"/v1/organisations/{org}",
            headers=founder.headers,
            json={"name": f"Clinic {org.hex[:4]}"},
        )
        assert founded.status_code == 200, founded.text
        labs[org == clinic.org_a] = partner_lab(clinic, founder, org, f"Lab {org.hex[:4]}")
        if org == clinic.org_b:
            people[Tie.PHARMACY] = pharmacy(clinic, founder, org, "Pharmacie du Globe")
    people[Tie.LAB_CLIENT] = labs[True].person
    assisted = clinic.client.put(
        f"/v1/doctors/{dr_weber.actor.actor_id}/assistants/{people[Role.ASSISTANT].actor.actor_id}",
        headers=dr_weber.headers,
        json={},
    )
    assert assisted.status_code == 200, assisted.text
    own_patient = clinic.register(dr_weber)["id"]
    other_patient = clinic.register(dr_other)["id"]
    annas = clinic.register(people[Role.PATIENT])["id"]
    beneficiary = clinic.client.post(
        "/v1/beneficiaries",
        headers=people[Tie.HOLDER].headers,
        json={"given_name": "Bea", "family_name": "Holder", "birth_date": "2019-05-01"},
    )
    assert beneficiary.status_code == 201, beneficiary.text
    beneficiarys = str(beneficiary.json()["id"])
    manager = people[Role.NURSE_MANAGER]
    granted = clinic.client.post(
        f"/v1/patients/{own_patient}/delegations",
        headers=manager.headers,
        json={
            "grantee_id": str(people[Tie.GRANTEE].actor.actor_id),
            "scopes": ["book", "attend", "read-records"],
        },
    )
    assert granted.status_code == 201, granted.text
    doctors = {True: set_up_schedule(clinic, dr_weber), False: set_up_schedule(clinic, dr_other)}
    slots = {
        own: tomorrow_at(
            clinic, dr_weber if own else dr_other, doctors[own], doctors[own].city, "video-15", 8
        )
        for own in (True, False)
    }

    def booked(by: Person, patient: str, own: bool, index: int) -> str:
        practices = doctors[own]
        slot = tomorrow_at(clinic, by, practices, practices.city, "video-15", index)
        response = book_video(clinic, by, practices, slot, patient)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    mine = booked(dr_weber, own_patient, True, 0)
    theirs = booked(dr_other, other_patient, False, 0)
    annas_consultation = booked(people[Role.PATIENT], annas, True, 1)
    beneficiarys_consultation = booked(people[Tie.HOLDER], beneficiarys, True, 2)
    own_record: dict[Who, tuple[str, str]] = {
        Role.PATIENT: (annas, annas_consultation),
        Tie.HOLDER: (beneficiarys, beneficiarys_consultation),
    }
    patient = {
        (who, own): own_record.get(who, (own_patient, mine))[0] if own else other_patient
        for who in WHO
        for own in (True, False)
    }
    consultations = {
        (who, own): own_record.get(who, (own_patient, mine))[1] if own else theirs
        for who in WHO
        for own in (True, False)
    }
    spare_assigned = clinic.client.put(
        f"/v1/doctors/{dr_weber.actor.actor_id}/assistants/{spare.actor.actor_id}",
        headers=dr_weber.headers,
        json={},
    )
    assert spare_assigned.status_code == 200, spare_assigned.text
    org_admin, base = people[Role.ORG_ADMIN], f"/v1/organisations/{clinic.org_a}"
    for url, body in (
        (f"{base}/intake-forms/allergies", INTAKE_FORM),
        (f"{base}/consent-texts/recording", {"text": "I agree to being recorded."}),
    ):
        published = clinic.client.post(url, headers=org_admin.headers, json=body)
        assert published.status_code == 200, published.text
    return World(
        clinic,
        people,
        patient,
        doctors,
        consultations,
        slots,
        {True: clinic.org_a, False: clinic.org_b},
        spare,
        dr_other,
        labs=labs,
    )


@dataclass(frozen=True)
class Case:
    rule: Rule
    call: Callable[[World, Who, bool], tuple[str, str, dict[str, Any]]]


def p(world: World, role: Who, own: bool) -> str:
    return world.patient[(role, own)]


def d(world: World, own: bool) -> str:
    return str(world.doctor[own].doctor_id)


def pr(world: World, own: bool) -> str:
    return str(world.doctor[own].city)


def c(world: World, role: Who, own: bool) -> str:
    return world.consultation[(role, own)]


def booking(world: World, role: Who, own: bool) -> dict[str, Any]:
    slot = world.slot[own]
    return {
        "patient_id": p(world, role, own),
        "doctor_id": d(world, own),
        "practice_id": pr(world, own),
        "type_code": "video-15",
        "start": slot["start"],
        "kind": "video",
    }


def waiting_room(world: World, own: bool) -> tuple[str, str, dict[str, Any]]:
    """The doctor's waiting room with a patient in it (own: Anna, urgently with Dr Weber,
    checked in), read once the waiting room has seen the check-in."""
    if own and own not in world.waiting_position:
        weber = world.people[Role.DOCTOR].actor
        bus = world.clinic.services.bus
        anna = uuid.UUID(p(world, Role.PATIENT, True))
        urgent = bus.handle(
            BookUrgent(weber, anna, weber.actor_id, "chest pain", 20, world.org[own])
        )
        checked_in = bus.handle(CheckIn(weber, urgent.aggregate_id))
        world.waiting_position[own] = checked_in.position or 0
    after = {"after": world.waiting_position[own]} if own else {}
    return ("GET", f"/v1/waiting-room/doctors/{d(world, own)}", {"params": after})


def on_call(world: World, role: Who, own: bool) -> str:
    """A fresh urgent request to the cardiology pool, for the record at hand."""
    made = world.clinic.services.bus.handle(
        RequestOnCall(
            system_actor(),
            uuid.UUID(p(world, role, own)),
            world.org[own],
            "cardiology",
            reason="sudden pain",
        )
    )
    return str(made.aggregate_id)


def conference_body(participants: list[str]) -> dict[str, Any]:
    return {
        "start": SOON.isoformat(),
        "end": (SOON + timedelta(hours=1)).isoformat(),
        "participants": participants,
    }


def tc(world: World, own: bool) -> str:
    """Own: Dr Weber's teleconference with the staff of organisation A (but the analyst) and
    the patients of the world (for the holder, the beneficiary; for the grantee, the granted
    patient); other: Dr Novak's, with nobody of ours."""
    if own not in world.teleconferences:
        staff = (Role.ASSISTANT, Role.NURSE, Role.NURSE_MANAGER, Role.ORG_ADMIN)
        invited = [str(world.people[r].actor.actor_id) for r in (*staff, Tie.LONE_ASSISTANT)]
        invited += sorted({p(world, who, True) for who in (Role.PATIENT, Tie.HOLDER, Tie.GRANTEE)})
        organiser = world.people[Role.DOCTOR] if own else world.other_doctor
        made = world.clinic.client.post(
            "/v1/teleconferences",
            headers=organiser.headers,
            json=conference_body(invited if own else []),
        )
        assert made.status_code == 201, made.text
        world.teleconferences[own] = str(made.json()["id"])
    return world.teleconferences[own]


Call = Callable[[World, Who, bool], tuple[str, str, dict[str, Any]]]


def consultation_step(name: str) -> Call:
    return lambda w, r, o: ("POST", f"/v1/consultations/{c(w, r, o)}/{name}", {})


def conference_step(name: str) -> Call:
    return lambda w, r, o: ("POST", f"/v1/teleconferences/{tc(w, o)}/{name}", {})


def in_conference(who: Who, own: bool) -> bool:
    """The organiser and the participants of their own teleconference (a holder and a grantee
    for the patient they act for)."""
    return own and who not in (Role.ANALYST, Role.COMPLIANCE_OFFICER, Tie.LAB_CLIENT, Tie.PHARMACY)


def lab_order(world: World, own: bool) -> str:
    """Own: Dr Weber's order for a patient of theirs, sent to organisation A's lab (whose
    machine client is the lab-client actor); other: Dr Novak's, to organisation B's lab."""
    if own not in world.lab_orders:
        doctor = world.people[Role.DOCTOR] if own else world.other_doctor
        patient = p(world, Role.DOCTOR, own)
        consultation = treated_consultation(world.clinic, doctor, patient)
        made = order(world.clinic, doctor, consultation, world.labs[own])
        assert made.status_code == 201, made.text
        world.lab_orders[own] = str(made.json()["id"])
    return world.lab_orders[own]


def abnormal(world: World) -> int:
    """An abnormal result for Dr Weber's own order (reported once): its position."""
    reported = report(world.clinic, world.labs[True].person, lab_order(world, True), GLUCOSE_HIGH)
    assert reported.status_code in (200, 409), reported.text  # 409: the matrix cancelled it
    return int(world.clinic.services.recorder.max_notification_id() or 0)


SOON = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=0)
COMPLAINT = {
    "locations": ["head"],
    "severity": 3,
    "onset": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    "symptoms": ["fever"],
}
INTAKE_FORM = {
    "title": "Allergies",
    "questions": [{"code": "notes", "type": "text", "label": "Allergies?"}],
}
MANAGE = {Role.DOCTOR, Role.ASSISTANT, Role.ORG_ADMIN}


#: a protocol that can be signed
MATRIX_PROTOCOL = {
    "complaints": "Headache",
    "diagnoses": [{"code": "R51", "text": "Headache", "primary": True}],
}


def protocol(world: World, own: bool) -> str:
    """Own: the protocol of an urgent consultation of Dr Weber with the organisation's own
    patient (drafted during the call, completed); other: Dr Novak's with theirs. Dr Weber then
    steps up, so signing is refused by role only."""
    if own not in world.protocols:
        doctor = world.people[Role.DOCTOR] if own else world.other_doctor
        patient = world.patient[(Role.DOCTOR, own)]
        client = world.clinic.client
        urgent = client.post(
            "/v1/consultations/urgent",
            headers=doctor.headers,
            json={"patient_id": patient, "doctor_id": str(doctor.actor.actor_id), "reason": "pain"},
        )
        assert urgent.status_code == 201, urgent.text
        consultation = str(urgent.json()["id"])
        for name in ("check-in", "take", "admit"):
            done = client.post(f"/v1/consultations/{consultation}/{name}", headers=doctor.headers)
            assert done.status_code == 200, done.text
        drafted = client.post(
            f"/v1/consultations/{consultation}/protocol",
            headers=doctor.headers,
            json=MATRIX_PROTOCOL,
        )
        assert drafted.status_code == 201, drafted.text
        done = client.post(f"/v1/consultations/{consultation}/complete", headers=doctor.headers)
        assert done.status_code == 200, done.text
        world.protocols[own] = str(drafted.json()["id"])
        if own:
            assert doctor.totp is not None
            code = doctor.totp.at(time.time() + doctor.totp.interval)
            stepped = client.post(
                "/v1/sessions/current/step-up", headers=doctor.headers, json={"code": code}
            )
            assert stepped.status_code == 204, stepped.text
    return world.protocols[own]


def prescribed(world: World, own: bool, line: int) -> tuple[str, str]:
    """(id, code) of a line of a signed protocol's prescriptions: own, Dr Weber's for the
    organisation's own patient; other, Dr Novak's for theirs (signed through the bus: the
    routes' step-up is not what the matrix checks). Each route has a line of its own."""
    if own not in world.prescriptions:
        doctor = world.people[Role.DOCTOR] if own else world.other_doctor
        patient = world.patient[(Role.DOCTOR, own)]
        client, services = world.clinic.client, world.clinic.services
        urgent = client.post(
            "/v1/consultations/urgent",
            headers=doctor.headers,
            json={"patient_id": patient, "doctor_id": str(doctor.actor.actor_id), "reason": "pain"},
        )
        assert urgent.status_code == 201, urgent.text
        consultation = str(urgent.json()["id"])
        for name in ("check-in", "take", "admit"):
            done = client.post(f"/v1/consultations/{consultation}/{name}", headers=doctor.headers)
            assert done.status_code == 200, done.text
        lines = [{**AMOXICILLIN, "refills": 12, "medication_code": f"J01CA0{i}"} for i in range(4)]
        drafted = client.post(
            f"/v1/consultations/{consultation}/protocol",
            headers=doctor.headers,
            json={**MATRIX_PROTOCOL, "prescriptions": lines},
        )
        assert drafted.status_code == 201, drafted.text
        done = client.post(f"/v1/consultations/{consultation}/complete", headers=doctor.headers)
        assert done.status_code == 200, done.text
        signed = services.bus.handle(
            SignProtocol(doctor.actor, uuid.UUID(str(drafted.json()["id"])))
        )
        assert services.runners["prescriptions"].wait_for(signed.position or 0, 10)
        rows = sorted(services.prescriptions.of_patient(uuid.UUID(patient)), key=lambda r: r.line)
        world.prescriptions[own] = [(str(r.prescription_id), str(r.code)) for r in rows]
    return world.prescriptions[own][line]


def prescription_reader(who: Who, own: bool) -> bool:
    """The prescription's patient is the organisation's own (not Anna's, not the held
    beneficiary): its care team and the caregiver granted read-records."""
    return (
        own
        and who not in (Role.PATIENT, Tie.HOLDER)
        and patient_record(CARE, grantee=True)(who, own)
    )


#: the protocol's readers: its doctor, an assistant of the doctor, the care team of its
#: organisation, a caregiver granted read-records (the patient's side: tests/test_protocols.py)
PROTOCOL_READERS = (Role.DOCTOR, Role.ASSISTANT, Role.NURSE, Role.NURSE_MANAGER, Tie.GRANTEE)


CASES: dict[tuple[str, str], Case] = {
    ("POST", "/v1/patients"): Case(
        anyone_of(STAFF | {Role.PATIENT}),
        lambda w, r, o: (
            "POST",
            "/v1/patients",
            {"json": {"given_name": "New", "family_name": "Person"}},
        ),
    ),
    ("GET", "/v1/patients"): Case(anyone_of(CARE), lambda w, r, o: ("GET", "/v1/patients", {})),
    ("POST", "/v1/patients/_search"): Case(
        anyone_of(CARE), lambda w, r, o: ("POST", "/v1/patients/_search", {"json": {}})
    ),
    ("GET", "/v1/patients/{patient_id}"): Case(
        patient_record(CARE, grantee=True),
        lambda w, r, o: ("GET", f"/v1/patients/{p(w, r, o)}", {}),
    ),
    ("PATCH", "/v1/patients/{patient_id}/contact-details"): Case(
        patient_record(CARE),
        lambda w, r, o: (
            "PATCH",
            f"/v1/patients/{p(w, r, o)}/contact-details",
            {"json": {"phone": "+352 1"}},
        ),
    ),
    ("POST", "/v1/patients/{patient_id}/consents"): Case(
        patient_record(CARE),
        lambda w, r, o: (
            "POST",
            f"/v1/patients/{p(w, r, o)}/consents",
            {"json": {"purpose": "research"}},
        ),
    ),
    ("DELETE", "/v1/patients/{patient_id}/consents/{purpose}"): Case(
        patient_record(CARE),
        lambda w, r, o: ("DELETE", f"/v1/patients/{p(w, r, o)}/consents/recording", {}),
    ),
    ("POST", "/v1/patients/{patient_id}/delegations"): Case(
        patient_record({Role.NURSE_MANAGER}),
        lambda w, r, o: (
            "POST",
            f"/v1/patients/{p(w, r, o)}/delegations",
            {"json": {"grantee_id": str(uuid.uuid4()), "scopes": ["book"]}},
        ),
    ),
    ("DELETE", "/v1/patients/{patient_id}/delegations/{grant_id}"): Case(
        patient_record({Role.NURSE_MANAGER}),
        lambda w, r, o: ("DELETE", f"/v1/patients/{p(w, r, o)}/delegations/{uuid.uuid4()}", {}),
    ),
    ("GET", "/v1/patients/{patient_id}/consultations"): Case(
        lambda who, own: ROLE_OF[who] in STAFF or (ROLE_OF[who] is Role.PATIENT and own),
        lambda w, r, o: ("GET", f"/v1/patients/{p(w, r, o)}/consultations", {}),
    ),
    ("GET", "/v1/compliance/patients/{patient_id}/timeline"): Case(
        anyone_of({Role.COMPLIANCE_OFFICER}),
        lambda w, r, o: ("GET", f"/v1/compliance/patients/{p(w, r, o)}/timeline", {}),
    ),
    ("GET", "/v1/compliance/patients/{patient_id}/state"): Case(
        anyone_of({Role.COMPLIANCE_OFFICER}),
        lambda w, r, o: (
            "GET",
            f"/v1/compliance/patients/{p(w, r, o)}/state",
            {"params": {"at": SOON.isoformat()}},
        ),
    ),
    ("GET", "/v1/compliance/patients/{patient_id}/access-log"): Case(
        anyone_of({Role.COMPLIANCE_OFFICER}),
        lambda w, r, o: ("GET", f"/v1/compliance/patients/{p(w, r, o)}/access-log", {}),
    ),
    ("GET", "/v1/compliance/audit"): Case(
        anyone_of({Role.COMPLIANCE_OFFICER}), lambda w, r, o: ("GET", "/v1/compliance/audit", {})
    ),
    ("GET", "/v1/analytics/consultations"): Case(
        own_only({Role.ANALYST, Role.ORG_ADMIN}),
        lambda w, r, o: (
            "GET",
            "/v1/analytics/consultations",
            {"params": {"organisation_id": str(w.org[o])}},
        ),
    ),
    ("GET", "/v1/analytics/{metric}"): Case(
        own_only({Role.ANALYST, Role.ORG_ADMIN}),
        lambda w, r, o: (
            "GET",
            "/v1/analytics/registrations",
            {"params": {"organisation_id": str(w.org[o])}},
        ),
    ),
    ("PUT", "/v1/doctors/{doctor_id}/schedule"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: (
            "PUT",
            f"/v1/doctors/{d(w, o)}/schedule",
            {
                "json": {
                    "time_zone": "Europe/Luxembourg",
                    "specialty": "cardiology",
                    "languages": ["fr"],
                }
            },
        ),
    ),
    ("POST", "/v1/doctors/{doctor_id}/practices"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: (
            "POST",
            f"/v1/doctors/{d(w, o)}/practices",
            {"json": {"practice_id": pr(w, o), "organisation_id": str(w.org[o])}},
        ),
    ),
    ("PUT", "/v1/doctors/{doctor_id}/practices/{practice_id}/consultation-types/{code}"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: (
            "PUT",
            f"/v1/doctors/{d(w, o)}/practices/{pr(w, o)}/consultation-types/video-15",
            {"json": {"duration_minutes": 15, "kinds": ["video"]}},
        ),
    ),
    ("PUT", "/v1/doctors/{doctor_id}/practices/{practice_id}/weekly-hours/{weekday}"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: (
            "PUT",
            f"/v1/doctors/{d(w, o)}/practices/{pr(w, o)}/weekly-hours/6",
            {"json": {"spans": ["08:00-12:00", "13:00-17:00"]}},
        ),
    ),
    ("PUT", "/v1/doctors/{doctor_id}/practices/{practice_id}/dates/{day}"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: (
            "PUT",
            f"/v1/doctors/{d(w, o)}/practices/{pr(w, o)}/dates/{SOON.date()}",
            {"json": {"spans": None}},
        ),
    ),
    ("POST", "/v1/doctors/{doctor_id}/time-off"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: (
            "POST",
            f"/v1/doctors/{d(w, o)}/time-off",
            {
                "json": {
                    "start": SOON.isoformat(),
                    "end": (SOON + timedelta(hours=1)).isoformat(),
                    "kind": "break",
                }
            },
        ),
    ),
    ("DELETE", "/v1/doctors/{doctor_id}/time-off/{period_id}"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: ("DELETE", f"/v1/doctors/{d(w, o)}/time-off/{uuid.uuid4()}", {}),
    ),
    ("POST", "/v1/doctors/{doctor_id}/calendars"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: (
            "POST",
            f"/v1/doctors/{d(w, o)}/calendars",
            {"json": {"kind": "ics", "url": "http://127.0.0.1:9/none.ics"}},
        ),
    ),
    ("DELETE", "/v1/doctors/{doctor_id}/calendars/{calendar_id}"): Case(
        doctor_own(MANAGE),
        lambda w, r, o: ("DELETE", f"/v1/doctors/{d(w, o)}/calendars/{uuid.uuid4()}", {}),
    ),
    ("POST", "/v1/doctors/{doctor_id}/calendars/sync"): Case(
        doctor_own(MANAGE), lambda w, r, o: ("POST", f"/v1/doctors/{d(w, o)}/calendars/sync", {})
    ),
    ("GET", "/v1/doctors/{doctor_id}/slots"): Case(
        anyone_of(STAFF | {Role.PATIENT}),
        lambda w, r, o: ("GET", f"/v1/doctors/{d(w, o)}/slots", {}),
    ),
    ("GET", "/v1/slots"): Case(
        anyone_of(STAFF | {Role.PATIENT}),
        lambda w, r, o: ("GET", "/v1/slots", {"params": {"specialty": "cardiology"}}),
    ),
    ("GET", "/v1/doctors/{doctor_id}/agenda"): Case(
        doctor_own({Role.DOCTOR, Role.ASSISTANT, Role.ORG_ADMIN, Role.NURSE_MANAGER}),
        lambda w, r, o: ("GET", f"/v1/doctors/{d(w, o)}/agenda", {}),
    ),
    ("POST", "/v1/consultations"): Case(
        consultation(STAFF),
        lambda w, r, o: ("POST", "/v1/consultations", {"json": booking(w, r, o)}),
    ),
    ("POST", "/v1/consultations/urgent"): Case(
        consultation(STAFF),
        lambda w, r, o: (
            "POST",
            "/v1/consultations/urgent",
            {"json": {"patient_id": p(w, r, o), "doctor_id": d(w, o), "reason": "sudden pain"}},
        ),
    ),
    ("GET", "/v1/consultations/{consultation_id}"): Case(
        consultation(STAFF), lambda w, r, o: ("GET", f"/v1/consultations/{c(w, r, o)}", {})
    ),
    ("POST", "/v1/consultations/{consultation_id}/confirm"): Case(
        consultation(STAFF),
        lambda w, r, o: ("POST", f"/v1/consultations/{c(w, r, o)}/confirm", {}),
    ),
    ("POST", "/v1/consultations/{consultation_id}/reschedule"): Case(
        consultation(STAFF),
        lambda w, r, o: (
            "POST",
            f"/v1/consultations/{c(w, r, o)}/reschedule",
            {"json": {"start": w.slot[o]["start"]}},
        ),
    ),
    ("POST", "/v1/consultations/{consultation_id}/no-show"): Case(
        lambda who, own: who is not Tie.LONE_ASSISTANT and own_only(STAFF)(who, own),
        lambda w, r, o: ("POST", f"/v1/consultations/{c(w, r, o)}/no-show", {}),
    ),
    ("POST", "/v1/consultations/{consultation_id}/cancel"): Case(
        consultation(STAFF),
        lambda w, r, o: (
            "POST",
            f"/v1/consultations/{c(w, r, o)}/cancel",
            {"json": {"reason": "matrix-test"}},
        ),
    ),
    ("PUT", "/v1/organisations/{organisation_id}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: ("PUT", f"/v1/organisations/{w.org[o]}", {"json": {"name": "Clinic"}}),
    ),
    ("GET", "/v1/organisations/{organisation_id}"): Case(
        own_only(STAFF), lambda w, r, o: ("GET", f"/v1/organisations/{w.org[o]}", {})
    ),
    ("PUT", "/v1/organisations/{organisation_id}/settings"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "PUT",
            f"/v1/organisations/{w.org[o]}/settings",
            {"json": {"settings": {"locale": "fr-LU"}}},
        ),
    ),
    ("PUT", "/v1/organisations/{organisation_id}/booking-templates/{type_code}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "PUT",
            f"/v1/organisations/{w.org[o]}/booking-templates/video-15",
            {"json": {"room": "p2p"}},
        ),
    ),
    ("DELETE", "/v1/organisations/{organisation_id}/booking-templates/{type_code}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: ("DELETE", f"/v1/organisations/{w.org[o]}/booking-templates/none", {}),
    ),
    ("POST", "/v1/organisations/{organisation_id}/invitations"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "POST",
            f"/v1/organisations/{w.org[o]}/invitations",
            {"json": {"email": f"n{uuid.uuid4().hex[:8]}@example.lu", "role": "nurse"}},
        ),
    ),
    ("POST", "/v1/organisations/{organisation_id}/staff/{account_id}/deactivate"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "POST",
            f"/v1/organisations/{w.org[o]}/staff/{uuid.uuid4()}/deactivate",
            {},
        ),
    ),
    ("GET", "/v1/beneficiaries"): Case(
        anyone_of({Role.PATIENT}), lambda w, r, o: ("GET", "/v1/beneficiaries", {})
    ),
    ("POST", "/v1/beneficiaries"): Case(
        anyone_of({Role.PATIENT}),
        lambda w, r, o: (
            "POST",
            "/v1/beneficiaries",
            {"json": {"given_name": "Kid", "family_name": "Person"}},
        ),
    ),
    ("POST", "/v1/beneficiaries/{patient_id}/transfer"): Case(
        lambda who, own: who is Tie.HOLDER and own,
        lambda w, r, o: (
            "POST",
            f"/v1/beneficiaries/{p(w, r, o)}/transfer",
            {"json": {"email": f"b{uuid.uuid4().hex[:8]}@example.lu"}},
        ),
    ),
    ("DELETE", "/v1/beneficiaries/{patient_id}/transfer"): Case(
        lambda who, own: who is Tie.HOLDER and own,
        lambda w, r, o: ("DELETE", f"/v1/beneficiaries/{p(w, r, o)}/transfer", {}),
    ),
    ("POST", "/v1/patients/{patient_id}/invitation"): Case(
        lambda who, own: own and who in (Role.DOCTOR, Role.ASSISTANT, Tie.LONE_ASSISTANT),
        lambda w, r, o: (
            "POST",
            f"/v1/patients/{p(w, r, o)}/invitation",
            {"json": {"email": f"i{uuid.uuid4().hex[:8]}@example.lu"}},
        ),
    ),
    ("PUT", "/v1/doctors/{doctor_id}/assistants/{assistant_id}"): Case(
        doctor_own({Role.DOCTOR, Role.ORG_ADMIN}),
        lambda w, r, o: (
            "PUT",
            f"/v1/doctors/{d(w, o)}/assistants/{w.spare_assistant.actor.actor_id}",
            {"json": {}},
        ),
    ),
    ("DELETE", "/v1/doctors/{doctor_id}/assistants/{assistant_id}"): Case(
        doctor_own({Role.DOCTOR, Role.ORG_ADMIN}),
        lambda w, r, o: (
            "DELETE",
            f"/v1/doctors/{d(w, o)}/assistants/{w.spare_assistant.actor.actor_id}",
            {},
        ),
    ),
    ("GET", "/v1/doctors/{doctor_id}/assistants"): Case(
        doctor_own({Role.DOCTOR, Role.ORG_ADMIN}),
        lambda w, r, o: ("GET", f"/v1/doctors/{d(w, o)}/assistants", {}),
    ),
    ("DELETE", "/v1/organisations/{organisation_id}/staff/{account_id}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: ("DELETE", f"/v1/organisations/{w.org[o]}/staff/{uuid.uuid4()}", {}),
    ),
    ("PUT", "/v1/on-call/pools/{organisation_id}/{specialty}/duty"): Case(
        own_only({Role.DOCTOR}),
        lambda w, r, o: ("PUT", f"/v1/on-call/pools/{w.org[o]}/cardiology/duty", {}),
    ),
    ("DELETE", "/v1/on-call/pools/{organisation_id}/{specialty}/duty"): Case(
        own_only({Role.DOCTOR}),
        lambda w, r, o: ("DELETE", f"/v1/on-call/pools/{w.org[o]}/cardiology/duty", {}),
    ),
    ("POST", "/v1/on-call/requests"): Case(
        patient_record(set(), grantee=True),
        lambda w, r, o: (
            "POST",
            "/v1/on-call/requests",
            {
                "json": {
                    "patient_id": p(w, r, o),
                    "organisation_id": str(w.org[o]),
                    "specialty": "cardiology",
                    "reason": "sudden pain",
                }
            },
        ),
    ),
    ("GET", "/v1/on-call/offers"): Case(
        anyone_of({Role.DOCTOR}), lambda w, r, o: ("GET", "/v1/on-call/offers", {})
    ),
    # a doctor not on duty in the request's pool: 409 not-on-duty (the pool refuses, not the role)
    ("POST", "/v1/on-call/requests/{request_id}/accept"): Case(
        anyone_of({Role.DOCTOR}),
        lambda w, r, o: ("POST", f"/v1/on-call/requests/{on_call(w, r, o)}/accept", {}),
    ),
    ("POST", "/v1/on-call/requests/{request_id}/withdraw"): Case(
        patient_record(set(), grantee=True),
        lambda w, r, o: ("POST", f"/v1/on-call/requests/{on_call(w, r, o)}/withdraw", {}),
    ),
    ("GET", "/v1/on-call/requests/{request_id}"): Case(
        patient_record(set(), grantee=True),
        lambda w, r, o: ("GET", f"/v1/on-call/requests/{on_call(w, r, o)}", {}),
    ),
    ("GET", "/v1/waiting-room/doctors/{doctor_id}"): Case(
        doctor_own(STAFF),
        lambda w, r, o: waiting_room(w, o),
    ),
    ("GET", "/v1/consultations/{consultation_id}/waiting"): Case(
        consultation(STAFF),
        lambda w, r, o: ("GET", f"/v1/consultations/{c(w, r, o)}/waiting", {}),
    ),
    # the consultation's life (before erasure, which ends the ties these rely on)
    ("POST", "/v1/consultations/async"): Case(
        consultation(STAFF),
        lambda w, r, o: (
            "POST",
            "/v1/consultations/async",
            {
                "json": {
                    "patient_id": p(w, r, o),
                    "doctor_id": d(w, o),
                    "organisation_id": str(w.org[o]),
                    "type_code": "general",
                    "question": "A question for the matrix",
                }
            },
        ),
    ),
    ("POST", "/v1/consultations/{consultation_id}/check-in"): Case(
        consultation(STAFF),
        lambda w, r, o: ("POST", f"/v1/consultations/{c(w, r, o)}/check-in", {}),
    ),
    **{
        ("POST", f"/v1/consultations/{{consultation_id}}/{name}"): Case(
            lambda who, own: who is Role.DOCTOR and own,
            consultation_step(name),
        )
        for name in ("take", "admit", "complete", "answer")
    },
    ("POST", "/v1/consultations/{consultation_id}/close"): Case(
        lambda who, own: own and who in (Role.DOCTOR, Role.PATIENT, Tie.HOLDER, Tie.GRANTEE),
        lambda w, r, o: ("POST", f"/v1/consultations/{c(w, r, o)}/close", {}),
    ),
    ("POST", "/v1/consultations/{consultation_id}/reopen"): Case(
        lambda who, own: own and who in (Role.PATIENT, Tie.HOLDER, Tie.GRANTEE),
        lambda w, r, o: ("POST", f"/v1/consultations/{c(w, r, o)}/reopen", {}),
    ),
    ("POST", "/v1/consultations/{consultation_id}/rate"): Case(
        lambda who, own: own and who in (Role.PATIENT, Tie.HOLDER),
        lambda w, r, o: ("POST", f"/v1/consultations/{c(w, r, o)}/rate", {"json": {"score": 7}}),
    ),
    ("POST", "/v1/teleconferences"): Case(
        anyone_of(STAFF),
        lambda w, r, o: ("POST", "/v1/teleconferences", {"json": conference_body([])}),
    ),
    ("GET", "/v1/teleconferences/{teleconference_id}"): Case(
        in_conference, lambda w, r, o: ("GET", f"/v1/teleconferences/{tc(w, o)}", {})
    ),
    ("POST", "/v1/teleconferences/{teleconference_id}/respond"): Case(
        lambda who, own: in_conference(who, own) and who is not Role.DOCTOR,
        lambda w, r, o: (
            "POST",
            f"/v1/teleconferences/{tc(w, o)}/respond",
            {"json": {"accept": True}},
        ),
    ),
    ("POST", "/v1/teleconferences/{teleconference_id}/participants"): Case(
        lambda who, own: who is Role.DOCTOR and own,
        lambda w, r, o: (
            "POST",
            f"/v1/teleconferences/{tc(w, o)}/participants",
            {"json": {"participant_id": str(w.spare_assistant.actor.actor_id)}},
        ),
    ),
    ("DELETE", "/v1/teleconferences/{teleconference_id}/participants/{participant_id}"): Case(
        lambda who, own: who is Role.DOCTOR and own,
        lambda w, r, o: (
            "DELETE",
            f"/v1/teleconferences/{tc(w, o)}/participants/{w.spare_assistant.actor.actor_id}",
            {},
        ),
    ),
    **{
        ("POST", f"/v1/teleconferences/{{teleconference_id}}/{name}"): Case(
            lambda who, own: who is Role.DOCTOR and own,
            conference_step(name),
        )
        for name in ("start", "end", "cancel")
    },
    # protocols and jurisdiction rules (before erasure, which ends the ties these rely on)
    ("POST", "/v1/consultations/{consultation_id}/protocol"): Case(
        lambda who, own: own and who in (Role.DOCTOR, Role.ASSISTANT),
        lambda w, r, o: (
            "POST",
            f"/v1/consultations/{c(w, r, o)}/protocol",
            {"json": {"complaints": "Headache"}},
        ),
    ),
    ("PUT", "/v1/protocols/{protocol_id}"): Case(
        lambda who, own: own and who in (Role.DOCTOR, Role.ASSISTANT),
        lambda w, r, o: (
            "PUT",
            f"/v1/protocols/{protocol(w, o)}",
            {"json": MATRIX_PROTOCOL},
        ),
    ),
    ("POST", "/v1/protocols/{protocol_id}/sign"): Case(
        lambda who, own: own and who is Role.DOCTOR,
        lambda w, r, o: ("POST", f"/v1/protocols/{protocol(w, o)}/sign", {}),
    ),
    ("POST", "/v1/protocols/{protocol_id}/addenda"): Case(
        lambda who, own: own and who is Role.DOCTOR,
        lambda w, r, o: (
            "POST",
            f"/v1/protocols/{protocol(w, o)}/addenda",
            {"json": {"text": "A correction"}},
        ),
    ),
    ("GET", "/v1/protocols/{protocol_id}"): Case(
        lambda who, own: own and who in PROTOCOL_READERS,
        lambda w, r, o: ("GET", f"/v1/protocols/{protocol(w, o)}", {}),
    ),
    ("GET", "/v1/protocols/{protocol_id}/verification"): Case(
        lambda who, own: (own and who in PROTOCOL_READERS) or who is Role.COMPLIANCE_OFFICER,
        lambda w, r, o: ("GET", f"/v1/protocols/{protocol(w, o)}/verification", {}),
    ),
    ("GET", "/v1/practitioners/{practitioner_id}/signing-keys"): Case(
        lambda who, own: True,
        lambda w, r, o: ("GET", f"/v1/practitioners/{d(w, o)}/signing-keys", {}),
    ),
    ("POST", "/v1/organisations/{organisation_id}/rule-sets"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "POST",
            f"/v1/organisations/{w.org[o]}/rule-sets",
            {"json": {"rules": {}}},
        ),
    ),
    **{
        ("GET", f"/v1/organisations/{{organisation_id}}/{name}"): Case(
            lambda who, own: (
                ROLE_OF[who] is Role.COMPLIANCE_OFFICER or (own and ROLE_OF[who] in STAFF)
            ),
            lambda w, r, o, name=name: ("GET", f"/v1/organisations/{w.org[o]}/{name}", {}),  # type: ignore[misc]
        )
        for name in ("rule-sets", "rule-decisions")
    },
    # lab orders and results (before erasure, which ends the ties the results' reads rely on)
    ("POST", "/v1/organisations/{organisation_id}/machine-clients"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "POST",
            f"/v1/organisations/{w.org[o]}/machine-clients",
            {"json": {"name": "Matrix LIS"}},
        ),
    ),
    ("DELETE", "/v1/organisations/{organisation_id}/machine-clients/{client_id}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "DELETE",
            f"/v1/organisations/{w.org[o]}/machine-clients/{uuid.uuid4()}",
            {},
        ),
    ),
    ("POST", "/v1/organisations/{organisation_id}/partner-labs"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "POST",
            f"/v1/organisations/{w.org[o]}/partner-labs",
            {"json": {"name": "Matrix lab", "client_id": str(uuid.uuid4())}},
        ),
    ),
    ("DELETE", "/v1/organisations/{organisation_id}/partner-labs/{lab_id}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "DELETE",
            f"/v1/organisations/{w.org[o]}/partner-labs/{uuid.uuid4()}",
            {},
        ),
    ),
    ("GET", "/v1/organisations/{organisation_id}/partner-labs"): Case(
        own_only(STAFF),
        lambda w, r, o: ("GET", f"/v1/organisations/{w.org[o]}/partner-labs", {}),
    ),
    ("POST", "/v1/consultations/{consultation_id}/lab-orders"): Case(
        lambda who, own: who is Role.DOCTOR and own,
        lambda w, r, o: (
            "POST",
            f"/v1/consultations/{c(w, r, o)}/lab-orders",
            {"json": {"lab_id": w.labs[o].lab_id, "tests": [{"code": "718-7", "display": "Hb"}]}},
        ),
    ),
    ("POST", "/v1/consultations/{consultation_id}/lab-orders/{order_id}/cancel"): Case(
        lambda who, own: who is Role.DOCTOR and own,
        lambda w, r, o: (
            "POST",
            f"/v1/consultations/{c(w, r, o)}/lab-orders/{uuid.uuid4()}/cancel",
            {"json": {"reason": "matrix-test"}},
        ),
    ),
    # only the machine client of the lab the order was sent to
    ("POST", "/v1/lab-orders/{order_id}/results"): Case(
        lambda who, own: who is Tie.LAB_CLIENT and own,
        lambda w, r, o: (
            "POST",
            f"/v1/lab-orders/{lab_order(w, o)}/results",
            {"json": {"results": [GLUCOSE_HIGH]}},
        ),
    ),
    ("GET", "/v1/patients/{patient_id}/results"): Case(
        patient_record(CARE, grantee=True),
        lambda w, r, o: ("GET", f"/v1/patients/{p(w, r, o)}/results", {}),
    ),
    # the card's clinical part (issue 12): whoever reads the results
    ("GET", "/v1/patients/{patient_id}/clinical-record"): Case(
        patient_record(CARE, grantee=True),
        lambda w, r, o: ("GET", f"/v1/patients/{p(w, r, o)}/clinical-record", {}),
    ),
    ("GET", "/v1/compliance/aggregates/{aggregate_id}/timeline"): Case(
        anyone_of({Role.COMPLIANCE_OFFICER}),
        lambda w, r, o: ("GET", f"/v1/compliance/aggregates/{p(w, r, o)}/timeline", {}),
    ),
    ("GET", "/v1/doctors/me/abnormal-results"): Case(
        anyone_of({Role.DOCTOR}),
        lambda w, r, o: ("GET", f"/v1/doctors/me/abnormal-results?after={abnormal(w)}", {}),
    ),
    # prescriptions (issue 12), before erasure: the patient's side and the care team read
    # them, the prescriber changes them, a pharmacy (of any organisation) verifies and
    # dispenses by code, and nobody else does
    ("GET", "/v1/patients/{patient_id}/prescriptions"): Case(
        patient_record(CARE, grantee=True),
        lambda w, r, o: ("GET", f"/v1/patients/{p(w, r, o)}/prescriptions", {}),
    ),
    ("GET", "/v1/prescriptions/{prescription_id}"): Case(
        prescription_reader,
        lambda w, r, o: ("GET", f"/v1/prescriptions/{prescribed(w, o, 0)[0]}", {}),
    ),
    ("POST", "/v1/prescriptions/{prescription_id}/cancel"): Case(
        lambda who, own: who is Role.DOCTOR and own,
        lambda w, r, o: (
            "POST",
            f"/v1/prescriptions/{prescribed(w, o, 1)[0]}/cancel",
            {"json": {"reason": "matrix-test"}},
        ),
    ),
    ("POST", "/v1/prescriptions/{prescription_id}/complete"): Case(
        lambda who, own: who is Role.DOCTOR and own,
        lambda w, r, o: ("POST", f"/v1/prescriptions/{prescribed(w, o, 2)[0]}/complete", {}),
    ),
    ("POST", "/v1/pharmacy/prescriptions/verify"): Case(
        lambda who, own: who is Tie.PHARMACY,
        lambda w, r, o: (
            "POST",
            "/v1/pharmacy/prescriptions/verify",
            {"json": {"code": prescribed(w, o, 0)[1]}},
        ),
    ),
    ("POST", "/v1/pharmacy/prescriptions/dispense"): Case(
        lambda who, own: who is Tie.PHARMACY,
        lambda w, r, o: (
            "POST",
            "/v1/pharmacy/prescriptions/dispense",
            {"json": {"code": prescribed(w, o, 3)[1]}},
        ),
    ),
    # intake and consents (issue 12), before erasure: they rely on the ties it ends
    ("POST", "/v1/consultations/{consultation_id}/intake"): Case(
        lambda who, own: own and who in (Role.PATIENT, Tie.HOLDER, Tie.GRANTEE),
        lambda w, r, o: (
            "POST",
            f"/v1/consultations/{c(w, r, o)}/intake",
            {"json": COMPLAINT},
        ),
    ),
    ("POST", "/v1/consultations/{consultation_id}/intake/forms/{form_code}"): Case(
        lambda who, own: own and who in (Role.PATIENT, Tie.HOLDER, Tie.GRANTEE),
        lambda w, r, o: (
            "POST",
            f"/v1/consultations/{c(w, r, o)}/intake/forms/allergies",
            {"json": {"version": 1, "answers": {"notes": "none"}}},
        ),
    ),
    ("GET", "/v1/consultations/{consultation_id}/intake"): Case(
        consultation(CARE),
        lambda w, r, o: ("GET", f"/v1/consultations/{c(w, r, o)}/intake", {}),
    ),
    ("POST", "/v1/organisations/{organisation_id}/intake-forms/{form_code}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "POST",
            f"/v1/organisations/{w.org[o]}/intake-forms/allergies",
            {"json": INTAKE_FORM},
        ),
    ),
    ("GET", "/v1/organisations/{organisation_id}/intake-forms/{form_code}"): Case(
        anyone_of(STAFF | {Role.PATIENT}),
        lambda w, r, o: ("GET", f"/v1/organisations/{w.org[o]}/intake-forms/allergies", {}),
    ),
    ("POST", "/v1/organisations/{organisation_id}/consent-texts/{kind}"): Case(
        own_only({Role.ORG_ADMIN}),
        lambda w, r, o: (
            "POST",
            f"/v1/organisations/{w.org[o]}/consent-texts/recording",
            {"json": {"text": "I agree to being recorded."}},
        ),
    ),
    ("GET", "/v1/organisations/{organisation_id}/consent-texts/{kind}"): Case(
        anyone_of(STAFF | {Role.PATIENT}),
        lambda w, r, o: ("GET", f"/v1/organisations/{w.org[o]}/consent-texts/recording", {}),
    ),
    ("POST", "/v1/patients/{patient_id}/signed-consents"): Case(
        patient_record(set(), grantee=True),
        lambda w, r, o: (
            "POST",
            f"/v1/patients/{p(w, r, o)}/signed-consents",
            {"json": {"organisation_id": str(w.org[o]), "kind": "recording", "version": 1}},
        ),
    ),
    ("POST", "/v1/patients/{patient_id}/signed-consents/withdraw"): Case(
        patient_record(set(), grantee=True),
        lambda w, r, o: (
            "POST",
            f"/v1/patients/{p(w, r, o)}/signed-consents/withdraw",
            {"json": {"organisation_id": str(w.org[o]), "kind": "recording"}},
        ),
    ),
    ("GET", "/v1/patients/{patient_id}/signed-consents"): Case(
        patient_record(CARE, grantee=True),
        lambda w, r, o: ("GET", f"/v1/patients/{p(w, r, o)}/signed-consents", {}),
    ),
    ("GET", "/v1/consultations/{consultation_id}/recording-permission"): Case(
        consultation(STAFF),
        lambda w, r, o: ("GET", f"/v1/consultations/{c(w, r, o)}/recording-permission", {}),
    ),
    # video rooms: the consultation's parties; joining (and refreshing TURN credentials) as
    # attending it: the rooms are tomorrow, so an allowed call is refused 409 room-closed
    ("GET", "/v1/consultations/{consultation_id}/room"): Case(
        consultation(STAFF),
        lambda w, r, o: ("GET", f"/v1/consultations/{c(w, r, o)}/room", {}),
    ),
    ("POST", "/v1/rooms/{address}/join"): Case(
        consultation(STAFF),
        lambda w, r, o: (
            "POST",
            f"/v1/rooms/{room_address(w, c(w, r, o))}/join",
            {"json": {"pin": "00000000"}},
        ),
    ),
    ("POST", "/v1/rooms/{address}/turn-credentials"): Case(
        consultation(STAFF),
        lambda w, r, o: (
            "POST",
            f"/v1/rooms/{room_address(w, c(w, r, o))}/turn-credentials",
            {"json": {"token": "not-a-join-token"}},
        ),
    ),
    ("DELETE", "/v1/patients/{patient_id}"): Case(
        patient_record({Role.ORG_ADMIN}),
        lambda w, r, o: ("DELETE", f"/v1/patients/{p(w, r, o)}", {}),
    ),
    ("GET", "/v1/analytics/care"): Case(
        own_only({Role.ANALYST, Role.ORG_ADMIN}),
        lambda w, r, o: (
            "GET",
            "/v1/analytics/care",
            {"params": {"organisation_id": str(w.org[o])}},
        ),
    ),
    ("GET", "/v1/analytics/nps"): Case(
        own_only({Role.ANALYST, Role.ORG_ADMIN}),
        lambda w, r, o: (
            "GET",
            "/v1/analytics/nps",
            {"params": {"organisation_id": str(w.org[o])}},
        ),
    ),
    ("GET", "/v1/doctors/{doctor_id}/nps"): Case(  # the doctor's own only: others read pseudonyms
        lambda who, own: who is Role.DOCTOR and own,
        lambda w, r, o: ("GET", f"/v1/doctors/{d(w, o)}/nps", {}),
    ),
}


def room_address(world: World, consultation_id: str) -> str:
    """The address of a consultation's room, once the rooms' view has seen it."""
    services = world.clinic.services
    assert services.runners["rooms"].wait_for(services.recorder.max_notification_id() or 0, 5)
    found = services.rooms.of_consultation(uuid.UUID(consultation_id))
    assert found is not None, consultation_id
    return found.address


#: routes of the sign-in flow: only a live session of one's own opens them
SESSION_ROUTES = {
    ("DELETE", "/v1/sessions/current"),
    ("GET", "/v1/accounts/me"),
    ("DELETE", "/v1/accounts/me"),
    ("POST", "/v1/sessions/current/step-up"),
    ("POST", "/v1/accounts/me/password"),
    ("POST", "/v1/accounts/me/totp"),
    ("DELETE", "/v1/accounts/me/totp"),
    ("POST", "/v1/accounts/me/totp/confirm"),
}
PUBLIC_ROUTES = {
    ("GET", "/v1/health"),
    ("GET", "/v1/audit/public-key"),
    ("POST", "/v1/accounts"),
    ("POST", "/v1/sessions"),
    ("POST", "/v1/accounts/password-reset"),
    ("POST", "/v1/accounts/password-reset/confirm"),
    ("POST", "/v1/invitations/accept"),
    ("POST", "/v1/record-invitations/accept"),
    ("POST", "/v1/record-invitations/decline"),
    ("POST", "/v1/oauth/token"),
}


def test_every_route_has_a_policy_entry(clinic: Clinic) -> None:
    spec = clinic.client.get("/openapi.json").json()
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes == set(CASES) | SESSION_ROUTES | PUBLIC_ROUTES


def test_every_route_every_role_own_and_other(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person
) -> None:
    world = build_world(clinic, dr_weber, dr_other_clinic)
    wrong: list[str] = []
    checked = 0
    for (method, path), case in CASES.items():  # erasure last: it is in the table last
        for role in WHO:
            for own in (False, True):
                verb, url, kwargs = case.call(world, role, own)
                response = clinic.client.request(
                    verb, url, headers=world.people[role].headers, **kwargs
                )
                allowed = case.rule(role, own)
                refused = response.status_code == 403
                checked += 1
                if allowed == refused or response.status_code in (401, 500):
                    wrong.append(
                        f"{method} {path} as {role.value} ({'own' if own else 'other'})"
                        f": {response.status_code} {response.text[:120]}"
                    )
    assert not wrong, "\n".join(wrong)
    assert checked == len(CASES) * len(WHO) * 2


def test_session_routes_need_a_live_session(clinic: Clinic, dr_weber: Person) -> None:
    signed_out = clinic.client.delete("/v1/sessions/current", headers=dr_weber.headers)
    assert signed_out.status_code == 204
    for headers in ({}, {"Authorization": "Bearer ts_unknown"}, dr_weber.headers):
        for method, path in SESSION_ROUTES:
            response = clinic.client.request(
                method,
                path,
                headers=headers,
                json={"code": "123456", "current": "x", "new": "y"},
            )
            assert response.status_code == 401, (method, path, headers, response.status_code)


def test_nobody_reads_a_patient_of_another_organisation_through_lists(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person
) -> None:
    theirs = clinic.register(dr_other_clinic, email="theirs@example.lu")["id"]
    for role in CARE:
        person = clinic.person(role.value, role, clinic.org_a)
        listed = clinic.client.get("/v1/patients", headers=person.headers).json()["items"]
        found = clinic.client.post(
            "/v1/patients/_search", headers=person.headers, json={"email": "theirs@example.lu"}
        ).json()["items"]
        assert theirs not in {x["id"] for x in listed + found}, role
    assert record_of(dr_weber.actor.actor_id) != uuid.UUID(theirs)
