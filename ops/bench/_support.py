"""Shared plumbing of the benchmarks: a throw-away PostgreSQL database, timing, reporting.

The scripts next to this file import it as ``_support`` (Python puts a script's own folder
first on ``sys.path``); they add the repository root themselves for the project's packages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
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
    """What one timed run of N threads achieved."""

    ops: int
    seconds: float
    cpu_seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0


def run_threads(op: Callable[[int], None], threads: int, seconds: float) -> Slot:
    """Call ``op(thread_index)`` in a loop on ``threads`` threads for about ``seconds``.

    Operations still in flight at the deadline are finished and counted; the rate uses the
    time until the last thread stopped. Errors are counted and the first few kept.
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
    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline[0] = start + seconds
    barrier.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    return Slot(sum(counts), elapsed, time.process_time() - cpu0, errors)


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
