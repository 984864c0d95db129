"""A Kafka-protocol broker per run (``ops/kafka.sh``: Tansu, in memory), and reading topics back."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from harness import ROOT


@contextlib.contextmanager
def kafka_broker(run: str) -> Iterator[str]:
    """A broker of our own (stopped afterwards), or the one named by the environment."""
    if given := os.environ.get("TELEMED_TEST_KAFKA_BOOTSTRAP"):
        yield given
        return
    pidfile = ROOT / "var" / f"kafka-bench-{run}.pid"
    script = ["bash", "ops/kafka.sh"]
    try:
        out = subprocess.run(
            [*script, "start", "--port", "auto", "--pidfile", str(pidfile)],
            cwd=ROOT, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        yield out.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([*script, "stop", "--pidfile", str(pidfile)], cwd=ROOT, timeout=60)
        Path(f"{pidfile}.log").unlink(missing_ok=True)


def held(bootstrap: str, topics: list[str], partitions: int, expect: int) -> int:
    """How many distinct ``event_id`` headers the topics hold (read back from the start)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    consumer.assign([TopicPartition(t, p) for t in topics for p in range(partitions)])
    consumer.seek_to_beginning()
    seen: set[bytes] = set()
    quiet = time.monotonic() + 3.0
    while len(seen) < expect and time.monotonic() < quiet:
        for records in consumer.poll(timeout_ms=200).values():
            seen.update(v for r in records for k, v in r.headers if k == "event_id")
            quiet = time.monotonic() + 3.0
    consumer.close()
    return len(seen)
