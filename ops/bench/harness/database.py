"""A throw-away PostgreSQL database per run, and the project's composition on it."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from adapters.composition import Services, build
from adapters.settings import Settings

ADMIN_URL_ENV = "TELEMED_TEST_POSTGRES"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def with_dbname(url: str, dbname: str) -> str:
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


def compose(
    url: str,
    keyring: Path,
    pool_size: int = 8,
    clock: Callable[[], datetime] | None = None,
    **settings: Any,
) -> Services:
    """The composition root (``build``) on ``url``, projections external (the benchmark decides
    when they run); ``clock``: the time commands act at, for simulated days."""
    return build(
        Settings(
            database_url=url,
            keyring_path=keyring,
            projections="external",
            pool_size=pool_size,
            **settings,
        ),
        clock=clock,
    )


@contextlib.contextmanager
def fresh_services(pool_size: int, **settings: Any) -> Iterator[Services]:
    """``compose`` on a scratch database and a keyring of its own."""
    with scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        services = compose(url, Path(keydir) / "keyring.json", pool_size, **settings)
        try:
            yield services
        finally:
            services.close()


def check_log(services: Services) -> dict[str, object]:
    """After ``sequence_pending()``: positions 1..N without a gap, and the hash chain verifies."""
    services.recorder.sequence_pending()
    with services.db.transaction() as cur:
        cur.execute(
            "SELECT count(*), count(DISTINCT notification_id), "
            "coalesce(max(notification_id), 0) FROM stored_events"
        )
        total, distinct, highest = (int(v) for v in cur.fetchone())
        checked, broken = services.recorder.sequencer.verify(cur)
    return {
        "events": total,
        "skipped_events": (total - distinct) + (highest - distinct),
        "chain_ok": broken is None and checked == total,
    }
