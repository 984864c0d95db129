"""Idempotency keys of HTTP requests: reserved before a request runs, answered after it.

The row is the one the command bus uses (``idempotency_keys``): the request's first commit
records its originator in it, in the same transaction as its events, so a retry after a crash
between that commit and the answer never applies twice. Nothing in it opens without the client's
own Idempotency-Key: the key is stored as a keyed hash, the request (which may hold a password)
as a MAC under a key derived from it, and the answer (which may be a session token, a TOTP
secret or recovery codes) sealed under another key derived from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from adapters.crypto.sealing import SealError, open_sealed, seal
from adapters.db import Database, as_datetime
from commands.bus import IdempotencyClaim

#: a reservation older than this whose request never answered was lost with its process
LEASE = timedelta(seconds=60)
#: how long a key protects a retry (and an answer stays kept); then it is forgotten
RETENTION = timedelta(hours=24)
_ABANDONED = 0


@dataclass(frozen=True)
class KeyedRequest:
    claim: IdempotencyClaim
    seal_key: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Reserved:
    """The key is ours: run the request."""


@dataclass(frozen=True)
class Replay:
    answer: Answer


@dataclass(frozen=True)
class Conflict:
    """The key was used for another request."""


@dataclass(frozen=True)
class Busy:
    """A twin with the same key is running right now."""


Outcome = Reserved | Replay | Conflict | Busy


def _derived(root: bytes, purpose: bytes, size: int = 32) -> bytes:
    return hashlib.blake2b(root, digest_size=size, person=purpose).digest()


class IdempotencyStore:
    def __init__(self, db: Database, secret: bytes) -> None:
        self.db, self._secret = db, secret

    def keyed(self, scope: str, key: str, request: bytes) -> KeyedRequest:
        """The claim of a request: who (scope), which key, which request."""
        root = hashlib.blake2b(
            key.encode(), key=self._secret, digest_size=32, person=b"telemed/idem/v1"
        ).digest()
        stored_key = "h:" + _derived(root, b"lookup", 16).hex()
        request_hash = hashlib.blake2b(request, key=root, digest_size=32).digest()
        claim = IdempotencyClaim(scope=scope, key=stored_key, request_hash=request_hash)
        return KeyedRequest(claim, _derived(root, b"seal"))

    def reserve(self, keyed: KeyedRequest) -> Outcome:
        claim, now = keyed.claim, datetime.now(UTC)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, response, created_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (claim.scope, claim.key, claim.request_hash, b"", now),
            )
            if cur.rowcount == 1:
                return Reserved()
            cur.execute(
                "SELECT request_hash, status, response, created_at FROM idempotency_keys "
                "WHERE scope = %s AND key = %s",
                (claim.scope, claim.key),
            )
            row = cur.fetchone()
            if row is None:  # released a moment ago: try again
                return Busy()
            if bytes(row[0]) != claim.request_hash:
                return Conflict()
            if row[1] is not None and int(row[1]) != _ABANDONED:
                return Replay(self._open(keyed, int(row[1]), bytes(row[2])))
            if row[1] is None and now - as_datetime(row[3]) < LEASE:
                return Busy()
            # abandoned, or lost with its process: take it over (its commit, if it made one,
            # stays bound to the key, so the retry replays or is refused, never applied twice)
            cur.execute(
                "UPDATE idempotency_keys SET status = NULL, created_at = %s "
                "WHERE scope = %s AND key = %s AND created_at = %s",
                (now, claim.scope, claim.key, row[3]),
            )
            return Reserved() if cur.rowcount == 1 else Busy()

    def answer(self, keyed: KeyedRequest, answer: Answer) -> None:
        """Keep the answer (sealed), to replay it to a retry."""
        payload = orjson.dumps(
            {"headers": answer.headers, "body": answer.body.decode("utf-8", "replace")}
        )
        self._set(keyed.claim, answer.status, seal(keyed.seal_key, payload, _context(keyed)))

    def abandon(self, keyed: KeyedRequest) -> None:
        """The request committed but could not answer: a retry takes over (and replays the
        commit bound to the key, or is refused)."""
        self._set(keyed.claim, _ABANDONED, b"")

    def release(self, keyed: KeyedRequest) -> None:
        """The request committed nothing and was refused: the key is free again."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM idempotency_keys WHERE scope = %s AND key = %s "
                "AND originator_id IS NULL",
                (keyed.claim.scope, keyed.claim.key),
            )
            if cur.rowcount == 0:  # something committed under it after all
                cur.execute(
                    "UPDATE idempotency_keys SET status = %s WHERE scope = %s AND key = %s",
                    (_ABANDONED, keyed.claim.scope, keyed.claim.key),
                )

    def forget_expired(self) -> int:
        """Forget keys older than ``RETENTION`` and their answers (a worker chore)."""
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM idempotency_keys WHERE created_at < %s",
                (datetime.now(UTC) - RETENTION,),
            )
            return int(cur.rowcount)

    def _set(self, claim: IdempotencyClaim, status: int, response: bytes) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE idempotency_keys SET status = %s, response = %s "
                "WHERE scope = %s AND key = %s",
                (status, response, claim.scope, claim.key),
            )

    def _open(self, keyed: KeyedRequest, status: int, sealed: bytes) -> Answer:
        try:
            payload = orjson.loads(open_sealed(keyed.seal_key, sealed, _context(keyed)))
        except SealError:
            raise RuntimeError("a stored answer does not open with its key") from None
        headers = [(str(k), str(v)) for k, v in payload["headers"]]
        return Answer(status, headers, payload["body"].encode())


def _context(keyed: KeyedRequest) -> bytes:
    claim = keyed.claim
    return b"telemed/idempotent-answer/v1/" + claim.scope.encode() + b"/" + claim.key.encode()
