"""Append throughput: patient registrations through the command bus, against raw inserts.

Three writers side by side, with the same number of concurrent threads, measured in alternating
rounds in one run (the machine is shared and noisy, so medians and ratios are what count):

* ``project``: ``services.bus.handle(RegisterPatient(...))``, distinct patients with their
  personal fields filled (encrypted per patient, a new subject key, the hash-chain sequencer);
* ``raw``: one ``INSERT`` + ``COMMIT`` per transaction of a row of the same shape and size into
  ``raw_events (LIKE stored_events INCLUDING ALL)``, connections from a psycopg_pool pool;
* ``stock``: the eventsourcing library's ``PostgresApplicationRecorder`` (it takes
  ``LOCK TABLE ... IN EXCLUSIVE MODE`` per write), one new small aggregate per transaction.

Afterwards the event store is checked: notification ids exactly 1..N (no gap, no NULL) after
``sequence_pending()``, and the audit hash chain verifies.

    .venv/bin/python ops/bench/append.py [--seconds 3] [--rounds 3] [--threads 1,16]

The last line of output is one JSON object with the figures (operations per second).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import argparse
import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import _support
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg_pool import ConnectionPool

from adapters.settings import Settings
from api.composition import Services, build
from commands.patients import RegisterPatient
from domain.actor import Actor, Role

SYSTEMS = ("project", "raw", "stock")
REGISTERED_TOPIC = "domain.patient:Patient.Registered"
GIVEN = ("Alice", "Bernard", "Chiara", "Dmitri", "Esther", "Farid", "Grace", "Hiroshi")
FAMILY = ("Okafor", "Lindqvist", "Moreau", "Nakamura", "Oliveira", "Petrov", "Quinn", "Rossi")


class BenchNote(Aggregate):
    """The stock side's aggregate: one creation event carrying a body of a chosen size."""

    @event("Created")
    def __init__(self, body: str) -> None:
        self.body = body


class StockBench(Application[UUID]):
    """A plain eventsourcing application on the library's PostgreSQL persistence module."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed slot")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--threads", default="1,16", help="concurrency levels, comma separated")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per writer")
    args = parser.parse_args()
    args.levels = [int(t) for t in str(args.threads).split(",") if t.strip()]
    return args


class ProjectWriter:
    """Registers distinct patients through the command bus."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.organisation_id = uuid4()
        self.doctor_id = uuid4()
        self._numbers = itertools.count(1)
        self.ok = 0  # commands that returned (each one appended exactly one event)
        self._ok_lock = threading.Lock()

    def __call__(self, thread: int) -> None:
        n = next(self._numbers)
        actor = Actor(self.doctor_id, Role.DOCTOR, self.organisation_id)
        self.services.bus.handle(
            RegisterPatient(
                actor,
                given_name=GIVEN[n % len(GIVEN)],
                family_name=f"{FAMILY[n // len(GIVEN) % len(FAMILY)]}-{n}",
                birth_date=date(1940 + n % 70, 1 + n % 12, 1 + n % 28),
                email=f"patient.{n}@example.org",
                phone=f"+44 20 7946 {n % 10_000:04d}",
            )
        )
        with self._ok_lock:
            self.ok += 1


class RawWriter:
    """One INSERT + COMMIT per transaction of a registration-sized row into raw_events."""

    def __init__(self, pool: ConnectionPool[Any], state_size: int) -> None:
        self.pool, self.state_size = pool, state_size

    def __call__(self, thread: int) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO raw_events (originator_id, originator_version, topic, state) "
                "VALUES (%s, %s, %s, %s)",
                (uuid4(), 1, REGISTERED_TOPIC, os.urandom(self.state_size)),
            )
            conn.commit()


class StockWriter:
    """Saves one new aggregate per transaction through the library's PostgreSQL recorder."""

    def __init__(self, app: StockBench, body_size: int) -> None:
        self.app, self.body = app, "x" * body_size

    def __call__(self, thread: int) -> None:
        self.app.save(BenchNote(self.body))


