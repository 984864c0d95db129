"""Runs projections: reads the notification log in batches and writes each batch's view rows
and the new tracking position in one transaction (exactly once per event, even with several
workers: the tracking row is locked for the batch)."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Mapper, Notification, Tracking

from adapters.db import Cursor, Database
from adapters.eventstore.recorder import EventRecorder
from projections.base import Projection


class SqlView:
    """Base of read-model views: writes through the cursor of the runner's current batch."""

    tables: tuple[str, ...] = ()

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cur: Cursor | None = None

    @property
    def cur(self) -> Cursor:
        assert self._cur is not None, "view written outside a projection batch"
        return self._cur

    def bind(self, cur: Cursor | None) -> None:
        self._cur = cur

    def end_batch(self) -> None:
        """Called once per batch, before the tracking position is written (same transaction)."""

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write outside the runner (a chore), in one transaction of its own."""
        with self.db.transaction() as cur:
            self.bind(cur)
            try:
                yield
            finally:
                self.bind(None)


class ProjectionRunner:
    def __init__(
        self,
        db: Database,
        recorder: EventRecorder,
        mapper: Mapper[Any],
        projection: Projection[Any],
        view: SqlView,
        *,
        batch_size: int = 1000,
        prefetch: Callable[[Sequence[Notification]], None] | None = None,
    ) -> None:
        self.db, self.recorder, self.mapper = db, recorder, mapper
        self.projection, self.view = projection, view
        self.name = projection.name
        self.batch_size = batch_size
        self.prefetch = prefetch
        self._lock_id = 7_450_100_000 + zlib.crc32(self.name.encode())
        self._advanced = threading.Condition()
        with db.transaction() as cur:
            cur.execute(
                "INSERT INTO projection_tracking (name, position) VALUES (%s, 0) "
                "ON CONFLICT (name) DO NOTHING",
                (self.name,),
            )

    def run_once(self) -> int:
        """Process one batch; returns how many notifications were consumed (0: caught up, or
        another worker holds this projection right now)."""
        with self.db.transaction(pipeline=True) as cur:
            if self.db.dialect == "postgres":
                cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (self._lock_id,))
                if not cur.fetchone()[0]:
                    return 0
                cur.execute(
                    "SELECT position FROM projection_tracking WHERE name = %s FOR UPDATE",
                    (self.name,),
                )
            else:
                cur.execute(
                    "SELECT position FROM projection_tracking WHERE name = %s", (self.name,)
                )
            position = int(cur.fetchone()[0])
            head = self.recorder.max_notification_id() or 0
            if head <= position:
                return 0
            notifications = self.recorder.select_notifications(
                position,
                self.batch_size,
                stop=head,
                topics=self.projection.topics,
                inclusive_of_start=False,
            )
            if self.prefetch is not None and notifications:
                self.prefetch(notifications)
            self.view.bind(cur)
            try:
                self.projection.start_batch()
                for notification in notifications:
                    event = self.mapper.to_domain_event(notification)
                    self.projection.process_event(event, Tracking(self.name, notification.id))
                self.projection.end_batch()
                self.view.end_batch()
            finally:
                self.view.bind(None)
            full = len(notifications) == self.batch_size
            new_position = notifications[-1].id if full else head
            cur.execute(
                "UPDATE projection_tracking SET position = %s, updated_at = %s WHERE name = %s",
                (new_position, _now(), self.name),
            )
        with self._advanced:
            self._advanced.notify_all()
        return new_position - position

    def run_until_caught_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Process batches until this read model has every event recorded so far (waiting
        while another worker holds the current batch)."""
        total = 0
        while True:
            done = self.run_once()
            if done:
                total += done
                if progress is not None:
                    progress(self.position(), self.recorder.max_notification_id() or 0)
                continue
            if self.position() >= (self.recorder.max_notification_id() or 0):
                return total
            time.sleep(0.005)  # another worker is on this batch; it will be done shortly

    def position(self) -> int:
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT position FROM projection_tracking WHERE name = %s", (self.name,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until this read model has processed ``position`` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            if self.position() >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._advanced:
                self._advanced.wait(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    def reset(self) -> None:
        """Empty the view and its tracking position, in one transaction (before a rebuild)."""
        with self.db.transaction() as cur:
            if self.db.dialect == "postgres":
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_id,))
            for table in self.view.tables:
                cur.execute(f"DELETE FROM {table}")
            cur.execute(
                "UPDATE projection_tracking SET position = 0, updated_at = %s WHERE name = %s",
                (_now(), self.name),
            )


def _now() -> datetime:
    return datetime.now(UTC)
