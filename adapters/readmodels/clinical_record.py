"""The clinical record in SQL (SQLite and PostgreSQL). Each item's clinical content and each of
its parts (a lab result) are sealed with the patient's own key and opened at query time, so a
destroyed key answers null; in clear only ids, sections, states, times and counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.personal import Erased
from projections.clinical_record import Entry, StreamRef

_ENTRY = (
    "entry_id, patient_id, section, status, at, ends_at, updated_at, position, organisation_id, "
    "consultation_id, doctor_id, signer_id, signed_at, tally, taken, sealed"
)


class SqlClinicalRecord(SqlView):
    """One statement per step: no step reads the rows it changes into Python."""

    tables = ("clinical_streams", "clinical_entries", "clinical_parts")

    def __init__(self, db: Database, keys: SubjectKeys) -> None:
        super().__init__(db)
        self.keys = keys

    # -- projection steps ----------------------------------------------------------------------
    def stream(self, patient_id: UUID, ref: StreamRef, position: int) -> None:
        self.cur.execute(
            "INSERT INTO clinical_streams (aggregate_id, patient_id, aggregate_type, position) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (patient_id, aggregate_id) DO NOTHING",
            (ref.aggregate_id, patient_id, ref.aggregate_type, position),
        )

    def stream_of_consultation(self, consultation_id: UUID, ref: StreamRef, pos: int) -> None:
        self.cur.execute(
            "INSERT INTO clinical_streams (aggregate_id, patient_id, aggregate_type, position) "
            "SELECT %s, patient_id, %s, %s FROM clinical_streams WHERE aggregate_id = %s "
            "ON CONFLICT (patient_id, aggregate_id) DO NOTHING",
            (ref.aggregate_id, ref.aggregate_type, pos, consultation_id),
        )

    def entry(self, entry: Entry) -> None:
        sealed = self._seal(entry.patient_id, entry.entry_id, "content", entry.content)
        self.cur.execute(
            f"INSERT INTO clinical_entries ({_ENTRY}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (entry_id) DO UPDATE SET status = excluded.status, at = excluded.at, "
            "updated_at = excluded.updated_at, position = excluded.position, "
            "sealed = excluded.sealed",
            (
                entry.entry_id,
                entry.patient_id,
                entry.section,
                entry.status,
                entry.at,
                entry.ends_at,
                entry.updated_at,
                entry.position,
                entry.organisation_id,
                entry.consultation_id,
                entry.doctor_id,
                entry.signer_id,
                entry.signed_at,
                entry.tally,
                int(entry.taken),
                sealed,
            ),
        )

    def status(self, entry_id: UUID, status: str, at: datetime, position: int) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET status = %s, updated_at = %s, position = %s "
            "WHERE entry_id = %s",
            (status, at, position, entry_id),
        )

    def rescheduled(self, entry_id: UUID, start: datetime, end: datetime, pos: int) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET status = %s, at = %s, ends_at = %s, position = %s "
            "WHERE entry_id = %s",
            ("booked", start, end, pos, entry_id),
        )

    def taken(self, entry_id: UUID, doctor_id: UUID, at: datetime, position: int) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET doctor_id = %s, taken = 1, updated_at = %s, "
            "position = %s, status = CASE WHEN status = 'asked' THEN 'taken' ELSE status END "
            "WHERE entry_id = %s",
            (doctor_id, at, position, entry_id),
        )

    def escalated(self, entry_id: UUID, at: datetime, position: int) -> None:
        """An asynchronous consultation nobody answered goes back to the pool."""
        self.cur.execute(
            "UPDATE clinical_entries SET updated_at = %s, position = %s, "
            "taken = CASE WHEN status = 'taken' THEN 0 ELSE taken END, "
            "status = CASE WHEN status = 'taken' THEN 'asked' ELSE status END "
            "WHERE entry_id = %s",
            (at, position, entry_id),
        )

    def reopened(self, entry_id: UUID, at: datetime, position: int) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET updated_at = %s, position = %s, "
            "status = CASE WHEN taken = 1 THEN 'taken' ELSE 'asked' END WHERE entry_id = %s",
            (at, position, entry_id),
        )

    def content(self, entry_id: UUID, patient_id: UUID, content: Any, position: int) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET sealed = %s, position = %s WHERE entry_id = %s",
            (self._seal(patient_id, entry_id, "content", content), position, entry_id),
        )

    def signed(self, entry_id: UUID, signer_id: UUID, at: datetime, position: int) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET status = %s, signer_id = %s, signed_at = %s, "
            "updated_at = %s, position = %s WHERE entry_id = %s",
            ("signed", signer_id, at, at, position, entry_id),
        )

    def counted(self, entry_id: UUID, at: datetime, position: int) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET tally = tally + 1, updated_at = %s, position = %s "
            "WHERE entry_id = %s",
            (at, position, entry_id),
        )

    def dispensed(
        self, entry_id: UUID, fill: int, status: str, at: datetime, position: int
    ) -> None:
        self.cur.execute(
            "UPDATE clinical_entries SET tally = %s, status = %s, updated_at = %s, "
            "position = %s WHERE entry_id = %s",
            (fill, status, at, position, entry_id),
        )

    def part(self, entry_id: UUID, patient_id: UUID, part: str, value: Any) -> None:
        self.cur.execute(
            "INSERT INTO clinical_parts (entry_id, part, patient_id, sealed) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (entry_id, part) DO UPDATE SET "
            "sealed = excluded.sealed",
            (entry_id, part, patient_id, self._seal(patient_id, entry_id, part, value)),
        )

    def _seal(self, patient_id: UUID, entry_id: UUID, part: str, data: Any) -> bytes | None:
        if data is None or _erased(data):
            return None  # the patient was erased: nothing to keep
        key = self.keys.get(patient_id)
        if key is None:
            return None
        return seal(key, orjson.dumps(data), _context(patient_id, entry_id, part))

    # -- queries -------------------------------------------------------------------------------
    def of_patient(self, patient_id: UUID) -> list[Entry]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_ENTRY} FROM clinical_entries WHERE patient_id = %s "
                "ORDER BY at DESC, entry_id",
                (patient_id,),
            )
            rows = cur.fetchall()
            cur.execute(
                "SELECT entry_id, part, sealed FROM clinical_parts WHERE patient_id = %s "
                "ORDER BY entry_id, part",
                (patient_id,),
            )
            found = cur.fetchall()
        key = self.keys.get(patient_id) if rows else None
        parts: dict[UUID, dict[str, Any]] = {}
        for entry_id, part, sealed in found:
            ident = as_uuid(entry_id)
            parts.setdefault(ident, {})[str(part)] = _open(key, patient_id, ident, part, sealed)
        return [_entry(row, key, parts) for row in rows]

    def streams_of(self, patient_id: UUID) -> list[StreamRef]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT aggregate_id, aggregate_type FROM clinical_streams WHERE patient_id = %s "
                "ORDER BY position, aggregate_id",
                (patient_id,),
            )
            rows = cur.fetchall()
        return [StreamRef(as_uuid(r[0]), str(r[1])) for r in rows]

    def owners_of(self, aggregate_id: UUID) -> list[UUID]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT patient_id FROM clinical_streams WHERE aggregate_id = %s "
                "ORDER BY patient_id",
                (aggregate_id,),
            )
            rows = cur.fetchall()
        return [as_uuid(r[0]) for r in rows]

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored (sealed), in a stable order (tests look for clear text)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {_ENTRY} FROM clinical_entries ORDER BY entry_id")
            found = list(cur.fetchall())
            cur.execute("SELECT * FROM clinical_parts ORDER BY entry_id, part")
            found += list(cur.fetchall())
            cur.execute("SELECT * FROM clinical_streams ORDER BY patient_id, aggregate_id")
            return found + list(cur.fetchall())


def _entry(row: Any, key: bytes | None, parts: dict[UUID, dict[str, Any]]) -> Entry:
    entry_id, patient_id = as_uuid(row[0]), as_uuid(row[1])
    content = _open(key, patient_id, entry_id, "content", row[15])
    return Entry(
        entry_id=entry_id,
        patient_id=patient_id,
        section=str(row[2]),
        status=str(row[3]),
        at=as_datetime(row[4]),
        ends_at=_maybe(row[5], as_datetime),
        updated_at=as_datetime(row[6]),
        position=int(row[7]),
        organisation_id=_maybe(row[8], as_uuid),
        consultation_id=_maybe(row[9], as_uuid),
        doctor_id=_maybe(row[10], as_uuid),
        signer_id=_maybe(row[11], as_uuid),
        signed_at=_maybe(row[12], as_datetime),
        tally=int(row[13]),
        taken=bool(row[14]),
        content=content if isinstance(content, dict) else None,
        parts=parts.get(entry_id, {}),
    )


def _maybe(value: Any, convert: Any) -> Any:
    return None if value is None else convert(value)


def _erased(data: Any) -> bool:
    if isinstance(data, Erased):
        return True
    values = data.values() if isinstance(data, dict) else []
    return any(isinstance(v, Erased) for v in values)


def _context(patient_id: UUID, entry_id: UUID, part: str) -> bytes:
    return field_context(patient_id, f"clinical-record.{entry_id}.{part}")


def _open(key: bytes | None, patient_id: UUID, entry_id: UUID, part: str, sealed: Any) -> Any:
    """The sealed value, or None once the key is destroyed (erasure)."""
    if key is None or not sealed:
        return None
    return orjson.loads(open_sealed(key, bytes(sealed), _context(patient_id, entry_id, part)))
