"""Whatever a person types, the answer is ours: never a server error, never a dropped
connection; what truly breaks is named (a correlation id, an integrity alarm), never told
to "retry later"."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.composition import Services
from api.app import create_app
from commands.accounts import OpenAccount
from tests.conftest import Clinic, Person
from tests.test_accounts import PASSWORD, bearer, sign_in
from tests.test_api_problems import PROBLEM
from tests.test_audit_chain import tamper

#: what a Japanese input method types for 0-9 (U+FF10 to U+FF19)
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


def test_a_code_typed_in_full_width_digits_is_read_as_the_same_code(
    clinic: Clinic, services: Services
) -> None:
    import pyotp

    services.bus.handle(OpenAccount("hana@example.jp", PASSWORD))
    _, session = sign_in(clinic, "hana@example.jp")
    started = clinic.client.post("/v1/accounts/me/totp", headers=bearer(session["token"]))
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = clinic.client.post(
        "/v1/accounts/me/totp/confirm",
        headers=bearer(session["token"]),
        json={"code": totp.now().translate(FULL_WIDTH)},
    )
    assert confirmed.status_code == 200, confirmed.text
    code = totp.at(time.time() + totp.interval).translate(FULL_WIDTH)
    status, _ = sign_in(clinic, "hana@example.jp", code=code)
    assert status == 201
    not_digits = "123 456".translate(FULL_WIDTH) + "\uff58"  # a full-width x at the end
    status, problem = sign_in(clinic, "hana@example.jp", code=not_digits)
    assert status == 401 and str(problem["type"]).endswith("invalid-credentials")


def _explode(patient_id: str) -> None:
    raise RuntimeError(f"cannot file record {patient_id} for Anna Muster")


def test_an_unexpected_failure_is_answered_once_with_a_correlation_id_never_its_message(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(services)
    # a route with a bug in it, as a real one might have
    app.add_api_route("/v1/broken/{patient_id}", _explode, methods=["GET"])
    correlation = str(uuid.uuid4())
    secret_id = str(uuid.uuid4())
    with TestClient(app) as client, caplog.at_level(logging.INFO):
        response = client.get(f"/v1/broken/{secret_id}", headers={"X-Correlation-Id": correlation})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert "Retry-After" not in response.headers
    problem = response.json()
    assert problem["type"].endswith("internal-error")
    assert problem["correlation_id"] == correlation == response.headers["X-Correlation-Id"]
    server_log = "\n".join(
        r.getMessage() + (r.exc_text or "")
        for r in caplog.records
        if r.name.startswith(("telemed", "uvicorn"))
    )
    assert "RuntimeError" in server_log and correlation in server_log
    assert secret_id not in server_log and "Anna" not in server_log
    assert "GET /v1/broken/{patient_id} 500" in server_log, "the request log lost the status"


def test_a_tampered_event_raises_an_integrity_alarm_instead_of_retry_later(
    clinic: Clinic, dr_weber: Person, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    patient = clinic.register(dr_weber, email="anna@example.lu")
    state = _stored_state(services, patient["id"])
    sealed = state["email"]["_data_"]
    flipped = base64.b64decode(sealed)
    flipped = flipped[:-1] + bytes([flipped[-1] ^ 1])  # one bit of the authentication tag
    state["email"]["_data_"] = base64.b64encode(flipped).decode()
    tamper(
        services,
        "UPDATE stored_events SET state = %s WHERE originator_version = 1 AND originator_id = %s",
        (json.dumps(state).encode(), _stored_id(services, patient["id"])),
    )
    with caplog.at_level(logging.INFO):
        response = clinic.client.get(f"/v1/patients/{patient['id']}", headers=dr_weber.headers)
    assert response.status_code == 500, response.text
    assert "Retry-After" not in response.headers
    assert response.json()["type"].endswith("integrity-check-failed")
    alarms = [r for r in caplog.records if r.levelno >= logging.ERROR and "integrity" in r.message]
    assert alarms, "no alarm was logged"
    health = clinic.client.get("/v1/health").json()
    assert health["alarms"]["integrity_failures"] >= 1


def _stored_id(services: Services, patient_id: str) -> Any:
    return patient_id if services.db.dialect == "sqlite" else uuid.UUID(patient_id)


def _stored_state(services: Services, patient_id: str) -> dict[str, Any]:
    with services.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT state FROM stored_events WHERE originator_id = %s AND originator_version = 1",
            (_stored_id(services, patient_id),),
        )
        row = cur.fetchone()
    assert row is not None
    loaded: dict[str, Any] = json.loads(bytes(row[0]))
    return loaded


def test_a_broken_hash_chain_found_by_the_audit_raises_the_alarm(
    clinic: Clinic,
    dr_weber: Person,
    officer: Person,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    patient = clinic.register(dr_weber)
    assert clinic.client.get(f"/v1/patients/{patient['id']}", headers=dr_weber.headers).is_success
    sealed = clinic.client.get("/v1/compliance/audit", headers=officer.headers).json()
    assert sealed["ok"], sealed  # the chain now covers the access record
    tamper(services, "UPDATE access_log SET purpose = 'billing' WHERE position = 1")
    with caplog.at_level(logging.INFO):
        report = clinic.client.get("/v1/compliance/audit", headers=officer.headers)
    assert report.status_code == 200 and report.json()["ok"] is False
    alarms = [r for r in caplog.records if r.levelno >= logging.ERROR and "integrity" in r.message]
    assert alarms, "a broken chain was reported without an alarm"
    assert clinic.client.get("/v1/health").json()["alarms"]["integrity_failures"] == 1
