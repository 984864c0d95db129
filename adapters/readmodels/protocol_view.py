"""The protocol view in SQL (SQLite and PostgreSQL): one row per protocol and one per addendum.
Content and addendum text are sealed with the patient's own key (nothing clinical in clear) and
opened at query time, so a destroyed key answers null."""

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
from projections.protocol_view import AddendumRow, ProtocolRow

_COLUMNS = (
    "protocol_id, consultation_id, patient_id, doctor_id, organisation_id, version, status, "
    "sealed_content, signer_id, signed_at, key_id"
)


class SqlProtocolView(SqlView):
    tables = ("protocol_view", "protocol_addenda")

    def __init__(self, db: Database, keys: SubjectKeys) -> None:
        super().__init__(db)
        self.keys = keys

    # -- projection steps ----------------------------------------------------------------------
    def drafted(self, row: ProtocolRow) -> None:
        self.cur.execute(
            f"INSERT INTO protocol_view ({_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                row.protocol_id,
                row.consultation_id,
                row.patient_id,
                row.doctor_id,
                row.organisation_id,
                row.version,
                row.status,
                self._seal(row.patient_id, "protocol.content", row.content),
                None,
                None,
                None,
            ),
        )

    def revised(
        self, protocol_id: UUID, patient_id: UUID, version: int, content: dict[str, Any]
    ) -> None:
        self.cur.execute(
            "UPDATE protocol_view SET sealed_content = %s, version = %s WHERE protocol_id = %s",
            (self._seal(patient_id, "protocol.content", content), version, protocol_id),
        )

    def signed(
        self, protocol_id: UUID, version: int, signer_id: UUID, signed_at: datetime, key_id: str
    ) -> None:
        self.cur.execute(
            "UPDATE protocol_view SET status = %s, signer_id = %s, signed_at = %s, key_id = %s, "
            "version = %s WHERE protocol_id = %s",
            ("signed", signer_id, signed_at, key_id, version, protocol_id),
        )

    def addendum(self, protocol_id: UUID, patient_id: UUID, version: int, row: AddendumRow) -> None:
        self.cur.execute(
            "INSERT INTO protocol_addenda (addendum_id, protocol_id, patient_id, signer_id, "
            "signed_at, key_id, sealed_text) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                row.addendum_id,
                protocol_id,
                patient_id,
                row.signer_id,
                row.signed_at,
                row.key_id,
                self._seal(patient_id, "protocol.addendum", row.text),
            ),
        )
        self.cur.execute(
            "UPDATE protocol_view SET version = %s WHERE protocol_id = %s", (version, protocol_id)
        )

    def _seal(self, patient_id: UUID, part: str, value: Any) -> bytes | None:
        if value is None or _erased(value):
            return None
        key = self.keys.get(patient_id)
        if key is None:
            return None
        return seal(key, orjson.dumps(value), field_context(patient_id, part))

    # -- queries -------------------------------------------------------------------------------
    def get(self, protocol_id: UUID) -> ProtocolRow | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM protocol_view WHERE protocol_id = %s", (protocol_id,)
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                "SELECT addendum_id, signer_id, signed_at, key_id, sealed_text "
                "FROM protocol_addenda WHERE protocol_id = %s ORDER BY signed_at, addendum_id",
                (protocol_id,),
            )
            addenda = cur.fetchall()
        patient_id = as_uuid(row[2])
        key = self.keys.get(patient_id)
        return ProtocolRow(
            protocol_id=as_uuid(row[0]),
            consultation_id=as_uuid(row[1]),
            patient_id=patient_id,
            doctor_id=as_uuid(row[3]),
            organisation_id=as_uuid(row[4]) if row[4] else None,
            version=int(row[5]),
            status=str(row[6]),
            content=_open(key, patient_id, "protocol.content", row[7]),
            signer_id=as_uuid(row[8]) if row[8] else None,
            signed_at=as_datetime(row[9]) if row[9] else None,
            key_id=str(row[10]) if row[10] else None,
            addenda=tuple(
                AddendumRow(
                    as_uuid(a[0]),
                    as_uuid(a[1]),
                    as_datetime(a[2]),
                    str(a[3]),
                    _open(key, patient_id, "protocol.addendum", a[4]),
                )
                for a in addenda
            ),
        )

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored (sealed), protocols then addenda (tests look for clear text)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM protocol_view ORDER BY protocol_id")
            found = list(cur.fetchall())
            cur.execute("SELECT * FROM protocol_addenda ORDER BY addendum_id")
            return found + list(cur.fetchall())


def _erased(value: Any) -> bool:
    if isinstance(value, Erased):
        return True
    if isinstance(value, dict):
        return any(_erased(v) for v in value.values())
    return False


def _open(key: bytes | None, patient_id: UUID, part: str, sealed: Any) -> Any:
    if key is None or not sealed:
        return None
    return orjson.loads(open_sealed(key, bytes(sealed), field_context(patient_id, part)))
