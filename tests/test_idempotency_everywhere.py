"""Every state-changing route can be retried with its Idempotency-Key: the retry is applied
once and answers the first result (status, body, Location); the same key with another request
is a 409. The routes come from the OpenAPI document: a new command route needs a scenario here.

The scenarios reuse the authorization matrix's world (tests/test_authorization_matrix.py):
each route is called once, in the matrix's order, by one actor the policy allows on their own
record; where the matrix's call is meant to be refused (an unknown id), the scenario below
calls it on something that exists, so that every first call succeeds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest

from adapters.composition import Services
from adapters.idempotency import LEASE, RETENTION
from commands.accounts import OpenAccount
from domain.actor import Role
from tests.conftest import PASSWORD, Clinic, Person
from tests.lab_fixtures import machine_client, order, partner_lab, treated_consultation
from tests.scheduling_fixtures import set_up_schedule, tomorrow_at
from tests.test_accounts import bearer, next_code
from tests.test_authorization_matrix import (
    CASES,
    PUBLIC_ROUTES,
    SESSION_ROUTES,
    WHO,
    Tie,
    Who,
    World,
    build_world,
    d,
    on_call,
    p,
)
from tests.test_beneficiaries import stepped_up_holder
from tests.test_mail import Inbox, inbox  # noqa: F401  (the SMTP fixture)
from tests.test_privacy import raw_database_bytes

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
#: POST routes that change nothing: a query in a body (so it stays out of URLs)
QUERIES = {("POST", "/v1/patients/_search"), ("POST", "/v1/pharmacy/prescriptions/verify")}
#: who calls a route, among those the matrix allows on their own record
PREFERRED: list[Who] = [Role.DOCTOR, Role.ORG_ADMIN, Role.NURSE_MANAGER, *WHO]

Call = tuple[str, str, dict[str, Any]]


def events(services: Services) -> int:
    return services.recorder.max_notification_id() or 0


class Retrier:
    """Sends each call twice with one key, then the key with another request."""

    def __init__(self, clinic: Clinic) -> None:
        self.clinic, self.count = clinic, 0
        self.wrong: list[str] = []

    def twice(self, label: str, headers: dict[str, str], call: Call) -> httpx.Response:
        verb, url, kwargs = call
        self.count += 1
        keyed = {**headers, "Idempotency-Key": f"retry-{self.count}-{uuid.uuid4().hex[:6]}"}
        services = self.clinic.services
        first: httpx.Response = self.clinic.client.request(verb, url, headers=keyed, **kwargs)
        applied = events(services)
        again = self.clinic.client.request(verb, url, headers=keyed, **kwargs)
        other = self.clinic.client.request(verb, url, headers=keyed, json={"another": "request"})
        problems = []
        if first.status_code >= 300:
            problems.append(f"first call failed: {first.status_code} {first.text[:160]}")
        if (again.status_code, again.content) != (first.status_code, first.content):
            problems.append(f"retry answered {again.status_code} {again.text[:160]}")
        if again.headers.get("Location") != first.headers.get("Location"):
            problems.append("retry answered another Location")
        if again.headers.get("Idempotent-Replayed") != "true":
            problems.append("retry was not a replay")
        if events(services) != applied:
            problems.append(f"retry applied again: {events(services) - applied} more events")
        if other.status_code != 409 or not other.json()["type"].endswith("idempotency-key-reused"):
            problems.append(f"another request under the key: {other.status_code}")
        if problems:
            self.wrong.append(f"{label}: " + "; ".join(problems))
        return first


def _scenarios(world: World, made: dict[str, Any]) -> dict[tuple[str, str], Callable[[], Call]]:
    """Calls that succeed where the matrix's call targets something that does not exist."""
    clinic, weber = world.clinic, world.people[Role.DOCTOR]
    doctor, org = d(world, True), world.org[True]

    def staff_member() -> str:
        return str(clinic.person("Leaving nurse", Role.NURSE, org).actor.actor_id)

    annas = p(world, Role.PATIENT, True)

    def annas_urgent() -> str:
        booked = clinic.client.post(
            "/v1/consultations/urgent",
            headers=weber.headers,
            json={"patient_id": annas, "doctor_id": doctor, "reason": "high fever"},
        )
        assert booked.status_code == 201, booked.text
        made["urgent-anna"] = booked.json()["id"]
        return str(made["urgent-anna"])

    def taken_question() -> str:
        taken = clinic.client.post(
            f"/v1/consultations/{made['question']}/take", headers=weber.headers
        )
        assert taken.status_code == 200, taken.text
        return str(made["question"])

    def current() -> int:
        text = clinic.client.get(
            f"/v1/organisations/{org}/consent-texts/recording", headers=weber.headers
        )
        assert text.status_code == 200, text.text
        return int(text.json()["version"])

    def later_slot() -> str:
        practices = world.doctor[True]
        return str(tomorrow_at(clinic, weber, practices, practices.city, "video-15", 12)["start"])

    def on_duty_then_accept() -> Call:
        on = clinic.client.put(f"/v1/on-call/pools/{org}/cardiology/duty", headers=weber.headers)
        assert on.status_code == 200, on.text
        return ("POST", f"/v1/on-call/requests/{on_call(world, Role.DOCTOR, True)}/accept", {})

    return {
        ("POST", "/v1/on-call/requests/{request_id}/accept"): on_duty_then_accept,
        ("DELETE", "/v1/patients/{patient_id}/consents/{purpose}"): lambda: (
            "DELETE",
            f"/v1/patients/{p(world, Role.DOCTOR, True)}/consents/research",
            {},
        ),
        ("DELETE", "/v1/patients/{patient_id}/delegations/{grant_id}"): lambda: (
            "DELETE",
            f"/v1/patients/{p(world, Role.DOCTOR, True)}/delegations/{made['grant']}",
            {},
        ),
        ("DELETE", "/v1/doctors/{doctor_id}/time-off/{period_id}"): lambda: (
            "DELETE",
            f"/v1/doctors/{doctor}/time-off/{made['time-off']}",
            {},
        ),
        ("DELETE", "/v1/doctors/{doctor_id}/calendars/{calendar_id}"): lambda: (
            "DELETE",
            f"/v1/doctors/{doctor}/calendars/{made['calendar']}",
            {},
        ),
        ("POST", "/v1/consultations/{consultation_id}/reschedule"): lambda: (
            "POST",
            f"/v1/consultations/{made['booking']}/reschedule",
            {"json": {"start": later_slot()}},
        ),
        ("POST", "/v1/consultations/{consultation_id}/no-show"): lambda: (
            "POST",
            f"/v1/consultations/{made['urgent']}/no-show",
            {},
        ),
        ("DELETE", "/v1/organisations/{organisation_id}/booking-templates/{type_code}"): lambda: (
            "DELETE",
            f"/v1/organisations/{org}/booking-templates/video-15",
            {},
        ),
        ("POST", "/v1/organisations/{organisation_id}/staff/{account_id}/deactivate"): lambda: (
            "POST",
            f"/v1/organisations/{org}/staff/{staff_member()}/deactivate",
            {},
        ),
        ("DELETE", "/v1/organisations/{organisation_id}/staff/{account_id}"): lambda: (
            "DELETE",
            f"/v1/organisations/{org}/staff/{staff_member()}",
            {},
        ),
        ("POST", "/v1/doctors/{doctor_id}/practices"): lambda: (
            "POST",
            f"/v1/doctors/{doctor}/practices",
            {"json": {"practice_id": str(uuid.uuid4()), "organisation_id": str(org)}},
        ),
        # the matrix's consultations are cancelled by now: Anna's question and an urgent
        # consultation of hers, which Dr Weber takes, admits and completes, and she rates
        ("POST", "/v1/consultations/async"): lambda: (
            "POST",
            "/v1/consultations/async",
            {
                "json": {
                    "patient_id": annas,
                    "doctor_id": doctor,
                    "organisation_id": str(org),
                    "type_code": "general",
                    "question": "Is this rash contagious?",
                }
            },
        ),
        ("POST", "/v1/consultations/{consultation_id}/check-in"): lambda: (
            "POST",
            f"/v1/consultations/{annas_urgent()}/check-in",
            {},
        ),
        **{
            ("POST", f"/v1/consultations/{{consultation_id}}/{name}"): _on(
                made, "urgent-anna", name
            )
            for name in ("take", "admit", "complete", "rate")
        },
        ("POST", "/v1/consultations/{consultation_id}/answer"): lambda: (
            "POST",
            f"/v1/consultations/{taken_question()}/answer",
            {},
        ),
        **{
            ("POST", f"/v1/consultations/{{consultation_id}}/{name}"): _on(made, "question", name)
            for name in ("close", "reopen")
        },
        # the urgent consultation Dr Weber completed above gets its protocol
        ("POST", "/v1/consultations/{consultation_id}/protocol"): lambda: (
            "POST",
            f"/v1/consultations/{made['urgent-anna']}/protocol",
            {"json": {"complaints": "High fever"}},
        ),
        ("POST", "/v1/teleconferences/{teleconference_id}/cancel"): lambda: (
            "POST",
            f"/v1/teleconferences/{made['conference']}/cancel",
            {},
        ),
        # intake and consents: on a consultation of Anna's still to come, the current text
        ("POST", "/v1/consultations/{consultation_id}/intake"): lambda: (
            "POST",
            f"/v1/consultations/{annas_urgent()}/intake",
            CASES[("POST", "/v1/consultations/{consultation_id}/intake")].call(
                world, Role.PATIENT, True
            )[2],
        ),
        ("POST", "/v1/consultations/{consultation_id}/intake/forms/{form_code}"): lambda: (
            "POST",
            f"/v1/consultations/{made['urgent-anna']}/intake/forms/allergies",
            {"json": {"version": 1, "answers": {"notes": "hay fever"}}},
        ),
        ("POST", "/v1/patients/{patient_id}/signed-consents"): lambda: (
            "POST",
            f"/v1/patients/{annas}/signed-consents",
            {"json": {"organisation_id": str(org), "kind": "recording", "version": current()}},
        ),
        **_lab_scenarios(world),
    }


