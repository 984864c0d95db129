"""Leases: at most one live holder per name (the relay), taken over when the holder stops
renewing. Holders also fence their writes with compare-and-set on their tracking position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.db import Database


class Leases:
    def __init__(self, db: Database) -> None:
        self.db = db

    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease; False while someone else holds a live one."""
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at "
                "WHERE leases.owner = excluded.owner OR leases.expires_at < %s",
                (name, owner, expires, now),
            )
            return cur.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM leases WHERE name = %s AND owner = %s", (name, owner))
