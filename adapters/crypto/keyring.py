"""The master keyring: a 0600 file of named 256-bit secrets, outside the database.

The ``master`` secrets (one active, older ones kept for unwrapping) wrap the data keys of data
subjects; ``index`` keys the blind indexes; ``chain`` keys the audit hash chains. In production the
file would be replaced by a KMS or HSM behind the same small interface.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import orjson


@dataclass
class Keyring:
    path: Path
    active_master: str
    masters: dict[str, bytes]
    index_key: bytes
    chain_key: bytes
    analytics_key: bytes = field(default=b"")

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[Keyring, bool]:
        """Load the keyring, or create one with fresh secrets. Returns (keyring, created)."""
        if path.exists():
            return cls._load(path), False
        kid = _new_kid()
        ring = cls(
            path=path,
            active_master=kid,
            masters={kid: secrets.token_bytes(32)},
            index_key=secrets.token_bytes(32),
            chain_key=secrets.token_bytes(32),
            analytics_key=secrets.token_bytes(32),
        )
        ring.save()
        return ring, True

    @classmethod
    def _load(cls, path: Path) -> Keyring:
        data = orjson.loads(path.read_bytes())
        return cls(
            path=path,
            active_master=data["active_master"],
            masters={k: base64.b64decode(v) for k, v in data["masters"].items()},
            index_key=base64.b64decode(data["index_key"]),
            chain_key=base64.b64decode(data["chain_key"]),
            analytics_key=base64.b64decode(data.get("analytics_key", "")),
        )

    def save(self) -> None:
        """Write atomically with owner-only permissions."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = orjson.dumps(
            {
                "active_master": self.active_master,
                "masters": {k: base64.b64encode(v).decode() for k, v in self.masters.items()},
                "index_key": base64.b64encode(self.index_key).decode(),
                "chain_key": base64.b64encode(self.chain_key).decode(),
                "analytics_key": base64.b64encode(self.analytics_key).decode(),
            },
            option=orjson.OPT_INDENT_2,
        )
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def add_master(self) -> str:
        """Create a new master key and make it the active one; older ones stay for unwrapping."""
        kid = _new_kid()
        self.masters[kid] = secrets.token_bytes(32)
        self.active_master = kid
        self.save()
        return kid

    def master(self, kid: str) -> bytes:
        """The master key with this id; re-reads the file once if another process rotated."""
        if kid not in self.masters and self.path.exists():
            fresh = self._load(self.path)
            self.masters.update(fresh.masters)
            self.active_master = fresh.active_master
        return self.masters[kid]

    def retire(self, kids: set[str]) -> None:
        """Forget master keys that no data key is wrapped with any more."""
        assert self.active_master not in kids
        self.masters = {k: v for k, v in self.masters.items() if k not in kids}
        self.save()


def _new_kid() -> str:
    return "mk-" + secrets.token_hex(6)
