"""Bearer tokens for the bootstrap phase: opaque, random, stored only as a hash, expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

from adapters.db import Database, as_datetime, as_uuid
from domain.actor import Actor, Role


class TokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def issue(
        self,
        actor_id: UUID,
        role: Role,
        organisation_id: UUID | None,
        *,
        ttl: timedelta = timedelta(hours=12),
    ) -> str:
        token = "tm_" + secrets.token_urlsafe(32)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO api_tokens (token_hash, actor_id, role, organisation_id, expires_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (_hash(token), actor_id, role.value, organisation_id, datetime.now(UTC) + ttl),
            )
        return token

    def resolve(self, token: str) -> Actor | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT actor_id, role, organisation_id, expires_at, revoked_at FROM api_tokens "
                "WHERE token_hash = %s",
                (_hash(token),),
            )
            row = cur.fetchone()
        if row is None or row[4] is not None:
            return None
        if as_datetime(row[3]) <= datetime.now(UTC):
            return None
        return Actor(as_uuid(row[0]), Role(row[1]), as_uuid(row[2]) if row[2] else None)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
