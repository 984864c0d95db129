"""A keyring and a database belong together.

The database records the id and fingerprint of every secret it depends on (the master keys that
wrap its data keys, and the index, chain and analytics keys) in ``keyring_fingerprints``. At start
a process compares its keyring with that record and refuses to run when they differ, naming key
ids and fingerprints (never key material). Only an empty database (nothing recorded, no events, no
data keys) gets a new keyring; a database from before the record accepts the keyring that opens
its data keys, and records it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.crypto.keyring import Keyring, KeyringSource
from adapters.db import Cursor, Database

_PERSONALISATION = b"telemed-keyfp-v1"
_LOCK_ID = 7_450_002

#: which master key ids of the keyring fail to open the database's data keys
Probe = Callable[[Cursor, Keyring], list[str]]


def fingerprint(key_id: str, secret: bytes) -> str:
    """BLAKE2b keyed by the secret over its id, under a fixed personalisation: it tells keys
    apart and reveals nothing of them."""
    digest = hashlib.blake2b(key_id.encode(), key=secret, digest_size=16, person=_PERSONALISATION)
    return digest.hexdigest()


class KeyringMismatch(RuntimeError):
    """This process's keyring is not the one the database was written with."""


@dataclass(frozen=True)
class Recorded:
    key_id: str
    fingerprint: str
    retired: bool


def bind(db: Database, source: KeyringSource, probe: Probe) -> tuple[Keyring, bool]:
    """The keyring of ``source`` if it belongs to the database; a new one (saved, recorded) for
    an empty database. Returns (keyring, created); raises ``KeyringMismatch`` otherwise."""
    with db.transaction() as cur:
        if db.dialect == "postgres":  # processes starting together agree on one keyring
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        cur.execute("SELECT key_id, fingerprint, retired_at FROM keyring_fingerprints")
        recorded = [Recorded(str(k), str(f), r is not None) for k, f, r in cur.fetchall()]
        ring = source.load()
        if recorded:
            problems = mismatches(ring, recorded)
            if problems:
                raise KeyringMismatch(_explain(source, ring, recorded, problems))
            assert ring is not None
            return ring, False
        if _holds_data(cur):
            if ring is None:
                raise KeyringMismatch(
                    f"No keyring at {source.describe()}, and this database already holds data "
                    "wrapped by one: start with the keyring it was written with (restore it "
                    "from a backup or copy it from a host that runs)."
                )
            unopened = probe(cur, ring)
            if unopened:
                problems = [f"the data keys wrapped by {', '.join(unopened)} do not open with it"]
                raise KeyringMismatch(_explain(source, ring, recorded, problems))
        created = ring is None
        if ring is None:
            ring = Keyring.generate(source)
            ring.save()
        record(cur, ring, ring.named_secrets())
        return ring, created


def mismatches(ring: Keyring | None, recorded: Iterable[Recorded]) -> list[str]:
    """Why ``ring`` does not fit the recorded keys (empty: it fits)."""
    if ring is None:
        return ["there is no keyring"]
    held = ring.named_secrets()
    live = [r for r in recorded if not r.retired]
    problems = [f"{r.key_id} is missing" for r in live if r.key_id not in held]
    problems += [
        f"{r.key_id} is a different key under the same id"
        for r in recorded
        if r.key_id in held and fingerprint(r.key_id, held[r.key_id]) != r.fingerprint
    ]
    if ring.active_master not in {r.key_id for r in live}:
        problems.append(f"its active master key {ring.active_master} is not one the database uses")
    return problems


def record(cur: Cursor, ring: Keyring, secrets: dict[str, bytes]) -> None:
    """Record that the database depends on these secrets of ``ring`` from now on."""
    for key_id, secret in secrets.items():
        cur.execute(
            "INSERT INTO keyring_fingerprints (key_id, kind, fingerprint) VALUES (%s, %s, %s)",
            (key_id, "master" if key_id in ring.masters else "secret", fingerprint(key_id, secret)),
        )


def live_masters(cur: Cursor, *, hold: bool = False) -> set[str]:
    """The master keys data keys may be wrapped with (recorded, not retired). With ``hold``
    (PostgreSQL) they stay so until the transaction ends: a retirement waits for it."""
    cur.execute(
        "SELECT key_id FROM keyring_fingerprints WHERE kind = 'master' AND retired_at IS NULL"
        + (" FOR SHARE" if hold else "")
    )
    return {str(r[0]) for r in cur.fetchall()}


def retire_masters(cur: Cursor, kids: set[str]) -> None:
    for kid in sorted(kids):
        cur.execute(
            "UPDATE keyring_fingerprints SET retired_at = %s WHERE key_id = %s",
            (datetime.now(UTC), kid),
        )


def _holds_data(cur: Cursor) -> bool:
    cur.execute("SELECT 1 FROM stored_events LIMIT 1")
    if cur.fetchone() is not None:
        return True
    cur.execute("SELECT 1 FROM subject_keys LIMIT 1")
    return cur.fetchone() is not None


def _explain(
    source: KeyringSource, ring: Keyring | None, recorded: list[Recorded], problems: list[str]
) -> str:
    needed = ", ".join(f"{r.key_id} ({r.fingerprint})" for r in recorded if not r.retired)
    held = (
        ", ".join(f"{k} ({fingerprint(k, s)})" for k, s in ring.named_secrets().items())
        if ring is not None
        else "nothing"
    )
    return (
        f"The keyring at {source.describe()} does not belong to this database; not starting. "
        f"{'; '.join(problems).capitalize()}. "
        f"The database depends on: {needed or 'no key recorded yet'}. "
        f"The keyring holds: {held}. "
        "Start with the keyring this database was written with (restore it from a backup, or "
        "copy it from a host that runs); only an empty database gets a new keyring."
    )
