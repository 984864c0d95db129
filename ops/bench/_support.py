"""Shared plumbing of the benchmarks: a throw-away PostgreSQL database, timing, reporting.

The scripts next to this file import it as ``_support`` (Python puts a script's own folder
first on ``sys.path``); they add the repository root themselves for the project's packages.

``WorkerGang`` runs timed slots in several worker processes at once. They are started with the
``spawn`` method (a fresh interpreter each, never a fork of a process that already holds threads
or open connections), so each builds its own connections; ``sys.path`` is passed on to them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import signal
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier as ProcessBarrier
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import psycopg
from psycopg import sql

ADMIN_URL_ENV = "TELEMED_TEST_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def with_dbname(url: str, dbname: str) -> str:
    """The same server URL, pointing at another database (keeps user, host, port, query)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@dataclass(frozen=True)
class ServerParams:
    host: str
    port: int
    user: str
    password: str
    dbname: str


def server_params(url: str) -> ServerParams:
    parts = urlsplit(url)
    return ServerParams(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or "",
        dbname=parts.path.lstrip("/") or "postgres",
    )


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def scratch_database(prefix: str = "telemed_bench_") -> Iterator[str]:
    """Create a fresh database, yield its URL, drop it afterwards (also on error or SIGTERM)."""
    admin = admin_url()
    name = prefix + secrets.token_hex(4)
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_dbname(admin, name)
    finally:
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        except Exception as exc:  # report, but do not hide the original error
            print(f"warning: could not drop database {name}: {exc}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Slot:
    """What one timed run of N threads (in one process, or in several together) achieved."""

    ops: int
    seconds: float
    cpu_seconds: float
    errors: list[str] = field(default_factory=list)
    #: ``time.monotonic()`` when the clock started and when the last thread stopped; the clock
    #: is system-wide (CLOCK_MONOTONIC on Linux), so the stamps of processes are comparable
    started: float = 0.0
    ended: float = 0.0
    #: share of the whole machine's CPU time (all cores, all processes) that was busy during
    #: the slot, from /proc/stat; None where that is not available
    host_busy: float | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def other_cpu_ms_per_op(self) -> float | None:
        """Busy CPU time of the machine per operation beyond the client's own (the database
        server, mostly; also anything else running on the machine)."""
        if self.host_busy is None or not self.ops:
            return None
        cores = os.cpu_count() or 1
        other = self.host_busy * cores * self.seconds - self.cpu_seconds
        return 1000 * max(0.0, other) / self.ops

    @classmethod
    def combine(cls, slots: Sequence[Slot]) -> Slot:
        """Slots run together in several processes: all operations over the whole window
        (first start to last stop) and the CPU time of all processes."""
        if not slots:
            return cls(0, 0.0, 0.0)
        started = min(s.started for s in slots)
        ended = max(s.ended for s in slots)
        busy = [s.host_busy for s in slots if s.host_busy is not None]
        return cls(
            ops=sum(s.ops for s in slots),
            seconds=ended - started,
            cpu_seconds=sum(s.cpu_seconds for s in slots),
            errors=[e for s in slots for e in s.errors],
            started=started,
            ended=ended,
            host_busy=sum(busy) / len(busy) if busy else None,
        )


def host_cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat (Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 8:
        return None
    # user nice system idle iowait irq softirq steal; guest time is counted in user. Time
    # stolen by the hypervisor counts as capacity that was not available, not as busy.
    values = [int(v) for v in fields[1:9]] + [0] * (9 - len(fields))
    busy = values[0] + values[1] + values[2] + values[5] + values[6]
    return busy, sum(values)


def host_busy_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def run_threads(
    op: Callable[[int], None],
    threads: int,
    seconds: float,
    gate: Callable[[], object] | None = None,
) -> Slot:
    """Call ``op(thread_index)`` in a loop on ``threads`` threads for about ``seconds``.

    Operations still in flight at the deadline are finished and counted; the rate uses the
    time until the last thread stopped. Errors are counted and the first few kept. ``gate``,
    if given, is called once the threads are ready and before the clock starts (a barrier
    shared with other processes, so that they all measure the same window).
    """
    barrier = threading.Barrier(threads + 1)
    counts = [0] * threads
    errors: list[str] = []
    errors_lock = threading.Lock()
    deadline = [0.0]

    def worker(index: int) -> None:
        barrier.wait()
        done = 0
        while time.perf_counter() < deadline[0]:
            try:
                op(index)
            except Exception as exc:
                with errors_lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.01)
                continue
            done += 1
        counts[index] = done

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    if gate is not None:
        try:
            gate()
        except BaseException:
            barrier.wait()  # the deadline is still 0: the threads stop at once
            for thread in pool:
                thread.join()
            raise
    cpu0 = time.process_time()
    host0 = host_cpu_ticks()
    started = time.monotonic()
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    busy = host_busy_share(host0, host_cpu_ticks())
    return Slot(sum(counts), elapsed, cpu, errors, started, started + elapsed, busy)


#: what a worker process does with one request: ``handle(message, gate)``; ``gate`` waits at the
#: barrier shared by all workers of the gang (pass it on to ``run_threads``)
Handler = Callable[[Any, Callable[[], object]], Any]


class WorkerGang:
    """Worker processes that each serve requests, all of them the same one at the same time.

    ``target(conn, barrier, *args[i])`` runs in worker ``i`` (a module-level function, as it is
    pickled by name); it sets itself up and then calls ``serve(conn, barrier, handler)``.
    ``request(message)`` sends a message to every worker and returns their replies in order;
    a worker's failure raises ``RuntimeError`` here (after all replies are in).
    """

    def __init__(
        self,
        target: Callable[..., None],
        args: Sequence[tuple[Any, ...]],
        *,
        barrier_timeout: float = 60.0,
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier: ProcessBarrier = ctx.Barrier(len(args), timeout=barrier_timeout)
        self._conns: list[Connection] = []
        self._procs: list[BaseProcess] = []
        self._ready = False
        try:
            for index, extra in enumerate(args):
                ours, theirs = ctx.Pipe()
                proc = ctx.Process(
                    target=target,
                    args=(theirs, self.barrier, *extra),
                    name=f"bench-worker-{index}",
                    daemon=True,
                )
                proc.start()
                theirs.close()
                self._conns.append(ours)
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise

    def __len__(self) -> int:
        return len(self._procs)

    def wait_ready(self, timeout: float = 120.0) -> None:
        if not self._ready:
            self._gather(timeout)
            self._ready = True

    def request(self, message: Any, timeout: float = 300.0) -> list[Any]:
        self.wait_ready()
        for conn in self._conns:
            conn.send(message)
        return self._gather(timeout)

    def _gather(self, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        replies: list[Any] = []
        failures: list[str] = []
        for conn, proc in zip(self._conns, self._procs, strict=True):
            while not conn.poll(0.2):
                if not proc.is_alive():
                    raise RuntimeError(f"{proc.name} exited (code {proc.exitcode})")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{proc.name} did not reply within {timeout:.0f}s")
            try:
                kind, payload = conn.recv()
            except EOFError:
                raise RuntimeError(f"{proc.name} exited (code {proc.exitcode})") from None
            if kind == "error":
                failures.append(f"{proc.name}: {payload}")
            else:
                replies.append(payload)
        if failures:
            raise RuntimeError("worker process failed:\n" + "\n".join(failures))
        return replies

    def close(self, timeout: float = 20.0) -> None:
        """Ask the workers to finish (they close their connections), then reap them."""
        for conn in self._conns:
            with contextlib.suppress(OSError, ValueError):
                conn.send(None)
        deadline = time.monotonic() + timeout
        for proc in self._procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []


def serve(conn: Connection, barrier: ProcessBarrier, handle: Handler) -> None:
    """The worker side of ``WorkerGang``: reply ready, then handle requests until ``None``.

    A failed request breaks the barrier, so that the other workers do not wait for this one.
    """
    conn.send(("ok", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        try:
            reply = handle(message, barrier.wait)
        except Exception:
            barrier.abort()
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", reply))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


def emit(result: dict[str, Any]) -> None:
    """The machine-readable summary: exactly one JSON object, the last line of stdout."""
    sys.stdout.flush()
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


def say(message: str) -> None:
    print(message, flush=True)
