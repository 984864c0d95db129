"""Signed checkpoints of the audit chains, and the folder that keeps them outside the database.

A checkpoint states "chain C had, at position P, the hash H" at a time, signed with the
deployment's Ed25519 key. Whoever can rewrite the database cannot sign, so a chain that no
longer reaches P with H has been truncated, rewound or rewritten since.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from adapters.crypto.signing_key import key_id, parse_public_key
from adapters.eventstore.chain import Head

FORMAT = "telemed-checkpoint/1"
#: positions per sub-folder, so that finding the newest checkpoint never lists a huge folder
SHARD = 10_000


class UnreadableCheckpoint(Exception):
    def __init__(self, chain: str, position: int, reason: str) -> None:
        super().__init__(f"checkpoint {chain}@{position}: {reason}")
        self.chain, self.position, self.reason = chain, position, reason


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    position: int
    hash: bytes
    at: datetime
    key_id: str
    signature: bytes = b""

    @classmethod
    def sign(
        cls, key: SigningKey, chain: str, head: Head, at: datetime | None = None
    ) -> Checkpoint:
        unsigned = cls(
            chain, head.position, head.hash, at or datetime.now(UTC), key_id(key.verify_key)
        )
        return dataclasses.replace(unsigned, signature=key.sign(unsigned._message()).signature)

    @property
    def head(self) -> Head:
        return Head(self.position, self.hash)

    def verifies(self, key: VerifyKey | str) -> bool:
        """Whether this checkpoint was signed with the private half of ``key``."""
        verify_key = parse_public_key(key) if isinstance(key, str) else key
        try:
            verify_key.verify(self._message(), self.signature)
        except BadSignatureError:
            return False
        return True

    def _fields(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "chain": self.chain,
            "position": self.position,
            "hash": self.hash.hex(),
            "at": self.at.isoformat(),
            "key_id": self.key_id,
        }

    def _message(self) -> bytes:
        return orjson.dumps(self._fields(), option=orjson.OPT_SORT_KEYS)

    def to_json(self) -> bytes:
        signature = base64.b64encode(self.signature).decode()
        return orjson.dumps({**self._fields(), "signature": signature}) + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        fields = orjson.loads(data)
        if not isinstance(fields, dict) or fields.get("format") != FORMAT:
            raise ValueError("not a telemed checkpoint")
        try:
            return cls(
                chain=str(fields["chain"]),
                position=int(fields["position"]),
                hash=bytes.fromhex(fields["hash"]),
                at=datetime.fromisoformat(fields["at"]),
                key_id=str(fields["key_id"]),
                signature=base64.b64decode(fields["signature"], validate=True),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"incomplete checkpoint: {exc}") from exc


class CheckpointFolder:
    """One read-only file per checkpoint under ``root/<chain>/``, written once, never replaced."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, chain: str, position: int) -> Path:
        return self.root / chain / f"{position // SHARD:012d}" / f"{position:020d}.json"

    def write(self, checkpoint: Checkpoint) -> Checkpoint:
        """Store ``checkpoint``; if its position is stored already, keep and return that one."""
        final = self.path_of(checkpoint.chain, checkpoint.position)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.stem}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(checkpoint.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, final)  # appears complete, and fails if the position is taken
        except FileExistsError:
            return self.read(checkpoint.chain, checkpoint.position)
        finally:
            tmp.unlink(missing_ok=True)
        _sync_folder(final.parent)
        return checkpoint

    def read(self, chain: str, position: int) -> Checkpoint:
        try:
            checkpoint = Checkpoint.from_json(self.path_of(chain, position).read_bytes())
        except (OSError, ValueError) as exc:
            raise UnreadableCheckpoint(chain, position, f"the file is unreadable ({exc})") from exc
        if (checkpoint.chain, checkpoint.position) != (chain, position):
            raise UnreadableCheckpoint(chain, position, "the file holds another checkpoint")
        return checkpoint

    def newest(self, chain: str) -> Checkpoint | None:
        for position in self.positions(chain):
            return self.read(chain, position)
        return None

    def positions(self, chain: str) -> Iterator[int]:
        """The positions of the stored checkpoints of ``chain``, newest first."""
        for shard in _numbered(self.root / chain):
            for name in _numbered(shard):
                yield int(name.stem)

    def __repr__(self) -> str:
        return f"CheckpointFolder({str(self.root)!r})"


def _numbered(folder: Path) -> list[Path]:
    """Entries named by a number (``00012`` or ``00012.json``), highest first."""
    if not folder.is_dir():
        return []
    entries = [p for p in folder.iterdir() if p.name.split(".", 1)[0].isdigit()]
    return sorted(entries, key=lambda p: int(p.name.split(".", 1)[0]), reverse=True)


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
