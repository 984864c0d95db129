"""The access log: every read of a patient's personal data, hash-chained like the events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.db import Database, as_datetime, as_uuid
from adapters.eventstore.chain import Break, ChainSequencer, ChainSpec
from domain.actor import Actor


def _access_parts(row: Sequence[Any]) -> list[bytes]:
    at, actor_id, role, org, behalf, subject, what, purpose = row
    return [
        as_datetime(at).astimezone(UTC).isoformat().encode(),  # whatever the session's zone
        as_uuid(actor_id).bytes,
        str(role).encode(),
        as_uuid(org).bytes if org else b"",
        as_uuid(behalf).bytes if behalf else b"",
        as_uuid(subject).bytes,
        str(what).encode(),
        str(purpose).encode(),
    ]


ACCESS_CHAIN = ChainSpec(
    name="access_log",
    table="access_log",
    lock_id=7_450_020,
    key_columns=("seq",),
    content_columns=(
        "at",
        "actor_id",
        "role",
        "organisation_id",
        "on_behalf_of",
        "subject_id",
        "what",
        "purpose",
    ),
    position_column="position",
    insert_order={"postgres": "seq", "sqlite": "seq"},
    to_parts=_access_parts,
    pg_key_types=("bigint",),
)


@dataclass(frozen=True)
class AccessRecord:
    position: int | None
    at: datetime
    actor_id: UUID
    role: str
    organisation_id: UUID | None
    on_behalf_of: UUID | None
    subject_id: UUID
    what: str
    purpose: str


class AccessLog:
    def __init__(self, db: Database, chain_key: bytes) -> None:
        self.db = db
        self.sequencer = ChainSequencer(ACCESS_CHAIN, chain_key, db.dialect)

    def record(self, actor: Actor, subjects: Sequence[UUID], what: str, purpose: str) -> None:
        """Append one access record per subject, durably, before the data is handed out."""
        if not subjects:
            return
        at = datetime.now(UTC)
        rows = [
            (
                at,
                actor.actor_id,
                actor.role.value,
                actor.organisation_id,
                actor.on_behalf_of,
                subject,
                what,
                purpose,
            )
            for subject in subjects
        ]
        with self.db.transaction() as cur:
            cur.executemany(
                "INSERT INTO access_log (at, actor_id, role, organisation_id, on_behalf_of, "
                "subject_id, what, purpose, row_seal) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(*row, self.sequencer.seal(row)) for row in rows],
            )
            if self.db.dialect == "sqlite":
                self.sequencer.sequence(cur)

    def sequence_pending(self) -> int:
        with self.db.transaction() as cur:
            return self.sequencer.sequence(cur)

    def for_subject(self, subject_id: UUID, *, limit: int = 500) -> list[AccessRecord]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT position, at, actor_id, role, organisation_id, on_behalf_of, subject_id, "
                "what, purpose FROM access_log WHERE subject_id = %s ORDER BY seq LIMIT %s",
                (subject_id, limit),
            )
            rows = cur.fetchall()
        return [
            AccessRecord(
                position=int(r[0]) if r[0] is not None else None,
                at=as_datetime(r[1]),
                actor_id=as_uuid(r[2]),
                role=str(r[3]),
                organisation_id=as_uuid(r[4]) if r[4] else None,
                on_behalf_of=as_uuid(r[5]) if r[5] else None,
                subject_id=as_uuid(r[6]),
                what=str(r[7]),
                purpose=str(r[8]),
            )
            for r in rows
        ]

    def verify(self) -> tuple[int, Break | None]:
        self.sequence_pending()
        with self.db.transaction(write=False) as cur:
            return self.sequencer.verify(cur)
