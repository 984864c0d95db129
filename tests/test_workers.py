"""Operating the read side: separate worker processes, crash recovery, rebuild from the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from typer.testing import CliRunner

from adapters.composition import Services
from api.cli import cli
from commands.patients import RegisterPatient
from commands.sign_in import SignedIn, SignIn
from domain.actor import Actor, Role

DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())
ROOT = Path(__file__).resolve().parents[1]


def _env(services: Services) -> dict[str, str]:
    return {
        **os.environ,
        "TELEMED_DATABASE_URL": services.settings.database_url,
        "TELEMED_KEYRING": str(services.settings.keyring_path),
        "TELEMED_PROJECTIONS": "external",
        "PYTHONPATH": str(ROOT),
    }


def test_two_worker_processes_keep_the_directory_current_without_double_work(
    postgres_only: str, services: Services
) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", "from api.cli import main; main()", "project"],
            env=_env(services),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    try:
        for w in workers:  # both are up and serving before the writes start
            assert w.stdout is not None
            assert "Projection worker for" in w.stdout.readline().decode()
        for i in range(40):
            services.bus.handle(RegisterPatient(DR, "Anna", f"Proc{i}"))
        runner = services.runners["patient_directory"]
        assert runner.wait_for(40, timeout=30), "the workers did not catch up"
        assert len(services.directory.rows_for_comparison()) == 40
        assert all(w.poll() is None for w in workers), "a worker died"
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=20)[0].decode() for w in workers]
    assert not any("Traceback" in out for out in outputs), outputs
    assert [w.returncode for w in workers] == [0, 0]


def test_events_left_unnumbered_by_a_crashed_writer_are_numbered_and_projected(
    services: Services,
) -> None:
    saved = services.bus.handle(RegisterPatient(DR, "Before", "Crash"))
    with services.db.transaction() as cur:  # a writer that committed, then died
        cur.execute(
            "UPDATE stored_events SET notification_id = NULL, chain_hash = NULL "
            "WHERE notification_id = %s",
            (saved.position,),
        )
        cur.execute("DELETE FROM chain_heads")
    services.worker.tick()
    assert services.recorder.max_notification_id() == 1
    assert services.runners["patient_directory"].position() == 1
    assert [e[0].family_name for e in services.directory.rows_for_comparison()] == ["Crash"]


def test_a_read_model_is_rebuilt_from_the_command_line(
    services: Services,
) -> None:
    for i in range(5):
        services.bus.handle(RegisterPatient(DR, "Anna", f"Cli{i}"))
    services.worker.tick()
    live = services.directory.rows_for_comparison()
    env = _env(services)
    result = CliRunner().invoke(cli, ["rebuild", "patient_directory"], env=env)
    assert result.exit_code == 0, result.output
    assert "rebuilt up to position 5" in result.output
    assert services.directory.rows_for_comparison() == live
    unknown = CliRunner().invoke(cli, ["rebuild", "nope"], env=env)
    assert unknown.exit_code == 2


def test_the_first_admin_account_is_created_from_the_command_line(services: Services) -> None:
    org = uuid.uuid4()
    options = ["--email", "First@Example.lu", "--role", "org-admin", "--organisation", str(org)]
    result = CliRunner().invoke(
        cli,
        ["account", "create", *options],
        input="a long first passphrase\na long first passphrase\n",
        env=_env(services),
    )
    assert result.exit_code == 0, result.output
    account_id = services.accounts.account_id("first@example.lu")
    assert f"account {account_id} (org-admin)" in result.stdout
    signed = services.bus.answer(
        SignIn("first@example.lu", "a long first passphrase", None), SignedIn
    )
    assert (signed.role, signed.organisation_id) == (Role.ORG_ADMIN, org)
    assert signed.enrolment_only  # staff set up their second factor before anything else
    gone = CliRunner().invoke(cli, ["token", "issue", "--role", "nurse"], env=_env(services))
    assert gone.exit_code != 0  # no bootstrap tokens any more
