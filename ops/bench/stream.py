"""Stream relay speed: the Kafka relay against raw production, and end-to-end lag under load.

Starts a Kafka-protocol broker of its own (``ops/kafka.sh``, Tansu, in memory; or uses
``TELEMED_TEST_KAFKA_BOOTSTRAP`` when set, with topics of this run's own prefix) and a fresh
PostgreSQL database, seeds it through the command bus (per patient: registration, contact
change and two consents, so 4 events each), then measures:

1. throughput, in alternating rounds of one run (the machine is shared and noisy, so medians
   and ratios are what count):

   * ``relay``: a new ``KafkaRelay`` on a fresh topic prefix (tracking position 0) moves the
     whole log to acknowledged Kafka messages: ``publish_once()`` in a loop until its position
     reaches the head (events per second). It is built by a composition of its own
     (``build(settings).relay()``), as in the separate ``telemed relay`` process: its own
     connections and an empty cache of subject keys. Topic creation and the producer's
     start-up are done before the clock starts;
   * ``raw``: kafka-python's ``KafkaProducer`` with the relay's own producer settings (acks=all,
     idempotence, linger, batch size...) sends the SAME messages (translated and encoded once,
     outside the timing) to a fresh topic and waits for every acknowledgement;

   ``ratio`` = relay / raw. Each round checks that the topics hold exactly one message per
   event. ``--profile`` profiles one more relay round (cProfile of ``publish_once``).

2. end-to-end lag under a steady load: the relay (its own composition, woken by LISTEN/NOTIFY)
   runs in the background (``relay.start()``) from the head of the log; writer threads issue
   commands on a fixed schedule (``--rate`` per second for ``--lag-seconds``) and note the time
   each command returned (committed and numbered); a consumer (manual partition assignment, no
   group, in this process) notes when each ``event_id`` header arrives. Lag = arrival - commit:
   p50 and p99 in milliseconds, and how many of the events sent never arrived.

A diagnostic splits the relay's per-event work into its steps (reading the log, fetching the
subject keys, decrypting and decoding, translating, validating against the schemas, encoding),
in microseconds per event of one thread; the Kafka side of it is what ``raw`` measures.

    .venv/bin/python ops/bench/stream.py [--events 10000] [--rounds 3] [--rate 100]
        [--lag-seconds 10] [--profile]

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import contextlib
import cProfile
import dataclasses
import io
import itertools
import os
import pstats
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import _support
from eventsourcing.persistence import Notification
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from adapters.composition import Services, build
from adapters.settings import Settings
from adapters.stream.contract import encode, validate
from adapters.stream.relay import KafkaRelay
from commands.patients import ChangeContactDetails, RecordConsent, RegisterPatient
from commands.results import Saved
from domain.actor import Actor, Role
from domain.patient import ConsentPurpose
from projections.stream_contract import event_id, translate

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP_ENV = "TELEMED_TEST_KAFKA_BOOTSTRAP"
EVENTS_PER_PATIENT = 4
GIVEN = ("Alice", "Bernard", "Chiara", "Dmitri", "Esther", "Farid", "Grace", "Hiroshi")
FAMILY = ("Okafor", "Lindqvist", "Moreau", "Nakamura", "Oliveira", "Petrov", "Quinn", "Rossi")
#: the relay's producer settings that the raw baseline copies (from the relay's own producer)
PRODUCER_SETTINGS = (
    "acks",
    "enable_idempotence",
    "linger_ms",
    "batch_size",
    "compression_type",
    "max_in_flight_requests_per_connection",
    "retries",
    "request_timeout_ms",
    "max_block_ms",
    "max_request_size",
    "buffer_memory",
)
Message = tuple[str, bytes, bytes, list[tuple[str, bytes]]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000, help="events to seed (4/patient)")
    parser.add_argument("--seed-threads", type=int, default=8, help="threads used for seeding")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    parser.add_argument("--rate", type=float, default=100.0, help="commands/s of the lag test")
    parser.add_argument("--lag-seconds", type=float, default=10.0, help="length of the lag test")
    parser.add_argument("--lag-threads", type=int, default=4, help="writer threads of the lag test")
    parser.add_argument(
        "--fetch-max-wait-ms",
        type=int,
        default=100,
        help="the lag consumer's fetch_max_wait_ms (kafka-python's default is 500)",
    )
    parser.add_argument("--profile", action="store_true", help="profile one extra relay round")
    parser.add_argument(
        "--seconds", type=float, default=None, help="ignored (the work is sized by --events)"
    )
    return parser.parse_args()


# -- the broker ---------------------------------------------------------------------------------
@contextlib.contextmanager
def kafka_broker(run: str) -> Iterator[str]:
    """The bootstrap address of a broker of our own (stopped afterwards, also on error), or the
    one named by TELEMED_TEST_KAFKA_BOOTSTRAP."""
    given = os.environ.get(BOOTSTRAP_ENV)
    if given:
        yield given
        return
    pidfile = ROOT / "var" / f"kafka-bench-{run}.pid"
    ok = False
    try:
        out = subprocess.run(
            ["bash", "ops/kafka.sh", "start", "--port", "auto", "--pidfile", str(pidfile)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        yield out.stdout.strip().splitlines()[-1]
        ok = True
    finally:
        subprocess.run(
            ["bash", "ops/kafka.sh", "stop", "--pidfile", str(pidfile)],
            cwd=ROOT,
            check=False,
            capture_output=True,
            timeout=60,
        )
        log = Path(f"{pidfile}.log")
        if ok:
            log.unlink(missing_ok=True)
        elif log.exists():
            print(f"broker log kept at {log}", file=sys.stderr)


def make_relay(services: Services, prefix: str) -> KafkaRelay:
    """The relay as ``telemed relay`` builds it (``Services.relay()``), on topics of a prefix of
    its own; its tracking position starts at 0."""
    settings = dataclasses.replace(services.settings, kafka_topic_prefix=prefix)
    relay = dataclasses.replace(services, settings=settings).relay()
    set_position(services, relay, 0)
    return relay


@contextlib.contextmanager
def relay_side(settings: Settings) -> Iterator[Services]:
    """The relay's own composition, as the separate ``telemed relay`` process has it: its own
    connections, an empty cache of subject keys, woken by LISTEN/NOTIFY (not in-process)."""
    services = build(dataclasses.replace(settings, pool_size=4))
    try:
        yield services
    finally:
        services.close()


def set_position(services: Services, relay: KafkaRelay, position: int) -> None:
    with services.db.transaction() as cur:
        cur.execute(
            "UPDATE projection_tracking SET position = %s WHERE name = %s",
            (position, relay.tracking_name),
        )


def warm_relay(relay: KafkaRelay) -> KafkaProducer:
    """Create the relay's topics and its producer before the clock starts; returns the producer
    (whose settings the raw baseline copies)."""
    relay.ensure_topics()
    producer: KafkaProducer = relay._producer_factory()
    relay._producer = producer
    return producer


def producer_settings(producer: KafkaProducer) -> dict[str, Any]:
    return {k: producer.config[k] for k in PRODUCER_SETTINGS if k in producer.config}


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def count_topic(
    consumer: KafkaConsumer, topics: list[str], partitions: int, expect: int, quiet: float = 3.0
) -> int:
    """How many distinct ``event_id`` headers the topics hold, read back from the beginning
    (stops at ``expect``, or when nothing more came for ``quiet`` seconds). Tansu's end offsets
    undercount (they lag the last batch), so the messages are read instead."""
    assigned = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    consumer.assign(assigned)
    for tp in assigned:
        consumer.seek(tp, 0)
    seen: set[bytes] = set()
    last_progress = time.monotonic()
    while len(seen) < expect and time.monotonic() - last_progress < quiet:
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                seen.update(v for k, v in record.headers if k == "event_id")
                last_progress = time.monotonic()
    consumer.unsubscribe()
    return len(seen)


# -- seeding ------------------------------------------------------------------------------------
class PatientLife:
    """Commands on one patient after another: registration, contact change, two consents."""

    def __init__(self, actor: Actor, numbers: Iterator[int]) -> None:
        self.actor, self.numbers = actor, numbers
        self.patient: UUID | None = None
        self.step = 0
        self.n = 0

    def next_command(self, services: Services) -> Saved:
        actor, step = self.actor, self.step
        if step == 0 or self.patient is None:
            self.n = n = next(self.numbers)
            saved = services.bus.handle(
                RegisterPatient(
                    actor,
                    given_name=GIVEN[n % len(GIVEN)],
                    family_name=f"{FAMILY[n // len(GIVEN) % len(FAMILY)]}-{n}",
                    birth_date=date(1940 + n % 70, 1 + n % 12, 1 + n % 28),
                    email=f"patient.{n}@example.org",
                    phone=f"+44 20 7946 {n % 10_000:04d}",
                )
            )
            self.patient = saved.aggregate_id
        elif step == 1:
            n = self.n
            saved = services.bus.handle(
                ChangeContactDetails(
                    actor,
                    self.patient,
                    f"p{n}.new@example.org",
                    f"+44 161 496 {n % 10_000:04d}",
                    f"{n} High Street, Manchester",
                )
            )
        elif step == 2:
            saved = services.bus.handle(
                RecordConsent(actor, self.patient, ConsentPurpose.TREATMENT)
            )
        else:
            saved = services.bus.handle(
                RecordConsent(actor, self.patient, ConsentPurpose.DATA_SHARING)
            )
        self.step = (step + 1) % EVENTS_PER_PATIENT
        return saved


def seed(services: Services, events: int, threads: int) -> tuple[float, int]:
    """Issue ``events`` commands (one event each) on ``threads`` threads."""
    actor = Actor(uuid4(), Role.DOCTOR, uuid4())
    numbers = itertools.count(1)
    patients = -(-events // EVENTS_PER_PATIENT)
    errors: list[BaseException] = []

    def work(share: int) -> None:
        life = PatientLife(actor, numbers)
        try:
            for _ in range(share * EVENTS_PER_PATIENT):
                life.next_command(services)
        except BaseException as exc:
            errors.append(exc)
            raise

    shares = [patients // threads + (1 if i < patients % threads else 0) for i in range(threads)]
    start = time.perf_counter()
    pool = [threading.Thread(target=work, args=(s,), daemon=True) for s in shares]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"seeding failed: {errors[0]!r}") from errors[0]
    services.recorder.sequence_pending()
    return elapsed, services.recorder.max_notification_id() or 0


# -- throughput ---------------------------------------------------------------------------------
def read_log(services: Services, head: int, page: int) -> Iterator[list[Notification]]:
    position = 0
    while position < head:
        batch = list(
            services.recorder.select_notifications(
                position, page, stop=head, inclusive_of_start=False
            )
        )
        if not batch:
            return
        yield batch
        position = batch[-1].id


def prepare_messages(services: Services, head: int, page: int) -> list[Message]:
    """The relay's messages for the whole log, translated and encoded once (for ``raw``)."""
    messages: list[Message] = []
    for batch in read_log(services, head, page):
        for notification in batch:
            integration = translate(
                services.app.mapper.to_domain_event(notification), services.pseudonyms
            )
            if integration is not None:
                messages.append((integration.topic, *encode(integration)))
    return messages


