"""Data keys of data subjects: one random key each, stored wrapped by the master key.

Destroying a subject's key is the erasure (crypto-shredding): the events keep their ciphertext,
nothing can open it any more.

Rotation with several processes: ``rotate_master`` adds a master key, records its fingerprint and
re-wraps every data key under it, keeping the wrapping by the previous master key beside it;
while that previous key is live, new data keys are wrapped by both. A process still holding the
old keyring thus reads and writes on until it restarts with the new one. ``retire_old_masters``
(once every process has the new keyring) re-wraps what is left, drops the previous wrappings and
the old keys.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.crypto.key_binding import live_masters, record, retire_masters
from adapters.crypto.keyring import Keyring
from adapters.crypto.sealing import SealError, open_sealed, seal
from adapters.db import Cursor, Database, as_uuid

RowWriter = Callable[[Cursor], None]


def _wrap_context(subject_id: UUID, kid: str) -> bytes:
    return b"telemed/data-key/v1/" + subject_id.bytes + b"/" + kid.encode()


class KeyDestroyed(Exception):
    """The subject was erased; their data key no longer exists."""


class MasterKeyUnavailable(LookupError):
    """A data key is wrapped only by master keys this process's keyring does not hold."""


class RotationPending(RuntimeError):
    """A previous rotation's old master key is still live: retire it before rotating again."""


