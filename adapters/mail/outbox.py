"""Outgoing mail via an outbox, delivered over SMTP or into a local folder (development).

A command writes its message into the outbox in the same transaction as its events, so a crash
never loses one. The sender delivers due messages with a stable ``Message-ID`` (the outbox key)
and marks them sent; a crash between delivery and marking re-sends the same ``Message-ID``,
which receiving systems (and our tests) use to drop the duplicate. Mail carries links, never
medical details. Recipient, subject and body are sealed with the recipient's data key.
Delivery itself is a ``MailTransport``: ``SmtpRelay`` in production, ``MailFolder`` (one
``.eml`` file per message) in the embedded default; the outbox semantics are the same for both.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol
from uuid import UUID

import orjson

from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Cursor, Database, as_uuid

log = logging.getLogger("telemed.mail")
RowWriter = Callable[[Cursor], None]


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver one message, or raise ``OSError`` / ``SMTPException`` to be retried."""


@dataclass(frozen=True)
class Mail:
    message_id: str
    to: str
    subject: str
    body: str


class Outbox:
    def __init__(
        self,
        db: Database,
        keys: SubjectKeys,
        transport: MailTransport,
        *,
        sender: str,
        domain: str = "telemed.local",
    ) -> None:
        self.db, self.keys, self.transport = db, keys, transport
        self.sender, self.domain = sender, domain
        #: a sender claims a message for this long; after a crash it is retried then
        self.claim_seconds = 60.0

    def message_id(self, key: str) -> str:
        return f"<{key}@{self.domain}>"

    def enqueue(self, subject_id: UUID, key: str, to: str, subject: str, body: str) -> RowWriter:
        """Row writer for the command's transaction; ``key`` makes the message idempotent."""
        data = orjson.dumps({"to": to, "subject": subject, "body": body})
        sealed = seal(self.keys.require(subject_id), data, field_context(subject_id, "mail"))
        message_id = self.message_id(key)

        def write(cur: Cursor) -> None:
            now = datetime.now(UTC)
            cur.execute(
                "INSERT INTO outbox (message_id, subject_id, sealed, created_at, next_attempt_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING",
                (message_id, subject_id, sealed, now, now),
            )

        return write

    def discard_unsent(self, subject_id: UUID) -> RowWriter:
        """Row writer for an erasure: mail to the subject that was not sent never will be."""

        def write(cur: Cursor) -> None:
            cur.execute(
                "DELETE FROM outbox WHERE subject_id = %s AND sent_at IS NULL", (subject_id,)
            )

        return write

    def deliver_due(
        self, limit: int = 100, after_send: Callable[[Mail], None] | None = None
    ) -> int:
        """Send what is due; returns how many were sent. ``after_send`` is a test seam for a
        crash between delivery and marking."""
        now = datetime.now(UTC)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT message_id, subject_id, sealed, attempts FROM outbox "
                "WHERE sent_at IS NULL AND next_attempt_at <= %s ORDER BY created_at LIMIT %s",
                (now, limit),
            )
            due = cur.fetchall()
        sent = 0
        for message_id, subject_raw, sealed, attempts in due:
            if not self._claim(str(message_id), now):
                continue  # another sender has it
            subject_id = as_uuid(subject_raw)
            key = self.keys.get(subject_id)
            if key is None:  # the recipient was erased: the mail goes with them
                self._mark(str(message_id), "recipient erased", sent=True)
                continue
            data = orjson.loads(open_sealed(key, bytes(sealed), field_context(subject_id, "mail")))
            mail = Mail(str(message_id), data["to"], data["subject"], data["body"])
            try:
                self._send(mail)
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("mail not delivered yet (%s)", type(exc).__name__)
                self._retry(str(message_id), int(attempts), type(exc).__name__)
                continue
            if after_send is not None:
                after_send(mail)
            self._mark(str(message_id), None, sent=True)
            sent += 1
        return sent

    def _claim(self, message_id: str, now: datetime) -> bool:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET next_attempt_at = %s WHERE message_id = %s "
                "AND sent_at IS NULL AND next_attempt_at <= %s",
                (now + timedelta(seconds=self.claim_seconds), message_id, now),
            )
            return int(cur.rowcount) == 1

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, mail.to, mail.subject
        message["Message-ID"] = mail.message_id
        # plain 7bit when it can be, so that a link stays one line a reader can copy
        plain = mail.body.isascii() and all(len(line) < 990 for line in mail.body.splitlines())
        message.set_content(mail.body, cte="7bit" if plain else None)
        self.transport.send(message)

    def _mark(self, message_id: str, error: str | None, *, sent: bool) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET sent_at = %s, last_error = %s WHERE message_id = %s",
                (datetime.now(UTC) if sent else None, error, message_id),
            )

    def _retry(self, message_id: str, attempts: int, error: str) -> None:
        delay = timedelta(seconds=min(3600, 5 * 2 ** min(attempts, 10)))
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s, "
                "next_attempt_at = %s WHERE message_id = %s",
                (error, datetime.now(UTC) + delay, message_id),
            )