def _lab_scenarios(world: World) -> dict[tuple[str, str], Callable[[], Call]]:
    """A machine client revoked, a lab added and removed, tests ordered and cancelled."""
    clinic, weber, org = world.clinic, world.people[Role.DOCTOR], world.org[True]
    admin = clinic.person("Lab admin", Role.ORG_ADMIN, org)
    lab = world.labs[True]

    def ordered() -> tuple[str, str]:
        consultation = treated_consultation(clinic, weber, p(world, Role.DOCTOR, True))
        made = order(clinic, weber, consultation, lab)
        assert made.status_code == 201, made.text
        return consultation, str(made.json()["id"])

    def cancel() -> Call:
        consultation, order_id = ordered()
        url = f"/v1/consultations/{consultation}/lab-orders/{order_id}/cancel"
        return ("POST", url, {"json": {"reason": "retried"}})

    def new_lab() -> str:
        return partner_lab(clinic, admin, org, "Retried lab").lab_id

    return {
        ("DELETE", "/v1/organisations/{organisation_id}/machine-clients/{client_id}"): lambda: (
            "DELETE",
            f"/v1/organisations/{org}/machine-clients/"
            f"{machine_client(clinic, admin, org, 'Retried LIS')[0]}",
            {},
        ),
        ("POST", "/v1/organisations/{organisation_id}/partner-labs"): lambda: (
            "POST",
            f"/v1/organisations/{org}/partner-labs",
            {
                "json": {
                    "name": "Retried lab",
                    "client_id": machine_client(clinic, admin, org, "Retried LIS")[0],
                }
            },
        ),
        ("DELETE", "/v1/organisations/{organisation_id}/partner-labs/{lab_id}"): lambda: (
            "DELETE",
            f"/v1/organisations/{org}/partner-labs/{new_lab()}",
            {},
        ),
        ("POST", "/v1/consultations/{consultation_id}/lab-orders"): lambda: (
            "POST",
            "/v1/consultations/"
            f"{treated_consultation(clinic, weber, p(world, Role.DOCTOR, True))}/lab-orders",
            {"json": {"lab_id": lab.lab_id, "tests": [{"code": "718-7", "display": "Hb"}]}},
        ),
        ("POST", "/v1/consultations/{consultation_id}/lab-orders/{order_id}/cancel"): cancel,
    }


