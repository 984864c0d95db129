"""The agenda in SQL: consultations by doctor and by patient."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.db import as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from projections.agenda import AgendaEntry

_FIELDS = (
    "consultation_id",
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
    "booked_at",
    "version",
)
_CHANGEABLE = frozenset({"status", "start_at", "end_at", "flagged"})


class SqlAgenda(SqlView):
    tables = ("agenda",)

    def booked(self, consultation_id: UUID, row: dict[str, Any]) -> None:
        values = {"consultation_id": consultation_id, "flagged": None, **row}
        self.cur.execute(
            f"INSERT INTO agenda ({', '.join(_FIELDS)}) "
            f"VALUES ({', '.join('%s' for _ in _FIELDS)})",
            [values[f] for f in _FIELDS],
        )

    def changed(self, consultation_id: UUID, version: int, **fields: Any) -> None:
        assert set(fields) <= _CHANGEABLE
        sets = ", ".join(f"{name} = %s" for name in fields)
        self.cur.execute(
            f"UPDATE agenda SET {sets}, version = %s WHERE consultation_id = %s",
            [*fields.values(), version, consultation_id],
        )

    def get(self, consultation_id: UUID) -> AgendaEntry | None:
        rows = self._select("consultation_id = %s", [consultation_id])
        return rows[0] if rows else None

    def of_doctor(self, doctor_id: UUID, start: datetime, end: datetime) -> list[AgendaEntry]:
        return self._select(
            "doctor_id = %s AND end_at > %s AND start_at < %s ORDER BY start_at",
            [doctor_id, start.astimezone(UTC), end.astimezone(UTC)],
        )

    def flagged_of_doctor(self, doctor_id: UUID) -> list[AgendaEntry]:
        return self._select(
            "doctor_id = %s AND flagged IS NOT NULL AND status IN "
            "('booked', 'confirmed') ORDER BY start_at",
            [doctor_id],
        )

    def of_patient(self, patient_id: UUID) -> list[AgendaEntry]:
        return self._select("patient_id = %s ORDER BY start_at", [patient_id])

    def _select(self, where: str, params: list[Any]) -> list[AgendaEntry]:
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {', '.join(_FIELDS)} FROM agenda WHERE {where}", params)
            rows = cur.fetchall()
        return [
            AgendaEntry(
                as_uuid(r[0]),
                as_uuid(r[1]),
                as_uuid(r[2]),
                as_uuid(r[3]) if r[3] else None,
                as_uuid(r[4]) if r[4] else None,
                str(r[5]),
                str(r[6]),
                as_datetime(r[7]),
                as_datetime(r[8]),
                str(r[9]),
                bool(r[10]),
                r[11],
                str(r[12]),
                as_datetime(r[13]),
                int(r[14]),
            )
            for r in rows
        ]
