"""A throw-away PostgreSQL database per run, and the project's composition on it."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
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


@contextlib.contextmanager
def fresh_services(pool_size: int, **settings: object) -> Iterator[Services]:
    """The composition root (``build``) on a scratch database and a keyring of its own, with the
    projections external (the benchmark decides when they run)."""
    with scratch_database() as url, tempfile.TemporaryDirectory() as keydir:
        services = build(
            Settings(
                database_url=url,
                keyring_path=Path(keydir) / "keyring.json",
                projections="external",
                pool_size=pool_size,
                **settings,  # type: ignore[arg-type]
            )
        )
        try:
            yield services
        finally:
            services.close()
