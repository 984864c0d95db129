"""The master keyring: named 256-bit secrets kept outside the database.

The ``master`` secrets (one active, older ones kept for unwrapping) wrap the data keys of data
subjects; ``index`` keys the blind indexes; ``chain`` keys the audit hash chains; ``analytics``
keys the pseudonyms. Where the keyring is kept is one port, ``KeyringSource``: a 0600 file here
(``KeyringFile``); a KMS or HSM can be another implementation of the same small interface.
Whether a keyring belongs to a database is decided by ``adapters.crypto.key_binding``.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import orjson


class KeyringSource(Protocol):
    """Where the keyring is kept."""

    def describe(self) -> str:
        """Where, for messages to operators (never any key material)."""
        ...

    def load(self) -> Keyring | None:
        """The keyring, or None when there is none yet."""
        ...

    def save(self, ring: Keyring) -> None:
        """Store the keyring (atomically: a reader sees the old or the new one)."""
        ...


@dataclass
class Keyring:
    source: KeyringSource
    active_master: str
    masters: dict[str, bytes]
    index_key: bytes
    chain_key: bytes
    analytics_key: bytes

    @classmethod
    def generate(cls, source: KeyringSource) -> Keyring:
        """A keyring with fresh secrets (not saved yet)."""
        kid = _new_kid()
        return cls(
            source=source,
            active_master=kid,
            masters={kid: secrets.token_bytes(32)},
            index_key=secrets.token_bytes(32),
            chain_key=secrets.token_bytes(32),
            analytics_key=secrets.token_bytes(32),
        )

    def named_secrets(self) -> dict[str, bytes]:
        """Every secret by its id: the master key ids, ``index``, ``chain`` and ``analytics``."""
        return {
            **self.masters,
            "index": self.index_key,
            "chain": self.chain_key,
            "analytics": self.analytics_key,
        }

    def save(self) -> None:
        self.source.save(self)

    def reload(self) -> None:
        """Take up master keys another process added to the source (and its active one)."""
        fresh = self.source.load()
        if fresh is not None:
            self.masters.update(fresh.masters)
            self.active_master = fresh.active_master

    def add_master(self) -> str:
        """Create a new master key and make it the active one; older ones stay for unwrapping."""
        kid = _new_kid()
        self.masters[kid] = secrets.token_bytes(32)
        self.active_master = kid
        self.save()
        return kid

    def master(self, kid: str) -> bytes | None:
        """The master key with this id (re-reading the source once if it is not known here),
        or None when this keyring does not hold it."""
        if kid not in self.masters:
            self.reload()
        return self.masters.get(kid)

    def retire(self, kids: set[str]) -> None:
        """Forget master keys that no data key is wrapped with any more."""
        assert self.active_master not in kids
        self.masters = {k: v for k, v in self.masters.items() if k not in kids}
        self.save()


@dataclass(frozen=True)
class KeyringFile:
    """The keyring as a JSON file readable by its owner only (mode 0600)."""

    path: Path

    def describe(self) -> str:
        return f"file {self.path.resolve()}"

    def load(self) -> Keyring | None:
        if not self.path.exists():
            return None
        data = orjson.loads(self.path.read_bytes())
        return Keyring(
            source=self,
            active_master=data["active_master"],
            masters={k: base64.b64decode(v) for k, v in data["masters"].items()},
            index_key=base64.b64decode(data["index_key"]),
            chain_key=base64.b64decode(data["chain_key"]),
            analytics_key=base64.b64decode(data.get("analytics_key", "")),
        )

    def save(self, ring: Keyring) -> None:
        """Write atomically with owner-only permissions."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = orjson.dumps(
            {
                "active_master": ring.active_master,
                "masters": {k: base64.b64encode(v).decode() for k, v in ring.masters.items()},
                "index_key": base64.b64encode(ring.index_key).decode(),
                "chain_key": base64.b64encode(ring.chain_key).decode(),
                "analytics_key": base64.b64encode(ring.analytics_key).decode(),
            },
            option=orjson.OPT_INDENT_2,
        )
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def _new_kid() -> str:
    return "mk-" + secrets.token_hex(6)
