"""Tamper evidence: the compliance officer's check finds any change to stored history."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from adapters.composition import Services
from api.audit import verify_all
from api.cli import cli
from domain.actor import Actor, Role
from tests.conftest import Clinic, Person


def tamper(services: Services, sql: str, params: tuple[Any, ...] = ()) -> None:
    """What an attacker with database access would do, bypassing the application."""
    if services.db.dialect == "sqlite":
        with sqlite3.connect(services.db.url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql.replace("%s", "?"), params)
    else:
        with psycopg.connect(services.db.url, autocommit=True) as conn:
            conn.execute(sql.encode(), params)


def history(clinic: Clinic, dr: Person, officer: Person) -> str:
    patient = clinic.register(dr)
    for phone in ("+352 1", "+352 2", "+352 3"):
        clinic.client.patch(
            f"/v1/patients/{patient['id']}/contact-details",
            json={"phone": phone},
            headers=dr.headers,
        )
    clinic.client.get(f"/v1/patients/{patient['id']}", headers=dr.headers)
    clinic.client.get(f"/v1/patients/{patient['id']}", headers=dr.headers)
    report = clinic.client.get("/v1/compliance/audit", headers=officer.headers).json()
    assert report["ok"], report
    return str(patient["id"])


def swapped(_: str, at: int) -> list[str]:
    return [
        f"UPDATE stored_events SET notification_id = -1 WHERE notification_id = {at}",
        f"UPDATE stored_events SET notification_id = {at} WHERE notification_id = {at + 1}",
        f"UPDATE stored_events SET notification_id = {at + 1} WHERE notification_id = -1",
    ]


def appended_byte(dialect: str, at: int) -> list[str]:
    if dialect == "sqlite":
        return [f"UPDATE stored_events SET state = state || X'00' WHERE notification_id = {at}"]
    return [
        f"UPDATE stored_events SET state = state || '\\x00'::bytea WHERE notification_id = {at}"
    ]


def deleted(_: str, at: int) -> list[str]:
    return [f"DELETE FROM stored_events WHERE notification_id = {at}"]


#: what is done to the history's events, and to which (1 is its first, 4 its last)
TAMPERING: dict[str, tuple[Callable[[str, int], list[str]], int]] = {
    "a changed event": (appended_byte, 2),
    "a deleted event": (deleted, 3),
    "a deleted last event": (deleted, 4),
    "reordered events": (swapped, 2),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampering_with_events_is_found_at_its_position(
    clinic: Clinic, dr_weber: Person, officer: Person, services: Services, kind: str
) -> None:
    before = services.recorder.max_notification_id() or 0  # the people's accounts
    history(clinic, dr_weber, officer)
    statements, nth = TAMPERING[kind]
    position = before + nth
    for statement in statements(services.db.dialect, position):
        tamper(services, statement)
    report = verify_all(services)
    events = report["chains"][0]
    assert not report["ok"] and not events["ok"]
    assert events["broken_at"] == position, events


def test_tampering_with_the_access_log_is_found(
    clinic: Clinic, dr_weber: Person, officer: Person, services: Services
) -> None:
    history(clinic, dr_weber, officer)
    tamper(services, "UPDATE access_log SET purpose = 'billing' WHERE position = 1")
    report = verify_all(services)
    access = report["chains"][1]
    assert {k: access[k] for k in ("chain", "checked", "ok", "broken_at", "reason")} == {
        "chain": "access_log",
        "checked": 0,
        "ok": False,
        "broken_at": 1,
        "reason": "content or order does not match",
    }


def test_the_cli_reports_ok_then_the_first_broken_position(
    clinic: Clinic,
    dr_weber: Person,
    officer: Person,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = services.recorder.max_notification_id() or 0  # the people's accounts
    history(clinic, dr_weber, officer)
    monkeypatch.setenv("TELEMED_DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("TELEMED_KEYRING", str(services.settings.keyring_path))
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0 and f"events: OK ({before + 4} records;" in ok.output
    tamper(services, f"DELETE FROM stored_events WHERE notification_id = {before + 2}")
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"events: BROKEN at position {before + 2}" in broken.output


def test_the_officer_sees_who_read_a_record_and_why(
    clinic: Clinic, dr_weber: Person, officer: Person
) -> None:
    patient_id = history(clinic, dr_weber, officer)
    clinic.client.get(
        f"/v1/patients/{patient_id}", headers={**dr_weber.headers, "X-Access-Purpose": "billing"}
    )
    log = clinic.client.get(
        f"/v1/compliance/patients/{patient_id}/access-log", headers=officer.headers
    ).json()
    assert [r["purpose"] for r in log] == ["care", "care", "billing"]
    assert {r["actor_id"] for r in log} == {str(dr_weber.actor.actor_id)}
    assert all(r["role"] == "doctor" for r in log)


def test_the_officer_replays_a_record_as_of_any_moment(
    clinic: Clinic, dr_weber: Person, officer: Person
) -> None:
    patient_id = history(clinic, dr_weber, officer)
    timeline = clinic.client.get(
        f"/v1/compliance/patients/{patient_id}/timeline", headers=officer.headers
    ).json()
    assert [e["event_type"] for e in timeline] == ["Patient.Registered"] + [
        "Patient.ContactDetailsChanged"
    ] * 3
    second = timeline[2]["occurred_at"]
    state = clinic.client.get(
        f"/v1/compliance/patients/{patient_id}/state",
        params={"at": second},
        headers=officer.headers,
    ).json()
    assert state["exists"] and state["version"] == 3 and state["state"]["phone"] == "+352 2"
    before = clinic.client.get(
        f"/v1/compliance/patients/{patient_id}/state",
        params={"at": "2000-01-01T00:00:00+00:00"},
        headers=officer.headers,
    ).json()
    assert before == {
        "at": "2000-01-01T00:00:00Z",
        "exists": False,
        "version": None,
        "state": None,
        "aggregates": [
            {
                "aggregate_id": patient_id,
                "aggregate_type": "Patient",
                "exists": False,
                "version": None,
                "state": None,
            }
        ],
    }


def test_every_write_is_attributed(clinic: Clinic, dr_weber: Person, services: Services) -> None:
    patient = clinic.register(dr_weber)
    timeline = services.replay.timeline(patient["id"])
    actor = timeline[0].actor
    assert isinstance(actor, Actor)
    assert (actor.actor_id, actor.role, actor.organisation_id) == (
        dr_weber.actor.actor_id,
        Role.DOCTOR,
        clinic.org_a,
    )
