"""Which records exist and the organisation each was registered with, for authorization: written
by a row writer attached to the registration, so it commits with the record's first event; read
by routes that act on a record, which load nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from adapters.db import Cursor, Database, as_uuid

RowWriter = Callable[[Cursor], None]


@dataclass(frozen=True)
class Registration:
    patient_id: UUID
    organisation_id: UUID | None


class PatientRegistrations:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, patient_id: UUID, organisation_id: UUID | None) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO patient_registrations (patient_id, organisation_id) VALUES (%s, %s) "
                "ON CONFLICT (patient_id) DO NOTHING",
                (patient_id, organisation_id),
            )

        return write

    def of(self, patient_id: UUID) -> Registration | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT organisation_id FROM patient_registrations WHERE patient_id = %s",
                (patient_id,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return Registration(patient_id, as_uuid(row[0]) if row[0] is not None else None)
