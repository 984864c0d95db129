"""The prescriptions' view in SQL (SQLite and PostgreSQL). The medication line and the code, and
a cancellation reason, are sealed with the patient's own key and opened at query time, so a
destroyed key answers null; the code is found only through its blind index (keyed HMAC), which
the patient's erasure clears."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from adapters.crypto.blind_index import BlindIndex
from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.errors import InvalidValue
from domain.personal import Erased
from projections.prescriptions import PrescriptionRow

_COLUMNS = (
    "prescription_id, version, patient_id, consultation_id, protocol_id, line, doctor_id, "
    "organisation_id, status, fills, fills_allowed, issued_at, valid_until, updated_at, "
    "sealed_medication, sealed_reason"
)


class SqlPrescriptions(SqlView):
    """One statement per step: no step reads the rows it changes."""

    tables = ("prescriptions", "pharmacy_clients")

    def __init__(self, db: Database, keys: SubjectKeys, index: BlindIndex) -> None:
        super().__init__(db)
        self.keys, self.index = keys, index

    # -- projection steps ----------------------------------------------------------------------
    def issued(self, row: PrescriptionRow) -> None:
        clear = {"medication": row.medication, "code": row.code}
        live = not any(isinstance(v, Erased) or v is None for v in clear.values())
        key = self.keys.get(row.patient_id) if live else None
        sealed = _seal(key, row.patient_id, row.prescription_id, "medication", clear)
        code_index = self.index.prescription_code(str(row.code)) if sealed else None
        self.cur.execute(
            f"INSERT INTO prescriptions ({_COLUMNS}, code_index) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                row.prescription_id,
                row.version,
                row.patient_id,
                row.consultation_id,
                row.protocol_id,
                row.line,
                row.doctor_id,
                row.organisation_id,
                row.status,
                row.fills,
                row.fills_allowed,
                row.issued_at,
                row.valid_until,
                row.updated_at,
                sealed,
                None,
                code_index,
            ),
        )

    def dispensed(
        self, prescription_id: UUID, version: int, fills: int, status: str, at: datetime
    ) -> None:
        self.cur.execute(
            "UPDATE prescriptions SET version = %s, fills = %s, status = %s, updated_at = %s "
            "WHERE prescription_id = %s",
            (version, fills, status, at, prescription_id),
        )

    def cancelled(
        self, prescription_id: UUID, patient_id: UUID, version: int, at: datetime, reason: Any
    ) -> None:
        key = None if isinstance(reason, Erased) else self.keys.get(patient_id)
        sealed = _seal(key, patient_id, prescription_id, "reason", {"reason": reason})
        self.cur.execute(
            "UPDATE prescriptions SET version = %s, status = %s, updated_at = %s, "
            "sealed_reason = %s WHERE prescription_id = %s",
            (version, "cancelled", at, sealed, prescription_id),
        )

    def completed(self, prescription_id: UUID, version: int, at: datetime) -> None:
        self.cur.execute(
            "UPDATE prescriptions SET version = %s, status = %s, updated_at = %s "
            "WHERE prescription_id = %s",
            (version, "completed", at, prescription_id),
        )

    def patient_erased(self, patient_id: UUID) -> None:
        self.cur.execute(
            "UPDATE prescriptions SET code_index = NULL, sealed_medication = NULL, "
            "sealed_reason = NULL WHERE patient_id = %s",
            (patient_id,),
        )

    def pharmacy_added(self, client_id: UUID, organisation_id: UUID) -> None:
        self.cur.execute(
            "INSERT INTO pharmacy_clients (client_id, organisation_id) VALUES (%s, %s)",
            (client_id, organisation_id),
        )

    def client_revoked(self, client_id: UUID) -> None:
        self.cur.execute("DELETE FROM pharmacy_clients WHERE client_id = %s", (client_id,))

    # -- queries -------------------------------------------------------------------------------
    def of_patient(self, patient_id: UUID) -> list[PrescriptionRow]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM prescriptions WHERE patient_id = %s "
                "ORDER BY issued_at DESC, protocol_id, line",
                (patient_id,),
            )
            rows = cur.fetchall()
        key = self.keys.get(patient_id) if rows else None
        return [self._row(r, key) for r in rows]

    def get(self, prescription_id: UUID) -> PrescriptionRow | None:
        return self._one("prescription_id = %s", prescription_id)

    def by_code(self, code: str) -> PrescriptionRow | None:
        try:
            index = self.index.prescription_code(code)
        except InvalidValue:
            return None
        return self._one("code_index = %s", index)

    def is_pharmacy(self, client_id: UUID) -> bool:
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT 1 FROM pharmacy_clients WHERE client_id = %s", (client_id,))
            return cur.fetchone() is not None

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored (sealed), in a stable order (tests look for clear text)."""
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT * FROM prescriptions ORDER BY prescription_id")
            return list(cur.fetchall())

    def _one(self, where: str, value: Any) -> PrescriptionRow | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM prescriptions WHERE {where}", (value,))
            row = cur.fetchone()
        if row is None:
            return None
        return self._row(row, self.keys.get(as_uuid(row[2])))

    @staticmethod
    def _row(row: Any, key: bytes | None) -> PrescriptionRow:
        prescription_id, patient_id = as_uuid(row[0]), as_uuid(row[2])
        clinical = _open(key, patient_id, prescription_id, "medication", row[14])
        reason = _open(key, patient_id, prescription_id, "reason", row[15])
        medication = clinical.get("medication") if isinstance(clinical, dict) else None
        return PrescriptionRow(
            prescription_id=prescription_id,
            version=int(row[1]),
            patient_id=patient_id,
            consultation_id=as_uuid(row[3]),
            protocol_id=as_uuid(row[4]),
            line=int(row[5]),
            doctor_id=as_uuid(row[6]),
            organisation_id=as_uuid(row[7]) if row[7] else None,
            status=str(row[8]),
            fills=int(row[9]),
            fills_allowed=int(row[10]),
            issued_at=as_datetime(row[11]),
            valid_until=as_datetime(row[12]),
            updated_at=as_datetime(row[13]),
            medication=medication if isinstance(medication, dict) else None,
            code=clinical.get("code") if isinstance(clinical, dict) else None,
            cancel_reason=reason.get("reason") if isinstance(reason, dict) else None,
        )


def _context(patient_id: UUID, prescription_id: UUID, part: str) -> bytes:
    return field_context(patient_id, f"prescription.{prescription_id}.{part}")


def _seal(
    key: bytes | None, patient_id: UUID, prescription_id: UUID, part: str, data: dict[str, Any]
) -> bytes | None:
    if key is None or any(isinstance(v, Erased) for v in data.values()):
        return None  # the patient was erased: nothing to keep
    return seal(key, orjson.dumps(data), _context(patient_id, prescription_id, part))


def _open(
    key: bytes | None, patient_id: UUID, prescription_id: UUID, part: str, sealed: Any
) -> Any:
    """The sealed value, or None once the key is destroyed (erasure)."""
    if key is None or not sealed:
        return None
    return orjson.loads(
        open_sealed(key, bytes(sealed), _context(patient_id, prescription_id, part))
    )
