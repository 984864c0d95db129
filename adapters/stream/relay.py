"""The relay: notification log -> Kafka, at least once, in order per record.

It reads the events after its tracked position, translates them to integration events,
validates them against their schemas, produces them (acks=all, idempotent producer, key = the
record's pseudonym) and advances its position only after the broker acknowledged every message
of the batch. One relay at a time holds the lease; a stale holder cannot move the position
(compare-and-set). After a broker outage it resumes from its position; consumers drop the
duplicates by the ``event_id`` header.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Mapper, Notification
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from adapters.db import Database
from adapters.eventstore.recorder import EventRecorder
from adapters.leases import Leases
from adapters.stream.contract import Pseudonyms, encode, validate
from adapters.wakeup import NewEvents
from projections.stream_contract import TOPICS, translate

log = logging.getLogger("telemed.relay")

TRACKING_NAME = "relay:" + ",".join(TOPICS)


class KafkaRelay:
    def __init__(
        self,
        db: Database,
        recorder: EventRecorder,
        mapper: Mapper[Any],
        pseudonyms: Pseudonyms,
        bootstrap: str,
        *,
        partitions: int = 6,
        batch_size: int = 2000,
        lease_seconds: float = 10.0,
        validate_messages: bool = False,
        prefetch: Callable[[Sequence[Notification]], None] | None = None,
        producer_factory: Callable[[], KafkaProducer] | None = None,
        topic_prefix: str = "",
    ) -> None:
        self.db, self.recorder, self.mapper = db, recorder, mapper
        self.pseudonyms, self.bootstrap = pseudonyms, bootstrap
        self.partitions, self.batch_size = partitions, batch_size
        self.lease_seconds, self.validate_messages = lease_seconds, validate_messages
        self.prefetch = prefetch
        self.topic_prefix = topic_prefix
        self.topics = [topic_prefix + t for t in TOPICS]
        self.tracking_name = TRACKING_NAME + (f"@{topic_prefix}" if topic_prefix else "")
        self.owner = f"relay-{uuid.uuid4()}"
        self.leases = Leases(db)
        self.stopping = threading.Event()
        self._new_events = NewEvents(recorder)
        self._producer: KafkaProducer | None = None
        self._producer_factory = producer_factory or self._new_producer
        self._topics_ready = False
        with db.transaction() as cur:
            cur.execute(
                "INSERT INTO projection_tracking (name, position) VALUES (%s, 0) "
                "ON CONFLICT (name) DO NOTHING",
                (self.tracking_name,),
            )

    # -- Kafka --------------------------------------------------------------------------------
    def _new_producer(self) -> KafkaProducer:
        return KafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=2,
            retries=5,
            request_timeout_ms=5000,
            max_block_ms=5000,
            client_id="telemed-relay",
        )

    def ensure_topics(self) -> None:
        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            request_timeout_ms=5000,
            client_id="telemed-relay-admin",
        )
        try:
            existing = set(admin.list_topics())
            missing = [t for t in self.topics if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(
                        [
                            NewTopic(t, num_partitions=self.partitions, replication_factor=1)
                            for t in missing
                        ]
                    )
        finally:
            admin.close()
        self._topics_ready = True

    def _reset_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:  # a broken producer may fail to close; it is dropped anyway
                log.debug("producer close failed")
        self._producer = None
        self._topics_ready = False

    # -- the loop -------------------------------------------------------------------------------
    def position(self) -> int:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT position FROM projection_tracking WHERE name = %s", (self.tracking_name,)
            )
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def publish_once(self) -> int:
        """Publish one batch; returns how many log positions it moved (0: nothing to do, no
        lease, or the broker is unreachable: the next call retries from the same position)."""
        if not self.leases.acquire(self.tracking_name, self.owner, self.lease_seconds):
            return 0
        start = self.position()
        head = self.recorder.max_notification_id() or 0
        if head <= start:
            return 0
        notifications = self.recorder.select_notifications(
            start, self.batch_size, stop=head, inclusive_of_start=False
        )
        if self.prefetch is not None and notifications:
            self.prefetch(notifications)
        messages = []
        for notification in notifications:  # prepared first: sends then go out in one burst
            integration = translate(self.mapper.to_domain_event(notification), self.pseudonyms)
            if integration is None:
                continue
            if self.validate_messages:
                validate(integration.event_type, integration.schema_version, integration.body)
            messages.append((self.topic_prefix + integration.topic, *encode(integration)))
        try:
            if not self._topics_ready:
                self.ensure_topics()
            if self._producer is None:
                self._producer = self._producer_factory()
            futures = [
                self._producer.send(topic, key=key, value=value, headers=headers)
                for topic, key, value, headers in messages
            ]
            self._producer.flush(timeout=10)
            for future in futures:
                future.get(timeout=10)
        except (KafkaError, TimeoutError, OSError) as exc:
            log.warning(
                "broker unavailable (%s); will retry from position %s", type(exc).__name__, start
            )
            self._reset_producer()
            return 0
        end = notifications[-1].id if len(notifications) == self.batch_size else head
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE projection_tracking SET position = %s, updated_at = %s "
                "WHERE name = %s AND position = %s",
                (end, datetime.now(UTC), self.tracking_name, start),
            )
            if cur.rowcount != 1:
                log.warning("another relay moved the position; standing by")
                return 0
        return end - start

    def run_forever(self, idle_seconds: float = 0.5) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    moved = self.publish_once()
                except Exception:
                    log.exception("relay round failed")
                    moved = 0
                if not moved:
                    self._new_events.wait(idle_seconds)
        finally:
            self._new_events.close()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="relay", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.stopping.set()
        self._new_events.set()

    def close(self) -> None:
        self.stop()
        if self._producer is not None:
            self._producer.close(timeout=2)
            self._producer = None
        self.leases.release(self.tracking_name, self.owner)
