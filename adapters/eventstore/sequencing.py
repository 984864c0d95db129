"""Positions of committed events: looked up by stream and version, or numbered in batches.

On PostgreSQL a writer commits its events unnumbered (no table lock), then waits here while the
chain sequencer numbers them, in the commit order, for every writer of the process at once.
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

from adapters.db import Cursor, Database, as_uuid
from adapters.eventstore.chain import ChainSequencer

#: a stored event's stream and version
Key = tuple[UUID, int]


def event_positions(cur: Cursor, dialect: str, keys: list[Key]) -> list[int]:
    """The notification ids of some stored events (0 for one not numbered yet)."""
    if not keys:
        return []
    if dialect == "postgres":
        cur.execute(
            "SELECT e.originator_id, e.originator_version, e.notification_id "
            "FROM stored_events e JOIN unnest(%s::uuid[], %s::bigint[]) AS k(o, v) "
            "ON e.originator_id = k.o AND e.originator_version = k.v",
            ([k[0] for k in keys], [k[1] for k in keys]),
        )
        found = {(as_uuid(o), int(v)): int(n or 0) for o, v, n in cur.fetchall()}
    else:
        found = {}
        for k in keys:
            cur.execute(
                "SELECT notification_id FROM stored_events "
                "WHERE originator_id = %s AND originator_version = %s",
                (k[0], k[1]),
            )
            row = cur.fetchone()
            found[(k[0], k[1])] = int(row[0] or 0) if row else 0
    return [found.get((k[0], k[1]), 0) for k in keys]


class SequencingBatcher:
    """Numbers committed rows for all writers of this process in batches (PostgreSQL).

    A writer commits its events, then waits here for their positions. Whoever finds no round
    running runs one for everybody waiting (flat combining): a lone writer sequences its own
    rows without a thread hand-off, and under load one short transaction numbers the rows of
    many commands. Rows numbered by another process's round are looked up instead.
    """

    def __init__(self, db: Database, sequencer: ChainSequencer) -> None:
        self._db, self._sequencer = db, sequencer
        self._waiting: dict[Key, int] = {}
        self._cond = threading.Condition()
        self._round_running = False

    def positions_of(self, keys: list[Key], timeout: float = 30.0) -> list[int]:
        if not keys:
            return []
        deadline = time.monotonic() + timeout
        with self._cond:
            for key in keys:
                self._waiting[key] = 0
            while not all(self._waiting[k] for k in keys):
                if not self._round_running:
                    self._round_running = True
                    self._cond.release()
                    try:
                        self._round()
                    finally:
                        self._cond.acquire()
                        self._round_running = False
                        self._cond.notify_all()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    for key in keys:
                        self._waiting.pop(key, None)
                    raise TimeoutError("the event sequencer did not number the rows in time")
                self._cond.wait(remaining)
            return [self._waiting.pop(k) for k in keys]

    def _round(self) -> None:
        # pipelined: the lock and the first read go in one round trip, the writes in another
        with self._db.transaction(pipeline=True) as cur:
            last, numbered = self._sequencer.sequence_rows(cur)
            if numbered:
                cur.execute("SELECT pg_notify('telemed_events', %s)", (str(last),))
        resolved = {(as_uuid(o), int(v)): int(p) for o, v, p in numbered}
        with self._cond:
            for key in self._waiting:
                if key in resolved:
                    self._waiting[key] = resolved[key]
            missing = [k for k, v in self._waiting.items() if not v]
        if missing:  # numbered by another process's round
            with self._db.transaction(write=False) as cur:
                positions = event_positions(cur, self._db.dialect, missing)
            with self._cond:
                for key, position in zip(missing, positions, strict=True):
                    if key in self._waiting and position:
                        self._waiting[key] = position
