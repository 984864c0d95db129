"""Consents in SQL (SQLite and PostgreSQL): the organisations' consent text versions and the
signatures in force per patient, organisation and kind (a withdrawal deletes the row; the
history is on the patient's record)."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from uuid import UUID

from adapters.db import as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.consent_text import ConsentKind, ConsentText
from projections.consents import Signature, TextVersion

_SIGNATURE = (
    "patient_id, organisation_id, kind, version, sha256, signed_at, signed_by_role, on_behalf"
)


class SqlConsents(SqlView):
    tables = ("consent_texts", "consent_signatures")

    # -- projection steps ----------------------------------------------------------------------
    def text_published(self, text: TextVersion) -> None:
        self.cur.execute(
            "INSERT INTO consent_texts (text_id, version, sha256, body, published_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (text_id, version) DO NOTHING",
            (text.text_id, text.version, text.sha256, text.text, text.published_at.astimezone(UTC)),
        )

    def signed(self, s: Signature) -> None:
        self.cur.execute(
            f"INSERT INTO consent_signatures ({_SIGNATURE}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (patient_id, organisation_id, kind) DO UPDATE SET "
            "version = excluded.version, sha256 = excluded.sha256, "
            "signed_at = excluded.signed_at, signed_by_role = excluded.signed_by_role, "
            "on_behalf = excluded.on_behalf",
            (
                s.patient_id,
                s.organisation_id,
                s.kind,
                s.version,
                s.sha256,
                s.signed_at.astimezone(UTC),
                s.signed_by_role,
                s.on_behalf,
            ),
        )

    def withdrawn(self, patient_id: UUID, organisation_id: UUID, kind: str) -> None:
        self.cur.execute(
            "DELETE FROM consent_signatures "
            "WHERE patient_id = %s AND organisation_id = %s AND kind = %s",
            (patient_id, organisation_id, kind),
        )

    def erased(self, patient_id: UUID) -> None:
        self.cur.execute("DELETE FROM consent_signatures WHERE patient_id = %s", (patient_id,))

    # -- queries -------------------------------------------------------------------------------
    def text(self, organisation_id: UUID, kind: ConsentKind) -> TextVersion | None:
        text_id = ConsentText.create_id(organisation_id, kind)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT version, sha256, body, published_at FROM consent_texts "
                "WHERE text_id = %s ORDER BY version DESC LIMIT 1",
                (text_id,),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return TextVersion(text_id, int(row[0]), str(row[1]), str(row[2]), as_datetime(row[3]))

    def in_force(self, patient_id: UUID) -> list[Signature]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_SIGNATURE} FROM consent_signatures WHERE patient_id = %s "
                "ORDER BY organisation_id, kind",
                (patient_id,),
            )
            return [_signature(r) for r in cur.fetchall()]

    def signature(
        self, patient_id: UUID, organisation_id: UUID, kind: ConsentKind
    ) -> Signature | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_SIGNATURE} FROM consent_signatures "
                "WHERE patient_id = %s AND organisation_id = %s AND kind = %s",
                (patient_id, organisation_id, kind.value),
            )
            row = cur.fetchone()
        return _signature(row) if row else None


def _signature(r: Any) -> Signature:
    return Signature(
        patient_id=as_uuid(r[0]),
        organisation_id=as_uuid(r[1]),
        kind=str(r[2]),
        version=int(r[3]),
        sha256=str(r[4]),
        signed_at=as_datetime(r[5]),
        signed_by_role=str(r[6]),
        on_behalf=bool(r[7]),
    )
