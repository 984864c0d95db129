"""Append throughput: patient registrations through the command bus, against raw inserts.

Three writers side by side, with the same number of concurrent threads, measured in alternating
rounds in one run (the machine is shared and noisy, so medians and ratios are what count):

* ``project``: ``services.bus.handle(RegisterPatient(...))``, distinct patients with their
  personal fields filled (encrypted per patient, a new subject key, the hash-chain sequencer);
* ``raw``: one ``INSERT`` + ``COMMIT`` per transaction of a row of the same shape and size into
  ``raw_events (LIKE stored_events INCLUDING ALL)``, connections from a psycopg_pool pool;
* ``stock``: the eventsourcing library's ``PostgresApplicationRecorder`` (it takes
  ``LOCK TABLE ... IN EXCLUSIVE MODE`` per write), one new small aggregate per transaction.

At the highest concurrency (16 by default) each writer is also measured with its threads spread
over ``--processes`` worker processes (``*_16_procs``: 16 threads as 4 processes x 4 threads by
default), which is how the API is deployed. The workers are spawned (not forked), each builds
its own ``Services`` on the same database and keyring file (or its own raw pool or stock
application); they start each timed slot together at a barrier and their counts are summed over
the common window. These rounds are interleaved with the single-process ones.

Each slot also reports the client's CPU time per operation (all of its processes) and, from
/proc/stat, how busy the whole machine was and its other busy CPU time per operation (the
database server, mostly): on a small machine the multi-process rows hit the cores' limit.

Afterwards the event store is checked: notification ids exactly 1..N (no gap, no NULL) after
``sequence_pending()``, and the audit hash chain verifies (the rows of all processes).

    .venv/bin/python ops/bench/append.py [--seconds 3] [--rounds 3] [--threads 1,16]
        [--processes 4]

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
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import _support
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg_pool import ConnectionPool

from adapters.composition import Services, build
from adapters.settings import Settings
from commands.patients import RegisterPatient
from domain.actor import Actor, Role

SYSTEMS = ("project", "raw", "stock")
REGISTERED_TOPIC = "domain.patient:Patient.Registered"
#: untimed warm-up of a worker process's writer after (re)opening it, before each timed slot
REWARM_SECONDS = 0.5
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
    parser.add_argument(
        "--processes",
        type=int,
        default=4,
        help="worker processes for the highest concurrency's multi-process rows (0: none)",
    )
    args = parser.parse_args()
    args.levels = [int(t) for t in str(args.threads).split(",") if t.strip()]
    return args


class ProjectWriter:
    """Registers distinct patients through the command bus."""

    def __init__(self, services: Services, numbers: Iterator[int] | None = None) -> None:
        self.services = services
        self.organisation_id = uuid4()
        self.doctor_id = uuid4()
        self._numbers = numbers if numbers is not None else itertools.count(1)
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


def stock_app(url: str, pool_size: int, *, create_table: bool = True) -> StockBench:
    p = _support.server_params(url)
    create = "y" if create_table else "n"
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": p.dbname,
        "POSTGRES_HOST": p.host,
        "POSTGRES_PORT": str(p.port),
        "POSTGRES_USER": p.user,
        "POSTGRES_PASSWORD": p.password,
        "POSTGRES_CREATE_TABLE": create,
        "CREATE_TABLE": create,
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
    }
    return StockBench(env=env)


def stock_body_size(app: StockBench, target_state: int) -> int:
    """The body length that makes the stock event's stored state about ``target_state``."""
    probe = BenchNote("")
    overhead = len(app.mapper.to_stored_event(probe.collect_events()[0]).state)
    return max(1, target_state - overhead)


