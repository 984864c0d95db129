"""Sessions: opaque random bearer tokens, stored hashed, with idle and absolute expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from adapters.db import Cursor, Database, as_datetime, as_uuid
from domain.actor import Role

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
STEP_UP_VALID = timedelta(minutes=5)


@dataclass(frozen=True)
class Session:
    account_id: UUID
    role: Role
    organisation_id: UUID | None
    stepped_up_at: datetime | None
    enrolment_only: bool

    def stepped_up(self, now: datetime) -> bool:
        return self.stepped_up_at is not None and now - self.stepped_up_at <= STEP_UP_VALID


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open(
        self,
        account_id: UUID,
        role: Role,
        organisation_id: UUID | None,
        *,
        stepped_up: bool,
        enrolment_only: bool,
    ) -> str:
        token, write = self.opener(
            account_id,
            role,
            organisation_id,
            stepped_up=stepped_up,
            enrolment_only=enrolment_only,
        )
        with self.db.transaction() as cur:
            write(cur)
        return token

    def opener(
        self,
        account_id: UUID,
        role: Role,
        organisation_id: UUID | None,
        *,
        stepped_up: bool,
        enrolment_only: bool,
        lifetime: timedelta | None = None,
    ) -> tuple[str, Callable[[Cursor], None]]:
        """A new session's token, and the row writer that opens it in a command's transaction
        (the sign-in's). ``lifetime``: a short-lived token (a machine client's), which expires
        then whether used or not."""
        absolute = lifetime or ABSOLUTE
        idle = lifetime or IDLE
        token = "ts_" + secrets.token_urlsafe(32)

        def write(cur: Cursor) -> None:
            now = datetime.now(UTC)
            cur.execute(
                "INSERT INTO sessions (token_hash, account_id, role, organisation_id, created_at, "
                "last_seen_at, expires_at, idle_seconds, stepped_up_at, enrolment_only) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    _hash(token),
                    account_id,
                    role.value,
                    organisation_id,
                    now,
                    now,
                    now + absolute,
                    int(idle.total_seconds()),
                    now if stepped_up else None,
                    enrolment_only,
                ),
            )

        return token, write

    def resolve(self, token: str) -> Session | None:
        """The live session of a token (touching its idle clock), or None."""
        if not token.startswith("ts_"):
            return None
        now = datetime.now(UTC)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT account_id, role, organisation_id, last_seen_at, expires_at, "
                "idle_seconds, stepped_up_at, enrolment_only, revoked_at, token_hash "
                "FROM sessions WHERE token_hash = %s",
                (_hash(token),),
            )
            row = cur.fetchone()
        if (
            row is None
            or row[8] is not None
            or not hmac.compare_digest(bytes(row[9]), _hash(token))
        ):
            return None
        last_seen = as_datetime(row[3])
        if now >= as_datetime(row[4]) or now - last_seen > timedelta(seconds=int(row[5])):
            return None
        if now - last_seen > timedelta(seconds=30):
            with self.db.transaction() as cur:
                cur.execute(
                    "UPDATE sessions SET last_seen_at = %s WHERE token_hash = %s",
                    (now, _hash(token)),
                )
        return Session(
            as_uuid(row[0]),
            Role(row[1]),
            as_uuid(row[2]) if row[2] else None,
            as_datetime(row[6]) if row[6] else None,
            bool(row[7]),
        )

    def owner(self, token: str) -> UUID | None:
        """The account a token was issued to, live or not (whose Idempotency-Keys it uses)."""
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT account_id FROM sessions WHERE token_hash = %s", (_hash(token),))
            row = cur.fetchone()
        return as_uuid(row[0]) if row else None

    def step_up(self, token: str, *, complete_enrolment: bool = False) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE sessions SET stepped_up_at = %s"
                + (", enrolment_only = %s" if complete_enrolment else "")
                + " WHERE token_hash = %s",
                (datetime.now(UTC), *((False,) if complete_enrolment else ()), _hash(token)),
            )

    def revoke(self, token: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE sessions SET revoked_at = %s WHERE token_hash = %s",
                (datetime.now(UTC), _hash(token)),
            )

    def end_all(self, account_id: UUID) -> Callable[[Cursor], None]:
        """Row writer ending every session of the account in a command's transaction."""

        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE sessions SET revoked_at = %s WHERE account_id = %s AND revoked_at IS NULL",
                (datetime.now(UTC), account_id),
            )

        return write

    def revoke_all(self, account_id: UUID) -> int:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE sessions SET revoked_at = %s WHERE account_id = %s AND revoked_at IS NULL",
                (datetime.now(UTC), account_id),
            )
            return int(cur.rowcount)
