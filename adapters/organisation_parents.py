"""Which organisation sits above which, for authorization: written by a row writer attached to the
founding command, so it commits with the organisation's first event; read by routes that authorize
an action on an organisation (walking up to those above it), which load nothing."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from adapters.db import Cursor, Database, as_uuid

RowWriter = Callable[[Cursor], None]

MAX_LEVELS = 20


class OrganisationParents:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, organisation_id: UUID, parent_id: UUID | None) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO organisation_parents (organisation_id, parent_id) VALUES (%s, %s) "
                "ON CONFLICT (organisation_id) DO NOTHING",
                (organisation_id, parent_id),
            )

        return write

    def chain(self, organisation_id: UUID | None) -> tuple[UUID, ...]:
        """The organisation and those above it, nearest first (at most 20 levels); an
        organisation the index does not know ends the chain at itself."""
        chain: list[UUID] = []
        current = organisation_id
        with self.db.transaction(write=False) as cur:
            while current is not None and len(chain) < MAX_LEVELS and current not in chain:
                chain.append(current)
                cur.execute(
                    "SELECT parent_id FROM organisation_parents WHERE organisation_id = %s",
                    (current,),
                )
                row = cur.fetchone()
                current = as_uuid(row[0]) if row is not None and row[0] is not None else None
        return tuple(chain)
