"""Applies the SQL files under ``migrations/<dialect>/`` in order, once each."""

from __future__ import annotations

from importlib import resources

from adapters.db import Database

_LOCK_ID = 7_450_001


def migrate(db: Database) -> list[str]:
    """Bring the schema up to date; safe to run from several processes at once."""
    folder = resources.files("migrations").joinpath(db.dialect)
    scripts = sorted((f.name, f.read_text()) for f in folder.iterdir() if f.name.endswith(".sql"))
    applied: list[str] = []
    with db.transaction() as cur:
        if db.dialect == "postgres":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY)")
        cur.execute("SELECT name FROM schema_migrations")
        done = {row[0] for row in cur.fetchall()}
        for name, sql in scripts:
            if name in done:
                continue
            for statement in _statements(sql):
                cur.execute(statement)
            cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
            applied.append(name)
    return applied


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
