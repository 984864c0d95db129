"""Guessing protection per client address: failures counted in a window, then a lockout.
Addresses are stored only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from adapters.db import Database, as_datetime

WINDOW = timedelta(minutes=15)
MAX_FAILURES = 20
LOCKOUT = timedelta(minutes=15)


class Throttle:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db, self._key = db, key

    def _slot(self, client: str) -> bytes:
        return hmac.new(self._key, b"client\x00" + client.encode(), hashlib.sha256).digest()

    def locked_until(self, client: str) -> datetime | None:
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT locked_until FROM throttle WHERE key = %s", (self._slot(client),))
            row = cur.fetchone()
        until = as_datetime(row[0]) if row and row[0] else None
        return until if until and until > datetime.now(UTC) else None

    def failed(self, client: str) -> None:
        now, slot = datetime.now(UTC), self._slot(client)
        with self.db.transaction() as cur:
            cur.execute("SELECT failures, window_start FROM throttle WHERE key = %s", (slot,))
            row = cur.fetchone()
            if row is None or now - as_datetime(row[1]) > WINDOW:
                failures, start = 1, now
            else:
                failures, start = int(row[0]) + 1, as_datetime(row[1])
            locked = now + LOCKOUT if failures >= MAX_FAILURES else None
            cur.execute(
                "INSERT INTO throttle (key, failures, window_start, locked_until) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                "failures = excluded.failures, window_start = excluded.window_start, "
                "locked_until = excluded.locked_until",
                (slot, 0 if locked else failures, now if locked else start, locked),
            )
