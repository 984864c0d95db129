"""A Kafka-protocol broker for the tests (Tansu, via ops/kafka.sh), and a reader of topics."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]


class Broker:
    """One broker process of our own, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.pidfile = ROOT / "var" / f"kafka-test-{uuid.uuid4().hex[:8]}.pid"
        self.port = "auto"
        self.bootstrap = ""

    def start(self) -> str:
        out = subprocess.run(
            ["bash", "ops/kafka.sh", "start", "--port", self.port, "--pidfile", str(self.pidfile)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        self.bootstrap = out.stdout.strip().splitlines()[-1]
        self.port = self.bootstrap.rsplit(":", 1)[1]  # a restart comes back on the same port
        return self.bootstrap

    def stop(self) -> None:
        subprocess.run(
            ["bash", "ops/kafka.sh", "stop", "--pidfile", str(self.pidfile)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes


def read_all(bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0) -> list[Message]:
    """Every message of the topic from the beginning (no consumer group: no join delay), in
    partition order; stops once ``expect`` messages were read or the time is up."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout * 1000),
        request_timeout_ms=10000,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        consumer.seek_to_beginning()
        messages: list[Message] = []
        for record in consumer:
            messages.append(
                Message(
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key.decode(),
                    raw=record.key
                    + record.value
                    + b"".join(k.encode() + v for k, v in record.headers),
                    headers={k: v.decode() for k, v in record.headers},
                    body=orjson.loads(record.value),
                )
            )
            if len(messages) >= expect:
                break
        return messages
    finally:
        consumer.close()