def _on(made: dict[str, Any], which: str, step: str) -> Callable[[], Call]:
    """A step on a consultation an earlier scenario made."""
    return lambda: (
        "POST",
        f"/v1/consultations/{made[which]}/{step}",
        {"json": {"score": 8}} if step == "rate" else {},
    )


#: what a first result leaves for a later scenario (ids made by the call)
REMEMBER = {
    ("POST", "/v1/patients/{patient_id}/delegations"): "grant",
    ("POST", "/v1/doctors/{doctor_id}/time-off"): "time-off",
    ("POST", "/v1/doctors/{doctor_id}/calendars"): "calendar",
    ("POST", "/v1/consultations"): "booking",
    ("POST", "/v1/consultations/urgent"): "urgent",
    ("POST", "/v1/consultations/async"): "question",
    ("POST", "/v1/teleconferences"): "conference",
}


def test_every_state_changing_route_has_a_retry_scenario(clinic: Clinic) -> None:
    spec = clinic.client.get("/openapi.json").json()
    changes = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method.upper() in CHANGES
    }
    covered = {route for route in CASES if route[0] in CHANGES} | set(ACCOUNT_FLOWS)
    assert changes - QUERIES == covered - QUERIES
    undocumented = [
        (method, path)
        for method, path in changes - QUERIES
        if "Idempotency-Key"
        not in {p["name"] for p in spec["paths"][path][method.lower()].get("parameters", [])}
    ]
    assert not undocumented


