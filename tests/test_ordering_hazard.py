"""The ordering hazard of concurrent appends (PostgreSQL).

A writer that started first can commit last. If positions were handed out at insert time (a
sequence), a projection that already passed a later position would never see the earlier row
once it commits. Here positions are handed out only to committed rows, so nothing is skipped.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

from adapters.composition import Services
from commands.patients import RegisterPatient
from domain.actor import Actor, Role
from projections.patient_directory import DirectoryEntry

DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())

HOLD = """
CREATE TABLE test_hold (armed boolean);
CREATE FUNCTION test_hold_insert() RETURNS trigger AS $$
BEGIN
    -- the first writer after arming takes a ticket, then waits (row inserted, not committed)
    IF EXISTS (SELECT 1 FROM test_hold) AND pg_try_advisory_xact_lock(4243) THEN
        PERFORM pg_advisory_xact_lock(4242);
        PERFORM pg_sleep(0.2);
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_hold AFTER INSERT ON stored_events
    FOR EACH ROW EXECUTE FUNCTION test_hold_insert();
"""


def test_a_projection_does_not_skip_an_event_that_commits_late(
    postgres_only: str, services: Services
) -> None:
    runner = services.runners["patient_directory"]
    with psycopg.connect(postgres_only, autocommit=True) as admin:
        admin.execute(HOLD)
        admin.execute("SELECT pg_advisory_lock(4242)")  # the gate the slow writer waits at
        admin.execute("INSERT INTO test_hold VALUES (true)")
        try:
            slow: dict[str, object] = {}
            writer = threading.Thread(
                target=lambda: slow.update(
                    saved=services.bus.handle(RegisterPatient(DR, "Slow", "Writer"))
                )
            )
            writer.start()
            _wait_until_blocked(admin)
            admin.execute("DELETE FROM test_hold")

            fast = services.bus.handle(RegisterPatient(DR, "Fast", "Writer"))
            assert fast.position == 1
            # the hazard is real: the slow row holds a lower insertion number, still invisible
            seq = admin.execute("SELECT seq FROM stored_events").fetchall()
            assert seq == [(2,)]
            assert runner.run_until_caught_up() == 1
            assert [e.family_name for e in _directory(services)] == ["Writer"]

            admin.execute("SELECT pg_advisory_unlock(4242)")
            writer.join(timeout=10)
            saved = slow["saved"]
            assert getattr(saved, "position", None) == 2
            runner.run_until_caught_up()
            given = sorted(e.given_name or "" for e in _directory(services))
            assert given == ["Fast", "Slow"]
            assert runner.position() == 2
        finally:
            admin.execute("SELECT pg_advisory_unlock_all()")
            admin.execute("DROP TRIGGER IF EXISTS test_hold ON stored_events")
            admin.execute("DROP FUNCTION IF EXISTS test_hold_insert()")
            admin.execute("DROP TABLE IF EXISTS test_hold")


def _directory(services: Services) -> list[DirectoryEntry]:
    return [row[0] for row in services.directory.rows_for_comparison()]


def _wait_until_blocked(admin: psycopg.Connection[Any]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
        if waiting and waiting[0]:
            return
        time.sleep(0.01)
    pytest.fail("the slow writer never reached the gate")
