"""Mail through a real SMTP server: password resets, and an outbox that survives a crash."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from adapters.composition import Services
from adapters.mail.smtp import SmtpRelay
from commands.accounts import OpenAccount
from commands.passwords import RequestReset
from tests.conftest import Clinic
from tests.test_accounts import PASSWORD, bearer, sign_in


@dataclass
class Inbox:
    """What the SMTP server received, as a receiving system would keep it."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]

    def body(self, index: int = -1) -> str:
        payload = self.messages[index].get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()


@pytest.fixture
def inbox(services: Services) -> Iterator[Inbox]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    received = Inbox()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    services.outbox.transport = SmtpRelay("127.0.0.1", port)
    try:
        yield received
    finally:
        controller.stop()


def test_a_forgotten_password_is_reset_through_a_mailed_single_use_link(
    clinic: Clinic, services: Services, inbox: Inbox
) -> None:
    services.bus.handle(OpenAccount("gil@example.lu", PASSWORD))
    _, session = sign_in(clinic, "gil@example.lu")
    asked = clinic.client.post("/v1/accounts/password-reset", json={"email": "Gil@example.lu"})
    unknown = clinic.client.post("/v1/accounts/password-reset", json={"email": "nobody@example.lu"})
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json()  # no account enumeration
    services.outbox.deliver_due()  # racing the background worker: one of them sends it
    services.worker.tick()
    inbox.wait_for(1)
    time.sleep(0.5)
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == "gil@example.lu"
    match = re.search(r"#token=(\S+)", inbox.body())
    assert match is not None
    token = match.group(1)
    new = {"token": token, "password": "another long passphrase"}
    assert clinic.client.post("/v1/accounts/password-reset/confirm", json=new).status_code == 204
    assert clinic.client.get("/v1/patients", headers=bearer(session["token"])).status_code == 401
    assert sign_in(clinic, "gil@example.lu", "another long passphrase")[0] == 201
    again = clinic.client.post(
        "/v1/accounts/password-reset/confirm", json={**new, "password": "a third long passphrase"}
    )
    assert again.status_code == 400 and again.json()["type"].endswith("invalid-reset-link")
    assert "patient" not in inbox.body().lower()  # links, not medical details


def test_a_crash_between_delivery_and_bookkeeping_loses_nothing_and_is_recognisable(
    services: Services, inbox: Inbox
) -> None:
    services.bus.handle(OpenAccount("hal@example.lu", PASSWORD))
    services.bus.handle(RequestReset("hal@example.lu"))
    services.bus.handle(RequestReset("hal@example.lu"))

    def crash(_: object) -> None:
        raise SystemExit("the sender died right after the SMTP server accepted")

    services.worker.stop()  # this test plays the only sender
    services.outbox.claim_seconds = 0  # the restart comes after the claim has lapsed
    with pytest.raises(SystemExit):
        services.outbox.deliver_due(after_send=crash)
    assert len(inbox.messages) == 1
    assert services.outbox.deliver_due() == 2  # restarted: both are delivered ...
    assert services.outbox.deliver_due() == 0  # ... and then never again
    ids = inbox.ids()
    assert len(ids) == 3 and len(set(ids)) == 2  # one re-send, with the same Message-ID


def test_mail_waits_while_the_smtp_server_is_down(services: Services) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        nobody = sock.getsockname()[1]  # bound, not listening
        services.outbox.transport = SmtpRelay("127.0.0.1", nobody)
        services.bus.handle(OpenAccount("ida@example.lu", PASSWORD))
        services.bus.handle(RequestReset("ida@example.lu"))
        assert services.outbox.deliver_due() == 0
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT attempts, sent_at FROM outbox")
        assert [tuple(r) for r in cur.fetchall()] == [(1, None)]
