"""One small database handle over SQLite (embedded default) and PostgreSQL (production).

SQL is written once with ``%s`` placeholders; for SQLite they become ``?``. Transactions are
explicit: ``with db.transaction() as cur: ...`` commits on success and rolls back on error.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

Dialect = Literal["sqlite", "postgres"]

sqlite3.register_adapter(UUID, str)
sqlite3.register_adapter(datetime, lambda d: d.isoformat())
sqlite3.register_adapter(date, lambda d: d.isoformat())


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    @property
    def rowcount(self) -> int: ...


class IntegrityConflict(Exception):
    """A unique or primary-key constraint refused a row (someone else wrote it first)."""


class _SQLiteCursor:
    _placeholder = re.compile(r"%s")

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self._cur.execute(self._placeholder.sub("?", sql), tuple(params))
        except sqlite3.IntegrityError as exc:
            raise IntegrityConflict(str(exc)) from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        try:
            return self._cur.executemany(self._placeholder.sub("?", sql), [tuple(r) for r in rows])
        except sqlite3.IntegrityError as exc:
            raise IntegrityConflict(str(exc)) from exc

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class _PostgresCursor:
    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self._cur.execute(sql.encode(), tuple(params) or None, prepare=None)
        except psycopg.errors.UniqueViolation as exc:
            raise IntegrityConflict(str(exc)) from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        try:
            return self._cur.executemany(sql.encode(), [tuple(r) for r in rows])
        except psycopg.errors.UniqueViolation as exc:
            raise IntegrityConflict(str(exc)) from exc

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class Database:
    """A connection source for one database, SQLite file or PostgreSQL URL."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.dialect: Dialect
        if url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgres"
            self._pool: ConnectionPool[psycopg.Connection[Any]] | None = ConnectionPool(
                url, min_size=1, max_size=pool_size, open=True, kwargs={"autocommit": False}
            )
            self._sqlite_path: str | None = None
        else:
            self.dialect = "sqlite"
            path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._sqlite_path = path
            self._pool = None
            self._local = threading.local()
            self._write_lock = threading.RLock()
            self._all: list[sqlite3.Connection] = []

    # -- connections -------------------------------------------------------------------------
    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self._sqlite_path is not None
            conn = sqlite3.connect(
                self._sqlite_path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True, pipeline: bool = False) -> Iterator[Cursor]:
        """A transaction; on SQLite a write transaction takes the database's write lock first.
        With ``pipeline`` (PostgreSQL), statements are sent without waiting for each result."""
        if self._pool is not None:
            with self._pool.connection() as pg, pg.transaction():
                if pipeline:
                    with pg.pipeline():
                        yield _PostgresCursor(pg.cursor())
                else:
                    yield _PostgresCursor(pg.cursor())
            return
        lite = self._sqlite()
        if write:
            with self._write_lock:
                yield from self._sqlite_tx(lite, "BEGIN IMMEDIATE")
        else:
            yield from self._sqlite_tx(lite, "BEGIN")

    @staticmethod
    def _sqlite_tx(conn: sqlite3.Connection, begin: str) -> Iterator[Cursor]:
        if conn.in_transaction:  # nested use on the same thread joins the open transaction
            yield _SQLiteCursor(conn.cursor())
            return
        conn.execute(begin)
        try:
            yield _SQLiteCursor(conn.cursor())
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A raw PostgreSQL connection (for advisory locks held across transactions, LISTEN)."""
        assert self._pool is not None, "only for PostgreSQL"
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        else:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._local = threading.local()


def as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