def stage_costs(settings: Settings, head: int, page: int) -> dict[str, float]:
    """Microseconds per event of each step of the relay's work (one thread, no broker), on the
    relay's own composition: ``keys`` is what fetching subject keys adds to ``decode`` (a cold
    cache, as in the relay process, against a second pass within the cache's lifetime)."""
    totals = dict.fromkeys(("read", "keys", "decode", "translate", "validate", "encode"), 0.0)
    count = 0
    clock = time.perf_counter
    with relay_side(settings) as services:
        mapper, pseudonyms = services.app.mapper, services.pseudonyms
        t = clock()
        for batch in read_log(services, head, page):
            totals["read"] += clock() - t
            for notification in batch:
                t0 = clock()
                event = mapper.to_domain_event(notification)
                t1 = clock()
                integration = translate(event, pseudonyms)
                t2 = clock()
                if integration is not None:
                    validate(integration.event_type, integration.schema_version, integration.body)
                    t3 = clock()
                    encode(integration)
                    t4 = clock()
                    totals["validate"] += t3 - t2
                    totals["encode"] += t4 - t3
                totals["keys"] += t1 - t0
                totals["translate"] += t2 - t1
                count += 1
            t = clock()
        for batch in read_log(services, head, page):  # the keys are cached now
            t0 = clock()
            for notification in batch:
                mapper.to_domain_event(notification)
            totals["decode"] += clock() - t0
    totals["keys"] = max(0.0, totals["keys"] - totals["decode"])
    return {k: round(1e6 * v / max(1, count), 1) for k, v in totals.items()}


