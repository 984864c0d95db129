"""The on-call read model in SQL (SQLite and PostgreSQL): duty, requests, deadlines."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.db import as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from projections.on_call import RequestRow

_FIELDS = (
    "request_id",
    "version",
    "pool_id",
    "organisation_id",
    "specialty",
    "patient_id",
    "urgent",
    "escalated",
    "consultation_id",
    "state",
    "made_at",
    "expires_at",
    "taken_by_role",
)
_CHANGEABLE = frozenset({"state", "consultation_id", "taken_by_role"})
_SELECT = f"SELECT {', '.join('r.' + f for f in _FIELDS)} FROM on_call_requests r"


class SqlOnCall(SqlView):
    tables = ("on_call_duty", "on_call_requests", "on_call_deadlines")

    def on_duty(self, pool_id: UUID, doctor_id: UUID) -> None:
        self.cur.execute(
            "INSERT INTO on_call_duty (pool_id, doctor_id) VALUES (%s, %s) "
            "ON CONFLICT (doctor_id, pool_id) DO NOTHING",
            (pool_id, doctor_id),
        )

    def off_duty(self, pool_id: UUID, doctor_id: UUID) -> None:
        self.cur.execute(
            "DELETE FROM on_call_duty WHERE pool_id = %s AND doctor_id = %s", (pool_id, doctor_id)
        )

    def request_made(self, row: RequestRow) -> None:
        values = {
            **asdict(row),
            "made_at": row.made_at.astimezone(UTC),
            "expires_at": row.expires_at.astimezone(UTC),
        }
        self.cur.execute(
            f"INSERT INTO on_call_requests ({', '.join(_FIELDS)}) "
            f"VALUES ({', '.join('%s' for _ in _FIELDS)}) ON CONFLICT (request_id) DO NOTHING",
            [values[f] for f in _FIELDS],
        )

    def request_changed(self, request_id: UUID, version: int, **fields: Any) -> None:
        assert set(fields) <= _CHANGEABLE
        sets = ", ".join(f"{name} = %s" for name in fields)
        self.cur.execute(
            f"UPDATE on_call_requests SET {sets}, version = %s WHERE request_id = %s",
            [*fields.values(), version, request_id],
        )

    def deadline(self, consultation_id: UUID, due_at: datetime, kind: str) -> None:
        self.cur.execute(
            "INSERT INTO on_call_deadlines (consultation_id, kind, due_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (consultation_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at",
            (consultation_id, kind, due_at.astimezone(UTC)),
        )

    def no_deadline(self, consultation_id: UUID, kind: str | None = None) -> None:
        if kind is None:
            self.cur.execute(
                "DELETE FROM on_call_deadlines WHERE consultation_id = %s", (consultation_id,)
            )
        else:
            self.cur.execute(
                "DELETE FROM on_call_deadlines WHERE consultation_id = %s AND kind = %s",
                (consultation_id, kind),
            )

    # -- queries -------------------------------------------------------------------------------

    def offers_for(self, doctor_id: UUID) -> list[RequestRow]:
        return self._select(
            " JOIN on_call_duty d ON d.pool_id = r.pool_id "
            "WHERE d.doctor_id = %s AND r.state = 'open' ORDER BY r.made_at, r.request_id",
            [doctor_id],
        )

    def request(self, request_id: UUID) -> RequestRow | None:
        rows = self._select(" WHERE r.request_id = %s", [request_id])
        return rows[0] if rows else None

    def due_expiries(self, now: datetime, limit: int) -> list[UUID]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT request_id FROM on_call_requests WHERE state = 'open' "
                "AND expires_at <= %s ORDER BY expires_at LIMIT %s",
                (now.astimezone(UTC), limit),
            )
            return [as_uuid(r[0]) for r in cur.fetchall()]

    def due_escalations(self, now: datetime, limit: int) -> list[UUID]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT consultation_id, MIN(due_at) AS due FROM on_call_deadlines "
                "WHERE due_at <= %s GROUP BY consultation_id ORDER BY due LIMIT %s",
                (now.astimezone(UTC), limit),
            )
            return [as_uuid(r[0]) for r in cur.fetchall()]

    def _select(self, where: str, params: list[Any]) -> list[RequestRow]:
        with self.db.transaction(write=False) as cur:
            cur.execute(_SELECT + where, params)
            rows = cur.fetchall()
        return [
            RequestRow(
                request_id=as_uuid(r[0]),
                version=int(r[1]),
                pool_id=as_uuid(r[2]),
                organisation_id=as_uuid(r[3]),
                specialty=str(r[4]),
                patient_id=as_uuid(r[5]),
                urgent=bool(r[6]),
                escalated=bool(r[7]),
                consultation_id=as_uuid(r[8]) if r[8] is not None else None,
                state=str(r[9]),
                made_at=as_datetime(r[10]),
                expires_at=as_datetime(r[11]),
                taken_by_role=r[12],
            )
            for r in rows
        ]
