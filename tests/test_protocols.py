"""The protocol of a visit, as the clinic lives it: drafted during the call, signed by the
doctor after a step-up, never changed afterwards but corrected by signed addenda, and verifiable
by anyone of the parties from what is stored; signatures break on any changed byte; and the
organisation's jurisdiction rules refuse a remote primary diagnosis until the patient has been
seen in person, recording every decision with the rule set's version."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from adapters.composition import Services
from adapters.crypto.sealing import field_context, open_sealed, seal
from commands.erasure import EraseAccount
from commands.memberships import AssignAssistant
from domain.actor import Role
from domain.clinical_protocol import ClinicalProtocol
from tests.clocks import Clock, services_on_the_clock, stopped_clock  # noqa: F401
from tests.conftest import Clinic, Person
from tests.protocol_fixtures import (
    SECTIONS,
    draft,
    lapse_step_up,
    protocol_of,
    read,
    sign,
    step,
    step_up,
    urgent_call,
)
from tests.scheduling_fixtures import Practices, set_up_schedule, tomorrow_at


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def practices(clinic: Clinic, dr_weber: Person) -> Practices:
    return set_up_schedule(clinic, dr_weber)


def visit(
    clinic: Clinic,
    clock: Clock,
    doctor: Person,
    patient: Person,
    practices: Practices,
    patient_id: str,
    type_code: str,
    *,
    complete: bool = True,
) -> str:
    """Book the first free slot of the type, check in, admit (and complete) on the clock."""
    index, slot = 0, tomorrow_at(clinic, patient, practices, practices.city, type_code)
    while datetime.fromisoformat(slot["start"]) <= clock.now:  # the clock moved past it
        index += 1
        slot = tomorrow_at(clinic, patient, practices, practices.city, type_code, index)
    kind = "in-person" if type_code == "visit-30" else "video"
    booked = clinic.client.post(
        "/v1/consultations",
        headers=patient.headers,
        json={
            "patient_id": patient_id,
            "doctor_id": str(practices.doctor_id),
            "practice_id": str(practices.city),
            "type_code": type_code,
            "start": slot["start"],
            "kind": kind,
        },
    )
    assert booked.status_code == 201, booked.text
    consultation = str(booked.json()["id"])
    start = datetime.fromisoformat(slot["start"])
    clock.now = max(clock.now, start - timedelta(minutes=5))
    assert step(clinic, patient, consultation, "check-in").status_code == 200
    clock.now = start + timedelta(minutes=1)
    assert step(clinic, doctor, consultation, "admit").status_code == 200
    if complete:
        clock.now = start + timedelta(minutes=12)
        assert step(clinic, doctor, consultation, "complete").status_code == 200
    return consultation


def verification(clinic: Clinic, who: Person, protocol_id: str) -> dict[str, Any]:
    return read(clinic, who, f"/v1/protocols/{protocol_id}/verification")


def test_a_whole_visit_ends_with_a_signed_protocol_anyone_of_the_parties_verifies(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    anna: Person,
    officer: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = visit(
        clinic, clock, dr_weber, anna, practices, annas, "video-15", complete=False
    )
    drafted = draft(clinic, dr_weber, consultation, {"complaints": "Sore throat"})
    assert drafted.status_code == 201, drafted.text
    protocol = str(drafted.json()["id"])
    assert protocol == protocol_of(consultation)
    assert drafted.headers["Location"] == f"/v1/protocols/{protocol}"
    again = draft(clinic, dr_weber, consultation, SECTIONS)
    assert again.status_code == 409  # one protocol per consultation: PUT changes it
    clock.now += timedelta(minutes=10)
    assert step(clinic, dr_weber, consultation, "complete").status_code == 200
    revised = clinic.client.put(
        f"/v1/protocols/{protocol}",
        headers={**dr_weber.headers, "If-Match": drafted.headers["ETag"]},
        json=SECTIONS,
    )
    assert revised.status_code == 200, revised.text
    stale = clinic.client.put(
        f"/v1/protocols/{protocol}",
        headers={**dr_weber.headers, "If-Match": drafted.headers["ETag"]},
        json=SECTIONS,
    )
    assert stale.status_code == 412

    lapse_step_up(services)
    refused = sign(clinic, dr_weber, protocol)
    assert refused.status_code == 401 and refused.json()["type"].endswith("step-up-required")
    assert sign(clinic, anna, protocol).status_code == 403
    step_up(clinic, dr_weber)
    signed = sign(clinic, dr_weber, protocol)
    assert signed.status_code == 200, signed.text

    shown = read(clinic, anna, f"/v1/protocols/{protocol}?after={signed.json()['position']}")
    assert shown["status"] == "signed" and shown["patient_id"] == annas
    assert shown["content"]["diagnoses"][0]["code"] == "J06.9"
    assert shown["content"]["prescriptions"][0]["medication_code"] == "N02BE01"
    assert shown["signature"]["signer_id"] == str(dr_weber.actor.actor_id)

    checked = verification(clinic, anna, protocol)
    assert checked["valid"] is True and checked["problem"] is None
    assert checked["signature"]["signer_id"] == str(dr_weber.actor.actor_id)
    keys = read(clinic, anna, f"/v1/practitioners/{dr_weber.actor.actor_id}/signing-keys")["keys"]
    assert [k["key_id"] for k in keys] == [checked["signature"]["key_id"]]
    assert checked["signature"]["public_key"] == keys[0]["public_key"]
    assert verification(clinic, officer, protocol)["valid"] is True

    edit = clinic.client.put(f"/v1/protocols/{protocol}", headers=dr_weber.headers, json=SECTIONS)
    assert edit.status_code == 409 and edit.json()["type"].endswith("protocol-signed")
    assert sign(clinic, dr_weber, protocol).status_code == 409
    access = services.access_log.for_subject(uuid.UUID(annas))
    assert {"protocol.read", "protocol.verification"} <= {a.what for a in access}


def test_signing_refuses_a_protocol_missing_required_sections_and_names_them(
    clinic: Clinic, dr_weber: Person, anna: Person, practices: Practices
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = urgent_call(clinic, dr_weber, anna, annas)
    drafted = draft(clinic, dr_weber, consultation, {"objective_findings": "Nothing notable"})
    assert drafted.status_code == 201, drafted.text
    refused = sign(clinic, dr_weber, str(drafted.json()["id"]))
    assert refused.status_code == 409, refused.text
    assert refused.json()["missing"] == ["complaints", "diagnoses.primary"]
    bad = draft(clinic, dr_weber, consultation, {"diagnoses": [{"code": "J6", "text": "x"}]})
    assert bad.status_code == 422 and "diagnoses" in bad.text


def test_an_assistant_prepares_the_protocol_but_only_the_doctor_signs(
    clinic: Clinic, services: Services, dr_weber: Person, anna: Person, practices: Practices
) -> None:
    annas = clinic.register(anna)["id"]
    sam = clinic.person("Sam", Role.ASSISTANT, clinic.org_a)
    services.bus.handle(
        AssignAssistant(dr_weber.actor, sam.actor.actor_id, dr_weber.actor.actor_id, clinic.org_a)
    )
    consultation = urgent_call(clinic, dr_weber, anna, annas)
    prepared = draft(clinic, sam, consultation, SECTIONS)
    assert prepared.status_code == 201, prepared.text
    protocol = str(prepared.json()["id"])
    assert sign(clinic, sam, protocol).status_code == 403
    assert sign(clinic, dr_weber, protocol).status_code == 200
    [drafted] = [
        e
        for e in services.app.events.get(uuid.UUID(protocol))
        if isinstance(e, ClinicalProtocol.Drafted)
    ]
    assert drafted.by.actor_id == sam.actor.actor_id


def test_addenda_correct_a_signed_protocol_and_are_signed_too(
    clinic: Clinic, dr_weber: Person, anna: Person, practices: Practices
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = urgent_call(clinic, dr_weber, anna, annas)
    protocol = str(draft(clinic, dr_weber, consultation, SECTIONS).json()["id"])
    url = f"/v1/protocols/{protocol}/addenda"
    early = clinic.client.post(url, headers=dr_weber.headers, json={"text": "Too early"})
    assert early.status_code == 409 and early.json()["type"].endswith("protocol-not-signed")
    assert sign(clinic, dr_weber, protocol).status_code == 200
    correction = "Correction: paracetamol 500 mg four times a day"
    added = clinic.client.post(url, headers=dr_weber.headers, json={"text": correction})
    assert added.status_code == 201, added.text
    assert clinic.client.post(url, headers=anna.headers, json={"text": "x"}).status_code == 403
    shown = read(clinic, anna, f"/v1/protocols/{protocol}?after={added.json()['position']}")
    assert [a["text"] for a in shown["addenda"]] == [correction]
    assert shown["content"]["prescriptions"][0]["frequency"] == 3  # the original stays
    checked = verification(clinic, anna, protocol)
    assert checked["valid"] is True and len(checked["addenda"]) == 1
    assert checked["addenda"][0]["valid"] is True


def _a_microsecond_later(text: str) -> str:
    return (datetime.fromisoformat(text) + timedelta(microseconds=1)).isoformat()


def _stored(services: Services, protocol: str) -> dict[int, bytes]:
    with services.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT originator_version, state FROM stored_events WHERE originator_id = %s",
            (uuid.UUID(protocol),),
        )
        return {int(v): bytes(s) for v, s in cur.fetchall()}


def _store(services: Services, protocol: str, version: int, state: bytes) -> None:
    with services.db.transaction() as cur:
        cur.execute(
            "UPDATE stored_events SET state = %s WHERE originator_id = %s "
            "AND originator_version = %s",
            (state, uuid.UUID(protocol), version),
        )


def _sealed(state: bytes, name: str) -> bytes:
    return base64.b64decode(orjson.loads(state)[name]["_data_"])


def _with_sealed(state: bytes, name: str, ciphertext: bytes) -> bytes:
    data = orjson.loads(state)
    data[name]["_data_"] = base64.b64encode(ciphertext).decode()
    return orjson.dumps(data)


def test_verification_fails_when_any_byte_of_the_stored_content_or_signature_changes(
    clinic: Clinic, services: Services, dr_weber: Person, anna: Person, practices: Practices
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = urgent_call(clinic, dr_weber, anna, annas)
    protocol = str(draft(clinic, dr_weber, consultation, SECTIONS).json()["id"])
    assert sign(clinic, dr_weber, protocol).status_code == 200
    verify = services.signatures.verify
    assert verify(uuid.UUID(protocol)).valid
    stored = _stored(services, protocol)
    drafted, signed = stored[1], stored[2]
    patient, key = uuid.UUID(annas), services.keys.require(uuid.UUID(annas))

    # whoever can write the database flips any byte of the sealed content or signature
    for version, name in ((1, "content"), (2, "signature")):
        original = stored[version]
        ciphertext = _sealed(original, name)
        for at in range(len(ciphertext)):
            flipped = bytearray(ciphertext)
            flipped[at] ^= 0x01
            _store(services, protocol, version, _with_sealed(original, name, bytes(flipped)))
            found = verify(uuid.UUID(protocol))
            assert not found.valid, (name, at)
        _store(services, protocol, version, original)
    assert verify(uuid.UUID(protocol)).valid

    # whoever also holds the keys re-seals a changed content, or a changed signature
    content = orjson.loads(
        open_sealed(key, _sealed(drafted, "content"), field_context(patient, "content"))
    )
    content["v"]["diagnoses"][0]["code"] = "J06.8"
    forged = seal(key, orjson.dumps(content), field_context(patient, "content"))
    _store(services, protocol, 1, _with_sealed(drafted, "content", forged))
    assert verify(uuid.UUID(protocol)).problem == "signature-mismatch"
    _store(services, protocol, 1, drafted)
    signature = orjson.loads(
        open_sealed(key, _sealed(signed, "signature"), field_context(patient, "signature"))
    )
    raw = bytearray(base64.b64decode(signature["v"]))
    for at in range(len(raw)):
        changed = bytearray(raw)
        changed[at] ^= 0x80
        value = orjson.dumps({"v": base64.b64encode(bytes(changed)).decode()})
        resealed = seal(key, value, field_context(patient, "signature"))
        _store(services, protocol, 2, _with_sealed(signed, "signature", resealed))
        assert not verify(uuid.UUID(protocol)).valid, at
    # ... or the time, the key id or the signer the signature names
    for name, change in (
        ("signed_at", lambda v: {**v, "_data_": v["_data_"].replace(":", ";", 1)}),
        ("signed_at", lambda v: {**v, "_data_": _a_microsecond_later(v["_data_"])}),
        ("key_id", lambda v: v + "0"),
        ("signer_id", lambda v: {**v, "_data_": uuid.uuid4().hex}),
    ):
        state = orjson.loads(signed)
        state[name] = change(state[name])
        _store(services, protocol, 2, orjson.dumps(state))
        assert not verify(uuid.UUID(protocol)).valid, name
    _store(services, protocol, 2, _with_sealed(signed, "signature", _sealed(signed, "signature")))
    assert verify(uuid.UUID(protocol)).valid  # restored
    _store(services, protocol, 1, _with_sealed(drafted, "content", forged))
    over_http = verification(clinic, anna, protocol)
    assert over_http["valid"] is False and over_http["signature"]["signature_matches"] is False


def test_a_doctors_erasure_leaves_their_signatures_verifiable(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    consultation = urgent_call(clinic, dr_weber, anna, annas)
    protocol = str(draft(clinic, dr_weber, consultation, SECTIONS).json()["id"])
    assert sign(clinic, dr_weber, protocol).status_code == 200
    clock.now += timedelta(hours=1)  # erased later that day: the key is retired then
    services.bus.handle(EraseAccount(dr_weber.actor, dr_weber.actor.actor_id, True))
    assert services.keys.get(dr_weber.actor.actor_id) is None  # nobody signs as them any more
    found = services.signatures.verify(uuid.UUID(protocol))
    assert found.valid and found.signature is not None
    assert found.signature.signer_id == dr_weber.actor.actor_id
    assert found.signature.key_valid_until == clock.now  # retired at the erasure
    [key] = services.signatures.public_keys(dr_weber.actor.actor_id)
    assert key.valid_until == clock.now


def test_a_remote_primary_diagnosis_is_refused_until_the_patient_was_seen_in_person(
    clinic: Clinic,
    services: Services,
    clock: Clock,
    dr_weber: Person,
    anna: Person,
    admin_a: Person,
    officer: Person,
    practices: Practices,
) -> None:
    rules: dict[str, dict[str, Any]] = {"ru-remote-primary-diagnosis": {}}
    published = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/rule-sets",
        headers=admin_a.headers,
        json={"rules": rules},
    )
    assert published.status_code == 201, published.text
    annas = clinic.register(anna)["id"]
    first = visit(clinic, clock, dr_weber, anna, practices, annas, "video-15")
    key = {"Idempotency-Key": "first-remote-diagnosis"}
    refused = draft(clinic, dr_weber, first, SECTIONS, **key)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("rule-violation")
    assert problem["rule_id"] == "ru-remote-primary-diagnosis" and problem["rule_version"] == 1
    assert "in-person" in problem["detail"]
    replayed = draft(clinic, dr_weber, first, SECTIONS, **key)
    assert replayed.status_code == 409 and replayed.headers.get("Idempotent-Replayed") == "true"

    # without a diagnosis the protocol is signed: recommendations take its place
    remote = {**SECTIONS, "diagnoses": []}
    protocol = draft(clinic, dr_weber, first, remote)
    assert protocol.status_code == 201, protocol.text
    assert sign(clinic, dr_weber, str(protocol.json()["id"])).status_code == 200

    visit(clinic, clock, dr_weber, anna, practices, annas, "visit-30")  # seen in person
    second = visit(clinic, clock, dr_weber, anna, practices, annas, "video-15")
    allowed = draft(clinic, dr_weber, second, SECTIONS)
    assert allowed.status_code == 201, allowed.text
    signed = sign(clinic, dr_weber, str(allowed.json()["id"]))
    assert signed.status_code == 200, signed.text

    url = f"/v1/organisations/{clinic.org_a}/rule-decisions?after={signed.json()['position']}"
    answer = clinic.client.get(url, headers=officer.headers)
    assert answer.status_code == 200, answer.text
    decisions: list[dict[str, Any]] = answer.json()
    assert [(d["allowed"], d["step"], d["version"]) for d in reversed(decisions)] == [
        (False, "protocol-draft", 1),
        (True, "protocol-draft", 1),
        (True, "protocol-sign", 1),
    ]
    assert {d["consultation_id"] for d in decisions if d["allowed"]} == {second}
    versions = read(clinic, officer, f"/v1/organisations/{clinic.org_a}/rule-sets")
    assert versions["current"]["version"] == 1 and versions["current"]["rules"] == rules


def test_remote_follow_ups_only_within_the_window_after_an_in_person_visit(
    clinic: Clinic,
    clock: Clock,
    dr_weber: Person,
    anna: Person,
    admin_a: Person,
    practices: Practices,
) -> None:
    rules = {"remote-follow-up-window": {"months": 3, "type_codes": ["video-15"]}}
    url = f"/v1/organisations/{clinic.org_a}/rule-sets"
    bad = clinic.client.post(url, headers=admin_a.headers, json={"rules": {"no-such-rule": {}}})
    assert bad.status_code == 422
    assert (
        clinic.client.post(url, headers=dr_weber.headers, json={"rules": rules}).status_code == 403
    )
    assert (
        clinic.client.post(url, headers=admin_a.headers, json={"rules": rules}).status_code == 201
    )
    annas = clinic.register(anna)["id"]
    follow_up = visit(clinic, clock, dr_weber, anna, practices, annas, "video-15")
    refused = draft(clinic, dr_weber, follow_up, {"complaints": "Checking in"})
    assert refused.status_code == 409 and refused.json()["rule_id"] == "remote-follow-up-window"
    visit(clinic, clock, dr_weber, anna, practices, annas, "visit-30")
    later = visit(clinic, clock, dr_weber, anna, practices, annas, "video-15")
    assert draft(clinic, dr_weber, later, {"complaints": "Checking in"}).status_code == 201
