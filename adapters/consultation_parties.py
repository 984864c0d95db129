"""Whose consultation it is, for authorization: the patient, the doctor and the organisation it
was booked for. Written by a row writer attached to the booking command, so it commits with the
consultation's first event; read by routes that act on a consultation, which load nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from adapters.db import Cursor, Database, as_uuid

RowWriter = Callable[[Cursor], None]


@dataclass(frozen=True)
class Parties:
    consultation_id: UUID
    patient_id: UUID
    doctor_id: UUID
    organisation_id: UUID | None


class ConsultationParties:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        consultation_id: UUID,
        patient_id: UUID,
        doctor_id: UUID,
        organisation_id: UUID | None,
    ) -> RowWriter:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO consultation_parties (consultation_id, patient_id, doctor_id, "
                "organisation_id) VALUES (%s, %s, %s, %s)",
                (consultation_id, patient_id, doctor_id, organisation_id),
            )

        return write

    def reassign(self, consultation_id: UUID, doctor_id: UUID) -> RowWriter:
        """The doctor of the on-call pool who took an escalated consultation is its doctor now."""

        def write(cur: Cursor) -> None:
            cur.execute(
                "UPDATE consultation_parties SET doctor_id = %s WHERE consultation_id = %s",
                (doctor_id, consultation_id),
            )

        return write

    def of(self, consultation_id: UUID) -> Parties | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT patient_id, doctor_id, organisation_id FROM consultation_parties "
                "WHERE consultation_id = %s",
                (consultation_id,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        organisation_id = as_uuid(row[2]) if row[2] is not None else None
        return Parties(consultation_id, as_uuid(row[0]), as_uuid(row[1]), organisation_id)

    def consultations_of(self, patient_id: UUID) -> list[UUID]:
        return self._where("patient_id", patient_id)

    def consultations_with(self, doctor_id: UUID) -> list[UUID]:
        return self._where("doctor_id", doctor_id)

    def _where(self, column: str, party_id: UUID) -> list[UUID]:
        assert column in ("patient_id", "doctor_id")
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT consultation_id FROM consultation_parties WHERE {column} = %s "
                "ORDER BY consultation_id",
                (party_id,),
            )
            return [as_uuid(r[0]) for r in cur.fetchall()]
