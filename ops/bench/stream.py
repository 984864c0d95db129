"""Stream relay speed: the Kafka relay against raw production, and end-to-end lag under load.

Starts a Kafka-protocol broker of its own (``ops/kafka.sh``: Tansu, in memory; or uses
``TELEMED_TEST_KAFKA_BOOTSTRAP``, with topics of this run's own prefix) and a fresh PostgreSQL
database, seeded through the command bus (``harness.people``: 4 events per patient). Then:

1. throughput, in alternating rounds (the machine is noisy: medians and ratios count):
   ``relay``: a new relay as ``telemed relay`` builds it (``Services.relay()``, its own
   composition, on a fresh topic prefix) publishes the log with ``publish_once()`` until its
   position reaches the head (its topics are created before the clock, its producer within).
   ``raw``: kafka-python's ``KafkaProducer`` with the relay's producer settings sends the same
   messages (translated and encoded once, before the clock) and waits for every acknowledgement.
   Every round checks that the topic holds one message per event.
2. lag under a steady load: a relay on a fresh prefix runs in the background (``start()``) and
   first catches up with the log; then writers issue ``--rate`` commands/s for ``--lag-seconds``;
   lag = arrival of the ``event_id`` header at a consumer - the command's return.

    .venv/bin/python ops/bench/stream.py [--events 10000] [--rounds 3] [--rate 100]

Keys: ``relay_eps``, ``raw_eps``, ``ratio`` (relay/raw, goal >= 0.7), ``lag_p50_ms``,
``lag_p99_ms`` (goal < 1000), ``lag_missing`` (must be 0). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

from harness import measure, people
from harness.broker import held, kafka_broker
from harness.database import fresh_services
from harness.report import emit, goals, say
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from adapters.composition import Services, build
from adapters.stream.contract import encode
from adapters.stream.relay import KafkaRelay
from projections.stream_contract import event_id, translate

#: what ``KafkaRelay`` configures its producer with (the raw side copies it)
RELAY_PRODUCER: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 2,
    "retries": 5,
    "request_timeout_ms": 5000,
    "max_block_ms": 5000,
}
GOALS = {"ratio": (">=", 0.7), "lag_p99_ms": ("<=", 1000.0), "lag_missing": ("<=", 0)}
Message = tuple[str, bytes, bytes, list[tuple[str, bytes]]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000, help="events to seed (4/patient)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    parser.add_argument("--rate", type=float, default=100.0, help="commands/s of the lag test")
    parser.add_argument("--lag-seconds", type=float, default=10.0, help="length of the lag test")
    parser.add_argument("--lag-threads", type=int, default=4, help="writer threads of the lag test")
    return parser.parse_args()


@contextlib.contextmanager
def relay_on(services: Services, prefix: str) -> Iterator[KafkaRelay]:
    """The relay of a composition of its own (as the ``telemed relay`` process: its own
    connections, a cold cache of keys), on topics of a fresh prefix (from position 0)."""
    side = build(dataclasses.replace(services.settings, kafka_topic_prefix=prefix, pool_size=4))
    relay = side.relay()
    try:
        yield relay
    finally:
        relay.close()
        side.close()


def relay_round(services: Services, prefix: str, head: int) -> tuple[int, float]:
    """(events, seconds): the topics are created before the clock, the producer after it."""
    with relay_on(services, prefix) as relay:
        relay.ensure_topics()
        first = relay.position()
        start = time.perf_counter()
        while relay.position() < head:
            relay.publish_once()
        elapsed = time.perf_counter() - start
    topics, partitions = relay.topics, services.settings.kafka_partitions
    if (count := held(services.settings.kafka_bootstrap, topics, partitions, head)) != head:
        raise RuntimeError(f"relay round: {count} messages on {topics}, expected {head}")
    return head - first, elapsed


def messages(services: Services, head: int) -> list[Message]:
    """The relay's messages for the whole log, translated and encoded once (for ``raw``)."""
    out: list[Message] = []
    for n in services.recorder.select_notifications(1, head, stop=head):
        integration = translate(services.app.mapper.to_domain_event(n), services.pseudonyms)
        if integration is not None:
            out.append((integration.topic, *encode(integration)))
    return out


def raw_round(bootstrap: str, topic: str, sent: list[Message], partitions: int) -> float:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, **RELAY_PRODUCER)
    producer.partitions_for(topic)  # metadata and the producer id, before the clock
    start = time.perf_counter()
    futures = [producer.send(topic, key=k, value=v, headers=h) for _, k, v, h in sent]
    producer.flush(timeout=60)
    for future in futures:
        future.get(timeout=60)
    elapsed = time.perf_counter() - start
    producer.close(timeout=5)
    if (count := held(bootstrap, [topic], partitions, len(sent))) != len(sent):
        raise RuntimeError(f"raw round: {count} messages on {topic}, expected {len(sent)}")
    return elapsed