def test_every_command_route_retried_with_its_key_answers_its_first_result(
    clinic: Clinic, dr_weber: Person, dr_other_clinic: Person
) -> None:
    world = build_world(clinic, dr_weber, dr_other_clinic)
    stepped_up_holder(clinic, world.people[Tie.HOLDER])
    made: dict[str, Any] = {}
    scenarios = _scenarios(world, made)
    retrier = Retrier(clinic)
    for route, case in CASES.items():
        if route[0] not in CHANGES or route in QUERIES:
            continue
        who = next(w for w in PREFERRED if case.rule(w, True))
        call = scenarios[route]() if route in scenarios else case.call(world, who, True)
        first = retrier.twice(
            f"{route[0]} {route[1]} as {who.value}", world.people[who].headers, call
        )
        if route in REMEMBER and first.status_code < 300:
            made[REMEMBER[route]] = first.json()["id"]
    assert not retrier.wrong, "\n".join(retrier.wrong)


# -- accounts, sessions, two factors and invitations: outside the command bus ---------------


def mailed_token(services: Services, mail: Inbox, to: str) -> str:
    """The token of the last link mailed to ``to``."""
    services.outbox.deliver_due()
    for _ in range(200):
        sent = [i for i, m in enumerate(mail.messages) if to in str(m["To"])]
        if sent:
            found = re.search(r"#token=(\S+)", mail.body(sent[-1]))
            assert found is not None
            return found.group(1)
        mail.wait_for(len(mail.messages) + 1, timeout=0.05)
    raise AssertionError(f"no mail to {to}")


class Flows:
    """The account flows, each set up so that its first call succeeds."""

    def __init__(self, clinic: Clinic, mail: Inbox, admin: Person, doctor: Person) -> None:
        self.clinic, self.inbox, self.admin, self.doctor = clinic, mail, admin, doctor
        clinic.client.put(
            f"/v1/organisations/{clinic.org_a}", headers=admin.headers, json={"name": "Clinic A"}
        )

    def fresh(self, totp: bool = False) -> tuple[str, str, pyotp.TOTP | None]:
        """A new patient account, signed in: (email, token, authenticator)."""
        email = f"p{uuid.uuid4().hex[:8]}@example.lu"
        self.clinic.services.bus.handle(OpenAccount(email, PASSWORD))
        token = self._sign_in(email)
        if not totp:
            return email, token, None
        started = self.clinic.client.post("/v1/accounts/me/totp", headers=bearer(token)).json()
        authenticator = pyotp.TOTP(started["secret"])
        confirmed = self.clinic.client.post(
            "/v1/accounts/me/totp/confirm",
            headers=bearer(token),
            json={"code": authenticator.now()},
        )
        assert confirmed.status_code == 200, confirmed.text
        return email, token, authenticator

    def _sign_in(self, email: str, code: str | None = None) -> str:
        body = {"email": email, "password": PASSWORD, **({"code": code} if code else {})}
        signed = self.clinic.client.post("/v1/sessions", json=body)
        assert signed.status_code == 201, signed.text
        return str(signed.json()["token"])

    def record_invitation(self) -> str:
        patient = self.clinic.register(self.doctor)["id"]
        email = f"r{uuid.uuid4().hex[:8]}@example.lu"
        invited = self.clinic.client.post(
            f"/v1/patients/{patient}/invitation", headers=self.doctor.headers, json={"email": email}
        )
        assert invited.status_code == 202, invited.text
        return mailed_token(self.clinic.services, self.inbox, email)


