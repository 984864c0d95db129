"""The patient directory in SQL: blind indexes for search, display fields sealed with the
patient's own key (so erasure reaches the read model too), nothing personal in clear."""

from __future__ import annotations

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
from domain.personal import Erased
from projections.patient_directory import DirectoryEntry

_COLUMNS = (
    "patient_id, organisation_id, sealed_names, sealed_contact, consents, erased, "
    "registered_at, version"
)
_PURPOSES = list(ConsentPurpose)


def consent_bit(purpose: ConsentPurpose) -> int:
    return 1 << _PURPOSES.index(ConsentPurpose(purpose))


class SqlPatientDirectory(SqlView):
    """One statement per event: names and contact details are sealed separately, consents are
    a bit set, so no step has to read the row it changes."""

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
        names = {
            "given_name": given_name,
            "family_name": family_name,
            "birth_date": birth_date.isoformat() if isinstance(birth_date, date) else birth_date,
        }
        contact = {"email": email, "phone": phone}
        key = self._live_key(patient_id, names, contact)
        name_ix = self.index.full_name(given_name, family_name) if key else None
        self.cur.execute(
            "INSERT INTO patient_directory (patient_id, organisation_id, email_index, name_index, "
            "sealed_names, sealed_contact, registered_at, version) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                patient_id,
                organisation_id,
                self._email_index(key, email),
                name_ix,
                self._seal(key, patient_id, "names", names),
                self._seal(key, patient_id, "contact", contact),
                registered_at,
                version,
            ),
        )

    def contact_changed(
        self, patient_id: UUID, email: str | None, phone: str | None, version: int
    ) -> None:
        contact = {"email": email, "phone": phone}
        key = self._live_key(patient_id, contact)
        self.cur.execute(
            "UPDATE patient_directory SET sealed_contact = %s, email_index = %s, version = %s "
            "WHERE patient_id = %s",
            (
                self._seal(key, patient_id, "contact", contact),
                self._email_index(key, email),
                version,
                patient_id,
            ),
        )

    def consent_changed(
        self, patient_id: UUID, purpose: ConsentPurpose, given: bool, version: int
    ) -> None:
        if given:
            change, bits = "consents = consents | %s", consent_bit(purpose)
        else:
            change, bits = "consents = consents & %s", ~consent_bit(purpose) & 0xFFFF
        self.cur.execute(
            f"UPDATE patient_directory SET {change}, version = %s WHERE patient_id = %s",
            (bits, version, patient_id),
        )

    def erased(self, patient_id: UUID, version: int) -> None:
        self.cur.execute(
            "UPDATE patient_directory SET sealed_names = NULL, sealed_contact = NULL, "
            "email_index = NULL, name_index = NULL, consents = 0, erased = %s, version = %s "
            "WHERE patient_id = %s",
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
            (self._entry(r[:8]), bytes(r[8]) if r[8] else None, bytes(r[9]) if r[9] else None)
            for r in rows
        ]

    # -- sealing -------------------------------------------------------------------------------
    def _live_key(self, patient_id: UUID, *values: dict[str, Any]) -> bytes | None:
        """The subject's key, or None when the subject is erased (nothing to keep or index)."""
        if any(isinstance(v, Erased) for group in values for v in group.values()):
            return None
        return self.keys.get(patient_id)

    def _email_index(self, key: bytes | None, email: str | None) -> bytes | None:
        return self.index.email(email) if key and email else None

    @staticmethod
    def _seal(key: bytes | None, patient_id: UUID, part: str, data: dict[str, Any]) -> bytes | None:
        if key is None:
            return None
        return seal(key, orjson.dumps(data), field_context(patient_id, f"directory.{part}"))

    @staticmethod
    def _open(key: bytes | None, patient_id: UUID, part: str, sealed: Any) -> dict[str, Any]:
        if key is None or not sealed:
            return {}
        data: dict[str, Any] = orjson.loads(
            open_sealed(key, bytes(sealed), field_context(patient_id, f"directory.{part}"))
        )
        return data

    def _entry(self, row: Any) -> DirectoryEntry:
        patient_id = as_uuid(row[0])
        key = self.keys.get(patient_id) if (row[2] or row[3]) else None
        names = self._open(key, patient_id, "names", row[2])
        contact = self._open(key, patient_id, "contact", row[3])
        birth = names.get("birth_date")
        return DirectoryEntry(
            patient_id=patient_id,
            organisation_id=as_uuid(row[1]) if row[1] else None,
            given_name=names.get("given_name"),
            family_name=names.get("family_name"),
            birth_date=date.fromisoformat(birth) if birth else None,
            email=contact.get("email"),
            phone=contact.get("phone"),
            consents=tuple(str(p) for p in _PURPOSES if int(row[4]) & consent_bit(p)),
            erased=bool(row[5]),
            registered_at=as_datetime(row[6]),
            version=int(row[7]),
        )
