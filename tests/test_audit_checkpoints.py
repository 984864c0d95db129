"""Tamper evidence that survives a database administrator: signed checkpoints outside the database.

The hash chain alone cannot help against whoever can write the database: delete the newest
event, point ``chain_heads`` back at the previous row, and the chain verifies again. A DBA can
even have the application hash rows of their choosing, by inserting them unsequenced after a
rewind. What a signed checkpoint covers can no longer be changed unnoticed.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from nacl.signing import SigningKey
from typer.testing import CliRunner

from adapters.audit.checkpoints import Checkpoint, CheckpointFolder
from adapters.composition import Services, build
from adapters.crypto.signing_key import public_key_text
from adapters.eventstore.chain import Head
from adapters.settings import Settings
from api.audit import verify_all
from api.cli import cli
from commands.patients import RegisterPatient
from domain.actor import Actor, Role
from tests.conftest import Clinic, Person
from tests.kafka import read_all


class Dba:
    """Somebody with write access to the database and none to the keys or the checkpoint folder."""

    def __init__(self, services: Services) -> None:
        self.url, self.dialect = services.db.url, services.db.dialect

    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> list[Any]:
        """Run the statements in one transaction; returns the rows of the last one."""
        if self.dialect == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as lite:
                cur = lite.cursor()
                for sql, params in statements:
                    cur.execute(sql.replace("%s", "?"), params)
                return cur.fetchall()
        with psycopg.connect(self.url) as pg, pg.cursor() as pgcur:
            for sql, params in statements:
                pgcur.execute(sql.encode(), params)
            return pgcur.fetchall() if pgcur.description else []

    def rewind(self, table: str, chain: str, column: str, to: int) -> list[Any]:
        """Delete the rows after ``to`` and point the chain head back at row ``to``: the chain
        verifies again. Returns the deleted rows' content, in order."""
        rows = self.run(
            (
                f"SELECT * FROM {table} WHERE {column} > %s ORDER BY {column}",
                (to,),
            )
        )
        self.run(
            (f"DELETE FROM {table} WHERE {column} > %s", (to,)),
            (
                "UPDATE chain_heads SET last_position = %s, "
                f"last_hash = (SELECT chain_hash FROM {table} WHERE {column} = %s) "
                "WHERE chain = %s",
                (to, to, chain),
            ),
        )
        return rows

    def reinsert_events(self, rows: list[tuple[Any, bytes, bytes]]) -> None:
        """Insert events without a position (``(originator, version, topic), state, seal``), for
        the next sequencer round to number: it numbers those whose seal matches their content."""
        self.run(
            *[
                (
                    "INSERT INTO stored_events (originator_id, originator_version, topic, state, "
                    "row_seal) VALUES (%s, %s, %s, %s, %s)",
                    (row[0], row[1], row[2], state, seal),
                )
                for row, state, seal in rows
            ]
        )


@pytest.fixture
def dba(services: Services) -> Dba:
    return Dba(services)


