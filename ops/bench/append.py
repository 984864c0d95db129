"""Append throughput: registrations through the command bus, against raw inserts.

Four writers, the same concurrent threads each, in alternating rounds (medians and ratios count):

* ``project``: ``services.bus.handle(RegisterPatient(...))`` (``harness.people``): distinct
  patients, personal fields encrypted under a new subject key, the hash-chain sequencer;
* ``plain``: the project's recorder (``services.recorder.insert_events``) storing the stock
  side's plain events (no encryption, no subject key), the same size as a registration's;
* ``raw``: one ``INSERT`` + ``COMMIT`` of a registration-sized row into
  ``raw_events (LIKE stored_events INCLUDING ALL)`` per transaction (psycopg_pool);
* ``stock``: the eventsourcing library's ``PostgresApplicationRecorder`` (``LOCK TABLE ... IN
  EXCLUSIVE MODE`` per write), one new small aggregate per transaction.

At the highest concurrency each writer also runs as ``--processes`` spawned processes
(``*_16_procs``), as the API is deployed. Each slot reports the client's CPU per operation and
the rest of the machine's (the database, mostly). Afterwards the log must be gapless and verify.

    .venv/bin/python ops/bench/append.py [--seconds 3] [--threads 1,16] [--processes 4]

Keys: ``<writer>_<threads>`` (operations/s), ``ratio_N`` = project/raw, ``plain_vs_raw_N``,
``stock_ratio_N``, ``project_vs_stock_N``. Goals: ``ratio_16 >= 0.4``, ``plain_vs_raw_16 >= 0.8``.
``--profile`` prints a cProfile of registrations. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from harness import gang, measure, people
from harness.database import check_log, compose, scratch_database, server_params
from harness.report import emit, goals, say
from psycopg_pool import ConnectionPool

from adapters.composition import Services

WRITERS = ("project", "plain", "raw", "stock")
GOALS = {"ratio_16": (">=", 0.4), "plain_vs_raw_16": (">=", 0.8)}
Writer = Callable[[int], None]


class BenchNote(Aggregate):
    """The stock and plain sides' aggregate: one creation event with a body of a chosen size."""

    @event("Created")
    def __init__(self, body: str) -> None:
        self.body = body