class ProcessWorker:
    """One worker process of the multi-process rows: holds one writer at a time.

    Only the writer of the requested system is open (its pool sized to this process's
    threads), so that the workers' connections stay within the server's limit next to the
    main process's pools. Each request re-warms a newly opened writer, then runs the timed
    slot from the gang's barrier.
    """

    def __init__(self, index: int, url: str, keyring_path: str, threads: int) -> None:
        self.url, self.keyring_path, self.threads = url, Path(keyring_path), threads
        # patient numbers of their own, apart from the main process's and the other workers'
        self.numbers = itertools.count((index + 1) * 10_000_000)
        self.system: str | None = None
        self.writer: Callable[[int], None] | None = None
        self._close: Callable[[], None] | None = None

    def open(self, system: str, state_size: int, body_size: int) -> Callable[[int], None]:
        if self.writer is not None and self.system == system:
            return self.writer
        self.close()
        writer: Callable[[int], None]
        if system == "project":
            services = build(
                Settings(
                    database_url=self.url,
                    keyring_path=self.keyring_path,
                    projections="external",
                    pool_size=self.threads + 2,
                )
            )
            self._close = services.close
            writer = ProjectWriter(services, self.numbers)
        elif system == "raw":
            pool: ConnectionPool[Any] = ConnectionPool(
                self.url,
                min_size=self.threads,
                max_size=self.threads,
                open=True,
                kwargs={"autocommit": False},
            )
            self._close = pool.close
            pool.wait()
            writer = RawWriter(pool, state_size)
        elif system == "stock":
            app = stock_app(self.url, self.threads, create_table=False)
            self._close = app.close
            writer = StockWriter(app, body_size)
        else:
            raise ValueError(f"unknown system {system!r}")
        self.system, self.writer = system, writer
        return writer

    def handle(self, message: Any, gate: Callable[[], object]) -> dict[str, Any]:
        system, seconds, state_size, body_size = message
        fresh = self.writer is None or self.system != system
        writer = self.open(system, state_size, body_size)
        ok_before = writer.ok if isinstance(writer, ProjectWriter) else 0
        if fresh:
            _support.run_threads(writer, self.threads, REWARM_SECONDS)
        slot = _support.run_threads(writer, self.threads, seconds, gate=gate)
        ok = writer.ok - ok_before if isinstance(writer, ProjectWriter) else 0
        return {"slot": slot, "commands_ok": ok}

    def close(self) -> None:
        close, self._close, self.writer, self.system = self._close, None, None, None
        if close is not None:
            close()


def process_worker(
    conn: Any, barrier: Any, index: int, url: str, keyring_path: str, threads: int
) -> None:
    """Entry point of a worker process (spawned: runs in a fresh interpreter)."""
    worker = ProcessWorker(index, url, keyring_path, threads)
    try:
        _support.serve(conn, barrier, worker.handle)
    finally:
        worker.close()


