"""Pending record invitations in SQL (SQLite and PostgreSQL): one row per record with an
invitation pending."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from adapters.db import as_uuid
from adapters.readmodels.runner import SqlView


class SqlPendingInvitations(SqlView):
    tables = ("pending_record_invitations",)

    def issued(self, patient_id: UUID) -> None:
        self.cur.execute(
            "INSERT INTO pending_record_invitations (patient_id) VALUES (%s) "
            "ON CONFLICT (patient_id) DO NOTHING",
            (patient_id,),
        )

    def closed(self, patient_id: UUID) -> None:
        self.cur.execute(
            "DELETE FROM pending_record_invitations WHERE patient_id = %s", (patient_id,)
        )

    def pending(self, patient_ids: Iterable[UUID]) -> frozenset[UUID]:
        wanted = list(patient_ids)
        if not wanted:
            return frozenset()
        marks = ", ".join("%s" for _ in wanted)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT patient_id FROM pending_record_invitations WHERE patient_id IN ({marks})",
                wanted,
            )
            return frozenset(as_uuid(r[0]) for r in cur.fetchall())
