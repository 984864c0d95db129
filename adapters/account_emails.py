"""Which account an email address opens: the address's blind index -> the account's random id.

One row per live account, written in the transaction that opens the account (its primary key
makes an address open one account only) and deleted in the one that erases the person, so the
address may register again, as somebody new.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from adapters.db import Cursor, Database, IntegrityConflict, as_uuid

RowWriter = Callable[[Cursor], None]


class AccountEmails:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, email_index: bytes) -> UUID | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT account_id FROM account_emails WHERE email_index = %s", (email_index,)
            )
            row = cur.fetchone()
        return as_uuid(row[0]) if row else None

    def claim(self, email_index: bytes, account_id: UUID) -> RowWriter:
        """Row writer: the address opens this account; a racing claim of the same address
        fails the whole transaction as a concurrency conflict."""

        def write(cur: Cursor) -> None:
            try:
                cur.execute(
                    "INSERT INTO account_emails (email_index, account_id) VALUES (%s, %s)",
                    (email_index, account_id),
                )
            except IntegrityConflict as exc:
                raise IntegrityError("the address opens another account") from exc

        return write

    def release(self, account_id: UUID) -> RowWriter:
        """Row writer: the address no longer leads to the account (erasure)."""

        def write(cur: Cursor) -> None:
            cur.execute("DELETE FROM account_emails WHERE account_id = %s", (account_id,))

        return write