def spread(total: int, parts: int) -> list[int]:
    """``total`` threads over ``parts`` processes, as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


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
    procs = max(0, min(args.processes, top))
    per_process = spread(top, procs) if procs else []
    with _support.scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        settings = Settings(
            database_url=url,
            keyring_path=Path(keydir) / "keyring.json",
            projections="external",
            pool_size=top + 4,
        )
        services = build(settings)  # creates the keyring file the workers load
        raw_pool: ConnectionPool[Any] | None = None
        stock: StockBench | None = None
        gang: _support.WorkerGang | None = None
        worker_ok = 0
        try:
            create_raw_table(services)
            if procs:  # they start up while this process warms up
                gang = _support.WorkerGang(
                    process_worker,
                    [
                        (i, url, str(settings.keyring_path), threads)
                        for i, threads in enumerate(per_process)
                    ],
                )
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
            if gang is not None:
                gang.wait_ready()
            _support.say(
                f"state bytes per event: project {state_size}, raw {state_size}, "
                f"stock {stock_state}; {args.rounds} rounds x {levels} threads"
                + (f" + {top} threads in {procs} processes {per_process}" if procs else "")
                + f" x {args.seconds:.1f}s"
            )

            # (concurrency, processes): 0 processes = threads of this process
            modes = [(n, 0) for n in levels] + ([(top, procs)] if procs else [])

            def mode_key(system: str, n: int, in_procs: int) -> str:
                return f"{system}_{n}" + ("_procs" if in_procs else "")

            rates: dict[str, list[float]] = {
                mode_key(s, n, p): [] for n, p in modes for s in SYSTEMS
            }
            cpu: dict[str, list[float]] = {key: [] for key in rates}
            host_busy: dict[str, list[float]] = {key: [] for key in rates}
            other_cpu: dict[str, list[float]] = {key: [] for key in rates}
            errors: dict[str, int] = dict.fromkeys(rates, 0)
            first_errors: list[str] = []
            for round_no in range(args.rounds):
                for n, in_procs in modes:
                    shift = round_no % len(SYSTEMS)
                    for system in SYSTEMS[shift:] + SYSTEMS[:shift]:
                        key = mode_key(system, n, in_procs)
                        if gang is not None and in_procs:
                            replies = gang.request((system, args.seconds, state_size, body))
                            slot = _support.Slot.combine([r["slot"] for r in replies])
                            worker_ok += sum(int(r["commands_ok"]) for r in replies)
                        else:
                            slot = _support.run_threads(writers[system], n, args.seconds)
                        rates[key].append(slot.rate)
                        cpu[key].append(1000 * slot.cpu_seconds / slot.ops if slot.ops else 0)
                        errors[key] += len(slot.errors)
                        first_errors.extend(slot.errors[: max(0, 5 - len(first_errors))])
                        other = slot.other_cpu_ms_per_op()
                        if slot.host_busy is not None and other is not None:
                            host_busy[key].append(slot.host_busy)
                            other_cpu[key].append(other)
                        _support.say(
                            f"round {round_no + 1} {key:>16}: {slot.rate:8.1f}/s  "
                            f"(client CPU {cpu[key][-1]:.2f} ms/op"
                            + (
                                f", other {other:.2f} ms/op, machine {slot.host_busy:.0%} busy"
                                if slot.host_busy is not None and other is not None
                                else ""
                            )
                            + (f", {len(slot.errors)} errors" if slot.errors else "")
                            + ")"
                        )
            if gang is not None:
                gang.close()
                gang = None
            time.sleep(0.2)
            store = check_store(services)
        finally:
            if gang is not None:
                gang.close()
            if stock is not None:
                stock.close()
            if raw_pool is not None:
                raw_pool.close()
            services.close()

    result: dict[str, Any] = {}
    for key, values in rates.items():
        result[key] = round(_support.median(values), 1)
    rows = [f"{n}" for n in levels] + ([f"{top}_procs"] if procs else [])
    for row in rows:
        result[f"ratio_{row}"] = _support.ratio(result[f"project_{row}"], result[f"raw_{row}"])
        result[f"stock_ratio_{row}"] = _support.ratio(result[f"stock_{row}"], result[f"raw_{row}"])
        result[f"project_vs_stock_{row}"] = _support.ratio(
            result[f"project_{row}"], result[f"stock_{row}"]
        )
    if procs:
        result["processes"] = procs
    commands_ok = project.ok + worker_ok
    result.update(
        skipped_events=store["skipped_events"],
        chain_ok=store["chain_ok"],
        events=store["events"],
        commands_ok=commands_ok,
        chain_checked=store["chain_checked"],
        chain_break=store["chain_break"],
        errors=errors,
        first_errors=first_errors,
        client_cpu_ms_per_op={k: round(_support.median(v), 3) for k, v in cpu.items()},
        # the rest of the machine's busy CPU time per operation (the database server, mostly)
        other_cpu_ms_per_op={k: round(_support.median(v), 3) for k, v in other_cpu.items() if v},
        host_cpu_busy={k: round(_support.median(v), 3) for k, v in host_busy.items() if v},
        samples={k: [round(v, 1) for v in vs] for k, vs in rates.items()},
        state_bytes={"project": state_size, "raw": state_size, "stock": stock_state},
        seconds=args.seconds,
        rounds=args.rounds,
        cpus=os.cpu_count(),
    )

    _support.say("")
    _support.say(
        f"{'threads':>12} {'project/s':>10} {'raw/s':>10} {'stock/s':>10} "
        f"{'proj/raw':>9} {'stock/raw':>9} {'proj/stock':>10}"
    )
    for row in rows:
        label = f"{top} in {procs} proc" if row.endswith("_procs") else row
        _support.say(
            f"{label:>12} {result[f'project_{row}']:>10.1f} {result[f'raw_{row}']:>10.1f} "
            f"{result[f'stock_{row}']:>10.1f} {result[f'ratio_{row}']:>9.3f} "
            f"{result[f'stock_ratio_{row}']:>9.3f} {result[f'project_vs_stock_{row}']:>10.3f}"
        )
    if procs:
        _support.say(
            f"{top} threads, {procs} processes vs 1 process: "
            + ", ".join(
                f"{s} x{_support.ratio(result[f'{s}_{top}_procs'], result[f'{s}_{top}']):.2f}"
                for s in SYSTEMS
            )
        )
    _support.say(
        f"event store: {store['events']} events, ids {store['min_id']}..{store['max_id']}, "
        f"{store['unsequenced']} unsequenced, {store['gaps']} gaps; "
        f"chain {'verifies' if store['chain_ok'] else 'BROKEN: ' + str(store['chain_break'])} "
        f"({store['chain_checked']} links); commands ok {commands_ok}"
        + (f" ({worker_ok} in worker processes)" if procs else "")
    )
    _support.emit(result)
    return 0 if store["skipped_events"] == 0 and store["chain_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
