"""Checkpoints on Kafka: a second copy outside the database, on a log its admins do not own.

One topic (``checkpoints``, after the configured prefix), one partition so that checkpoints keep
their order, kept forever (``retention.ms=-1``); message key = the chain's name, value = the
checkpoint as in its file.
"""

from __future__ import annotations

import contextlib
import logging

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from adapters.audit.checkpoints import Checkpoint

log = logging.getLogger("telemed.checkpoints")

TOPIC = "checkpoints"


class KafkaCheckpoints:
    def __init__(self, bootstrap: str, *, topic_prefix: str = "") -> None:
        self.bootstrap, self.topic = bootstrap, topic_prefix + TOPIC
        self._producer: KafkaProducer | None = None

    def publish(self, checkpoint: Checkpoint) -> None:
        """Send and wait for the broker's acknowledgement (all in-sync replicas)."""
        try:
            if self._producer is None:
                self._ensure_topic()
                self._producer = KafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=5000,
                    max_block_ms=5000,
                    client_id="telemed-checkpoints",
                )
            future = self._producer.send(
                self.topic, key=checkpoint.chain.encode(), value=checkpoint.to_json()
            )
            future.get(timeout=10)
        except Exception:
            self.close()  # a fresh producer next time
            raise

    def _ensure_topic(self) -> None:
        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap, request_timeout_ms=5000, client_id="telemed-ckpt"
        )
        try:
            if self.topic not in set(admin.list_topics()):
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(
                        [
                            NewTopic(
                                self.topic,
                                num_partitions=1,
                                replication_factor=1,
                                topic_configs={"retention.ms": "-1"},
                            )
                        ]
                    )
        finally:
            admin.close()

    def close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._producer.close(timeout=1)
        self._producer = None
