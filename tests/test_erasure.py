"""Erasure erases the person: their record, their account, their sessions, their mail, their
grants and their future consultations, in one command; history stays, unreadable."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from adapters.composition import Services
from adapters.crypto.blind_index import BlindIndex
from adapters.crypto.passwords import recovery_code_hash
from adapters.stream.relay import KafkaRelay
from domain.actor import Actor, Role
from projections.stream_contract import CONSULTATIONS_TOPIC, PATIENTS_TOPIC
from tests.conftest import PASSWORD, Clinic, Person
from tests.kafka import read_all
from tests.scheduling_fixtures import book_video, set_up_schedule, slots, tomorrow_at
from tests.test_mail import Inbox, inbox  # noqa: F401  (the SMTP fixture)
from tests.test_privacy import CANARY, NEEDLES, raw_database_bytes
from tests.test_stream import make_relay, publish_all

EMAIL = CANARY["email"]


@dataclass
class SelfRegistered:
    """A patient who opened their own account, turned two-factor on and registered a record."""

    person: Person
    record_id: str
    totp: pyotp.TOTP
    recovery_codes: list[str]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def next_code(totp: pyotp.TOTP) -> str:
    return totp.at(time.time() + totp.interval)


def sign_in(clinic: Clinic, email: str, code: str | None = None) -> tuple[int, dict[str, str]]:
    body = {"email": email, "password": PASSWORD, **({"code": code} if code else {})}
    response = clinic.client.post("/v1/sessions", json=body)
    return response.status_code, response.json()


def self_registered(clinic: Clinic, email: str = EMAIL) -> SelfRegistered:
    client = clinic.client
    opened = client.post("/v1/accounts", json={"email": email, "password": PASSWORD})
    assert opened.status_code == 201, opened.text
    _, session = sign_in(clinic, email)
    token = session["token"]
    started = client.post("/v1/accounts/me/totp", headers=bearer(token)).json()
    totp = pyotp.TOTP(started["secret"])
    confirmed = client.post(
        "/v1/accounts/me/totp/confirm", headers=bearer(token), json={"code": totp.now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    record = client.post(
        "/v1/patients",
        headers={**bearer(token), "Idempotency-Key": "my-registration"},
        json={**CANARY, "email": email},
    )
    assert record.status_code == 201, record.text
    actor = Actor(uuid.UUID(opened.json()["id"]), Role.PATIENT, None)
    person = Person("Zephyrina", actor, token, email, PASSWORD, totp)
    return SelfRegistered(person, record.json()["id"], totp, confirmed.json()["recovery_codes"])


def lapse_step_ups(services: Services) -> None:
    with services.db.transaction() as cur:  # ten minutes later
        cur.execute(
            "UPDATE sessions SET stepped_up_at = %s", (datetime.now(UTC) - timedelta(minutes=10),)
        )


def decrypted_event_store(services: Services) -> bytes:
    """Every stored event as the event store's own mapper reads it back (decrypting what a
    live key still opens)."""
    head = services.recorder.max_notification_id() or 0
    notifications = services.recorder.select_notifications(1, head + 1)
    events = [services.app.mapper.to_domain_event(n) for n in notifications]
    return "\n".join(repr(vars(e)) for e in events).encode()


def assert_nowhere(blob: bytes, needles: list[str | bytes], where: str) -> None:
    lowered = blob.lower()
    for needle in needles:
        raw = needle if isinstance(needle, bytes) else needle.lower().encode()
        assert raw not in lowered, f"found {needle!r} in {where}"


@pytest.fixture
def relay(services: Services, kafka_bootstrap: str, topic_prefix: str) -> Iterator[KafkaRelay]:
    publisher = make_relay(services, kafka_bootstrap, topic_prefix)
    yield publisher
    publisher.close()


@pytest.fixture
def nurse_ida(clinic: Clinic) -> Person:
    return clinic.person("Nurse Ida", Role.NURSE, clinic.org_a)


def test_an_erased_patient_is_nowhere_readable_and_cannot_sign_in(
    clinic: Clinic,
    dr_weber: Person,
    nurse_ida: Person,
    services: Services,
    relay: KafkaRelay,
    kafka_bootstrap: str,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = clinic.client
    zeph = self_registered(clinic)
    headers, record_id = zeph.person.headers, zeph.record_id
    account_id = zeph.person.actor.actor_id
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, zeph.person, practices, practices.city, "video-15")
    booked = book_video(clinic, zeph.person, practices, slot, record_id)
    assert booked.status_code == 201, booked.text
    granted = client.post(
        f"/v1/patients/{record_id}/delegations",
        headers=headers,
        json={"grantee_id": str(nurse_ida.actor.actor_id), "scopes": ["read-records"]},
    )
    assert granted.status_code == 201, granted.text
    assert client.get(f"/v1/patients/{record_id}", headers=nurse_ida.headers).status_code == 200
    ben = clinic.person("Ben", Role.PATIENT, None)  # Zephyrina cares for Ben too
    ben_record = clinic.register(ben)["id"]
    held = client.post(
        f"/v1/patients/{ben_record}/delegations",
        headers=ben.headers,
        json={"grantee_id": str(account_id), "scopes": ["book"]},
    )
    assert held.status_code == 201, held.text
    assert client.post("/v1/accounts/password-reset", json={"email": EMAIL}).status_code == 202

    erased = client.delete(f"/v1/patients/{record_id}", headers=headers)
    assert erased.status_code == 200, erased.text

    # the account is gone with the record: no session, no sign-in, not even with a code
    assert client.get("/v1/accounts/me", headers=headers).status_code == 401
    assert sign_in(clinic, EMAIL)[0] == 401
    assert sign_in(clinic, EMAIL, next_code(zeph.totp))[0] == 401
    assert sign_in(clinic, EMAIL, zeph.recovery_codes[0])[0] == 401
    # the grant the patient gave ends with them
    assert client.get(f"/v1/patients/{record_id}", headers=nurse_ida.headers).status_code == 403
    # the future consultation is cancelled and its slot is free again
    consultation = client.get(f"/v1/consultations/{booked.json()['id']}", headers=dr_weber.headers)
    assert consultation.json()["status"] == "cancelled", consultation.text
    assert slot["start"] in {s["start"] for s in slots(clinic, dr_weber, practices.doctor_id)}
    agenda = client.get(
        f"/v1/doctors/{practices.doctor_id}/agenda",
        headers=dr_weber.headers,
        params={"after": erased.json()["position"]},
    ).json()
    assert [(c["id"], c["status"]) for c in agenda] == [(booked.json()["id"], "cancelled")]
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT count(*) FROM delegation_grants WHERE revoked_at IS NULL")
        assert cur.fetchone()[0] == 0  # the grants Zephyrina gave and held are revoked
        cur.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        assert cur.fetchone()[0] == 0  # the reset link was never sent, and never will be
        # the hash of the registration request (names, email) goes too
        cur.execute("SELECT count(*) FROM idempotency_keys WHERE scope = %s", (str(account_id),))
        assert cur.fetchone()[0] == 0, "the person's idempotency records are kept"

    email_index = BlindIndex(services.keyring.index_key).email(EMAIL)
    legacy_account_id = uuid.uuid5(uuid.NAMESPACE_URL, f"/accounts/{email_index.hex()}")
    personal: list[str | bytes] = [
        *NEEDLES,
        EMAIL,
        zeph.totp.secret,
        *zeph.recovery_codes,
        *(recovery_code_hash(c) for c in zeph.recovery_codes),
    ]
    linking: list[str | bytes] = [email_index, email_index.hex(), str(legacy_account_id)]
    assert_nowhere(decrypted_event_store(services), personal, "the decrypted event store")
    assert_nowhere(raw_database_bytes(services), personal + linking, "a table")
    assert_nowhere("\n".join(r.getMessage() for r in caplog.records).encode(), personal, "a log")
    publish_all(relay, services)
    stream = read_all(kafka_bootstrap, topic_prefix + PATIENTS_TOPIC, expect=3) + read_all(
        kafka_bootstrap, topic_prefix + CONSULTATIONS_TOPIC, expect=2
    )
    assert {m.body["event_type"] for m in stream} >= {"patient.erased", "consultation.cancelled"}
    assert_nowhere(
        b"".join(m.raw for m in stream),
        [*personal, record_id, str(account_id)],
        "the stream",
    )


def test_the_address_of_an_erased_patient_may_register_again_as_a_new_person(
    clinic: Clinic,
) -> None:
    first = self_registered(clinic)
    erased = clinic.client.delete(f"/v1/patients/{first.record_id}", headers=first.person.headers)
    assert erased.status_code == 200, erased.text
    again = clinic.client.post("/v1/accounts", json={"email": EMAIL, "password": PASSWORD})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != str(first.person.actor.actor_id)
    status, session = sign_in(clinic, EMAIL)
    assert status == 201, session
    me = clinic.client.get("/v1/accounts/me", headers=bearer(session["token"])).json()
    assert me["record_id"] is None and me["second_factor"] is False
    old = clinic.client.get(f"/v1/patients/{first.record_id}", headers=bearer(session["token"]))
    assert old.status_code == 403


def test_erasure_needs_a_fresh_step_up_when_two_factor_is_on(
    clinic: Clinic, services: Services
) -> None:
    zeph = self_registered(clinic)
    url, headers = f"/v1/patients/{zeph.record_id}", zeph.person.headers
    lapse_step_ups(services)
    refused = clinic.client.delete(url, headers=headers)
    assert refused.status_code == 401, refused.text
    assert refused.json()["type"].endswith("step-up-required")
    assert clinic.client.get(url, headers=headers).json()["erased"] is False
    stepped = clinic.client.post(
        "/v1/sessions/current/step-up", headers=headers, json={"code": next_code(zeph.totp)}
    )
    assert stepped.status_code == 204, stepped.text
    assert clinic.client.delete(url, headers=headers).status_code == 200


def test_a_holder_is_erased_only_once_no_beneficiary_depends_on_them(
    clinic: Clinic,
) -> None:
    zeph = self_registered(clinic)
    headers = zeph.person.headers
    child = clinic.client.post(
        "/v1/beneficiaries", headers=headers, json={"given_name": "Kid", "family_name": "Q"}
    )
    assert child.status_code == 201, child.text
    refused = clinic.client.delete(f"/v1/patients/{zeph.record_id}", headers=headers)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("holds-beneficiaries")
    assert refused.json()["beneficiaries"] == [child.json()["id"]]
    # the holder decides for the beneficiary first (here: erases their record too)
    gone = clinic.client.delete(f"/v1/patients/{child.json()['id']}", headers=headers)
    assert gone.status_code == 200, gone.text
    erased = clinic.client.delete(f"/v1/patients/{zeph.record_id}", headers=headers)
    assert erased.status_code == 200, erased.text
    assert sign_in(clinic, EMAIL)[0] == 401


DOCTOR_EMAIL = "dr.quillbottom.canary@example.org"


def test_an_erased_doctor_is_gone_but_their_signed_work_still_verifies(
    clinic: Clinic,
    admin_a: Person,
    officer: Person,
    services: Services,
    inbox: Inbox,  # noqa: F811
) -> None:
    client = clinic.client
    invited = client.post(
        f"/v1/organisations/{clinic.org_a}/invitations",
        headers=admin_a.headers,
        json={"email": DOCTOR_EMAIL, "role": "doctor"},
    )
    assert invited.status_code == 201, invited.text
    services.outbox.deliver_due()
    inbox.wait_for(1)
    match = re.search(r"#token=(\S+)", inbox.body())
    assert match is not None
    joined = client.post("/v1/invitations/accept", json={"token": match[1], "password": PASSWORD})
    assert joined.status_code == 201, joined.text
    doctor_id = uuid.UUID(joined.json()["account_id"])
    _, session = sign_in(clinic, DOCTOR_EMAIL)
    token = session["token"]
    totp = pyotp.TOTP(client.post("/v1/accounts/me/totp", headers=bearer(token)).json()["secret"])
    confirmed = client.post(
        "/v1/accounts/me/totp/confirm", headers=bearer(token), json={"code": totp.now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    doctor = Person(
        "Dr Quillbottom",
        Actor(doctor_id, Role.DOCTOR, clinic.org_a),
        token,
        DOCTOR_EMAIL,
        PASSWORD,
        totp,
    )
    anna = clinic.person("Anna", Role.PATIENT, None)
    anna_record = clinic.register(anna)["id"]
    practices = set_up_schedule(clinic, doctor)
    slot = tomorrow_at(clinic, anna, practices, practices.city, "video-15")
    booked = book_video(clinic, anna, practices, slot, anna_record)
    assert booked.status_code == 201, booked.text
    consultation_id = booked.json()["id"]
    signed = client.post(f"/v1/consultations/{consultation_id}/confirm", headers=doctor.headers)
    assert signed.status_code == 200, signed.text
    max_ = clinic.person("Assistant Max", Role.ASSISTANT, clinic.org_a)
    assigned = client.put(
        f"/v1/doctors/{doctor_id}/assistants/{max_.actor.actor_id}",
        headers=doctor.headers,
        json={},
    )
    assert assigned.status_code == 200, assigned.text

    lapse_step_ups(services)
    refused = client.delete("/v1/accounts/me", headers=doctor.headers)
    assert refused.status_code == 401 and refused.json()["type"].endswith("step-up-required")
    client.post(
        "/v1/sessions/current/step-up", headers=doctor.headers, json={"code": next_code(totp)}
    )
    erased = client.delete("/v1/accounts/me", headers=doctor.headers)
    assert erased.status_code == 200, erased.text

    assert client.get("/v1/accounts/me", headers=doctor.headers).status_code == 401
    assert sign_in(clinic, DOCTOR_EMAIL, next_code(totp))[0] == 401
    # the patient learns that the appointment will not take place
    seen = client.get(f"/v1/consultations/{consultation_id}", headers=anna.headers).json()
    assert seen["status"] == "cancelled"
    # the assistant acts for the doctor no more, in the account's events as in the ties
    assert client.get("/v1/accounts/me", headers=max_.headers).json()["assists"] == []
    agenda = client.get(f"/v1/doctors/{doctor_id}/agenda", headers=max_.headers)
    assert agenda.status_code == 403, agenda.text
    # what the doctor did stays, under a pseudonym: the events and both hash chains verify
    history = [
        services.app.mapper.to_domain_event(e)
        for e in services.recorder.select_events(uuid.UUID(consultation_id))
    ]
    assert [type(e).__name__ for e in history] == ["Booked", "Confirmed", "Cancelled"]
    assert history[1].by.actor_id == doctor_id  # type: ignore[attr-defined]
    audit = client.get("/v1/compliance/audit", headers=officer.headers).json()
    assert audit["ok"], audit
    email_index = BlindIndex(services.keyring.index_key).email(DOCTOR_EMAIL)
    needles: list[str | bytes] = [DOCTOR_EMAIL, "quillbottom", totp.secret]
    assert_nowhere(decrypted_event_store(services), needles, "the decrypted event store")
    assert_nowhere(raw_database_bytes(services), [*needles, email_index], "a table")
    again = client.post("/v1/accounts", json={"email": DOCTOR_EMAIL, "password": PASSWORD})
    assert again.status_code == 201  # the address is free: a new person may use it


def test_a_patient_without_a_record_erases_their_account(clinic: Clinic) -> None:
    opened = clinic.client.post("/v1/accounts", json={"email": EMAIL, "password": PASSWORD})
    _, session = sign_in(clinic, EMAIL)
    erased = clinic.client.delete("/v1/accounts/me", headers=bearer(session["token"]))
    assert erased.status_code == 200, erased.text
    assert erased.json()["id"] == opened.json()["id"]
    assert sign_in(clinic, EMAIL)[0] == 401
    assert clinic.client.get("/v1/accounts/me", headers=bearer(session["token"])).status_code == 401


def test_erasure_frees_every_booking_even_two_on_one_doctors_day(
    clinic: Clinic, dr_weber: Person, admin_a: Person
) -> None:
    practices = set_up_schedule(clinic, dr_weber)
    anna = clinic.register(dr_weber)["id"]  # a record of the practice's own
    first = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", 0)
    second = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15", 2)
    booked = [book_video(clinic, dr_weber, practices, s, anna) for s in (first, second)]
    assert [b.status_code for b in booked] == [201, 201]
    erased = clinic.client.delete(f"/v1/patients/{anna}", headers=admin_a.headers)
    assert erased.status_code == 200, erased.text
    free = {s["start"] for s in slots(clinic, dr_weber, practices.doctor_id)}
    assert {first["start"], second["start"]} <= free
    for b in booked:
        seen = clinic.client.get(f"/v1/consultations/{b.json()['id']}", headers=dr_weber.headers)
        assert seen.json()["status"] == "cancelled"
