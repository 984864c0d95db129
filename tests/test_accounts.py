"""Accounts as people use them: register, sign in, two factors, step up, lockouts."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from adapters.composition import Services
from commands.accounts import OpenAccount
from domain.account import Account
from domain.actor import Role
from domain.patient import record_of
from tests.conftest import Clinic
from tests.test_privacy import raw_database_bytes

PASSWORD = "correct horse battery"


def sign_in(
    clinic: Clinic, email: str, password: str = PASSWORD, code: str | None = None
) -> tuple[int, dict[str, object]]:
    body: dict[str, object] = {"email": email, "password": password}
    if code is not None:
        body["code"] = code
    response = clinic.client.post("/v1/sessions", json=body)
    return response.status_code, response.json()


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def enrol(clinic: Clinic, token: object) -> tuple[pyotp.TOTP, list[str]]:
    started = clinic.client.post("/v1/accounts/me/totp", headers=bearer(token))
    assert started.status_code == 200, started.text
    assert started.json()["provisioning_uri"].startswith("otpauth://totp/Telemed:")
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = clinic.client.post(
        "/v1/accounts/me/totp/confirm", headers=bearer(token), json={"code": totp.now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    return totp.at(time.time() + totp.interval)


def test_a_patient_registers_signs_in_uses_the_api_and_signs_out(clinic: Clinic) -> None:
    created = clinic.client.post(
        "/v1/accounts", json={"email": "Anna@Example.lu", "password": PASSWORD}
    )
    assert created.status_code == 201
    status, session = sign_in(clinic, "anna@example.lu")
    assert status == 201 and session["role"] == "patient" and not session["enrolment_only"]
    record = clinic.client.post(
        "/v1/patients",
        headers=bearer(session["token"]),
        json={"given_name": "Anna", "family_name": "Muster"},
    )
    assert record.status_code == 201
    assert record.json()["id"] == str(record_of(uuid.UUID(created.json()["id"])))
    assert (
        clinic.client.delete("/v1/sessions/current", headers=bearer(session["token"])).status_code
        == 204
    )
    assert (
        clinic.client.get(
            f"/v1/patients/{record.json()['id']}", headers=bearer(session["token"])
        ).status_code
        == 401
    )


def test_one_account_per_email_and_no_weak_passwords(clinic: Clinic) -> None:
    body = {"email": "ben@example.lu", "password": PASSWORD}
    assert clinic.client.post("/v1/accounts", json=body).status_code == 201
    taken = clinic.client.post("/v1/accounts", json={**body, "email": "BEN@example.lu"})
    assert taken.status_code == 409 and taken.json()["type"].endswith("email-taken")
    weak = clinic.client.post("/v1/accounts", json={"email": "c@example.lu", "password": "123"})
    assert weak.status_code == 422


def test_guessing_a_password_locks_the_account_and_is_audited(
    clinic: Clinic, services: Services
) -> None:
    account_id = services.bus.handle(OpenAccount("cleo@example.lu", PASSWORD)).aggregate_id
    for _ in range(5):
        assert sign_in(clinic, "cleo@example.lu", "wrong password!")[0] == 401
    status, problem = sign_in(clinic, "cleo@example.lu")
    assert status == 429 and str(problem["type"]).endswith("account-locked")
    history = [type(e).__name__ for e in services.app.events.get(account_id)]
    assert history.count("SignInFailed") == 5 and "LockedOut" in history
    unknown = sign_in(clinic, "nobody@example.lu")
    assert unknown[0] == 401 and str(unknown[1]["type"]).endswith("invalid-credentials")


def test_guessing_from_one_address_is_throttled(clinic: Clinic) -> None:
    for i in range(20):
        assert sign_in(clinic, f"guess{i}@example.lu")[0] == 401
    status, problem = sign_in(clinic, "guess@example.lu")
    assert status == 429 and str(problem["type"]).endswith("too-many-attempts")


def test_two_factor_sign_in_codes_cannot_be_replayed_and_recovery_codes_work_once(
    clinic: Clinic, services: Services
) -> None:
    services.bus.handle(OpenAccount("dora@example.lu", PASSWORD))
    _, session = sign_in(clinic, "dora@example.lu")
    totp, recovery = enrol(clinic, session["token"])
    assert len(recovery) == 10 and len(set(recovery)) == 10
    status, problem = sign_in(clinic, "dora@example.lu")
    assert status == 401 and str(problem["type"]).endswith("second-factor-required")
    code = next_code(totp)
    assert sign_in(clinic, "dora@example.lu", code=code)[0] == 201
    assert sign_in(clinic, "dora@example.lu", code=code)[0] == 401  # replayed in its window
    assert sign_in(clinic, "dora@example.lu", code=recovery[0])[0] == 201
    assert sign_in(clinic, "dora@example.lu", code=recovery[0])[0] == 401  # single use


def test_changing_the_password_needs_a_step_up_and_signs_out_everywhere(
    clinic: Clinic, services: Services
) -> None:
    services.bus.handle(OpenAccount("emil@example.lu", PASSWORD))
    _, first = sign_in(clinic, "emil@example.lu")
    totp, recovery = enrol(clinic, first["token"])
    _, second = sign_in(clinic, "emil@example.lu", code=recovery[1])
    with services.db.transaction() as cur:  # ten minutes later: the step-up has lapsed
        cur.execute(
            "UPDATE sessions SET stepped_up_at = %s", (datetime.now(UTC) - timedelta(minutes=10),)
        )
    change = {"current": PASSWORD, "new": "a much better passphrase"}
    url, headers = "/v1/accounts/me/password", bearer(second["token"])
    lapsed = clinic.client.post(url, headers=headers, json=change)
    assert lapsed.status_code == 401 and lapsed.json()["type"].endswith("step-up-required")
    wrong = clinic.client.post(
        "/v1/sessions/current/step-up", headers=headers, json={"code": "000000"}
    )
    assert wrong.status_code == 401
    fresh = clinic.client.post(
        "/v1/sessions/current/step-up", headers=headers, json={"code": next_code(totp)}
    )
    assert fresh.status_code == 204
    assert clinic.client.post(url, headers=headers, json=change).status_code == 204
    for token in (first["token"], second["token"]):  # every session signed out
        assert clinic.client.get("/v1/patients", headers=bearer(token)).status_code == 401
    assert sign_in(clinic, "emil@example.lu", code=recovery[2])[0] == 401  # old password
    assert (
        sign_in(clinic, "emil@example.lu", "a much better passphrase", code=recovery[2])[0] == 201
    )


def test_staff_must_set_up_two_factor_before_using_the_api(
    clinic: Clinic, services: Services
) -> None:
    services.bus.handle(OpenAccount("dr.fox@example.lu", PASSWORD, Role.DOCTOR, clinic.org_a))
    status, session = sign_in(clinic, "dr.fox@example.lu")
    assert status == 201 and session["enrolment_only"] is True
    blocked = clinic.client.get("/v1/patients", headers=bearer(session["token"]))
    assert blocked.status_code == 401
    assert blocked.json()["type"].endswith("second-factor-enrolment-required")
    enrol(clinic, session["token"])
    assert clinic.client.get("/v1/patients", headers=bearer(session["token"])).status_code == 200


def test_no_password_hash_or_totp_secret_is_stored_in_clear(
    clinic: Clinic, services: Services
) -> None:
    account_id = services.bus.handle(OpenAccount("fay@example.lu", PASSWORD)).aggregate_id
    _, session = sign_in(clinic, "fay@example.lu")
    totp, recovery = enrol(clinic, session["token"])
    account = services.bus_uow().get(Account, account_id)
    stored = raw_database_bytes(services)
    for secret in (
        PASSWORD,
        account.password_hash,
        totp.secret,
        recovery[0],
        "fay@example",
        str(session["token"]),
    ):
        assert secret.encode() not in stored, secret
    assert isinstance(uuid.UUID(str(account_id)), uuid.UUID)


@pytest.mark.parametrize("body", [{"email": "x@y.lu"}, {"password": PASSWORD}, {}])
def test_a_sign_in_without_credentials_is_a_validation_problem(
    clinic: Clinic, body: dict[str, str]
) -> None:
    assert clinic.client.post("/v1/sessions", json=body).status_code == 422


def test_an_operator_creates_a_staff_account_from_the_command_line(
    clinic: Clinic, services: Services
) -> None:
    from typer.testing import CliRunner

    from api.cli import cli

    env = {
        "TELEMED_DATABASE_URL": services.settings.database_url,
        "TELEMED_KEYRING": str(services.settings.keyring_path),
    }
    result = CliRunner().invoke(
        cli,
        [
            "account",
            "create",
            "--email",
            "admin@clinic.lu",
            "--role",
            "org-admin",
            "--organisation",
            str(clinic.org_a),
        ],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    status, session = sign_in(clinic, "admin@clinic.lu")
    assert status == 201 and session["role"] == "org-admin" and session["enrolment_only"]


def test_a_patient_turns_two_factor_off_after_a_step_up_staff_cannot(
    clinic: Clinic, services: Services
) -> None:
    services.bus.handle(OpenAccount("jo@example.lu", PASSWORD))
    _, first = sign_in(clinic, "jo@example.lu")
    totp, _ = enrol(clinic, first["token"])
    with services.db.transaction() as cur:  # the step-up of the enrolment has lapsed
        cur.execute(
            "UPDATE sessions SET stepped_up_at = %s", (datetime.now(UTC) - timedelta(minutes=10),)
        )
    off = clinic.client.delete("/v1/accounts/me/totp", headers=bearer(first["token"]))
    assert off.status_code == 401 and off.json()["type"].endswith("step-up-required")
    clinic.client.post(
        "/v1/sessions/current/step-up",
        headers=bearer(first["token"]),
        json={"code": next_code(totp)},
    )
    assert (
        clinic.client.delete("/v1/accounts/me/totp", headers=bearer(first["token"])).status_code
        == 204
    )
    assert sign_in(clinic, "jo@example.lu")[0] == 201  # no code needed any more

    services.bus.handle(OpenAccount("dr.kay@example.lu", PASSWORD, Role.DOCTOR, clinic.org_a))
    _, staff = sign_in(clinic, "dr.kay@example.lu")
    enrol(clinic, staff["token"])
    kept = clinic.client.delete("/v1/accounts/me/totp", headers=bearer(staff["token"]))
    assert kept.status_code == 409 and kept.json()["type"].endswith("second-factor-mandatory")