@pytest.fixture
def operator(services: Services, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The ``telemed`` command on the same deployment (database, keyring, checkpoint folder)."""
    monkeypatch.setenv("TELEMED_DATABASE_URL", services.settings.database_url)
    monkeypatch.setenv("TELEMED_KEYRING", str(services.settings.keyring_path))
    monkeypatch.delenv("TELEMED_CHECKPOINT_DIR", raising=False)  # beside the keyring
    return CliRunner()


def history(clinic: Clinic, dr: Person, *, signing: bool = False) -> str:
    """A patient registered, their phone changed three times, their record read twice.
    ``signing``: a checkpoint after each change, as workers sign every few seconds."""
    patient = clinic.register(dr)
    for phone in ("+352 1", "+352 2", "+352 3"):
        changed = clinic.client.patch(
            f"/v1/patients/{patient['id']}/contact-details",
            json={"phone": phone},
            headers=dr.headers,
        )
        assert changed.status_code == 200, changed.text
        if signing:
            clinic.services.checkpoints.write_now()
    for _ in range(2):
        clinic.client.get(f"/v1/patients/{patient['id']}", headers=dr.headers)
    return str(patient["id"])


def checkpoint_now(operator: CliRunner) -> str:
    result = operator.invoke(cli, ["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output


def chain(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["chains"] if c["chain"] == name)
    return found


def newest_event(services: Services) -> int:
    return services.recorder.max_notification_id() or 0


def test_a_dba_who_deletes_the_newest_event_and_rewinds_the_head_is_found(
    clinic: Clinic, dr_weber: Person, services: Services, dba: Dba, operator: CliRunner
) -> None:
    history(clinic, dr_weber)
    checkpoint_now(operator)
    newest = newest_event(services)
    dba.rewind("stored_events", "events", "notification_id", to=newest - 1)

    report = verify_all(services)
    assert not report["ok"], report
    assert chain(report, "events")["broken_at"] == newest, report
    cli_report = operator.invoke(cli, ["audit", "verify"])
    assert cli_report.exit_code == 1
    assert f"events: BROKEN at position {newest}" in cli_report.output


def test_a_rewritten_event_that_a_checkpoint_covers_is_found(
    clinic: Clinic, dr_weber: Person, services: Services, dba: Dba, operator: CliRunner
) -> None:
    history(clinic, dr_weber, signing=True)
    checkpoint_now(operator)
    newest = newest_event(services)
    (row,) = dba.rewind("stored_events", "events", "notification_id", to=newest - 1)
    dba.reinsert_events([(row, bytes(row[3]) + b" ", bytes(row[-1]))])  # with the old seal
    services.recorder.sequence_pending()

    report = verify_all(services)
    assert not report["ok"], report
    assert chain(report, "events")["broken_at"] == newest, report


def test_reordered_events_that_a_checkpoint_covers_are_found(
    clinic: Clinic, dr_weber: Person, services: Services, dba: Dba, operator: CliRunner
) -> None:
    history(clinic, dr_weber, signing=True)
    checkpoint_now(operator)
    newest = newest_event(services)
    second_last, last = dba.rewind("stored_events", "events", "notification_id", to=newest - 2)
    dba.reinsert_events(  # genuine rows with their seals, in the other order
        [(row, bytes(row[3]), bytes(row[-1])) for row in (last, second_last)]
    )
    services.recorder.sequence_pending()

    report = verify_all(services)
    assert not report["ok"], report
    events = chain(report, "events")
    assert events["broken_at"] == newest - 1, report  # the last checkpoint before still matches
    assert f"at position {newest}: changed from position {newest - 1} on" in events["reason"]


def test_a_truncated_access_log_is_found(
    clinic: Clinic, dr_weber: Person, services: Services, dba: Dba, operator: CliRunner
) -> None:
    history(clinic, dr_weber)
    checkpoint_now(operator)
    (records,) = dba.run(("SELECT max(position) FROM access_log", ()))
    dba.rewind("access_log", "access_log", "position", to=records[0] - 1)

    report = verify_all(services)
    assert not report["ok"], report
    assert chain(report, "access_log")["broken_at"] == records[0], report
    assert chain(report, "events")["ok"], report


def test_a_checkpoint_file_replaced_with_another_key_is_refused(
    clinic: Clinic, dr_weber: Person, services: Services, dba: Dba, operator: CliRunner
) -> None:
    history(clinic, dr_weber)
    checkpoint_now(operator)
    newest = newest_event(services)
    folder = CheckpointFolder(services.settings.checkpoint_folder)
    signed = folder.newest("events")
    assert signed is not None and signed.position == newest
    # The DBA rewinds the log, and somebody with a key of their own rewrites the checkpoint.
    dba.rewind("stored_events", "events", "notification_id", to=newest - 1)
    (previous,) = dba.run(
        ("SELECT chain_hash FROM stored_events WHERE notification_id = %s", (newest - 1,))
    )
    forged = Checkpoint.sign(SigningKey.generate(), "events", Head(newest, bytes(previous[0])))
    path = folder.path_of("events", newest)
    path.chmod(0o644)
    path.write_bytes(forged.to_json())

    report = verify_all(services)
    events = chain(report, "events")
    assert not events["ok"] and events["broken_at"] == newest, report
    assert "signature" in events["reason"], report


def test_verification_with_another_deployments_public_key_fails(
    clinic: Clinic, dr_weber: Person, services: Services, operator: CliRunner
) -> None:
    history(clinic, dr_weber)
    checkpoint_now(operator)
    own = operator.invoke(cli, ["audit", "public-key"]).output.strip()
    other = public_key_text(SigningKey.generate().verify_key)

    assert operator.invoke(cli, ["audit", "verify", "--public-key", own]).exit_code == 0
    wrong = operator.invoke(cli, ["audit", "verify", "--public-key", other])
    assert wrong.exit_code == 1 and "signature" in wrong.output


def test_the_public_key_is_published_and_verifies_the_checkpoints(
    clinic: Clinic, dr_weber: Person, services: Services, operator: CliRunner
) -> None:
    history(clinic, dr_weber)
    checkpoint_now(operator)
    published = clinic.client.get("/v1/audit/public-key")
    assert published.status_code == 200
    key = published.json()["public_key"]
    assert operator.invoke(cli, ["audit", "public-key"]).output.strip() == key
    newest = CheckpointFolder(services.settings.checkpoint_folder).newest("events")
    assert newest is not None and newest.verifies(key)
    assert newest.position == newest_event(services)


def test_a_checkpoint_file_is_written_once_and_never_replaced(
    clinic: Clinic, dr_weber: Person, services: Services, operator: CliRunner
) -> None:
    history(clinic, dr_weber)
    checkpoint_now(operator)
    folder = CheckpointFolder(services.settings.checkpoint_folder)
    path = folder.path_of("events", newest_event(services))
    first = path.read_bytes()
    assert path.stat().st_mode & 0o222 == 0  # read-only

    checkpoint_now(operator)  # nothing new: the file stays as it is
    other = Checkpoint.sign(
        SigningKey.generate(), "events", Head(newest_event(services), b"x" * 32)
    )
    kept = folder.write(other)  # a second writer at the same position gets the first's
    assert path.read_bytes() == first
    assert kept == Checkpoint.from_json(first) != other


def test_the_checkpointer_refuses_to_sign_a_rewound_log(
    clinic: Clinic, dr_weber: Person, services: Services, dba: Dba, operator: CliRunner
) -> None:
    patient_id = history(clinic, dr_weber)
    checkpoint_now(operator)
    newest = newest_event(services)
    dba.rewind("stored_events", "events", "notification_id", to=newest - 1)
    clinic.client.patch(  # the application appends at the rewound position
        f"/v1/patients/{patient_id}/contact-details",
        json={"phone": "+352 9"},
        headers=dr_weber.headers,
    )
    refused = operator.invoke(cli, ["audit", "checkpoint"])
    assert refused.exit_code == 1 and f"events: REFUSED at position {newest}" in refused.output
    signed = CheckpointFolder(services.settings.checkpoint_folder).newest("events")
    assert signed is not None and signed.position == newest  # the true one stays the newest
    assert not chain(verify_all(services), "events")["ok"]


def test_workers_write_checkpoints_every_few_seconds(settings: Settings, tmp_path: Path) -> None:
    quick = dataclasses.replace(
        settings, checkpoint_dir=tmp_path / "append-only", checkpoint_seconds=0.2
    )
    services = build(quick)
    services.start()
    try:
        dr = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())
        folder = CheckpointFolder(tmp_path / "append-only")
        for _ in range(2):
            services.bus.handle(RegisterPatient(dr, "Anna", "Muster"))
            position = newest_event(services)
            deadline = time.monotonic() + 5
            while (newest := folder.newest("events")) is None or newest.position < position:
                assert time.monotonic() < deadline, "no checkpoint within 5 s"
                time.sleep(0.05)
    finally:
        services.close()


@pytest.fixture
def streaming(settings: Settings, kafka_bootstrap: str, topic_prefix: str) -> Iterator[Services]:
    built = build(
        dataclasses.replace(
            settings, kafka_bootstrap=kafka_bootstrap, kafka_topic_prefix=topic_prefix
        )
    )
    yield built
    built.close()


def test_checkpoints_are_published_to_kafka(
    streaming: Services, kafka_bootstrap: str, topic_prefix: str
) -> None:
    streaming.bus.handle(RegisterPatient(Actor(uuid.uuid4(), Role.DOCTOR, None), "A", "B"))
    written = [a.checkpoint for a in streaming.checkpoints.write_now() if a.checkpoint]
    messages = read_all(kafka_bootstrap, f"{topic_prefix}checkpoints", expect=len(written))
    assert {m.key for m in messages} == {c.chain for c in written}
    key = public_key_text(streaming.checkpoint_key.verify_key)
    for message in messages:
        published = Checkpoint.from_json(orjson.dumps(message.body))
        assert published.verifies(key)
        assert published in written


def test_an_event_inserted_behind_the_applications_back_is_never_numbered(
    clinic: Clinic, dr_weber: Person, services: Services, dba: Dba
) -> None:
    history(clinic, dr_weber)
    newest = newest_event(services)
    (last,) = dba.run(
        (
            "SELECT originator_id, originator_version, topic, state, row_seal FROM stored_events "
            "WHERE notification_id = %s",
            (newest,),
        )
    )
    forged = (last[0], last[1] + 1, last[2])  # the record's next version, as the DBA words it
    dba.reinsert_events([(forged, bytes(last[3]), bytes(last[4]))])
    services.recorder.sequence_pending()

    assert newest_event(services) == newest, "the sequencer numbered a row it never wrote"
    events = chain(verify_all(services), "events")
    assert not events["ok"] and events["broken_at"] == newest + 1, events
    assert "seal" in events["reason"], events