class StockBench(Application[UUID]):
    """A plain eventsourcing application (the library's own persistence module)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed slot")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--threads", default="1,16", help="concurrency levels, comma separated")
    parser.add_argument("--processes", type=int, default=4, help="worker processes (0: none)")
    parser.add_argument("--profile", action="store_true", help="profile 500 registrations")
    return parser.parse_args()


class Writers:
    """Opens one writer at a time on the database (each with its own connections)."""

    def __init__(self, url: str, keyring: Path, threads: int, first_patient: int) -> None:
        self.url, self.keyring, self.threads = url, keyring, threads
        self.numbers = itertools.count(first_patient)
        self.opened: tuple[str, Writer] | None = None
        self.close: Callable[[], None] = lambda: None

    def open(self, kind: str, state_size: int) -> Writer:
        if self.opened is not None and self.opened[0] == kind:
            return self.opened[1]
        self.close()
        writer = self._open(kind, state_size)
        self.opened = (kind, writer)
        return writer

    def _open(self, kind: str, state_size: int) -> Writer:
        if kind in ("project", "plain"):
            services = compose(self.url, self.keyring, self.threads + 2)
            self.close = services.close
            if kind == "project":
                return project_writer(services, self.numbers)
            return plain_writer(services, state_size)
        if kind == "raw":
            pool: ConnectionPool[Any] = ConnectionPool(
                self.url, min_size=self.threads, max_size=self.threads, open=True
            )
            pool.wait()
            self.close = pool.close
            return raw_writer(pool, state_size)
        app = stock_app(self.url, self.threads)
        self.close = app.close
        body = "x" * body_size(state_size)

        def write(_: int) -> None:
            app.save(BenchNote(body))

        return write


def project_writer(services: Services, numbers: itertools.count[int]) -> Writer:
    actor = people.clinician()

    def write(_: int) -> None:
        services.bus.handle(people.registration(actor, next(numbers)))

    return write


def plain_writer(services: Services, state_size: int) -> Writer:
    mapper, body = StockBench().mapper, "x" * body_size(state_size)  # the stock side's mapper

    def write(_: int) -> None:
        services.recorder.insert_events(
            [mapper.to_stored_event(e) for e in BenchNote(body).collect_events()]
        )

    return write


def raw_writer(pool: ConnectionPool[Any], state_size: int) -> Writer:
    def write(_: int) -> None:
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO raw_events (originator_id, originator_version, topic, state) "
                "VALUES (%s, 1, 'bench', %s)",
                (uuid4(), os.urandom(state_size)),
            )

    return write


def stock_app(url: str, pool_size: int, create: bool = False) -> StockBench:
    p = server_params(url)
    env = {
        "CREATE_TABLE": "y" if create else "n",
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        **{f"POSTGRES_{k.upper()}": str(v) for k, v in vars(p).items()},
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": "0",
    }
    return StockBench(env=env)


def body_size(state_size: int) -> int:
    """The body length that makes a plain event's stored state as long as a registration's."""
    probe = BenchNote("").collect_events()[0]
    return max(1, state_size - len(StockBench().mapper.to_stored_event(probe).state))


def worker(conn: Any, barrier: Any, index: int, url: str, keyring: str, threads: int) -> None:
    """A worker process of the ``*_procs`` rows (spawned: a fresh interpreter)."""
    writers = Writers(url, Path(keyring), threads, (index + 1) * 10_000_000)

    def handle(message: tuple[str, float, int], gate: Callable[[], object]) -> measure.Slot:
        kind, seconds, state_size = message
        writer = writers.open(kind, state_size)
        measure.run_threads(writer, threads, 0.3)  # warm the new connections
        return measure.run_threads(writer, threads, seconds, gate=gate)

    try:
        gang.serve(conn, barrier, handle)
    finally:
        writers.close()


def profile(services: Services) -> None:
    """cProfile of 500 registrations through the bus, one thread (not in the figures)."""
    writer = project_writer(services, itertools.count(90_000_000))
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [writer(0) for _ in range(500)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> int:
    args = parse_args()
    levels = [int(t) for t in args.threads.split(",")]
    top, procs = max(levels), min(args.processes, max(levels))
    modes = [(str(n), n, 0) for n in levels] + ([(f"{top}_procs", top, procs)] if procs else [])
    samples = measure.Samples()
    with scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        keyring = Path(keydir) / "keyring.json"
        services = compose(url, keyring, 4)
        with services.db.transaction() as cur:
            cur.execute("CREATE TABLE raw_events (LIKE stored_events INCLUDING ALL)")
        stock_app(url, 1, create=True).close()  # its table, before the workers start
        writers = Writers(url, keyring, top, 1)
        args_of = [(i, url, str(keyring), top // procs) for i in range(procs)]
        team = gang.WorkerGang(worker, args_of) if procs else None
        try:
            measure.run_threads(writers.open("project", 0), top, 1.0)  # warm-up
            with services.db.transaction(write=False) as cur:
                cur.execute("SELECT avg(length(state))::int FROM stored_events")
                state_size = int(cur.fetchone()[0])
            say(f"{state_size} bytes per event; {args.rounds} rounds x {modes} x {args.seconds}s")
            for round_no in range(args.rounds):
                for row, n, in_procs in modes:
                    for kind in measure.rotate(WRITERS, round_no):
                        if team is not None and in_procs:
                            replies = team.request((kind, args.seconds, state_size))
                            slot = measure.Slot.combine(replies)
                        else:
                            writer = writers.open(kind, state_size)
                            measure.run_threads(writer, n, 0.3)
                            slot = measure.run_threads(writer, n, args.seconds)
                        say(f"round {round_no + 1} " + samples.add(f"{kind}_{row}", slot))
            if args.profile:
                profile(services)
        finally:
            if team is not None:
                team.close()
            writers.close()
        store = check_log(services)
        services.close()

    result: dict[str, Any] = samples.medians()
    for row, _, _ in modes:
        project, plain = result[f"project_{row}"], result[f"plain_{row}"]
        raw, stock = result[f"raw_{row}"], result[f"stock_{row}"]
        result[f"ratio_{row}"] = measure.ratio(project, raw)
        result[f"plain_vs_raw_{row}"] = measure.ratio(plain, raw)
        result[f"stock_ratio_{row}"] = measure.ratio(stock, raw)
        result[f"project_vs_stock_{row}"] = measure.ratio(project, stock)
        say(
            f"{row:>9} threads: project/raw {result[f'ratio_{row}']:.3f}, plain/raw "
            f"{result[f'plain_vs_raw_{row}']:.3f}, stock/raw {result[f'stock_ratio_{row}']:.3f}"
        )
    result.update(store, state_bytes=state_size, processes=procs, rounds=args.rounds)
    result.update(samples.details())
    say(f"event store: {store}")
    if top >= 16:
        result["goals"] = goals(result, GOALS)
    emit(result)
    return 0 if store["skipped_events"] == 0 and store["chain_ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
