"""The consultation view in SQL (SQLite and PostgreSQL): one row per consultation, read by id,
by doctor and time (the agenda) and by patient."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from adapters.db import as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.consultation import Status
from projections.consultation_view import ConsultationRow

_FIELDS = (
    "consultation_id",
    "version",
    "doctor_id",
    "patient_id",
    "practice_id",
    "organisation_id",
    "type_code",
    "kind",
    "start_at",
    "end_at",
    "status",
    "urgent",
    "flagged",
    "booked_by_role",
    "options",
    "checked_in_at",
    "admitted_at",
    "ended_at",
    "taken",
    "escalated",
    "answer_by",
    "asynchronous",
    "rated",
)
_CHANGEABLE = frozenset(
    {"status", "start_at", "end_at", "flagged", "checked_in_at", "admitted_at", "ended_at", "rated"}
)


class SqlConsultationView(SqlView):
    tables = ("consultation_view",)

    def booked(self, row: ConsultationRow) -> None:
        values = {**asdict(row), "options": orjson.dumps(row.options).decode()}
        self.cur.execute(
            f"INSERT INTO consultation_view ({', '.join(_FIELDS)}) "
            f"VALUES ({', '.join('%s' for _ in _FIELDS)})",
            [values[f] for f in _FIELDS],
        )

    def changed(self, consultation_id: UUID, version: int, **fields: Any) -> None:
        assert set(fields) <= _CHANGEABLE
        sets = ", ".join(f"{name} = %s" for name in fields)
        self.cur.execute(
            f"UPDATE consultation_view SET {sets}, version = %s WHERE consultation_id = %s",
            [*fields.values(), version, consultation_id],
        )

    def taken(self, consultation_id: UUID, version: int, doctor_id: UUID) -> None:
        self.cur.execute(
            "UPDATE consultation_view SET doctor_id = %s, taken = %s, version = %s, "
            "status = CASE WHEN status = %s THEN %s ELSE status END WHERE consultation_id = %s",
            (doctor_id, True, version, Status.ASKED.value, Status.TAKEN.value, consultation_id),
        )

    def escalated(self, consultation_id: UUID, version: int) -> None:
        self.cur.execute(
            "UPDATE consultation_view SET escalated = %s, version = %s, "
            "taken = CASE WHEN asynchronous THEN %s ELSE taken END, "
            "status = CASE WHEN asynchronous THEN %s ELSE status END WHERE consultation_id = %s",
            (True, version, False, Status.ASKED.value, consultation_id),
        )

    def reopened(self, consultation_id: UUID, version: int, answer_by: datetime) -> None:
        self.cur.execute(
            "UPDATE consultation_view SET answer_by = %s, ended_at = NULL, escalated = %s, "
            "version = %s, status = CASE WHEN taken THEN %s ELSE %s END "
            "WHERE consultation_id = %s",
            (answer_by, False, version, Status.TAKEN.value, Status.ASKED.value, consultation_id),
        )

    def get(self, consultation_id: UUID) -> ConsultationRow | None:
        rows = self._select("consultation_id = %s", (consultation_id,))
        return rows[0] if rows else None

    def of_doctor(self, doctor_id: UUID, start: datetime, end: datetime) -> list[ConsultationRow]:
        return self._select(
            "doctor_id = %s AND end_at > %s AND start_at < %s ORDER BY start_at",
            (doctor_id, start.astimezone(UTC), end.astimezone(UTC)),
        )

    def flagged_of_doctor(self, doctor_id: UUID) -> list[ConsultationRow]:
        return self._select(
            "doctor_id = %s AND flagged IS NOT NULL AND status IN (%s, %s) ORDER BY start_at",
            (doctor_id, Status.BOOKED.value, Status.CONFIRMED.value),
        )

    def of_patient(self, patient_id: UUID) -> list[ConsultationRow]:
        return self._select("patient_id = %s ORDER BY start_at", (patient_id,))

    def _select(self, where: str, params: Sequence[Any]) -> list[ConsultationRow]:
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {', '.join(_FIELDS)} FROM consultation_view WHERE {where}", params)
            rows = cur.fetchall()
        return [_row(r) for r in rows]


def _row(r: Sequence[Any]) -> ConsultationRow:
    return ConsultationRow(
        consultation_id=as_uuid(r[0]),
        version=int(r[1]),
        doctor_id=as_uuid(r[2]),
        patient_id=as_uuid(r[3]),
        practice_id=as_uuid(r[4]) if r[4] else None,
        organisation_id=as_uuid(r[5]) if r[5] else None,
        type_code=str(r[6]),
        kind=str(r[7]),
        start_at=as_datetime(r[8]),
        end_at=as_datetime(r[9]),
        status=str(r[10]),
        urgent=bool(r[11]),
        flagged=r[12],
        booked_by_role=str(r[13]),
        options=orjson.loads(r[14]),
        checked_in_at=_time(r[15]),
        admitted_at=_time(r[16]),
        ended_at=_time(r[17]),
        taken=bool(r[18]),
        escalated=bool(r[19]),
        answer_by=_time(r[20]),
        asynchronous=bool(r[21]),
        rated=bool(r[22]),
    )


def _time(value: object) -> datetime | None:
    return as_datetime(value) if value else None
