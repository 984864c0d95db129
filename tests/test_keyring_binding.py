"""The keyring and the database belong together: the database records the fingerprints of the
keys it depends on; a process with another keyring is refused; rotation works with several
processes (a process still holding the old keyring keeps working until it restarts)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.composition import Services, build
from adapters.crypto.key_binding import KeyringMismatch, fingerprint
from adapters.settings import Settings
from api.audit import verify_all
from commands.patients import ErasePatient, RegisterPatient
from domain.actor import Actor, Role
from domain.patient import Patient

ROOT = Path(__file__).resolve().parents[1]
DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())
ADMIN = Actor(uuid.uuid4(), Role.ORG_ADMIN, DR.organisation_id)


@pytest.fixture
def processes(settings: Settings) -> Iterator[list[Services]]:
    """Every process a test starts, closed at the end."""
    started: list[Services] = []
    yield started
    for process in started:
        process.close()


def start(processes: list[Services], settings: Settings, keyring: Path) -> Services:
    """Another process on the same database, with the keyring file at ``keyring``."""
    process = build(replace(settings, keyring_path=keyring))
    processes.append(process)
    return process


def register(process: Services, family_name: str) -> uuid.UUID:
    return process.bus.handle(RegisterPatient(DR, "Rosa", family_name)).aggregate_id


def family_name(process: Services, patient_id: uuid.UUID) -> str | None:
    process.keys._cache.clear()  # read the wrapped key from the database, as on a fresh start
    name: str | None = process.bus_uow().get(Patient, patient_id).family_name
    return name


def telemed(settings: Settings, keyring: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``telemed`` command as its own process."""
    env = {
        **os.environ,
        "TELEMED_DATABASE_URL": settings.database_url,
        "TELEMED_KEYRING": str(keyring),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def recorded(process: Services) -> dict[str, str]:
    with process.db.transaction(write=False) as cur:
        cur.execute("SELECT key_id, fingerprint FROM keyring_fingerprints WHERE retired_at IS NULL")
        return {str(k): str(f) for k, f in cur.fetchall()}


def secrets_of(process: Services) -> list[bytes]:
    ring = process.keyring
    return [*ring.masters.values(), ring.index_key, ring.chain_key, ring.analytics_key]


def test_an_empty_database_gets_a_new_keyring_and_records_its_fingerprints(
    services: Services,
) -> None:
    ring = services.keyring
    assert services.keyring_created
    assert recorded(services) == {
        ring.active_master: fingerprint(ring.active_master, ring.masters[ring.active_master]),
        "index": fingerprint("index", ring.index_key),
        "chain": fingerprint("chain", ring.chain_key),
        "analytics": fingerprint("analytics", ring.analytics_key),
    }
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT * FROM keyring_fingerprints")
        stored = str(cur.fetchall())
    for secret in secrets_of(services):
        assert secret.hex() not in stored and base64.b64encode(secret).decode() not in stored


def test_a_host_without_the_keyring_is_refused_instead_of_making_a_new_one(
    services: Services, processes: list[Services], settings: Settings, tmp_path: Path
) -> None:
    register(services, "Keyed")
    elsewhere = tmp_path / "other-host" / "keyring.json"
    with pytest.raises(KeyringMismatch) as refused:
        start(processes, settings, elsewhere)
    message = str(refused.value)
    kid = services.keyring.active_master
    assert kid in message and recorded(services)[kid] in message
    assert not elsewhere.exists()
    for secret in secrets_of(services):
        assert base64.b64encode(secret).decode() not in message and secret.hex() not in message


def test_a_process_with_an_unrelated_keyring_is_refused(
    services: Services, processes: list[Services], settings: Settings, tmp_path: Path
) -> None:
    register(services, "Keyed")
    unrelated = tmp_path / "unrelated" / "keyring.json"
    other_database = replace(settings, database_url=f"sqlite:///{tmp_path / 'other.db'}")
    start(processes, other_database, unrelated)  # an unrelated installation made this file
    with pytest.raises(KeyringMismatch) as refused:
        start(processes, settings, unrelated)
    assert services.keyring.active_master in str(refused.value)
    assert processes[0].keyring.active_master in str(refused.value)
    worker = telemed(settings, unrelated, "audit", "verify")
    assert worker.returncode == 3 and "Traceback" not in worker.stderr
    assert "Refusing to start" in worker.stderr
    assert services.keyring.active_master in worker.stderr


def test_rotation_with_two_processes_and_retirement_once_both_have_the_new_keyring(
    services: Services, processes: list[Services], settings: Settings, tmp_path: Path
) -> None:
    """Process A rotates; process B (another host, its own copy of the old keyring file) keeps
    reading and writing; a process started with the old file after the rotation is refused; once
    every host has the new file the old key is retired."""
    a = services
    old_copy = tmp_path / "host-b" / "keyring.json"
    old_copy.parent.mkdir()
    shutil.copy(settings.keyring_path, old_copy)
    b = start(processes, settings, old_copy)
    before = register(a, "Before")
    old_kid = a.keyring.active_master

    rotated = telemed(settings, settings.keyring_path, "keys", "rotate-master")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    a.keyring.reload()  # A's process picks up the file the command wrote (as on a restart)
    new_kid = a.keyring.active_master
    assert new_kid != old_kid and set(recorded(a)) >= {old_kid, new_kid}

    written_by_b = register(b, "WrittenByB")  # B still wraps under the old master key
    written_by_a = register(a, "WrittenByA")  # A wraps under the new one, and the old one
    for process in (a, b):
        assert [family_name(process, p) for p in (before, written_by_b, written_by_a)] == [
            "Before",
            "WrittenByB",
            "WrittenByA",
        ]
    with pytest.raises(KeyringMismatch) as refused:
        start(processes, settings, old_copy)  # B restarting with the old file
    assert new_kid in str(refused.value)

    shutil.copy(settings.keyring_path, old_copy)  # every host has the new file now
    b_restarted = start(processes, settings, old_copy)
    retired = telemed(settings, settings.keyring_path, "keys", "retire-master")
    assert retired.returncode == 0, retired.stdout + retired.stderr
    assert old_kid in retired.stdout
    assert old_kid not in recorded(a) and new_kid in recorded(a)
    with a.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT DISTINCT master_key_id, previous_master_key_id FROM subject_keys "
            "WHERE wrapped_key IS NOT NULL"
        )
        assert cur.fetchall() == [(new_kid, None)]
    shutil.copy(settings.keyring_path, old_copy)
    fresh = start(processes, settings, old_copy)
    assert old_kid not in fresh.keyring.masters
    for process in (b_restarted, fresh):
        assert family_name(process, written_by_b) == "WrittenByB"
    assert verify_all(fresh)["ok"]


