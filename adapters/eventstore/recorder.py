"""The application recorder for SQLite and PostgreSQL, behind the eventsourcing library's API.

Writes: the stored events and any extra rows of the same command (a new subject key, the
idempotency record) go in one transaction. On PostgreSQL that transaction takes no table lock,
so concurrent writers commit in parallel (group commit); the chain sequencer then numbers the
committed rows. On SQLite the database serialises writers, so the sequencer runs inside the
write transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    Notification,
    StoredEvent,
    Subscription,
)

from adapters.crypto.sealing import SealError
from adapters.db import Cursor, Database, IntegrityConflict, as_uuid
from adapters.eventstore.chain import ChainSequencer, ChainSpec
from adapters.eventstore.sequencing import SequencingBatcher, event_positions
from adapters.eventstore.subscription import PollingSubscription

RowWriter = Callable[[Cursor], None]


def _event_parts(row: Sequence[Any]) -> list[bytes]:
    originator_id, version, topic, state = row
    return [
        as_uuid(originator_id).bytes,
        int(version).to_bytes(8, "big"),
        topic.encode(),
        state if isinstance(state, bytes | memoryview) else str(state).encode(),
    ]


EVENT_CHAIN = ChainSpec(
    name="events",
    table="stored_events",
    lock_id=7_450_010,
    key_columns=("originator_id", "originator_version"),
    content_columns=("originator_id", "originator_version", "topic", "state"),
    position_column="notification_id",
    insert_order={"postgres": "seq", "sqlite": "rowid"},
    to_parts=_event_parts,
    pg_key_types=("uuid", "bigint"),
)


class EventRecorder(ApplicationRecorder):
    def __init__(self, db: Database, chain_key: bytes) -> None:
        self.db = db
        self.sequencer = ChainSequencer(EVENT_CHAIN, chain_key, db.dialect)
        self._listeners: list[Callable[[int], None]] = []
        self._listeners_lock = threading.Lock()
        self._batcher = SequencingBatcher(db, self.sequencer)

    # -- writing -------------------------------------------------------------------------------
    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        before: Sequence[RowWriter] = (),
        after: Sequence[RowWriter] = (),
        **kwargs: Any,
    ) -> Sequence[int]:
        """Append events atomically with the command's other rows; returns their positions.

        ``before`` writers run first (an idempotency record, whose conflict must win over an
        event conflict), ``after`` writers last (subject keys, key destruction).
        """
        if not stored_events and not before and not after:
            return []
        rows = [
            (as_uuid(e.originator_id), e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        with self.db.transaction() as cur:
            for write in before:
                write(cur)
            if rows:
                try:
                    cur.executemany(
                        "INSERT INTO stored_events (originator_id, originator_version, topic, "
                        "state, row_seal) VALUES (%s, %s, %s, %s, %s)",
                        [(*row, self.sequencer.seal(row)) for row in rows],
                    )
                except IntegrityConflict as exc:
                    raise IntegrityError(str(exc)) from exc
            for write in after:
                write(cur)
            if self.db.dialect == "sqlite":
                last = self.sequencer.sequence(cur)
                ids = event_positions(cur, self.db.dialect, [(r[0], r[1]) for r in rows])
        if self.db.dialect == "postgres":
            ids = self._batcher.positions_of([(r[0], r[1]) for r in rows])
            last = max(ids, default=0)
        self._wake(last)
        return ids

    def sequence_pending(self) -> int:
        """Number rows left unsequenced by a writer that crashed after its commit."""
        with self.db.transaction() as cur:
            last, numbered = self.sequencer.sequence_rows(cur)
            if numbered and self.db.dialect == "postgres":
                cur.execute("SELECT pg_notify('telemed_events', %s)", (str(last),))
        return last

    # -- in-process wake-ups for projection runners ---------------------------------------------
    def add_listener(self, listener: Callable[[int], None]) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def _wake(self, last: int) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(last)

    # -- reading -------------------------------------------------------------------------------
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        sql = (
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "WHERE originator_id = %s"
        )
        params: list[Any] = [as_uuid(originator_id)]
        if gt is not None:
            sql += " AND originator_version > %s"
            params.append(gt)
        if lte is not None:
            sql += " AND originator_version <= %s"
            params.append(lte)
        sql += " ORDER BY originator_version" + (" DESC" if desc else "")
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [StoredEvent(as_uuid(o), int(v), t, bytes(s)) for o, v, t, s in rows]

    def check_stream(self, originator_id: UUID) -> None:
        """Raise ``SealError`` if a stored event of this record is not what the application
        wrote (a read answered from a read model still notices a record tampered with)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT originator_id, originator_version, topic, state, row_seal "
                "FROM stored_events WHERE originator_id = %s",
                (originator_id,),
            )
            rows = cur.fetchall()
        for row in rows:
            if not self.sequencer.is_sealed(row[:-1], row[-1]):
                raise SealError(f"event {row[1]} of a record does not match its seal")

    def select_events_with_time(self, originator_id: UUID) -> list[tuple[StoredEvent, int, Any]]:
        """Events of one record with their position and time of recording (for compliance)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT originator_id, originator_version, topic, state, notification_id, "
                "recorded_at FROM stored_events WHERE originator_id = %s "
                "ORDER BY originator_version",
                (originator_id,),
            )
            rows = cur.fetchall()
        return [
            (StoredEvent(as_uuid(o), int(v), t, bytes(s)), int(n or 0), at)
            for o, v, t, s, n, at in rows
        ]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        sql = (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM stored_events WHERE notification_id IS NOT NULL"
        )
        params: list[Any] = []
        if start is not None:
            sql += (
                " AND notification_id >= %s" if inclusive_of_start else " AND notification_id > %s"
            )
            params.append(start)
        if stop is not None:
            sql += " AND notification_id <= %s"
            params.append(stop)
        if topics:
            sql += " AND topic IN (" + ", ".join("%s" for _ in topics) + ")"
            params.extend(topics)
        sql += " ORDER BY notification_id LIMIT %s"
        params.append(limit)
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [
            Notification(
                id=int(n),
                originator_id=as_uuid(o),
                originator_version=int(v),
                topic=t,
                state=bytes(s),
            )
            for n, o, v, t, s in rows
        ]

    def max_notification_id(self) -> int | None:
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT max(notification_id) FROM stored_events")
            row = cur.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(self, gt=gt, topics=topics)