def relay_round(
    settings: Settings, prefix: str, head: int, checker: KafkaConsumer, timeout: float = 120.0
) -> tuple[float, dict[str, Any]]:
    """Publish the whole log through a new relay (its own composition, tracking position 0);
    returns (seconds, its producer's settings)."""
    with relay_side(settings) as services:
        relay = make_relay(services, prefix)
        try:
            producer = producer_settings(warm_relay(relay))
            start = time.perf_counter()
            deadline = time.monotonic() + timeout
            while relay.position() < head:
                relay.publish_once()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the relay did not reach {head} in {timeout:.0f}s")
            elapsed = time.perf_counter() - start
        finally:
            relay.close()
    held = count_topic(checker, relay.topics, settings.kafka_partitions, head)
    if held != head:
        raise RuntimeError(f"relay round: {held} messages on {relay.topics}, expected {head}")
    return elapsed, producer


def raw_round(
    bootstrap: str,
    topic: str,
    messages: list[Message],
    settings: dict[str, Any],
    partitions: int,
    checker: KafkaConsumer,
) -> float:
    """Send the prepared messages with a plain producer of the same settings; wait for acks."""
    create_topic(bootstrap, topic, partitions)
    producer = KafkaProducer(bootstrap_servers=bootstrap, client_id="bench-raw", **settings)
    try:
        producer.partitions_for(topic)  # metadata and the producer id, before the clock
        start = time.perf_counter()
        futures = [
            producer.send(topic, key=key, value=value, headers=headers)
            for _, key, value, headers in messages
        ]
        producer.flush(timeout=60)
        for future in futures:
            future.get(timeout=60)
        elapsed = time.perf_counter() - start
    finally:
        producer.close(timeout=5)
    held = count_topic(checker, [topic], partitions, len(messages))
    if held != len(messages):
        raise RuntimeError(f"raw round: {held} messages on {topic}, expected {len(messages)}")
    return elapsed


