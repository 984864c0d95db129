"""The delegation grants in force, for authorization: written with the grant's events, read on
every request that acts on a patient's behalf."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from adapters.db import Cursor, Database, as_uuid
from domain.delegation import Grant, Scope

RowWriter = Callable[[Cursor], None]


class GrantIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, grant: Grant) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO delegation_grants (grant_id, patient_id, grantee_id, scopes, "
                "starts_at, ends_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    grant.id,
                    grant.patient_id,
                    grant.grantee_id,
                    "," + ",".join(sorted(s.value for s in grant.scopes)) + ",",
                    grant.starts_at,
                    grant.ends_at,
                ),
            )

        return write

    def revoke(self, grant_id: UUID) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE delegation_grants SET revoked_at = %s WHERE grant_id = %s",
                (datetime.now(UTC), grant_id),
            )

        return write

    def in_force_for(self, party_ids: list[UUID]) -> list[UUID]:
        """Grants not revoked that these parties gave (as the patient) or hold (as grantee)."""
        if not party_ids:
            return []
        marks = ", ".join("%s" for _ in party_ids)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT grant_id FROM delegation_grants WHERE revoked_at IS NULL AND "
                f"(patient_id IN ({marks}) OR grantee_id IN ({marks})) ORDER BY grant_id",
                [*party_ids, *party_ids],
            )
            return [as_uuid(r[0]) for r in cur.fetchall()]

    def allows(self, grantee_id: UUID, patient_id: UUID, scope: Scope) -> bool:
        now = datetime.now(UTC)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT 1 FROM delegation_grants WHERE grantee_id = %s AND patient_id = %s "
                "AND scopes LIKE %s AND revoked_at IS NULL AND starts_at <= %s "
                "AND (ends_at IS NULL OR ends_at > %s) LIMIT 1",
                (grantee_id, patient_id, f"%,{scope.value},%", now, now),
            )
            return cur.fetchone() is not None
