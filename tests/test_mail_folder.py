"""The embedded default needs no SMTP server: the outbox delivers into a folder of .eml files
(one per message), and every link the service mails opens a page that completes the step."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from adapters.composition import Services
from commands.accounts import OpenAccount
from commands.passwords import RequestReset
from domain.actor import Role
from tests.conftest import Clinic, Person
from tests.test_accounts import PASSWORD, bearer, sign_in


def folder_mail(folder: Path) -> list[EmailMessage]:
    """The messages in the mail folder, oldest first, as a mail program would read them."""
    files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]  # type: ignore[misc]


def link_in(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(r"(https?://\S+#token=\S+)", body.get_content())
    assert match is not None, body.get_content()
    return match.group(1)


def test_without_an_smtp_server_a_reset_link_lands_in_the_mail_folder_once(
    services: Services,
) -> None:
    folder = services.settings.mail_dir
    services.worker.stop()  # this test plays the only sender
    services.bus.handle(OpenAccount("gil@example.lu", PASSWORD))
    services.bus.handle(RequestReset("gil@example.lu"))

    def crash(_: object) -> None:
        raise SystemExit("the sender died right after writing the file")

    services.outbox.claim_seconds = 0
    with pytest.raises(SystemExit):
        services.outbox.deliver_due(after_send=crash)
    assert services.outbox.deliver_due() == 1  # the restart delivers it again ...
    assert services.outbox.deliver_due() == 0  # ... and then never again
    mail = folder_mail(folder)
    assert len(mail) == 1, "a re-send after a crash rewrites the same message file"
    assert mail[0]["To"] == "gil@example.lu" and mail[0]["Message-ID"].startswith("<reset-")
    link = link_in(mail[0])
    assert link.startswith(f"{services.settings.public_url}/reset-password#token=")


def test_every_link_the_service_mails_opens_a_page_that_completes_the_step(
    clinic: Clinic, services: Services, admin_a: Person, dr_weber: Person
) -> None:
    services.worker.stop()  # this test plays the only sender: all is delivered when it says
    services.bus.handle(OpenAccount("gil@example.lu", PASSWORD))
    clinic.client.post("/v1/accounts/password-reset", json={"email": "gil@example.lu"})
    clinic.client.put(
        f"/v1/organisations/{clinic.org_a}", headers=admin_a.headers, json={"name": "Parc"}
    )
    invited = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/invitations",
        headers=admin_a.headers,
        json={"email": "nora@clinic.lu", "role": "nurse"},
    )
    assert invited.status_code == 201, invited.text
    record = clinic.register(dr_weber, email="ben@example.lu")
    offered = clinic.client.post(
        f"/v1/patients/{record['id']}/invitation", headers=dr_weber.headers, json={}
    )
    assert offered.status_code == 202, offered.text
    assert services.outbox.deliver_due() == 3

    pages = {}
    for message in folder_mail(services.settings.mail_dir):
        page = clinic.client.get(urlsplit(link_in(message)).path)
        assert page.status_code == 200, f"{message['Subject']}: {page.status_code}"
        assert page.headers["content-type"].startswith("text/html")
        assert "script-src 'sha256-" in page.headers["content-security-policy"]
        pages[message["To"]] = (link_in(message), page.text)
    assert set(pages) == {"gil@example.lu", "nora@clinic.lu", "ben@example.lu"}
    for endpoint, to in [
        ("/v1/accounts/password-reset/confirm", "gil@example.lu"),
        ("/v1/invitations/accept", "nora@clinic.lu"),
        ("/v1/record-invitations/accept", "ben@example.lu"),
    ]:
        link, html = pages[to]
        assert f'data-endpoint="{endpoint}"' in html
        # what the page's form posts: the token from the link's fragment, and a password
        token = link.split("#token=", 1)[1]
        done = clinic.client.post(endpoint, json={"token": token, "password": "a new passphrase"})
        assert done.status_code in (201, 204), done.text
    assert 'data-endpoint="/v1/record-invitations/decline"' in pages["ben@example.lu"][1]
    status, session = sign_in(clinic, "nora@clinic.lu", "a new passphrase")
    assert status == 201 and session["role"] == Role.NURSE.value
    assert sign_in(clinic, "gil@example.lu", "a new passphrase")[0] == 201
    status, ben = sign_in(clinic, "ben@example.lu", "a new passphrase")
    services.worker.tick()  # the record is read from its card: the stopped worker's one tick
    mine = clinic.client.get(f"/v1/patients/{record['id']}", headers=bearer(ben["token"]))
    assert mine.status_code == 200