Flow = Callable[[Flows], tuple[dict[str, str], Call]]


def _register(f: Flows) -> tuple[dict[str, str], Call]:
    email = f"n{uuid.uuid4().hex[:8]}@example.lu"
    return {}, ("POST", "/v1/accounts", {"json": {"email": email, "password": PASSWORD}})


def _sign_in(f: Flows) -> tuple[dict[str, str], Call]:
    email, _, _ = f.fresh()
    return {}, ("POST", "/v1/sessions", {"json": {"email": email, "password": PASSWORD}})


def _reset(f: Flows) -> tuple[dict[str, str], Call]:
    email, _, _ = f.fresh()
    return {}, ("POST", "/v1/accounts/password-reset", {"json": {"email": email}})


def _reset_confirm(f: Flows) -> tuple[dict[str, str], Call]:
    email, _, _ = f.fresh()
    asked = f.clinic.client.post("/v1/accounts/password-reset", json={"email": email})
    assert asked.status_code == 202
    token = mailed_token(f.clinic.services, f.inbox, email)
    body = {"token": token, "password": "a brand new passphrase"}
    return {}, ("POST", "/v1/accounts/password-reset/confirm", {"json": body})


def _staff_invitation(f: Flows) -> tuple[dict[str, str], Call]:
    email = f"s{uuid.uuid4().hex[:8]}@example.lu"
    invited = f.clinic.client.post(
        f"/v1/organisations/{f.clinic.org_a}/invitations",
        headers=f.admin.headers,
        json={"email": email, "role": "nurse"},
    )
    assert invited.status_code == 201, invited.text
    token = mailed_token(f.clinic.services, f.inbox, email)
    body = {"token": token, "password": "the new nurse's passphrase"}
    return {}, ("POST", "/v1/invitations/accept", {"json": body})


def _record_accept(f: Flows) -> tuple[dict[str, str], Call]:
    body = {"token": f.record_invitation(), "password": "the patient's passphrase"}
    return {}, ("POST", "/v1/record-invitations/accept", {"json": body})


def _record_decline(f: Flows) -> tuple[dict[str, str], Call]:
    body = {"token": f.record_invitation()}
    return {}, ("POST", "/v1/record-invitations/decline", {"json": body})


def _sign_out(f: Flows) -> tuple[dict[str, str], Call]:
    return bearer(f.fresh()[1]), ("DELETE", "/v1/sessions/current", {})


def _step_up(f: Flows) -> tuple[dict[str, str], Call]:
    _, token, totp = f.fresh(totp=True)
    assert totp is not None
    return bearer(token), (
        "POST",
        "/v1/sessions/current/step-up",
        {"json": {"code": next_code(totp)}},
    )


def _change_password(f: Flows) -> tuple[dict[str, str], Call]:
    body = {"current": PASSWORD, "new": "another long passphrase"}
    return bearer(f.fresh()[1]), ("POST", "/v1/accounts/me/password", {"json": body})


def _enrol(f: Flows) -> tuple[dict[str, str], Call]:
    return bearer(f.fresh()[1]), ("POST", "/v1/accounts/me/totp", {})


def _confirm(f: Flows) -> tuple[dict[str, str], Call]:
    _, token, _ = f.fresh()
    started = f.clinic.client.post("/v1/accounts/me/totp", headers=bearer(token)).json()
    code = pyotp.TOTP(started["secret"]).now()
    return bearer(token), ("POST", "/v1/accounts/me/totp/confirm", {"json": {"code": code}})