class Arrivals(threading.Thread):
    """Notes the first arrival time of each ``event_id`` header on the topics."""

    def __init__(self, bootstrap: str, topics: list[str], partitions: int) -> None:
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
        )
        self.consumer.assign([TopicPartition(t, p) for t in topics for p in range(partitions)])
        self.consumer.seek_to_beginning()
        self.arrived: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            batches = self.consumer.poll(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    for name, value in record.headers:
                        if name == "event_id":
                            self.arrived.setdefault(value.decode(), now)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.consumer.close()


def lag_test(services: Services, prefix: str, args: argparse.Namespace) -> dict[str, Any]:
    """Steady writers; the relay in the background, caught up with the log before they start."""
    head = services.recorder.max_notification_id() or 0
    total, numbers, slots = (
        int(args.rate * args.lag_seconds),
        itertools.count(50_000_000),
        itertools.count(),
    )
    committed: dict[str, float] = {}
    actor = people.clinician()
    with relay_on(services, prefix) as relay:
        relay.ensure_topics()
        arrivals = Arrivals(
            services.settings.kafka_bootstrap, relay.topics, services.settings.kafka_partitions
        )
        arrivals.start()
        thread = relay.start()
        while relay.position() < head:
            time.sleep(0.05)
        start = time.perf_counter() + 0.05

        def write(_: int) -> None:
            life = people.PatientLife(services, actor, numbers)
            while (i := next(slots)) < total:
                time.sleep(max(0.0, start + i / args.rate - time.perf_counter()))
                saved = life.next_command()
                committed[str(event_id(saved.aggregate_id, saved.version))] = time.perf_counter()

        people.on_threads(write, args.lag_threads)
        deadline = time.monotonic() + 20
        while any(i not in arrivals.arrived for i in committed) and time.monotonic() < deadline:
            time.sleep(0.05)
        relay.stop()
        thread.join(10)
        arrivals.stop()
    lags = [1000 * (arrivals.arrived[i] - t) for i, t in committed.items() if i in arrivals.arrived]
    return {
        "lag_p50_ms": round(measure.percentile(lags, 0.5), 1),
        "lag_p99_ms": round(measure.percentile(lags, 0.99), 1),
        "lag_max_ms": round(max(lags, default=0.0), 1),
        "lag_samples": len(lags),
        "lag_sent": len(committed),
        "lag_missing": len(committed) - len(lags),
    }


def main() -> int:
    args = parse_args()
    run = secrets.token_hex(4)
    relay_eps: list[float] = []
    raw_eps: list[float] = []
    with (
        kafka_broker(run) as bootstrap,
        fresh_services(pool_size=12, kafka_bootstrap=bootstrap) as services,
    ):
        partitions = services.settings.kafka_partitions
        seconds, _ = people.seed_patients(services, args.events // people.EVENTS_PER_PATIENT, 8)
        services.recorder.sequence_pending()
        head = services.recorder.max_notification_id() or 0
        say(f"seeded {head} events in {seconds:.1f}s; broker {bootstrap}")
        sent = messages(services, head)
        for round_no in range(args.rounds):
            for side in measure.rotate(["relay", "raw"], round_no):
                prefix = f"bench{run}.{side}{round_no}."
                if side == "relay":
                    count, elapsed = relay_round(services, prefix, head)
                    eps = count / elapsed
                    relay_eps.append(eps)
                else:
                    eps = len(sent) / raw_round(bootstrap, prefix + "raw", sent, partitions)
                    raw_eps.append(eps)
                say(f"round {round_no + 1} {side:>5}: {eps:8.0f} events/s")
        say(f"lag test: {args.rate:.0f} commands/s for {args.lag_seconds:.0f}s")
        lag = lag_test(services, f"bench{run}.lag.", args)
    relay, raw = measure.median(relay_eps), measure.median(raw_eps)
    result: dict[str, Any] = {
        "relay_eps": round(relay, 1),
        "raw_eps": round(raw, 1),
        "ratio": measure.ratio(relay, raw),
        **lag,
        "events": head,
        "rounds": args.rounds,
        "seed_seconds": round(seconds, 2),
        "samples": {
            "relay": [round(v, 1) for v in relay_eps],
            "raw": [round(v, 1) for v in raw_eps],
        },
    }
    result["goals"] = goals(result, GOALS)
    emit(result)
    return 0 if lag["lag_missing"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