def profile_relay(settings: Settings, prefix: str, head: int, top: int = 25) -> str:
    """cProfile of the calling thread through one more relay round (the producer's sender
    thread is not in it)."""
    profiler = cProfile.Profile()
    with relay_side(settings) as services:
        relay = make_relay(services, prefix)
        try:
            warm_relay(relay)
            profiler.enable()
            while relay.position() < head:
                relay.publish_once()
            profiler.disable()
        finally:
            relay.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# -- lag ----------------------------------------------------------------------------------------
class LagConsumer:
    """Notes the first arrival time of each ``event_id`` header on the relay's topics."""

    def __init__(self, bootstrap: str, topics: list[str], partitions: int, wait_ms: int) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=wait_ms,
            request_timeout_ms=max(10000, wait_ms + 5000),
        )
        assigned = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        self.consumer.assign(assigned)
        for tp in assigned:
            self.consumer.seek(tp, 0)  # fresh topics: everything from the first message
        self.arrived: dict[str, float] = {}
        self.messages = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self.consumer.poll(timeout_ms=200)  # connect and fetch metadata before the load
        self.thread = threading.Thread(target=self._run, name="lag-consumer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                batches = self.consumer.poll(timeout_ms=100)
                now = time.perf_counter()
                with self.lock:
                    for records in batches.values():
                        for record in records:
                            self.messages += 1
                            for name, value in record.headers:
                                if name == "event_id":
                                    self.arrived.setdefault(value.decode(), now)
        except BaseException as exc:
            self.error = exc

    def count(self, ids: Iterator[str] | list[str]) -> int:
        with self.lock:
            return sum(1 for i in ids if i in self.arrived)

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(5)
        self.consumer.close()


def steady_writers(
    services: Services, rate: float, seconds: float, threads: int
) -> tuple[dict[str, float], list[float], float, list[str]]:
    """Commands on a fixed schedule (command i at start + i / rate), spread over ``threads``
    threads; returns ({event id: time the command returned}, command latencies, the achieved
    rate, errors)."""
    total = max(1, int(rate * seconds))
    actor = Actor(uuid4(), Role.DOCTOR, uuid4())
    numbers = itertools.count(50_000_000)
    slots = itertools.count()
    slot_lock = threading.Lock()
    committed: dict[str, float] = {}
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter() + 0.05

    def work() -> None:
        life = PatientLife(actor, numbers)
        while True:
            with slot_lock:
                i = next(slots)
            if i >= total:
                return
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            try:
                saved = life.next_command(services)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                life.step = 0  # start over with a new patient
                continue
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            if saved.position is not None:
                committed[str(event_id(saved.aggregate_id, saved.version))] = t1

    pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    return committed, latencies, len(latencies) / elapsed if elapsed > 0 else 0.0, errors


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def lag_test(
    services: Services, bootstrap: str, prefix: str, args: argparse.Namespace
) -> dict[str, Any]:
    """Writers on ``services``; the relay on a composition of its own, in a background thread,
    from the head of the log (the seeded events are not part of the test)."""
    head = services.recorder.max_notification_id() or 0
    with relay_side(services.settings) as side:
        relay = make_relay(side, prefix)
        set_position(side, relay, head)
        consumer: LagConsumer | None = None
        thread: threading.Thread | None = None
        try:
            warm_relay(relay)
            consumer = LagConsumer(
                bootstrap, relay.topics, side.settings.kafka_partitions, args.fetch_max_wait_ms
            )
            consumer.start()
            thread = relay.start()
            committed, latencies, achieved, errors = steady_writers(
                services, args.rate, args.lag_seconds, args.lag_threads
            )
            deadline = time.monotonic() + 20.0
            ids = list(committed)
            while consumer.count(ids) < len(ids) and time.monotonic() < deadline:
                if consumer.error is not None:
                    raise RuntimeError("the lag consumer failed") from consumer.error
                time.sleep(0.05)
            drain_wait = 20.0 - max(0.0, deadline - time.monotonic())
        finally:
            relay.stop()
            if thread is not None:
                thread.join(10)
            relay.close()
            if consumer is not None:
                consumer.close()
    with consumer.lock:
        arrived = dict(consumer.arrived)
        messages = consumer.messages
    lags = [1000 * (arrived[i] - t) for i, t in committed.items() if i in arrived]
    return {
        "lag_p50_ms": round(percentile(lags, 50), 1),
        "lag_p99_ms": round(percentile(lags, 99), 1),
        "lag_max_ms": round(max(lags, default=0.0), 1),
        "lag_samples": len(lags),
        "lag_sent": len(committed),
        "lag_missing": len(committed) - len(lags),
        "lag_messages": messages,
        "lag_rate": round(achieved, 1),
        "lag_errors": errors[:3],
        "lag_command_p50_ms": round(1000 * percentile(latencies, 50), 1),
        "lag_command_p99_ms": round(1000 * percentile(latencies, 99), 1),
        "lag_drain_s": round(drain_wait, 2),
    }


# -- main ---------------------------------------------------------------------------------------
def main() -> int:
    args = parse_args()
    run = secrets.token_hex(4)
    base = f"bench{run}."
    with (
        _support.scratch_database() as url,
        tempfile.TemporaryDirectory() as keydir,
        kafka_broker(run) as bootstrap,
    ):
        settings = Settings(
            database_url=url,
            keyring_path=Path(keydir) / "keyring.json",
            projections="external",
            pool_size=max(args.seed_threads, args.lag_threads) + 6,
            kafka_bootstrap=bootstrap,
        )
        services = build(settings)
        checker: KafkaConsumer | None = None
        try:
            partitions = settings.kafka_partitions
            _support.say(
                f"database {url.rsplit('/', 1)[-1]}, broker {bootstrap} ({partitions} partitions)"
                f": seeding {args.events} events with {args.seed_threads} threads"
            )
            seed_seconds, head = seed(services, args.events, args.seed_threads)
            _support.say(
                f"seeded {head} events in {seed_seconds:.1f}s "
                f"({head / seed_seconds:.0f} commands/s)"
            )
            checker = KafkaConsumer(
                bootstrap_servers=bootstrap,
                enable_auto_commit=False,
                fetch_max_wait_ms=100,
                request_timeout_ms=10000,
            )
            probe = make_relay(services, base + "probe.")
            page = probe.batch_size
            probe.close()
            t0 = time.perf_counter()
            messages = prepare_messages(services, head, page)
            prepare_s = time.perf_counter() - t0
            if len(messages) != head:
                raise RuntimeError(f"{len(messages)} messages for {head} events")
            stages = stage_costs(settings, head, page)
            _support.say(
                f"prepared {len(messages)} messages in {prepare_s:.2f}s; relay steps, us/event: "
                + ", ".join(f"{k} {v}" for k, v in stages.items())
            )
            relay_eps: list[float] = []
            raw_eps: list[float] = []
            producer: dict[str, Any] = {}
            for round_no in range(args.rounds):
                # the first round starts with the relay: raw copies its producer's settings
                order = ("relay", "raw") if round_no % 2 == 0 else ("raw", "relay")
                for what in order:
                    prefix = f"{base}{what}{round_no}."
                    if what == "relay":
                        seconds, producer = relay_round(settings, prefix, head, checker)
                        relay_eps.append(head / seconds)
                    else:
                        seconds = raw_round(
                            bootstrap, prefix + "raw", messages, producer, partitions, checker
                        )
                        raw_eps.append(len(messages) / seconds)
                    _support.say(
                        f"round {round_no + 1} {what:5}: {head} events in {seconds:.2f}s = "
                        f"{head / seconds:8.0f} events/s"
                    )
            profile = ""
            if args.profile:
                profile = profile_relay(settings, base + "profile.", head)
            _support.say(
                f"lag test: {args.rate:.0f} commands/s for {args.lag_seconds:.0f}s on "
                f"{args.lag_threads} threads, relay in the background"
            )
            lag = lag_test(services, bootstrap, base + "lag.", args)
        finally:
            if checker is not None:
                checker.close()
            services.close()

    relay_median = _support.median(relay_eps)
    raw_median = _support.median(raw_eps)
    result: dict[str, Any] = {
        "relay_eps": round(relay_median, 1),
        "raw_eps": round(raw_median, 1),
        "ratio": _support.ratio(relay_median, raw_median),
        "lag_p50_ms": lag["lag_p50_ms"],
        "lag_p99_ms": lag["lag_p99_ms"],
        "events": head,
        "rounds": args.rounds,
        "lag_samples": lag["lag_samples"],
        "lag_missing": lag["lag_missing"],
        **{k: v for k, v in lag.items() if k not in ("lag_p50_ms", "lag_p99_ms")},
        "relay_steps_us": stages,
        "producer": producer,
        "seed_seconds": round(seed_seconds, 2),
        "samples": {
            "relay": [round(v, 1) for v in relay_eps],
            "raw": [round(v, 1) for v in raw_eps],
        },
    }
    if profile:
        _support.say("\nprofile of one more relay round (not in the figures):")
        _support.say(profile)
    _support.say("")
    _support.say(
        f"relay {result['relay_eps']:.0f} events/s, raw producer {result['raw_eps']:.0f} "
        f"events/s: ratio {result['ratio']:.3f} (goal >= 0.7); medians of {args.rounds} rounds "
        f"of {head} events"
    )
    _support.say(
        f"per event: relay {1e6 / max(relay_median, 1e-9):.0f} us, raw "
        f"{1e6 / max(raw_median, 1e-9):.0f} us; relay steps without Kafka (one thread, us): "
        + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
    )
    _support.say(
        f"lag at {lag['lag_rate']:.0f} commands/s: p50 {lag['lag_p50_ms']:.0f} ms, "
        f"p99 {lag['lag_p99_ms']:.0f} ms (goal < 1000), max {lag['lag_max_ms']:.0f} ms; "
        f"{lag['lag_samples']}/{lag['lag_sent']} received, {lag['lag_missing']} missing"
    )
    _support.emit(result)
    return 0 if lag["lag_missing"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