def create_raw_table(services: Services) -> None:
    with services.db.transaction() as cur:
        cur.execute("CREATE TABLE raw_events (LIKE stored_events INCLUDING ALL)")
        # LIKE copies the default nextval() of stored_events' sequence: give raw its own
        cur.execute("CREATE SEQUENCE raw_events_seq_seq OWNED BY raw_events.seq")
        cur.execute(
            "ALTER TABLE raw_events ALTER COLUMN seq SET DEFAULT nextval('raw_events_seq_seq')"
        )


def stock_app(url: str, pool_size: int) -> StockBench:
    p = _support.server_params(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": p.dbname,
        "POSTGRES_HOST": p.host,
        "POSTGRES_PORT": str(p.port),
        "POSTGRES_USER": p.user,
        "POSTGRES_PASSWORD": p.password,
        "POSTGRES_CREATE_TABLE": "y",
        "CREATE_TABLE": "y",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
    }
    return StockBench(env=env)


def stock_body_size(app: StockBench, target_state: int) -> int:
    """The body length that makes the stock event's stored state about ``target_state``."""
    probe = BenchNote("")
    overhead = len(app.mapper.to_stored_event(probe.collect_events()[0]).state)
    return max(1, target_state - overhead)


def check_store(services: Services) -> dict[str, Any]:
    """Number any rows left unsequenced, then check positions 1..N and the hash chain."""
    services.recorder.sequence_pending()
    with services.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT count(*), count(notification_id), count(DISTINCT notification_id), "
            "coalesce(min(notification_id), 0), coalesce(max(notification_id), 0) "
            "FROM stored_events"
        )
        total, numbered, distinct, lowest, highest = (int(v) for v in cur.fetchone())
    nulls = total - numbered
    gaps = highest - distinct  # ids missing below the highest one (including below the lowest)
    skipped = nulls + gaps
    with services.db.transaction() as cur:
        checked, broken = services.recorder.sequencer.verify(cur)
    return {
        "events": total,
        "unsequenced": nulls,
        "gaps": gaps,
        "min_id": lowest,
        "max_id": highest,
        "skipped_events": skipped,
        "chain_checked": checked,
        "chain_break": None if broken is None else f"{broken.position}: {broken.reason}",
        "chain_ok": broken is None and checked == total and (total == 0 or lowest == 1),
    }


