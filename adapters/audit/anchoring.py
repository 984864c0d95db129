"""Anchoring the audit chains outside the database: signing checkpoints, verifying against them.

The checkpointer signs a chain's head only if the log still extends the newest checkpoint:
it recomputes the chain from that checkpoint's hash over the rows after it. A rewound or
rewritten log is refused (and logged), so the newest checkpoint always vouches for everything
before it, and verification needs to compare the log with that one checkpoint only.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from nacl.signing import SigningKey, VerifyKey

from adapters.audit.checkpoint_stream import KafkaCheckpoints
from adapters.audit.checkpoints import Checkpoint, CheckpointFolder, UnreadableCheckpoint
from adapters.crypto.signing_key import key_id
from adapters.db import Cursor, Database
from adapters.eventstore.chain import DIFFERS_FROM_ANCHOR, START, Break, ChainSequencer, Head

log = logging.getLogger("telemed.checkpoints")


class Chained(Protocol):
    """A hash-chained log (the event recorder, the access log)."""

    sequencer: ChainSequencer

    def sequence_pending(self) -> int: ...


@dataclass(frozen=True)
class Anchored:
    """One chain after a checkpoint round."""

    chain: str
    checkpoint: Checkpoint | None  # the newest checkpoint now
    written: bool  # signed in this round
    refused: Break | None = None  # the log no longer extends the newest checkpoint


@dataclass(frozen=True)
class Verdict:
    chain: str
    checked: int
    broken: Break | None
    checkpoint: Checkpoint | None


def newest_checkpoint(
    folder: CheckpointFolder, chain: str, key: VerifyKey
) -> tuple[Checkpoint | None, Break | None]:
    """The newest checkpoint of ``chain``, or where the folder cannot be trusted."""
    try:
        newest = folder.newest(chain)
    except UnreadableCheckpoint as exc:
        return None, Break(chain, exc.position, exc.reason)
    if newest is not None and not newest.verifies(key):
        reason = f"the checkpoint's signature does not verify with key {key_id(key)}"
        return newest, Break(chain, newest.position, reason)
    return newest, None


def verify(db: Database, chained: Chained, folder: CheckpointFolder, key: VerifyKey) -> Verdict:
    """Recompute the chain and hold it against its newest checkpoint (checked with ``key``)."""
    chained.sequence_pending()
    sequencer = chained.sequencer
    name = sequencer.spec.name
    checkpoint, untrusted = newest_checkpoint(folder, name, key)
    anchor = checkpoint.head if checkpoint is not None and untrusted is None else None
    with db.transaction(write=False) as cur:
        checked, broken = sequencer.verify(cur, anchor=anchor)
        if anchor is not None and broken == Break(name, anchor.position, DIFFERS_FROM_ANCHOR):
            broken = _narrow(cur, sequencer, folder, key, anchor)
    return Verdict(name, checked, untrusted or broken, checkpoint)


def _narrow(
    cur: Cursor, sequencer: ChainSequencer, folder: CheckpointFolder, key: VerifyKey, anchor: Head
) -> Break:
    """The log differs from the newest checkpoint: find the newest older one it still matches
    (a binary search; a checkpoint vouches for all before it), so the change lies after it."""
    name = sequencer.spec.name
    older = sorted(p for p in folder.positions(name) if p < anchor.position)
    good, low, high = START, 0, len(older)
    while low < high:
        middle = (low + high) // 2
        try:
            checkpoint = folder.read(name, older[middle])
        except UnreadableCheckpoint:
            checkpoint = None
        if checkpoint is None or not checkpoint.verifies(key):
            high = middle  # not evidence either way: look below it
            continue
        head, broken = sequencer.walk(cur, good, stop=checkpoint.position)
        if broken is None and head == checkpoint.head:
            good, low = head, middle + 1
        else:
            high = middle
    first = good.position + 1
    return Break(
        name,
        first,
        f"{DIFFERS_FROM_ANCHOR} at position {anchor.position}: changed from position {first} on"
        + (f" (the checkpoint at {good.position} still matches)" if good.position else ""),
    )


class Checkpointer:
    """Signs the heads of the chains to the folder (and Kafka), on demand or every few seconds."""

    def __init__(
        self,
        db: Database,
        logs: Sequence[Chained],
        key: SigningKey,
        folder: CheckpointFolder,
        *,
        stream: KafkaCheckpoints | None = None,
        every_seconds: float = 10.0,
    ) -> None:
        self.db, self.logs, self.key, self.folder = db, list(logs), key, folder
        self.stream, self.every_seconds = stream, every_seconds
        self._due = 0.0
        self._unpublished: dict[str, Checkpoint] = {}
        self._lock = threading.Lock()  # one round at a time per process

    def write_if_due(self) -> None:
        """For the workers' loop: a round when ``every_seconds`` have passed; never raises."""
        if time.monotonic() < self._due:
            return
        self._due = time.monotonic() + self.every_seconds
        try:
            self.write_now()
        except Exception:
            log.exception("checkpoint round failed")

    def write_now(self) -> list[Anchored]:
        """Sign each chain's head, if it moved and still extends the newest checkpoint."""
        rounds = []
        with self._lock:
            for chained in self.logs:
                chained.sequence_pending()
                anchored = self._anchor(chained.sequencer)
                if anchored.refused is not None:
                    log.error("checkpoint refused: %s", anchored.refused)
                rounds.append(anchored)
        return rounds

    def _anchor(self, sequencer: ChainSequencer) -> Anchored:
        name = sequencer.spec.name
        newest, untrusted = newest_checkpoint(self.folder, name, self.key.verify_key)
        if untrusted is not None:
            return Anchored(name, newest, False, untrusted)
        start = newest.head if newest is not None else START
        with self.db.transaction(write=False) as cur:
            broken = self._still_there(cur, sequencer, newest)
            head, broken = (start, broken) if broken else sequencer.walk(cur, start)
        if broken is not None:
            return Anchored(name, newest, False, broken)
        if head.position == start.position:
            self._publish(name)
            return Anchored(name, newest, False)
        stored = self.folder.write(Checkpoint.sign(self.key, name, head))
        if not hmac.compare_digest(stored.hash, head.hash):
            why = "a checkpoint of this position with another hash exists"
            return Anchored(name, stored, False, Break(name, head.position, why))
        self._unpublished[name] = stored
        self._publish(name)
        return Anchored(name, stored, True)

    @staticmethod
    def _still_there(
        cur: Cursor, sequencer: ChainSequencer, newest: Checkpoint | None
    ) -> Break | None:
        """Whether the row of the newest checkpoint still carries its hash (a truncation or a
        rewind is refused at once, even before the next row arrives)."""
        if newest is None:
            return None
        s = sequencer.spec
        cur.execute(
            f"SELECT chain_hash FROM {s.table} WHERE {s.position_column} = %s", (newest.position,)
        )
        row = cur.fetchone()
        if row is None or row[0] is None:
            return Break(s.name, newest.position, f"position {newest.position} is missing")
        if not hmac.compare_digest(bytes(row[0]), newest.hash):
            return Break(s.name, newest.position, "the log differs from the checkpoint")
        return None

    def _publish(self, chain: str) -> None:
        checkpoint = self._unpublished.get(chain)
        if self.stream is None or checkpoint is None:
            return
        try:
            self.stream.publish(checkpoint)
        except Exception as exc:  # the file is written; the next round publishes again
            log.warning("checkpoint %s@%s not published: %s", chain, checkpoint.position, exc)
            return
        self._unpublished.pop(chain, None)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
