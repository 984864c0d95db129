"""Practitioners' signing keys (Ed25519, PyNaCl): the ``ProtocolSigner`` of the embedded setup.

Each private key is sealed with the practitioner's own data key (the subject key the keyring's
master key wraps, see ``subject_keys``), so master-key rotation re-wraps it for free and the
practitioner's erasure shreds it with their other personal data: nobody can sign as them any more,
while the public halves (events of ``PractitionerKeys``) keep every signature they made
verifiable. A qualified provider (eIDAS QES, КЭП) would implement the same port.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from uuid import UUID

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from adapters.crypto.sealing import open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Cursor, Database
from commands.ports import NewSigningKey

ALGORITHM = "ed25519"


def _context(practitioner_id: UUID, key_id: str) -> bytes:
    return b"telemed/signing-key/v1/" + practitioner_id.bytes + b"/" + key_id.encode()


def key_id_of(public: bytes) -> str:
    return "ed25519-" + hashlib.sha256(public).hexdigest()[:16]


class Ed25519Signer:
    algorithm = ALGORITHM

    def __init__(self, db: Database, keys: SubjectKeys) -> None:
        self._db, self._keys = db, keys
        #: keys made by this process whose row may not be committed yet
        self._fresh: dict[str, SigningKey] = {}
        self._lock = threading.Lock()

    def new_key(self, practitioner_id: UUID) -> NewSigningKey:
        private = SigningKey.generate()
        public = bytes(private.verify_key)
        key_id = key_id_of(public)
        sealed = seal(
            self._keys.require(practitioner_id), bytes(private), _context(practitioner_id, key_id)
        )
        with self._lock:
            if len(self._fresh) > 1000:
                self._fresh.clear()
            self._fresh[key_id] = private

        def keep(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO practitioner_signing_keys (key_id, practitioner_id, sealed_private) "
                "VALUES (%s, %s, %s)",
                (key_id, practitioner_id, sealed),
            )

        keep_row: Callable[[Cursor], None] = keep
        return NewSigningKey(key_id, ALGORITHM, base64.b64encode(public).decode(), keep_row)

    def destroy(self, practitioner_id: UUID, key_id: str) -> Callable[[Cursor], None]:
        """Delete the sealed private half (the key was retired); this process forgets it at
        once, in the transaction, so a rollback only costs a reload from the row."""

        def forget(cur: Cursor) -> None:
            with self._lock:
                self._fresh.pop(key_id, None)
            cur.execute(
                "DELETE FROM practitioner_signing_keys WHERE key_id = %s AND practitioner_id = %s",
                (key_id, practitioner_id),
            )

        return forget

    def sign(self, practitioner_id: UUID, key_id: str, document: bytes) -> str:
        private = self._private(practitioner_id, key_id)
        return base64.b64encode(private.sign(document).signature).decode()

    def verify(self, public_key: str, document: bytes, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
            VerifyKey(base64.b64decode(public_key, validate=True)).verify(document, raw)
        except (BadSignatureError, ValueError, TypeError):
            return False
        return True

    def _private(self, practitioner_id: UUID, key_id: str) -> SigningKey:
        with self._lock:
            fresh = self._fresh.get(key_id)
        if fresh is not None:
            return fresh
        with self._db.transaction(write=False) as cur:
            cur.execute(
                "SELECT sealed_private FROM practitioner_signing_keys "
                "WHERE key_id = %s AND practitioner_id = %s",
                (key_id, practitioner_id),
            )
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"no private key {key_id} for {practitioner_id}")
        data_key = self._keys.require(practitioner_id)
        return SigningKey(open_sealed(data_key, bytes(row[0]), _context(practitioner_id, key_id)))
