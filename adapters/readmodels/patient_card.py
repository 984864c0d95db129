"""The patient card in SQL (SQLite and PostgreSQL): one row per record. Identity and notes,
and contact details, are sealed separately with the patient's own key (nothing personal in
clear) and opened at query time, so a destroyed key answers null; consents are a bit set."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import orjson

from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Database, as_uuid
from adapters.readmodels.patient_directory import consent_bit
from adapters.readmodels.runner import SqlView
from domain.patient import ConsentPurpose
from domain.personal import Erased
from projections.patient_card import PatientCard

_COLUMNS = (
    "patient_id, version, organisation_id, sealed_identity, sealed_contact, consents, erased, "
    "holder_id, has_account, invitation_pending"
)


class SqlPatientCard(SqlView):
    """One statement per event: no step reads the row it changes."""

    tables = ("patient_card",)

    def __init__(self, db: Database, keys: SubjectKeys) -> None:
        super().__init__(db)
        self.keys = keys

    # -- projection steps ----------------------------------------------------------------------
    def registered(self, card: PatientCard) -> None:
        birth = card.birth_date
        identity = {
            "given_name": card.given_name,
            "family_name": card.family_name,
            "birth_date": birth.isoformat() if isinstance(birth, date) else birth,
            "notes": card.notes,
        }
        contact = {"email": card.email, "phone": card.phone, "address": card.address}
        key = self._live_key(card.patient_id, identity, contact)
        self.cur.execute(
            f"INSERT INTO patient_card ({_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                card.patient_id,
                card.version,
                card.organisation_id,
                _seal(key, card.patient_id, "identity", identity),
                _seal(key, card.patient_id, "contact", contact),
                0,
                False,
                card.holder_id,
                card.has_account,
                card.invitation_pending,
            ),
        )

    def contact_changed(
        self,
        patient_id: UUID,
        version: int,
        email: str | None,
        phone: str | None,
        address: str | None,
    ) -> None:
        contact = {"email": email, "phone": phone, "address": address}
        key = self._live_key(patient_id, contact)
        self._set(
            patient_id, version, "sealed_contact = %s", _seal(key, patient_id, "contact", contact)
        )

    def consent_changed(
        self, patient_id: UUID, version: int, purpose: ConsentPurpose, given: bool
    ) -> None:
        if given:
            self._set(patient_id, version, "consents = consents | %s", consent_bit(purpose))
        else:
            bits = ~consent_bit(purpose) & 0xFFFF
            self._set(patient_id, version, "consents = consents & %s", bits)

    def held_by(self, patient_id: UUID, version: int, holder_id: UUID | None) -> None:
        self._set(patient_id, version, "holder_id = %s", holder_id)

    def invitation(self, patient_id: UUID, version: int, pending: bool) -> None:
        self._set(patient_id, version, "invitation_pending = %s", pending)

    def account_linked(self, patient_id: UUID, version: int) -> None:
        self.cur.execute(
            "UPDATE patient_card SET has_account = %s, holder_id = NULL, "
            "invitation_pending = %s, version = %s WHERE patient_id = %s",
            (True, False, version, patient_id),
        )

    def erased(self, patient_id: UUID, version: int) -> None:
        self.cur.execute(
            "UPDATE patient_card SET sealed_identity = NULL, sealed_contact = NULL, consents = 0, "
            "erased = %s, invitation_pending = %s, version = %s WHERE patient_id = %s",
            (True, False, version, patient_id),
        )

    def _set(self, patient_id: UUID, version: int, change: str, value: Any) -> None:
        self.cur.execute(
            f"UPDATE patient_card SET {change}, version = %s WHERE patient_id = %s",
            (value, version, patient_id),
        )

    def _live_key(self, patient_id: UUID, *values: dict[str, Any]) -> bytes | None:
        """The subject's key, or None when the subject is erased (nothing to keep)."""
        if any(isinstance(v, Erased) for group in values for v in group.values()):
            return None
        return self.keys.get(patient_id)

    # -- queries -------------------------------------------------------------------------------
    def get(self, patient_id: UUID) -> PatientCard | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM patient_card WHERE patient_id = %s", (patient_id,))
            row = cur.fetchone()
        return self._card(row) if row else None

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored (sealed), in a stable order (tests look for clear text)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM patient_card ORDER BY patient_id")
            return list(cur.fetchall())

    def _card(self, row: Any) -> PatientCard:
        patient_id = as_uuid(row[0])
        key = self.keys.get(patient_id) if (row[3] or row[4]) else None
        identity = _open(key, patient_id, "identity", row[3])
        contact = _open(key, patient_id, "contact", row[4])
        birth = identity.get("birth_date")
        return PatientCard(
            patient_id=patient_id,
            version=int(row[1]),
            organisation_id=as_uuid(row[2]) if row[2] else None,
            given_name=identity.get("given_name"),
            family_name=identity.get("family_name"),
            birth_date=date.fromisoformat(birth) if birth else None,
            email=contact.get("email"),
            phone=contact.get("phone"),
            address=contact.get("address"),
            notes=identity.get("notes"),
            consents=tuple(sorted(str(p) for p in ConsentPurpose if int(row[5]) & consent_bit(p))),
            erased=bool(row[6]),
            holder_id=as_uuid(row[7]) if row[7] else None,
            has_account=bool(row[8]),
            invitation_pending=bool(row[9]),
        )


def _seal(key: bytes | None, patient_id: UUID, part: str, data: dict[str, Any]) -> bytes | None:
    if key is None:
        return None
    return seal(key, orjson.dumps(data), field_context(patient_id, f"card.{part}"))


def _open(key: bytes | None, patient_id: UUID, part: str, sealed: Any) -> dict[str, Any]:
    """The sealed fields, or none once the key is destroyed (erasure)."""
    if key is None or not sealed:
        return {}
    data: dict[str, Any] = orjson.loads(
        open_sealed(key, bytes(sealed), field_context(patient_id, f"card.{part}"))
    )
    return data
