"""The patient directory in SQL: blind indexes for search, display fields sealed with the
patient's own key (so erasure reaches the read model too), nothing personal in clear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson

from adapters.crypto.blind_index import BlindIndex
from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.patient import ConsentPurpose


@dataclass(frozen=True)
class DirectoryEntry:
    patient_id: UUID
    organisation_id: UUID | None
    given_name: str | None
    family_name: str | None
    birth_date: date | None
    email: str | None
    phone: str | None
    consents: tuple[str, ...]
    erased: bool
    registered_at: datetime
    version: int


_COLUMNS = "patient_id, organisation_id, sealed, consents, erased, registered_at, version"


class SqlPatientDirectory(SqlView):
    tables = ("patient_directory",)

    def __init__(self, db: Database, keys: SubjectKeys, index: BlindIndex) -> None:
        super().__init__(db)
        self.keys, self.index = keys, index

    # -- projection steps ----------------------------------------------------------------------
    def registered(
        self,
        patient_id: UUID,
        organisation_id: UUID | None,
        given_name: str,
        family_name: str,
        birth_date: date | None,
        email: str | None,
        phone: str | None,
        registered_at: datetime,
        version: int,
    ) -> None:
        display = {
            "given_name": given_name,
            "family_name": family_name,
            "birth_date": birth_date.isoformat() if isinstance(birth_date, date) else birth_date,
            "email": email,
            "phone": phone,
        }
        sealed, email_ix, name_ix = self._seal(patient_id, display)
        self.cur.execute(
            "INSERT INTO patient_directory (patient_id, organisation_id, email_index, name_index, "
            "sealed, registered_at, version) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (patient_id, organisation_id, email_ix, name_ix, sealed, registered_at, version),
        )

    def contact_changed(
        self, patient_id: UUID, email: str | None, phone: str | None, version: int
    ) -> None:
        display = self._open(patient_id, self._sealed_of(patient_id))
        if display is None:
            return
        display.update(email=email, phone=phone)
        sealed, email_ix, name_ix = self._seal(patient_id, display)
        self.cur.execute(
            "UPDATE patient_directory SET sealed = %s, email_index = %s, name_index = %s, "
            "version = %s WHERE patient_id = %s",
            (sealed, email_ix, name_ix, version, patient_id),
        )

    def consent_changed(
        self, patient_id: UUID, purpose: ConsentPurpose, given: bool, version: int
    ) -> None:
        self.cur.execute(
            "SELECT consents FROM patient_directory WHERE patient_id = %s", (patient_id,)
        )
        row = self.cur.fetchone()
        consents = set(filter(None, str(row[0]).split(","))) if row else set()
        (consents.add if given else consents.discard)(str(purpose))
        self.cur.execute(
            "UPDATE patient_directory SET consents = %s, version = %s WHERE patient_id = %s",
            (",".join(sorted(consents)), version, patient_id),
        )

    def erased(self, patient_id: UUID, version: int) -> None:
        self.cur.execute(
            "UPDATE patient_directory SET sealed = NULL, email_index = NULL, name_index = NULL, "
            "consents = '', erased = %s, version = %s WHERE patient_id = %s",
            (True, version, patient_id),
        )

    # -- queries -------------------------------------------------------------------------------
    def get(self, patient_id: UUID) -> DirectoryEntry | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM patient_directory WHERE patient_id = %s", (patient_id,)
            )
            row = cur.fetchone()
        return self._entry(row) if row else None

    def search(
        self,
        *,
        organisation_id: UUID | None,
        email: str | None = None,
        name: str | None = None,
        after: tuple[datetime, UUID] | None = None,
        limit: int = 50,
    ) -> list[DirectoryEntry]:
        """Entries in registration order; exact match on email and/or full name."""
        sql = f"SELECT {_COLUMNS} FROM patient_directory WHERE 1 = 1"
        params: list[Any] = []
        if organisation_id is not None:
            sql += " AND organisation_id = %s"
            params.append(organisation_id)
        if email:
            sql += " AND email_index = %s"
            params.append(self.index.email(email))
        if name:
            sql += " AND name_index = %s"
            params.append(self.index.name_query(name))
        if after is not None:
            sql += " AND (registered_at > %s OR (registered_at = %s AND patient_id > %s))"
            params.extend([after[0], after[0], after[1]])
        sql += " ORDER BY registered_at, patient_id LIMIT %s"
        params.append(limit)
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [self._entry(r) for r in rows]

    def rows_for_comparison(self) -> list[tuple[Any, ...]]:
        """Every row, decrypted, in a stable order (tests compare live and rebuilt models)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_COLUMNS}, email_index, name_index FROM patient_directory "
                "ORDER BY patient_id"
            )
            rows = cur.fetchall()
        return [
            (self._entry(r[:7]), bytes(r[7]) if r[7] else None, bytes(r[8]) if r[8] else None)
            for r in rows
        ]

    # -- sealing -------------------------------------------------------------------------------
    def _seal(self, patient_id: UUID, display: dict[str, Any]) -> tuple[bytes, Any, Any]:
        key = self.keys.get(patient_id)
        if key is None or any(isinstance(v, str) and type(v) is not str for v in display.values()):
            return b"", None, None  # erased subject: nothing to keep, nothing to index
        sealed = seal(key, orjson.dumps(display), field_context(patient_id, "directory"))
        email_ix = self.index.email(display["email"]) if display.get("email") else None
        name_ix = self.index.full_name(display["given_name"], display["family_name"])
        return sealed, email_ix, name_ix

    def _sealed_of(self, patient_id: UUID) -> bytes | None:
        self.cur.execute(
            "SELECT sealed FROM patient_directory WHERE patient_id = %s", (patient_id,)
        )
        row = self.cur.fetchone()
        return bytes(row[0]) if row and row[0] else None

    def _open(self, patient_id: UUID, sealed: bytes | None) -> dict[str, Any] | None:
        if not sealed:
            return None
        key = self.keys.get(patient_id)
        if key is None:
            return None
        data: dict[str, Any] = orjson.loads(
            open_sealed(key, sealed, field_context(patient_id, "directory"))
        )
        return data

    def _entry(self, row: Any) -> DirectoryEntry:
        patient_id = as_uuid(row[0])
        display = self._open(patient_id, bytes(row[2]) if row[2] else None) or {}
        birth = display.get("birth_date")
        return DirectoryEntry(
            patient_id=patient_id,
            organisation_id=as_uuid(row[1]) if row[1] else None,
            given_name=display.get("given_name"),
            family_name=display.get("family_name"),
            birth_date=date.fromisoformat(birth) if birth else None,
            email=display.get("email"),
            phone=display.get("phone"),
            consents=tuple(filter(None, str(row[3]).split(","))),
            erased=bool(row[4]),
            registered_at=as_datetime(row[5]),
            version=int(row[6]),
        )
