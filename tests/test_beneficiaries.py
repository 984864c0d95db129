"""Beneficiaries (A3), their transfer to an account of their own (A4), and practices inviting
patients they booked (A1): mailed through a real SMTP server, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import commands.record_invitations
from adapters.composition import Services
from domain.actor import Role
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import book_video, set_up_schedule, tomorrow_at
from tests.test_accounts import bearer, enrol, next_code, sign_in
from tests.test_mail import Inbox, inbox  # noqa: F401  (the SMTP fixture)
from tests.test_privacy import raw_database_bytes

BEN_EMAIL = "ben.beneficiary@example.lu"
BEN_PASSWORD = "my own long passphrase"


def add_beneficiary(clinic: Clinic, holder: Person, **fields: Any) -> str:
    body = {"given_name": "Ben", "family_name": "Kleinkind", "birth_date": "2012-03-04", **fields}
    added = clinic.client.post("/v1/beneficiaries", headers=holder.headers, json=body)
    assert added.status_code == 201, added.text
    return str(added.json()["id"])


def stepped_up_holder(clinic: Clinic, holder: Person) -> None:
    """The holder sets up two-factor authentication and confirms a fresh code."""
    totp, _ = enrol(clinic, holder.token)
    stepped = clinic.client.post(
        "/v1/sessions/current/step-up", headers=holder.headers, json={"code": next_code(totp)}
    )
    assert stepped.status_code == 204, stepped.text


def mailed_token(services: Services, inbox: Inbox, count: int) -> str:  # noqa: F811
    services.outbox.deliver_due()
    inbox.wait_for(count)
    assert len(inbox.messages) == count
    match = re.search(r"#token=(\S+)", inbox.body())
    assert match is not None
    return match.group(1)


def status_of(clinic: Clinic, person_or_headers: Person | dict[str, str], url: str) -> int:
    headers = (
        person_or_headers.headers if isinstance(person_or_headers, Person) else person_or_headers
    )
    return int(clinic.client.get(url, headers=headers).status_code)


def test_a_parent_manages_a_child_then_hands_the_record_over_with_its_whole_history(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    dr_other_clinic: Person,
    officer: Person,
    inbox: Inbox,  # noqa: F811
) -> None:
    hana = clinic.person("Hana Holder", Role.PATIENT, None)
    ben = add_beneficiary(clinic, hana, email=BEN_EMAIL)
    record = f"/v1/patients/{ben}"

    # kept apart: the holder sees it; no practice does until Ben has a consultation there
    assert status_of(clinic, hana, record) == 200
    listed = clinic.client.get("/v1/beneficiaries", headers=hana.headers).json()
    assert [b["id"] for b in listed] == [ben] and listed[0]["given_name"] == "Ben"
    assert status_of(clinic, dr_weber, record) == 403
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, hana, practices, practices.city, "video-15")
    booked = book_video(clinic, hana, practices, slot, ben)
    assert booked.status_code == 201, booked.text
    consultation = f"/v1/consultations/{booked.json()['id']}"
    assert status_of(clinic, dr_weber, record) == 200  # the care team of the practice
    assert status_of(clinic, dr_other_clinic, record) == 403
    assert clinic.client.get(consultation, headers=hana.headers).json()["patient_id"] == ben

    # transfer needs two-factor and a fresh step-up
    offer = f"/v1/beneficiaries/{ben}/transfer"
    no_2fa = clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL})
    assert no_2fa.status_code == 409 and no_2fa.json()["type"].endswith("no-second-factor")
    totp, _ = enrol(clinic, hana.token)
    with services.db.transaction() as cur:  # ten minutes later: the step-up has lapsed
        cur.execute(
            "UPDATE sessions SET stepped_up_at = %s", (datetime.now(UTC) - timedelta(minutes=10),)
        )
    not_fresh = clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL})
    assert not_fresh.status_code == 401 and not_fresh.json()["type"].endswith("step-up-required")
    stepped = clinic.client.post(
        "/v1/sessions/current/step-up", headers=hana.headers, json={"code": next_code(totp)}
    )
    assert stepped.status_code == 204
    offered = clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL})
    assert offered.status_code == 202, offered.text
    token = mailed_token(services, inbox, 1)
    assert inbox.messages[0]["To"] == BEN_EMAIL
    assert "Ben" not in inbox.body() and "Kleinkind" not in inbox.body()  # links, no details

    # until Ben accepts, nothing changes
    assert status_of(clinic, hana, record) == 200
    wrong = clinic.client.post(
        "/v1/record-invitations/accept",
        json={"token": f"{ben.replace('-', '')}.forged-token-value", "password": BEN_PASSWORD},
    )
    assert wrong.status_code == 400
    accepted = clinic.client.post(
        "/v1/record-invitations/accept", json={"token": token, "password": BEN_PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["patient_id"] == ben and accepted.json()["purpose"] == "transfer"
    again = clinic.client.post(
        "/v1/record-invitations/accept", json={"token": token, "password": BEN_PASSWORD}
    )
    assert again.status_code == 400  # single use

    # the former holder loses access at once, in the session she already has
    assert status_of(clinic, hana, record) == 403
    assert status_of(clinic, hana, consultation) == 403
    assert status_of(clinic, hana, f"/v1/patients/{ben}/consultations") == 403
    assert clinic.client.get("/v1/beneficiaries", headers=hana.headers).json() == []
    assert (
        clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL}).status_code
        == 403
    )

    # Ben owns an independent account with the whole history
    status, session = sign_in(clinic, BEN_EMAIL, BEN_PASSWORD)
    assert status == 201, session
    own = bearer(session["token"])
    me = clinic.client.get("/v1/accounts/me", headers=own).json()
    assert me["record_id"] == ben and me["role"] == "patient"
    shown = clinic.client.get(record, headers=own).json()
    assert shown["given_name"] == "Ben" and shown["holder_id"] is None and shown["has_account"]
    history = clinic.client.get(f"/v1/patients/{ben}/consultations", headers=own).json()
    assert [c["id"] for c in history] == [booked.json()["id"]]
    moved = clinic.client.post(
        f"{consultation}/cancel", headers=own, json={"reason": "patient-request"}
    )
    assert moved.status_code == 200, moved.text
    twice = clinic.client.post(
        "/v1/patients", headers=own, json={"given_name": "Ben", "family_name": "K"}
    )
    assert twice.status_code == 409  # the record is already theirs
    assert status_of(clinic, dr_weber, record) == 200  # the care team keeps its access

    # all of it is events, replayable by compliance
    timeline = clinic.client.get(
        f"/v1/compliance/patients/{ben}/timeline", headers=officer.headers
    ).json()
    # the record's own stream (the whole record also has Ben's consultation's events)
    timeline = [e for e in timeline if e["aggregate_type"] == "Patient"]
    kinds = [e["event_type"] for e in timeline]
    assert kinds == [
        "Patient.Registered",
        "Patient.BecameBeneficiary",
        "Patient.InvitationIssued",
        "Patient.AccountLinked",
    ]
    linked = timeline[-1]
    assert linked["data"]["former_holder_id"] == str(hana.actor.actor_id)
    assert linked["data"]["account_id"] == me["account_id"]
    assert timeline[2]["actor"]["actor_id"] == str(hana.actor.actor_id)
    assert timeline[2]["actor"]["on_behalf_of"] == ben
    assert BEN_EMAIL.encode() not in raw_database_bytes(services)


def test_a_declined_withdrawn_or_expired_transfer_changes_nothing(
    clinic: Clinic,
    services: Services,
    inbox: Inbox,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hana = clinic.person("Hana Holder", Role.PATIENT, None)
    ben = add_beneficiary(clinic, hana)
    stepped_up_holder(clinic, hana)
    offer = f"/v1/beneficiaries/{ben}/transfer"

    def unchanged() -> None:
        assert status_of(clinic, hana, f"/v1/patients/{ben}") == 200
        assert [
            b["id"] for b in clinic.client.get("/v1/beneficiaries", headers=hana.headers).json()
        ] == [ben]
        assert sign_in(clinic, BEN_EMAIL, BEN_PASSWORD)[0] == 401  # no account was opened

    # declined
    assert (
        clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL}).status_code
        == 202
    )
    token = mailed_token(services, inbox, 1)
    declined = clinic.client.post("/v1/record-invitations/decline", json={"token": token})
    assert declined.status_code == 200
    late = clinic.client.post(
        "/v1/record-invitations/accept", json={"token": token, "password": BEN_PASSWORD}
    )
    assert late.status_code == 400
    unchanged()

    # withdrawn by the holder
    assert (
        clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL}).status_code
        == 202
    )
    token = mailed_token(services, inbox, 2)
    assert clinic.client.delete(offer, headers=hana.headers).status_code == 200
    assert clinic.client.delete(offer, headers=hana.headers).status_code == 409  # none pending
    withdrawn = clinic.client.post(
        "/v1/record-invitations/accept", json={"token": token, "password": BEN_PASSWORD}
    )
    assert withdrawn.status_code == 400
    unchanged()

    # expired (a link valid for one second)
    monkeypatch.setattr(commands.record_invitations, "INVITATION_VALID", timedelta(seconds=1))
    assert (
        clinic.client.post(offer, headers=hana.headers, json={"email": BEN_EMAIL}).status_code
        == 202
    )
    token = mailed_token(services, inbox, 3)
    time.sleep(1.1)
    expired = clinic.client.post(
        "/v1/record-invitations/accept", json={"token": token, "password": BEN_PASSWORD}
    )
    assert expired.status_code == 400
    unchanged()
    kinds = [e.event_type for e in services.replay.timeline(uuid.UUID(ben))]
    assert kinds.count("Patient.InvitationIssued") == 3
    assert "Patient.AccountLinked" not in kinds


def test_a_doctor_books_someone_without_an_account_who_is_invited_and_joins(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    inbox: Inbox,  # noqa: F811
) -> None:
    pending = clinic.register(dr_weber, given_name="Olga", email="olga@example.lu")["id"]
    practices = set_up_schedule(clinic, dr_weber)
    slot = tomorrow_at(clinic, dr_weber, practices, practices.city, "video-15")
    booked = book_video(clinic, dr_weber, practices, slot, pending)
    assert booked.status_code == 201, booked.text
    shown = clinic.client.get(f"/v1/patients/{pending}", headers=dr_weber.headers).json()
    assert shown["has_account"] is False and shown["invitation_pending"] is False

    invited = clinic.client.post(
        f"/v1/patients/{pending}/invitation", headers=dr_weber.headers, json={}
    )
    assert invited.status_code == 202, invited.text
    token = mailed_token(services, inbox, 1)
    assert inbox.messages[0]["To"] == "olga@example.lu" and "Olga" not in inbox.body()
    joined = clinic.client.post(
        "/v1/record-invitations/accept", json={"token": token, "password": BEN_PASSWORD}
    )
    assert joined.status_code == 201 and joined.json()["purpose"] == "join"

    status, session = sign_in(clinic, "olga@example.lu", BEN_PASSWORD)
    assert status == 201
    olga = bearer(session["token"])
    assert clinic.client.get("/v1/accounts/me", headers=olga).json()["record_id"] == pending
    history = clinic.client.get(f"/v1/patients/{pending}/consultations", headers=olga).json()
    assert [c["id"] for c in history] == [booked.json()["id"]]
    assert status_of(clinic, olga, f"/v1/consultations/{booked.json()['id']}") == 200
    assert status_of(clinic, dr_weber, f"/v1/patients/{pending}") == 200
    twice = clinic.client.post(
        f"/v1/patients/{pending}/invitation", headers=dr_weber.headers, json={}
    )
    assert twice.status_code == 409 and twice.json()["type"].endswith("already-has-account")


def test_an_invitation_cannot_claim_an_address_that_has_an_account(
    clinic: Clinic,
    dr_weber: Person,
    inbox: Inbox,  # noqa: F811
) -> None:
    someone = clinic.person("Someone", Role.PATIENT, None)
    pending = clinic.register(dr_weber, given_name="Pat")["id"]
    taken = clinic.client.post(
        f"/v1/patients/{pending}/invitation",
        headers=dr_weber.headers,
        json={"email": someone.email},
    )
    assert taken.status_code == 409 and taken.json()["type"].endswith("email-taken")
    no_address = clinic.client.post(
        f"/v1/patients/{pending}/invitation", headers=dr_weber.headers, json={}
    )
    assert no_address.status_code == 422  # the record has no email and none was given