def main() -> int:
    args = parse_args()
    levels: list[int] = args.levels
    top = max(levels)
    with _support.scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        settings = Settings(
            database_url=url,
            keyring_path=Path(keydir) / "keyring.json",
            projections="external",
            pool_size=top + 4,
        )
        services = build(settings)
        raw_pool: ConnectionPool[Any] | None = None
        stock: StockBench | None = None
        try:
            create_raw_table(services)
            project = ProjectWriter(services)
            _support.say(f"database {url.rsplit('/', 1)[-1]}; warming up ({args.warmup:.1f}s each)")
            _support.run_threads(project, top, args.warmup)
            with services.db.transaction(write=False) as cur:
                cur.execute(
                    "SELECT avg(length(state))::int FROM stored_events WHERE topic = %s",
                    (REGISTERED_TOPIC,),
                )
                state_size = int(cur.fetchone()[0] or 1300)
            raw_pool = ConnectionPool(
                url, min_size=top, max_size=top, open=True, kwargs={"autocommit": False}
            )
            raw_pool.wait()
            stock = stock_app(url, top)
            body = stock_body_size(stock, state_size)
            writers: dict[str, Callable[[int], None]] = {
                "project": project,
                "raw": RawWriter(raw_pool, state_size),
                "stock": StockWriter(stock, body),
            }
            _support.run_threads(writers["raw"], top, args.warmup)
            _support.run_threads(writers["stock"], top, args.warmup)
            with services.db.transaction(write=False) as cur:
                cur.execute("SELECT avg(length(state))::int FROM stockbench_events")
                stock_state = int(cur.fetchone()[0] or 0)
            _support.say(
                f"state bytes per event: project {state_size}, raw {state_size}, "
                f"stock {stock_state}; {args.rounds} rounds x {levels} threads x "
                f"{args.seconds:.1f}s"
            )

            rates: dict[str, list[float]] = {f"{s}_{n}": [] for n in levels for s in SYSTEMS}
            cpu: dict[str, list[float]] = {key: [] for key in rates}
            errors: dict[str, int] = dict.fromkeys(rates, 0)
            first_errors: list[str] = []
            for round_no in range(args.rounds):
                for n in levels:
                    shift = round_no % len(SYSTEMS)
                    for system in SYSTEMS[shift:] + SYSTEMS[:shift]:
                        key = f"{system}_{n}"
                        slot = _support.run_threads(writers[system], n, args.seconds)
                        rates[key].append(slot.rate)
                        cpu[key].append(1000 * slot.cpu_seconds / slot.ops if slot.ops else 0)
                        errors[key] += len(slot.errors)
                        first_errors.extend(slot.errors[: max(0, 5 - len(first_errors))])
                        _support.say(
                            f"round {round_no + 1} {key:>10}: {slot.rate:8.1f}/s  "
                            f"(client CPU {cpu[key][-1]:.2f} ms/op"
                            + (f", {len(slot.errors)} errors" if slot.errors else "")
                            + ")"
                        )
            time.sleep(0.2)
            store = check_store(services)
        finally:
            if stock is not None:
                stock.close()
            if raw_pool is not None:
                raw_pool.close()
            services.close()

    result: dict[str, Any] = {}
    for key, values in rates.items():
        result[key] = round(_support.median(values), 1)
    for n in levels:
        result[f"ratio_{n}"] = _support.ratio(result[f"project_{n}"], result[f"raw_{n}"])
        result[f"stock_ratio_{n}"] = _support.ratio(result[f"stock_{n}"], result[f"raw_{n}"])
        result[f"project_vs_stock_{n}"] = _support.ratio(
            result[f"project_{n}"], result[f"stock_{n}"]
        )
    result.update(
        skipped_events=store["skipped_events"],
        chain_ok=store["chain_ok"],
        events=store["events"],
        commands_ok=project.ok,
        chain_checked=store["chain_checked"],
        chain_break=store["chain_break"],
        errors=errors,
        first_errors=first_errors,
        client_cpu_ms_per_op={k: round(_support.median(v), 3) for k, v in cpu.items()},
        samples={k: [round(v, 1) for v in vs] for k, vs in rates.items()},
        state_bytes={"project": state_size, "raw": state_size, "stock": stock_state},
        seconds=args.seconds,
        rounds=args.rounds,
        cpus=os.cpu_count(),
    )

    _support.say("")
    _support.say(
        f"{'threads':>7} {'project/s':>10} {'raw/s':>10} {'stock/s':>10} "
        f"{'proj/raw':>9} {'stock/raw':>9} {'proj/stock':>10}"
    )
    for n in levels:
        _support.say(
            f"{n:>7} {result[f'project_{n}']:>10.1f} {result[f'raw_{n}']:>10.1f} "
            f"{result[f'stock_{n}']:>10.1f} {result[f'ratio_{n}']:>9.3f} "
            f"{result[f'stock_ratio_{n}']:>9.3f} {result[f'project_vs_stock_{n}']:>10.3f}"
        )
    _support.say(
        f"event store: {store['events']} events, ids {store['min_id']}..{store['max_id']}, "
        f"{store['unsequenced']} unsequenced, {store['gaps']} gaps; "
        f"chain {'verifies' if store['chain_ok'] else 'BROKEN: ' + str(store['chain_break'])} "
        f"({store['chain_checked']} links); commands ok {project.ok}"
    )
    _support.emit(result)
    return 0 if store["skipped_events"] == 0 and store["chain_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
