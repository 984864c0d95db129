"""Hash chains over append-only tables, and the sequencer that extends them in commit order.

Rows are inserted without a position. The sequencer (one at a time: an advisory lock on
PostgreSQL, the write lock on SQLite) takes the rows that have become visible, numbers them after
the chain head and links each to the previous one with a keyed hash. A position is therefore
handed out only to a committed row, after every lower position, so a reader that follows
positions can never pass a row that commits later.

Writers seal each row they insert (a keyed MAC of its content); the sequencer numbers only rows
whose seal verifies, so a row inserted behind the application's back is never chained.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.db import Cursor, Dialect

log = logging.getLogger("telemed.audit")

GENESIS = b"\x00" * 32


@dataclass(frozen=True)
class Head:
    """A position of a chain and the hash that links everything up to it."""

    position: int
    hash: bytes


START = Head(0, GENESIS)
#: the reason of a break where the chain reaches an anchor's position with another hash
DIFFERS_FROM_ANCHOR = "the log differs from the checkpoint"


def link(key: bytes, previous: bytes, position: int, parts: Sequence[bytes]) -> bytes:
    return _digest(hmac.new(key, previous + position.to_bytes(8, "big"), hashlib.sha256), parts)


def _digest(mac: hmac.HMAC, parts: Sequence[bytes]) -> bytes:
    # one update of the length-prefixed parts: the same digest as one update per piece
    mac.update(b"".join(b for part in parts for b in (len(part).to_bytes(4, "big"), part)))
    return mac.digest()


@dataclass(frozen=True)
class ChainSpec:
    """How one table is chained: its row identity, content, position column and order."""

    name: str
    table: str
    lock_id: int
    key_columns: tuple[str, ...]
    content_columns: tuple[str, ...]
    position_column: str
    insert_order: dict[Dialect, str]
    to_parts: Callable[[Sequence[Any]], Sequence[bytes]]
    pg_key_types: tuple[str, ...]


@dataclass(frozen=True)
class Break:
    """Where a chain stops verifying."""

    chain: str
    position: int
    reason: str


class ChainSequencer:
    def __init__(self, spec: ChainSpec, key: bytes, dialect: Dialect) -> None:
        self.spec, self.key, self.dialect = spec, key, dialect
        seal_key = hmac.new(key, b"telemed/row-seal", hashlib.sha256).digest()
        self._seal_mac = hmac.new(seal_key, digestmod=hashlib.sha256)  # keyed once, then copied

    def seal(self, content: Sequence[Any]) -> bytes:
        """The seal a writer stores with a row (``content`` in the spec's content columns)."""
        return _digest(self._seal_mac.copy(), self.spec.to_parts(content))

    def is_sealed(self, content: Sequence[Any], stored: Any) -> bool:
        """Whether a row's content carries the seal the application wrote with it."""
        return self._sealed(content, stored)

    def _sealed(self, content: Sequence[Any], stored: Any) -> bool:
        try:
            expected = self.seal(content)
        except (TypeError, ValueError):
            return False
        return stored is not None and hmac.compare_digest(expected, bytes(stored))

    def unsealed(self, cur: Cursor, *, limit: int = 10_000) -> int:
        """How many unnumbered rows carry no valid seal (they were not written by us)."""
        s = self.spec
        cur.execute(
            f"SELECT {', '.join(s.content_columns)}, row_seal FROM {s.table} "
            f"WHERE {s.position_column} IS NULL LIMIT %s",
            (limit,),
        )
        return sum(1 for row in cur.fetchall() if not self._sealed(row[:-1], row[-1]))

    def sequence(self, cur: Cursor, *, limit: int = 10_000) -> int:
        """Number and link the visible unsequenced rows; returns the last position."""
        return self.sequence_rows(cur, limit=limit)[0]

    def sequence_rows(
        self, cur: Cursor, *, limit: int = 10_000
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """Like ``sequence``; also returns ``(*row key, position)`` of each row it numbered."""
        s = self.spec
        if self.dialect == "postgres":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (s.lock_id,))
        cur.execute("SELECT last_position, last_hash FROM chain_heads WHERE chain = %s", (s.name,))
        head = cur.fetchone()
        position, previous = (int(head[0]), bytes(head[1])) if head else (0, GENESIS)
        columns = ", ".join((*s.key_columns, *s.content_columns, "row_seal"))
        cur.execute(
            f"SELECT {columns} FROM {s.table} WHERE {s.position_column} IS NULL "
            f"ORDER BY {s.insert_order[self.dialect]} LIMIT %s",
            (limit,),
        )
        rows = cur.fetchall()
        nkeys = len(s.key_columns)
        updates: list[tuple[Any, ...]] = []
        for row in rows:
            if not self._sealed(row[nkeys:-1], row[-1]):
                continue  # inserted behind our back: never numbered, reported by verify
            position += 1
            previous = link(self.key, previous, position, s.to_parts(row[nkeys:-1]))
            updates.append((*row[:nkeys], position, previous))
        if len(updates) < len(rows):
            log.error(
                "%s: %d row(s) without a valid seal left unnumbered",
                s.name,
                len(rows) - len(updates),
            )
        if not updates:
            return position, []
        self._write(cur, updates)
        if head:
            cur.execute(
                "UPDATE chain_heads SET last_position = %s, last_hash = %s WHERE chain = %s",
                (position, previous, s.name),
            )
        else:
            cur.execute(
                "INSERT INTO chain_heads (chain, last_position, last_hash) VALUES (%s, %s, %s)",
                (s.name, position, previous),
            )
        return position, [u[:-1] for u in updates]

    def _write(self, cur: Cursor, updates: list[tuple[Any, ...]]) -> None:
        s = self.spec
        match = " AND ".join(f"t.{c} = v.{c}" for c in s.key_columns)
        if self.dialect == "postgres":
            columns = list(zip(*updates, strict=True))
            types = (*s.pg_key_types, "bigint", "bytea")
            names = (*s.key_columns, "p", "h")
            unnest = ", ".join(f"%s::{t}[]" for t in types)
            cur.execute(
                f"UPDATE {s.table} AS t SET {s.position_column} = v.p, chain_hash = v.h "
                f"FROM unnest({unnest}) AS v({', '.join(names)}) WHERE {match}",
                [list(c) for c in columns],
            )
        else:
            where = " AND ".join(f"{c} = %s" for c in s.key_columns)
            cur.executemany(
                f"UPDATE {s.table} SET {s.position_column} = %s, chain_hash = %s WHERE {where}",
                [(u[-2], u[-1], *u[:-2]) for u in updates],
            )

    def walk(
        self, cur: Cursor, start: Head = START, *, stop: int | None = None, batch: int = 5_000
    ) -> tuple[Head, Break | None]:
        """Recompute the chain from ``start`` over the rows after it, up to ``stop`` if given.

        Returns the last head that verified and the first break (None if every row did).
        """
        s = self.spec
        head, expected = start, start.position + 1
        columns = ", ".join((s.position_column, "chain_hash", *s.content_columns))
        while stop is None or expected <= stop:
            limit = batch if stop is None else min(batch, stop - expected + 1)
            cur.execute(
                f"SELECT {columns} FROM {s.table} WHERE {s.position_column} >= %s "
                f"ORDER BY {s.position_column} LIMIT %s",
                (expected, limit),
            )
            rows = cur.fetchall()
            for row in rows:
                position, stored = int(row[0]), bytes(row[1]) if row[1] is not None else b""
                if position != expected:
                    return head, Break(s.name, expected, f"position {expected} is missing")
                try:
                    parts = s.to_parts(row[2:])
                except (TypeError, ValueError):
                    return head, Break(s.name, position, "row is not readable")
                computed = link(self.key, head.hash, position, parts)
                if not hmac.compare_digest(computed, stored):
                    return head, Break(s.name, position, "content or order does not match")
                head, expected = Head(position, computed), expected + 1
            if len(rows) < limit:
                break
        return head, None

    def verify(
        self, cur: Cursor, *, anchor: Head | None = None, batch: int = 5_000
    ) -> tuple[int, Break | None]:
        """Recompute the chain from the start. Returns (rows checked, first break or None).

        An ``anchor`` is a head known from outside the database (a signed checkpoint): the
        chain must reach its position with its hash, so what it covers cannot be truncated,
        rewound or rewritten even by whoever can also rewrite ``chain_heads``.
        """
        s = self.spec
        head, broken = self.walk(cur, stop=anchor.position if anchor else None, batch=batch)
        if broken is None and anchor is not None:
            if head.position < anchor.position:
                missing = head.position + 1
                broken = Break(
                    s.name,
                    missing,
                    f"position {missing} is missing; a checkpoint covers up to {anchor.position}",
                )
            elif not hmac.compare_digest(head.hash, anchor.hash):
                broken = Break(s.name, anchor.position, DIFFERS_FROM_ANCHOR)
            else:
                head, broken = self.walk(cur, head, batch=batch)
        if broken is not None:
            return head.position, broken
        cur.execute("SELECT last_position, last_hash FROM chain_heads WHERE chain = %s", (s.name,))
        row = cur.fetchone()
        if row is not None and int(row[0]) != head.position:
            return head.position, Break(
                s.name, head.position + 1, "rows after this position were removed"
            )
        if row is not None and not hmac.compare_digest(bytes(row[1]), head.hash):
            return head.position, Break(s.name, head.position, "chain head does not match")
        if waiting := self.unsealed(cur):
            reason = f"{waiting} row(s) without a valid seal (not written by the application) wait"
            return head.position, Break(s.name, head.position + 1, reason)
        return head.position, None