def _disable(f: Flows) -> tuple[dict[str, str], Call]:
    _, token, totp = f.fresh(totp=True)
    assert totp is not None
    stepped = f.clinic.client.post(
        "/v1/sessions/current/step-up", headers=bearer(token), json={"code": next_code(totp)}
    )
    assert stepped.status_code == 204, stepped.text
    return bearer(token), ("DELETE", "/v1/accounts/me/totp", {})


def _erase_account(f: Flows) -> tuple[dict[str, str], Call]:
    return bearer(f.fresh()[1]), ("DELETE", "/v1/accounts/me", {})


def _machine_token(f: Flows) -> tuple[dict[str, str], Call]:
    client_id, secret = machine_client(f.clinic, f.admin, f.clinic.org_a, "Retried LIS")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return {}, ("POST", "/v1/oauth/token", {"data": form})


ACCOUNT_FLOWS: dict[tuple[str, str], Flow] = {
    ("POST", "/v1/accounts"): _register,
    ("POST", "/v1/sessions"): _sign_in,
    ("POST", "/v1/accounts/password-reset"): _reset,
    ("POST", "/v1/accounts/password-reset/confirm"): _reset_confirm,
    ("POST", "/v1/invitations/accept"): _staff_invitation,
    ("POST", "/v1/record-invitations/accept"): _record_accept,
    ("POST", "/v1/record-invitations/decline"): _record_decline,
    ("DELETE", "/v1/sessions/current"): _sign_out,
    ("POST", "/v1/sessions/current/step-up"): _step_up,
    ("POST", "/v1/accounts/me/password"): _change_password,
    ("POST", "/v1/accounts/me/totp"): _enrol,
    ("POST", "/v1/accounts/me/totp/confirm"): _confirm,
    ("DELETE", "/v1/accounts/me/totp"): _disable,
    ("DELETE", "/v1/accounts/me"): _erase_account,
    ("POST", "/v1/oauth/token"): _machine_token,
}
assert set(ACCOUNT_FLOWS) == {r for r in SESSION_ROUTES | PUBLIC_ROUTES if r[0] in CHANGES}


def test_every_account_route_retried_with_its_key_answers_its_first_result(
    clinic: Clinic,
    inbox: Inbox,  # noqa: F811
    admin_a: Person,
    dr_weber: Person,
) -> None:
    flows, retrier = Flows(clinic, inbox, admin_a, dr_weber), Retrier(clinic)
    for (method, path), flow in ACCOUNT_FLOWS.items():
        headers, call = flow(flows)
        retrier.twice(f"{method} {path}", headers, call)
    assert not retrier.wrong, "\n".join(retrier.wrong)


