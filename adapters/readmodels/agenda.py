"""The agenda in SQL: consultations by doctor and by patient."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.db import as_datetime, as_uuid
from adapters.readmodels.runner import ProjectionRunner, SqlView
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

    def open_of(self, party: str, party_id: UUID, ending_after: datetime) -> list[UUID]:
        """Booked or confirmed consultations of a ``patient`` or ``doctor`` that end after
        that time."""
        column = {"patient": "patient_id", "doctor": "doctor_id"}[party]
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT consultation_id FROM agenda WHERE {column} = %s "
                "AND status IN ('booked', 'confirmed') AND end_at > %s ORDER BY start_at",
                (party_id, ending_after.astimezone(UTC)),
            )
            return [as_uuid(r[0]) for r in cur.fetchall()]

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


class AgendaLagging(RuntimeError):
    """The agenda did not catch up with the log in time; the command is retried later."""


class CaughtUpAgenda:
    """The agenda read only once it has every event committed so far: for a command that must
    not miss a booking made a moment before (an erasure cancels them all). It helps the agenda
    catch up itself (batches are exclusive, so alongside the workers), within ``timeout``."""

    def __init__(self, agenda: SqlAgenda, runner: ProjectionRunner, timeout: float) -> None:
        self.agenda, self.runner, self.timeout = agenda, runner, timeout

    def open_consultations_of(self, patient_id: UUID) -> list[UUID]:
        self._catch_up()
        return self.agenda.open_of("patient", patient_id, datetime.now(UTC))

    def open_consultations_with(self, doctor_id: UUID) -> list[UUID]:
        self._catch_up()
        return self.agenda.open_of("doctor", doctor_id, datetime.now(UTC))

    def _catch_up(self) -> None:
        head = self.runner.recorder.max_notification_id() or 0
        deadline = time.monotonic() + self.timeout
        while self.runner.position() < head:
            if self.runner.run_once() == 0:  # a worker has the batch: it is done shortly
                if time.monotonic() > deadline:
                    raise AgendaLagging("the agenda is behind the event log")
                time.sleep(0.005)
