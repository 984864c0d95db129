"""A practitioner's signing keys outlive their work: when a doctor is deactivated, leaves their
last organisation or is erased, their current key is retired (its validity ends, its public half
stays published) and its private half is destroyed. Everything they signed still verifies;
nobody signs with the retired key; a later signature would need a new key."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.composition import Services
from commands.memberships import DeactivateAccount, LeaveOrganisation
from commands.protocols import SignProtocol
from domain.actor import Actor, Role
from domain.signing_keys import PractitionerKeys
from tests.conftest import Clinic, Person
from tests.protocol_fixtures import SECTIONS, draft, read, sign, step, step_up, urgent_call
from tests.scheduling_fixtures import Practices, set_up_schedule


@pytest.fixture
def anna(clinic: Clinic) -> Person:
    return clinic.person("Anna", Role.PATIENT, None)


@pytest.fixture
def practices(clinic: Clinic, dr_weber: Person) -> Practices:
    return set_up_schedule(clinic, dr_weber)


def signed_protocol(clinic: Clinic, doctor: Person, patient: Person, patient_id: str) -> str:
    """A visit whose protocol the doctor signed and corrected by a signed addendum; the call
    is over."""
    consultation = urgent_call(clinic, doctor, patient, patient_id)
    protocol = str(draft(clinic, doctor, consultation, SECTIONS).json()["id"])
    assert sign(clinic, doctor, protocol).status_code == 200
    added = clinic.client.post(
        f"/v1/protocols/{protocol}/addenda", headers=doctor.headers, json={"text": "Correction"}
    )
    assert added.status_code == 201, added.text
    assert step(clinic, doctor, consultation, "complete").status_code == 200
    return protocol


def published_keys(clinic: Clinic, who: Person, doctor: Person) -> list[dict[str, Any]]:
    url = f"/v1/practitioners/{doctor.actor.actor_id}/signing-keys"
    keys: list[dict[str, Any]] = read(clinic, who, url)["keys"]
    return keys


def private_halves(services: Services, doctor: Person) -> int:
    with services.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT count(*) FROM practitioner_signing_keys WHERE practitioner_id = %s",
            (doctor.actor.actor_id,),
        )
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def assert_still_verifiable_with_a_retired_key(
    clinic: Clinic, services: Services, who: Person, doctor: Person, protocol: str
) -> None:
    """Valid: signed with a key valid when it signed, whose validity has ended since; the
    published key says so, and its private half is gone."""
    checked = read(clinic, who, f"/v1/protocols/{protocol}/verification")
    assert checked["valid"] is True and checked["problem"] is None, checked
    for check in (checked["signature"], *checked["addenda"]):
        assert check["valid"] and check["key_valid_then"] and check["signature_matches"]
        assert check["key_valid_until"] is not None
        assert check["signed_at"] < check["key_valid_until"]
    [key] = published_keys(clinic, who, doctor)
    assert key["key_id"] == checked["signature"]["key_id"]
    assert key["valid_until"] == checked["signature"]["key_valid_until"]
    assert private_halves(services, doctor) == 0
    with pytest.raises(LookupError):  # nobody signs with it any more
        services.signatures.signer.sign(doctor.actor.actor_id, key["key_id"], b"anything")


def test_a_deactivated_doctors_signatures_stay_verifiable_and_their_key_is_retired(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    admin_a: Person,
    anna: Person,
    officer: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    protocol = signed_protocol(clinic, dr_weber, anna, annas)
    [key] = published_keys(clinic, anna, dr_weber)
    assert key["valid_until"] is None and private_halves(services, dr_weber) == 1

    done = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/staff/{dr_weber.actor.actor_id}/deactivate",
        headers=admin_a.headers,
    )
    assert done.status_code == 200, done.text
    assert_still_verifiable_with_a_retired_key(clinic, services, anna, dr_weber, protocol)
    assert read(clinic, officer, f"/v1/protocols/{protocol}/verification")["valid"] is True
    assert sign(clinic, dr_weber, protocol).status_code == 401  # their sessions ended too


def test_a_doctor_who_leaves_their_last_organisation_retires_their_key(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    admin_a: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    protocol = signed_protocol(clinic, dr_weber, anna, annas)
    left = clinic.client.delete(
        f"/v1/organisations/{clinic.org_a}/staff/{dr_weber.actor.actor_id}",
        headers=admin_a.headers,
    )
    assert left.status_code == 200, left.text
    assert_still_verifiable_with_a_retired_key(clinic, services, anna, dr_weber, protocol)


def test_an_erased_doctors_signatures_stay_verifiable_and_their_key_is_retired(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    anna: Person,
    practices: Practices,
) -> None:
    annas = clinic.register(anna)["id"]
    protocol = signed_protocol(clinic, dr_weber, anna, annas)
    step_up(clinic, dr_weber)
    erased = clinic.client.delete("/v1/accounts/me", headers=dr_weber.headers)
    assert erased.status_code == 200, erased.text
    assert services.keys.get(dr_weber.actor.actor_id) is None
    assert_still_verifiable_with_a_retired_key(clinic, services, anna, dr_weber, protocol)


def test_a_doctor_who_signs_again_after_retirement_does_so_with_a_new_key(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    admin_a: Person,
    anna: Person,
    practices: Practices,
) -> None:
    """Accounts are not reactivated today; should a retired practitioner ever sign again (here
    straight through the bus), a new key is made and published: the retired one stays ended."""
    annas = clinic.register(anna)["id"]
    first = signed_protocol(clinic, dr_weber, anna, annas)
    later = urgent_call(clinic, dr_weber, anna, annas)
    second = str(draft(clinic, dr_weber, later, SECTIONS).json()["id"])
    done = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/staff/{dr_weber.actor.actor_id}/deactivate",
        headers=admin_a.headers,
    )
    assert done.status_code == 200, done.text
    [retired] = published_keys(clinic, anna, dr_weber)

    services.bus.handle(SignProtocol(dr_weber.actor, uuid.UUID(second)))
    old, new = published_keys(clinic, anna, dr_weber)
    assert old == retired and old["valid_until"] is not None
    assert new["key_id"] != old["key_id"] and new["valid_until"] is None
    assert new["valid_from"] >= old["valid_until"]
    first_check = read(clinic, anna, f"/v1/protocols/{first}/verification")
    second_check = read(clinic, anna, f"/v1/protocols/{second}/verification")
    assert first_check["valid"] and first_check["signature"]["key_id"] == old["key_id"]
    assert second_check["valid"] and second_check["signature"]["key_id"] == new["key_id"]
    assert private_halves(services, dr_weber) == 1  # only the new one's


def test_racing_deactivations_retire_the_key_exactly_once(
    postgres_only: str,
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    admin_a: Person,
    anna: Person,
    practices: Practices,
) -> None:
    """Two admins' clicks and a removal at once: one retirement, one private half destroyed,
    the signatures verify."""
    annas = clinic.register(anna)["id"]
    protocol = signed_protocol(clinic, dr_weber, anna, annas)
    doctor = dr_weber.actor.actor_id
    commands: list[object] = [
        DeactivateAccount(admin_a.actor, doctor, clinic.org_a),
        DeactivateAccount(admin_a.actor, doctor, clinic.org_a),
        LeaveOrganisation(admin_a.actor, doctor, clinic.org_a),
    ]

    def attempt(command: object) -> str:
        try:
            services.bus.handle(command)
        except Exception as exc:  # the removal after a deactivation may find no member
            return type(exc).__name__
        return "done"

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(attempt, commands))
    assert "done" in outcomes, outcomes
    keys_id = PractitionerKeys.create_id(doctor)
    retired = [
        e for e in services.app.events.get(keys_id) if isinstance(e, PractitionerKeys.KeyRetired)
    ]
    assert len(retired) == 1
    assert_still_verifiable_with_a_retired_key(clinic, services, anna, dr_weber, protocol)


T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())


@given(st.lists(st.tuples(st.sampled_from(["publish", "retire"]), st.integers(0, 10**6))))
def test_key_validities_never_overlap_and_a_retired_key_never_comes_back(
    steps: list[tuple[str, int]],
) -> None:
    """Whatever the order of new keys and retirements, time moving on: the validities follow
    each other without overlap, only the newest may be open, and a key's end never changes."""
    keys = PractitionerKeys(practitioner_id=DR.actor_id, by=DR)
    now, ends = T0, dict[str, datetime]()
    for n, (what, seconds) in enumerate(steps):
        now += timedelta(seconds=seconds)
        if what == "publish":
            keys.publish(f"key-{n}", "ed25519", f"public-{n}", now, by=DR)
            assert keys.current() is not None and keys.current() == keys.keys[-1]
        else:
            retired = keys.retire(now, by=DR)
            assert keys.current() is None
            assert retired is None or retired.valid_until == now
        for key in keys.keys:
            if key.key_id in ends:
                assert key.valid_until == ends[key.key_id]  # ended once, for good
            elif key.valid_until is not None:
                ends[key.key_id] = key.valid_until
    for before, after in zip(keys.keys, keys.keys[1:], strict=False):
        assert before.valid_until is not None and before.valid_until <= after.valid_from
    assert all(k.valid_until is None or k.valid_from <= k.valid_until for k in keys.keys)
    replayed = None
    for event in keys.collect_events():
        replayed = event.mutate(replayed)
    assert isinstance(replayed, PractitionerKeys) and replayed.keys == keys.keys