def test_a_second_rotation_waits_until_the_first_one_is_retired(services: Services) -> None:
    services.keys.rotate_master()
    with pytest.raises(RuntimeError, match="retire"):
        services.keys.rotate_master()


def test_erasure_destroys_the_old_wrapping_kept_for_processes_with_the_old_keyring(
    services: Services,
) -> None:
    patient_id = register(services, "Forgotten")
    services.keys.rotate_master()
    services.bus.handle(ErasePatient(ADMIN, patient_id))
    with services.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT master_key_id, wrapped_key, previous_master_key_id, previous_wrapped_key "
            "FROM subject_keys WHERE subject_id = %s",
            (patient_id,),
        )
        assert cur.fetchone() == (None, None, None, None)
    services.keys._cache.clear()
    assert services.bus_uow().get(Patient, patient_id).erased


def test_a_database_from_before_fingerprints_accepts_only_the_keyring_that_opens_its_keys(
    services: Services, processes: list[Services], settings: Settings, tmp_path: Path
) -> None:
    patient_id = register(services, "Legacy")
    unrelated = tmp_path / "unrelated" / "keyring.json"
    start(
        processes, replace(settings, database_url=f"sqlite:///{tmp_path / 'other.db'}"), unrelated
    )
    with services.db.transaction() as cur:
        cur.execute("DELETE FROM keyring_fingerprints")
    for keyring in (unrelated, tmp_path / "none" / "keyring.json"):
        with pytest.raises(KeyringMismatch):
            start(processes, settings, keyring)
    same = start(processes, settings, settings.keyring_path)
    assert recorded(same) == recorded(services) != {}
    assert family_name(same, patient_id) == "Legacy"
