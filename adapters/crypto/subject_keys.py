"""Data keys of data subjects: one random key each, stored wrapped by the master key.

Destroying a subject's key is the erasure (crypto-shredding): the events keep their ciphertext,
nothing can open it any more.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from uuid import UUID

from adapters.crypto.keyring import Keyring
from adapters.crypto.sealing import open_sealed, seal
from adapters.db import Cursor, Database, as_uuid

RowWriter = Callable[[Cursor], None]


def _wrap_context(subject_id: UUID, kid: str) -> bytes:
    return b"telemed/data-key/v1/" + subject_id.bytes + b"/" + kid.encode()


class KeyDestroyed(Exception):
    """The subject was erased; their data key no longer exists."""


class SubjectKeys:
    """Create, fetch, destroy and re-wrap subject data keys, with a short-lived cache."""

    def __init__(self, db: Database, keyring: Keyring, *, cache_seconds: float = 5.0) -> None:
        self._db = db
        self._keyring = keyring
        self._ttl = cache_seconds
        self._cache: dict[UUID, tuple[float, bytes | None]] = {}
        self._lock = threading.Lock()

    def new_key(self, subject_id: UUID) -> RowWriter:
        """Generate a key for a new subject; returns the row writer to run in the same
        transaction as the subject's first events."""
        key = secrets.token_bytes(32)
        kid = self._keyring.active_master
        wrapped = seal(self._keyring.masters[kid], key, _wrap_context(subject_id, kid))
        self._remember(subject_id, key)

        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO subject_keys (subject_id, master_key_id, wrapped_key) "
                "VALUES (%s, %s, %s)",
                (subject_id, kid, wrapped),
            )

        return write

    def forget_pending(self, subject_id: UUID) -> None:
        with self._lock:
            self._cache.pop(subject_id, None)

    def get(self, subject_id: UUID) -> bytes | None:
        """The subject's key, or None when it was destroyed (or never existed)."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(subject_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._db.transaction(write=False) as cur:
            cur.execute(
                "SELECT master_key_id, wrapped_key FROM subject_keys WHERE subject_id = %s",
                (subject_id,),
            )
            row = cur.fetchone()
        key: bytes | None = None
        if row is not None and row[1] is not None:
            kid = str(row[0])
            key = open_sealed(
                self._keyring.master(kid), bytes(row[1]), _wrap_context(subject_id, kid)
            )
        self._remember(subject_id, key)
        return key

    def warm(self, subject_ids: Iterable[UUID]) -> None:
        """Load many keys with one query (a projection batch, a rebuild)."""
        wanted = list(set(subject_ids))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("%s" for _ in chunk)
            with self._db.transaction(write=False) as cur:
                cur.execute(
                    "SELECT subject_id, master_key_id, wrapped_key FROM subject_keys "
                    f"WHERE subject_id IN ({marks})",
                    chunk,
                )
                rows = cur.fetchall()
            found = {as_uuid(r[0]): r for r in rows}
            for subject_id in chunk:
                row = found.get(subject_id)
                key = None
                if row is not None and row[2] is not None:
                    kid = str(row[1])
                    key = open_sealed(
                        self._keyring.master(kid), bytes(row[2]), _wrap_context(subject_id, kid)
                    )
                self._remember(subject_id, key)

    def exists(self, subject_id: UUID) -> bool:
        """Whether the subject has a key row (live or destroyed)."""
        with self._lock:
            hit = self._cache.get(subject_id)
        if hit is not None and hit[1] is not None:
            return True
        with self._db.transaction(write=False) as cur:
            cur.execute("SELECT 1 FROM subject_keys WHERE subject_id = %s", (subject_id,))
            return cur.fetchone() is not None

    def require(self, subject_id: UUID) -> bytes:
        key = self.get(subject_id)
        if key is None:
            raise KeyDestroyed(str(subject_id))
        return key

    def destroy(self, subject_id: UUID) -> RowWriter:
        """Row writer that shreds the key, to run in the transaction recording the erasure;
        call ``destroyed`` once that transaction committed."""
        self.forget_pending(subject_id)

        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE subject_keys SET wrapped_key = NULL, master_key_id = NULL, "
                "destroyed_at = %s WHERE subject_id = %s",
                (_now_iso(), subject_id),
            )

        return write

    def destroyed(self, subject_id: UUID) -> None:
        """The erasure committed: this process forgets the key at once (others within the
        cache's few seconds)."""
        self._remember(subject_id, None, ttl=3600.0)

    def rotate_master(self, *, batch: int = 500, retire_old: bool = False) -> tuple[str, int]:
        """Re-wrap every live data key under a new master key; events are not touched.
        Returns the new key id and how many data keys were re-wrapped. With ``retire_old`` the
        old master keys are dropped from the keyring once no data key uses them."""
        old = set(self._keyring.masters)
        new_kid = self._keyring.add_master()
        new_master = self._keyring.masters[new_kid]
        done = 0
        while True:
            with self._db.transaction() as cur:
                cur.execute(
                    "SELECT subject_id, master_key_id, wrapped_key FROM subject_keys "
                    "WHERE wrapped_key IS NOT NULL AND master_key_id <> %s LIMIT %s",
                    (new_kid, batch),
                )
                rows = cur.fetchall()
                for subject_raw, kid, wrapped in rows:
                    subject_id = as_uuid(subject_raw)
                    key = open_sealed(
                        self._keyring.master(kid), bytes(wrapped), _wrap_context(subject_id, kid)
                    )
                    cur.execute(
                        "UPDATE subject_keys SET master_key_id = %s, wrapped_key = %s "
                        "WHERE subject_id = %s",
                        (
                            new_kid,
                            seal(new_master, key, _wrap_context(subject_id, new_kid)),
                            subject_id,
                        ),
                    )
            done += len(rows)
            if len(rows) < batch:
                break
        if retire_old:
            with self._db.transaction(write=False) as cur:
                cur.execute(
                    "SELECT DISTINCT master_key_id FROM subject_keys "
                    "WHERE master_key_id IS NOT NULL"
                )
                in_use = {str(r[0]) for r in cur.fetchall()}
            self._keyring.retire(old - in_use - {new_kid})
        return new_kid, done

    def _remember(self, subject_id: UUID, key: bytes | None, ttl: float | None = None) -> None:
        with self._lock:
            self._cache[subject_id] = (time.monotonic() + (ttl or self._ttl), key)
            if len(self._cache) > 100_000:
                self._cache.clear()


def _now_iso() -> datetime:
    return datetime.now(UTC)