def test_a_lost_acknowledgement_of_an_urgent_booking_does_not_book_twice(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    set_up_schedule(clinic, dr_weber)
    anna = clinic.register(dr_weber)["id"]
    headers = {**dr_weber.headers, "Idempotency-Key": "urgent-anna-1"}
    body = {"patient_id": anna, "doctor_id": str(dr_weber.actor.actor_id), "reason": "chest pain"}
    first = clinic.client.post("/v1/consultations/urgent", json=body, headers=headers)
    again = clinic.client.post("/v1/consultations/urgent", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    agenda = clinic.client.get(
        f"/v1/doctors/{dr_weber.actor.actor_id}/agenda",
        params={"after": first.json()["position"]},
        headers=dr_weber.headers,
    ).json()
    assert [c["id"] for c in agenda if c["urgent"]] == [first.json()["id"]]


def test_a_patient_retrying_their_registration_gets_their_record_not_a_conflict(
    clinic: Clinic,
) -> None:
    anna = clinic.person("Anna", Role.PATIENT, None)
    headers = {**anna.headers, "Idempotency-Key": "reg-1"}
    body = {"given_name": "Anna", "family_name": "Muster", "email": "anna@example.lu"}
    first = clinic.client.post("/v1/patients", json=body, headers=headers)
    again = clinic.client.post("/v1/patients", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()


@pytest.mark.parametrize("route", ["/v1/sessions", "/v1/accounts/me/totp"])
def test_replayed_secrets_are_sealed_in_storage(
    clinic: Clinic, services: Services, route: str
) -> None:
    """A session token or a TOTP secret answered again on a retry is kept sealed, under a key
    only the retrying client's Idempotency-Key opens; nor does the store keep the request
    (which holds the password) in a form one can test passwords against."""
    email = f"s{uuid.uuid4().hex[:8]}@example.lu"
    services.bus.handle(OpenAccount(email, PASSWORD))
    signed_in = {"json": {"email": email, "password": PASSWORD}}
    key = {"Idempotency-Key": "secret-1"}
    if route == "/v1/sessions":
        first = clinic.client.post(route, headers=key, **signed_in)
        again = clinic.client.post(route, headers=key, **signed_in)
        secret = first.json()["token"]
    else:
        token = clinic.client.post("/v1/sessions", **signed_in).json()["token"]
        first = clinic.client.post(route, headers={**bearer(token), **key})
        again = clinic.client.post(route, headers={**bearer(token), **key})
        secret = first.json()["secret"]
    assert again.json() == first.json()
    stored = raw_database_bytes(services)
    assert secret.encode() not in stored
    assert b"secret-1" not in stored


class Killed(Exception):
    """The server process died here."""


def _lose_answers(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after the route committed, before its answer is kept."""

    def dies(*_: object) -> None:
        raise Killed

    monkeypatch.setattr(services.idempotency, "answer", dies)


def _lease_runs_out(services: Services) -> None:
    with services.db.transaction() as cur:
        cur.execute(
            "UPDATE idempotency_keys SET created_at = %s WHERE status IS NULL",
            (datetime.now(UTC) - LEASE - timedelta(seconds=1),),
        )


def test_a_retry_after_the_server_died_before_answering_is_not_applied_twice(
    clinic: Clinic, dr_weber: Person, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command's commit recorded the key in its own transaction: once the reservation's
    lease has run out, the retry answers that commit's result instead of booking again or
    opening a second account."""
    set_up_schedule(clinic, dr_weber)
    anna = clinic.register(dr_weber)["id"]
    urgent = {"patient_id": anna, "doctor_id": str(dr_weber.actor.actor_id), "reason": "fever"}
    booking = {**dr_weber.headers, "Idempotency-Key": "urgent-1"}
    sign_up = {"email": "lost-answer@example.lu", "password": PASSWORD}
    before = events(services)
    with monkeypatch.context() as dying:
        _lose_answers(services, dying)
        # the client never learns what became of its request: a 500 in place of the answer
        lost = clinic.client.post("/v1/consultations/urgent", json=urgent, headers=booking)
        assert lost.status_code == 500, lost.text
        lost = clinic.client.post("/v1/accounts", json=sign_up, headers={"Idempotency-Key": "a-1"})
        assert lost.status_code == 500, lost.text
    applied = events(services)
    _lease_runs_out(services)
    retried = clinic.client.post("/v1/consultations/urgent", json=urgent, headers=booking)
    again = clinic.client.post("/v1/consultations/urgent", json=urgent, headers=booking)
    signed_up = clinic.client.post("/v1/accounts", json=sign_up, headers={"Idempotency-Key": "a-1"})
    assert retried.status_code == 201, retried.text
    assert retried.json()["position"] == before + 1  # the booking made before the crash
    assert again.json() == retried.json() and again.headers["Idempotent-Replayed"] == "true"
    assert signed_up.status_code == 201, signed_up.text
    assert events(services) == applied


def test_a_key_is_forgotten_a_day_later_with_its_sealed_answer(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    body = {"given_name": "Anna", "family_name": "Muster"}
    keyed = {**dr_weber.headers, "Idempotency-Key": "reg-old"}
    first = clinic.client.post("/v1/patients", json=body, headers=keyed)
    assert services.idempotency.forget_expired() == 0
    with services.db.transaction() as cur:
        cur.execute(
            "UPDATE idempotency_keys SET created_at = %s",
            (datetime.now(UTC) - RETENTION - timedelta(minutes=1),),
        )
    services.idempotency.forget_expired()
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT COUNT(*) FROM idempotency_keys")
        assert cur.fetchone()[0] == 0
    later = clinic.client.post("/v1/patients", json=body, headers=keyed)
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
