"""The intake in SQL (SQLite and PostgreSQL): the complaint and each form's answers of a
consultation, sealed with the patient's own key (opened at query time: a destroyed key answers
nothing), and the versions of the organisations' intake forms (not personal)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from projections.intake import FormAnswers, FormVersion, Intake


class SqlIntake(SqlView):
    tables = ("intake_complaints", "intake_answers", "intake_form_versions")

    def __init__(self, db: Database, keys: SubjectKeys) -> None:
        super().__init__(db)
        self.keys = keys

    # -- projection steps ----------------------------------------------------------------------
    def complaint(
        self,
        consultation_id: UUID,
        patient_id: UUID,
        at: datetime,
        complaint: dict[str, Any] | None,
    ) -> None:
        sealed = self._seal(patient_id, consultation_id, "complaint", complaint)
        self.cur.execute(
            "INSERT INTO intake_complaints (consultation_id, patient_id, submitted_at, sealed) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (consultation_id) DO UPDATE SET "
            "submitted_at = excluded.submitted_at, sealed = excluded.sealed",
            (consultation_id, patient_id, at.astimezone(UTC), sealed),
        )

    def answered(self, consultation_id: UUID, patient_id: UUID, answers: FormAnswers) -> None:
        part = f"answers.{answers.form_code}"
        sealed = self._seal(patient_id, consultation_id, part, answers.answers)
        self.cur.execute(
            "INSERT INTO intake_answers (consultation_id, form_code, patient_id, form_version, "
            "answered_at, sealed) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (consultation_id, form_code) DO UPDATE SET "
            "form_version = excluded.form_version, answered_at = excluded.answered_at, "
            "sealed = excluded.sealed",
            (
                consultation_id,
                answers.form_code,
                patient_id,
                answers.form_version,
                answers.answered_at.astimezone(UTC),
                sealed,
            ),
        )

    def published(self, form: FormVersion) -> None:
        self.cur.execute(
            "INSERT INTO intake_form_versions (form_id, version, title, questions, published_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (form_id, version) DO NOTHING",
            (
                form.form_id,
                form.version,
                form.title,
                orjson.dumps(form.questions).decode(),
                form.published_at.astimezone(UTC),
            ),
        )

    def _seal(
        self, patient_id: UUID, consultation_id: UUID, part: str, data: dict[str, Any] | None
    ) -> bytes | None:
        key = self.keys.get(patient_id) if data is not None else None
        if key is None:
            return None
        return seal(key, orjson.dumps(data), _context(patient_id, consultation_id, part))

    # -- queries -------------------------------------------------------------------------------
    def of_consultation(self, consultation_id: UUID) -> Intake | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT patient_id, submitted_at, sealed FROM intake_complaints "
                "WHERE consultation_id = %s",
                (consultation_id,),
            )
            complaint = cur.fetchone()
            cur.execute(
                "SELECT patient_id, form_code, form_version, answered_at, sealed "
                "FROM intake_answers WHERE consultation_id = %s ORDER BY form_code",
                (consultation_id,),
            )
            forms = list(cur.fetchall())
        if complaint is None and not forms:
            return None
        patient_id = as_uuid(complaint[0] if complaint else forms[0][0])
        key = self.keys.get(patient_id)
        return Intake(
            consultation_id=consultation_id,
            patient_id=patient_id,
            submitted_at=as_datetime(complaint[1]) if complaint else None,
            complaint=_open(key, patient_id, consultation_id, "complaint", complaint[2])
            if complaint
            else None,
            forms=[
                FormAnswers(
                    str(f[1]),
                    int(f[2]),
                    as_datetime(f[3]),
                    _open(key, patient_id, consultation_id, f"answers.{f[1]}", f[4]),
                )
                for f in forms
            ],
        )

    def form(self, form_id: UUID, version: int | None = None) -> FormVersion | None:
        with self.db.transaction(write=False) as cur:
            which = "" if version is None else " AND version = %s"
            cur.execute(
                "SELECT version, title, questions, published_at FROM intake_form_versions "
                f"WHERE form_id = %s{which} ORDER BY version DESC LIMIT 1",
                (form_id,) if version is None else (form_id, version),
            )
            row = cur.fetchone()
        if row is None:
            return None
        return FormVersion(
            form_id, int(row[0]), str(row[1]), orjson.loads(row[2]), as_datetime(row[3])
        )

    def rows(self) -> list[tuple[Any, ...]]:
        """Every stored row (sealed), for tests that look for clear text."""
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT * FROM intake_complaints")
            found = list(cur.fetchall())
            cur.execute("SELECT * FROM intake_answers")
            return found + list(cur.fetchall())


def _context(patient_id: UUID, consultation_id: UUID, part: str) -> bytes:
    return field_context(patient_id, f"intake.{consultation_id}.{part}")


def _open(
    key: bytes | None, patient_id: UUID, consultation_id: UUID, part: str, sealed: Any
) -> dict[str, Any] | None:
    if key is None or not sealed:
        return None
    data: dict[str, Any] = orjson.loads(
        open_sealed(key, bytes(sealed), _context(patient_id, consultation_id, part))
    )
    return data
