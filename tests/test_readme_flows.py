"""The README, run as a newcomer runs it: the Quick start's service (``telemed serve`` on a
fresh SQLite file, no other server), then every ``sh`` block of *Trying the API*, in order,
with bash and curl; then the page behind the mailed invitation link. The README's examples
cannot drift from the service without this failing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: what the README tells the operator to type when ``telemed account create`` prompts
ADMIN_PASSWORD = "clinic admin passphrase"


def sh_blocks(section: str) -> list[str]:
    """The ```sh blocks of one ``## section`` of the README, in order."""
    text = README.read_text(encoding="utf-8")
    assert f"\n## {section}\n" in text, f"the README has no section {section!r}"
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", body, flags=re.S | re.M)


@dataclass
class Service:
    url: str
    port: int
    #: stands for the root of a fresh clone: ``.venv`` (this interpreter's) and ``var/``
    clone: Path
    env: dict[str, str]
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Quick start, step 1: ``bash ops/serve.sh``, which bootstraps ``.venv`` and runs
    ``telemed serve``. When the tests run from the repository's own ``.venv`` (as
    ``ops/test.sh`` does) that is what starts; from a virtualenv elsewhere, its ``telemed serve``
    (what the script runs once ``.venv`` is there)."""
    (quick_start,) = sh_blocks("Quick start")
    assert "bash ops/serve.sh" in quick_start
    clone = tmp_path_factory.mktemp("clone")
    (clone / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEMED_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "TELEMED_PORT": str(port),
        "TELEMED_DATABASE_URL": f"sqlite:///{clone / 'var' / 'telemed.db'}",
        "TELEMED_KEYRING": str(clone / "var" / "keys" / "keyring.json"),
        "TELEMED_MAIL_DIR": str(clone / "var" / "mail"),
    }
    own_venv = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    command = ["bash", "ops/serve.sh"] if own_venv else [f"{sys.prefix}/bin/telemed", "serve"]
    log = clone / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT if own_venv else clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"serve did not answer:\n{log.read_text()}"
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield Service(url, port, clone, env, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_quick_start_serves_the_api_with_nothing_else_running(service: Service) -> None:
    printed = service.log.read_text()
    keyring = service.clone / "var" / "keys" / "keyring.json"
    assert "Created the master keyring" in printed and keyring.name in printed
    assert keyring.stat().st_mode & 0o777 == 0o600
    assert f"API docs: http://127.0.0.1:{service.port}/docs" in printed
    assert "mail folder" in printed and "not for production" in printed
    assert httpx.get(f"{service.url}/docs").status_code == 200


def test_trying_the_api_works_as_written_from_sign_up_to_a_booking(service: Service) -> None:
    blocks = sh_blocks("Trying the API")
    script = "\n".join(
        [
            "set -euo pipefail",
            # a failed request stops the run and shows its problem details
            'curl() { command curl --fail-with-body --max-time 30 "$@"; }',
            *(b.replace("localhost:8000", f"127.0.0.1:{service.port}") for b in blocks),
            "echo '--- state'",
            "for name in ANNA RECORD ORG LINK DOCTOR DOCTOR_ID PRACTICE SLOT; do",
            '  printf "%s=%s\\n" "$name" "${!name}"',
            "done",
        ]
    )
    (service.clone / "readme.sh").write_text(script)
    run = subprocess.run(
        ["bash", "readme.sh"],
        cwd=service.clone,
        env=service.env,
        input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n",  # the prompt of telemed account create
        capture_output=True,
        text=True,
        timeout=240,
        start_new_session=True,  # no terminal: the password prompt reads stdin
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}\n{service.log.read_text()[-3000:]}"
    state = dict(line.split("=", 1) for line in run.stdout.split("--- state\n", 1)[1].splitlines())

    api = httpx.Client(base_url=service.url, timeout=10)
    anna = {"Authorization": f"Bearer {state['ANNA']}"}
    doctor = {"Authorization": f"Bearer {state['DOCTOR']}"}
    record = api.get(f"/v1/patients/{state['RECORD']}", headers=anna)
    assert record.status_code == 200 and record.json()["given_name"] == "Anna"
    agenda = api.get(f"/v1/doctors/{state['DOCTOR_ID']}/agenda", headers=doctor).json()
    assert [(e["patient_id"], e["practice_id"], e["booked_by_role"]) for e in agenda] == [
        (state["RECORD"], state["PRACTICE"], "patient")
    ]
    assert datetime.fromisoformat(agenda[0]["start"]) == datetime.fromisoformat(state["SLOT"])

    # the doctor's invitation: one message in the mail folder, its link served by the service
    mailed = [m.read_text() for m in (service.clone / "var" / "mail").glob("*.eml")]
    invitations = [m for m in mailed if "/accept-invitation#token=" in m]
    assert len(invitations) == 1 and "To: dr.weber@clinic.example" in invitations[0]
    link = urlsplit(state["LINK"])
    assert link.netloc == f"127.0.0.1:{service.port}" and link.fragment.startswith("token=")
    page = api.get(link.path)
    assert page.status_code == 200 and 'data-endpoint="/v1/invitations/accept"' in page.text
    again = api.post(
        "/v1/invitations/accept",
        json={"token": link.fragment.removeprefix("token="), "password": "another passphrase"},
    )
    assert again.status_code == 400  # the README's acceptance used it: single use