_WRAPS = "master_key_id, wrapped_key, previous_master_key_id, previous_wrapped_key"


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
        wrapped = self._wrap(subject_id, kid, key)
        self._remember(subject_id, key)

        def write(cur: Cursor) -> None:
            live = live_masters(cur, hold=self._db.dialect == "postgres")
            previous = next((k for k in sorted(live - {kid}) if k in self._keyring.masters), None)
            cur.execute(
                f"INSERT INTO subject_keys (subject_id, {_WRAPS}) VALUES (%s, %s, %s, %s, %s)",
                (
                    subject_id,
                    kid,
                    wrapped,
                    previous,
                    self._wrap(subject_id, previous, key) if previous else None,
                ),
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
            cur.execute(f"SELECT {_WRAPS} FROM subject_keys WHERE subject_id = %s", (subject_id,))
            row = cur.fetchone()
        key = self._open(subject_id, row) if row is not None else None
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
                    f"SELECT subject_id, {_WRAPS} FROM subject_keys WHERE subject_id IN ({marks})",
                    chunk,
                )
                rows = cur.fetchall()
            found = {as_uuid(r[0]): r[1:] for r in rows}
            for subject_id in chunk:
                row = found.get(subject_id)
                self._remember(subject_id, self._open(subject_id, row) if row else None)

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
                "previous_wrapped_key = NULL, previous_master_key_id = NULL, "
                "destroyed_at = %s WHERE subject_id = %s",
                (_now_iso(), subject_id),
            )

        return write

    def destroyed(self, subject_id: UUID) -> None:
        """The erasure committed: this process forgets the key at once (others within the
        cache's few seconds)."""
        self._remember(subject_id, None, ttl=3600.0)

    def rotate_master(self, *, batch: int = 500, retire_old: bool = False) -> tuple[str, int]:
        """Add a master key (to the keyring and to the database's record) and re-wrap every live
        data key under it, keeping the previous wrapping; events are not touched. Returns the new
        key id and how many data keys were re-wrapped. ``retire_old`` retires the old master keys
        at once: only when no other process runs with the old keyring."""
        with self._db.transaction() as cur:
            older = live_masters(cur) - {self._keyring.active_master}
        if older:
            raise RotationPending(
                f"{', '.join(sorted(older))} from the last rotation is still in use: once every "
                "process runs with the new keyring, retire it (telemed keys retire-master)"
            )
        new_kid = self._keyring.add_master()
        with self._db.transaction() as cur:
            record(cur, self._keyring, {new_kid: self._keyring.masters[new_kid]})
        done = self._rewrap(
            new_kid,
            "master_key_id <> %s",
            (new_kid,),
            "previous_master_key_id = master_key_id, previous_wrapped_key = wrapped_key",
            batch,
        )
        if retire_old:
            self.retire_old_masters(batch=batch)
        return new_kid, done

    def retire_old_masters(self, *, batch: int = 500) -> tuple[set[str], int]:
        """Once every process has the keyring with the active master key: wrap every data key
        by it alone and forget the other master keys (in the database's record and the keyring).
        Returns the retired key ids and how many data keys were re-wrapped."""
        active = self._keyring.active_master
        with self._db.transaction() as cur:
            old = live_masters(cur) - {active}
            retire_masters(cur, old)  # waits for writers that still wrap by them (PostgreSQL)
        done = self._rewrap(
            active,
            "master_key_id <> %s",
            (active,),
            "previous_master_key_id = NULL, previous_wrapped_key = NULL",
            batch,
        )
        with self._db.transaction() as cur:
            cur.execute(
                "UPDATE subject_keys SET previous_master_key_id = NULL, "
                "previous_wrapped_key = NULL WHERE previous_master_key_id IS NOT NULL"
            )
        self._keyring.retire(set(self._keyring.masters) - {active})
        return old, done

    def _rewrap(
        self, kid: str, where: str, params: tuple[object, ...], keep: str, batch: int
    ) -> int:
        """Wrap the live data keys matching ``where`` by ``kid``, setting ``keep`` first."""
        done = 0
        while True:
            with self._db.transaction() as cur:
                cur.execute(
                    f"SELECT subject_id, {_WRAPS} FROM subject_keys "
                    f"WHERE wrapped_key IS NOT NULL AND {where} LIMIT %s",
                    (*params, batch),
                )
                rows = cur.fetchall()
                for subject_raw, *wraps in rows:
                    subject_id = as_uuid(subject_raw)
                    key = self._open(subject_id, wraps)
                    assert key is not None
                    cur.execute(
                        f"UPDATE subject_keys SET {keep}, master_key_id = %s, wrapped_key = %s "
                        "WHERE subject_id = %s",
                        (kid, self._wrap(subject_id, kid, key), subject_id),
                    )
            done += len(rows)
            if len(rows) < batch:
                return done

    def _wrap(self, subject_id: UUID, kid: str, key: bytes) -> bytes:
        return seal(self._keyring.masters[kid], key, _wrap_context(subject_id, kid))

    def _open(self, subject_id: UUID, wraps: Sequence[Any]) -> bytes | None:
        """The data key from a row's wrappings (None: destroyed), by a master key held here."""
        kid, wrapped, previous_kid, previous_wrapped = wraps
        if wrapped is None:
            return None
        for k, w in ((kid, wrapped), (previous_kid, previous_wrapped)):
            master = self._keyring.master(str(k)) if k is not None else None
            if master is not None and w is not None:
                return open_sealed(master, bytes(w), _wrap_context(subject_id, str(k)))
        raise MasterKeyUnavailable(f"{subject_id}: wrapped by {kid}, not in this keyring")

    def _remember(self, subject_id: UUID, key: bytes | None, ttl: float | None = None) -> None:
        with self._lock:
            self._cache[subject_id] = (time.monotonic() + (ttl or self._ttl), key)
            if len(self._cache) > 100_000:
                self._cache.clear()


def _now_iso() -> datetime:
    return datetime.now(UTC)


def unopened_masters(cur: Cursor, keyring: Keyring) -> list[str]:
    """The master key ids the database's data keys are wrapped by that ``keyring`` fails to
    open (missing, or another key under that id): one data key of each is tried."""
    cur.execute("SELECT DISTINCT master_key_id FROM subject_keys WHERE wrapped_key IS NOT NULL")
    failed = []
    for (kid,) in cur.fetchall():
        cur.execute(
            "SELECT subject_id, wrapped_key FROM subject_keys "
            "WHERE master_key_id = %s AND wrapped_key IS NOT NULL LIMIT 1",
            (kid,),
        )
        subject_raw, wrapped = cur.fetchone()
        master = keyring.masters.get(str(kid))
        try:
            if master is None:
                raise SealError(str(kid))
            open_sealed(master, bytes(wrapped), _wrap_context(as_uuid(subject_raw), str(kid)))
        except SealError:
            failed.append(str(kid))
    return sorted(failed)
