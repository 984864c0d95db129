"""The teleconference view in SQL (SQLite and PostgreSQL): a row per teleconference and one per
participant with their invitation state."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adapters.db import as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from projections.teleconference_view import ParticipantRow, TeleconferenceRow

_FIELDS = (
    "teleconference_id",
    "version",
    "organiser_id",
    "organisation_id",
    "start_at",
    "end_at",
    "status",
    "started_at",
    "ended_at",
)
_CHANGEABLE = frozenset({"status", "started_at", "ended_at"})


class SqlTeleconferenceView(SqlView):
    tables = ("teleconference_participants", "teleconference_view")

    def scheduled(self, row: TeleconferenceRow) -> None:
        self.cur.execute(
            f"INSERT INTO teleconference_view ({', '.join(_FIELDS)}) "
            f"VALUES ({', '.join('%s' for _ in _FIELDS)})",
            [getattr(row, f) for f in _FIELDS],
        )

    def changed(self, teleconference_id: UUID, version: int, **fields: Any) -> None:
        assert set(fields) <= _CHANGEABLE
        sets = ", ".join(f"{name} = %s" for name in fields)
        self.cur.execute(
            f"UPDATE teleconference_view SET {sets}, version = %s WHERE teleconference_id = %s",
            [*fields.values(), version, teleconference_id],
        )

    def invitation(
        self,
        teleconference_id: UUID,
        version: int,
        participant_id: UUID,
        kind: str | None,
        state: str,
    ) -> None:
        if kind is None:
            self.cur.execute(
                "UPDATE teleconference_participants SET state = %s "
                "WHERE teleconference_id = %s AND participant_id = %s",
                (state, teleconference_id, participant_id),
            )
        else:
            self.cur.execute(
                "INSERT INTO teleconference_participants "
                "(teleconference_id, participant_id, kind, state) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (teleconference_id, participant_id) "
                "DO UPDATE SET kind = excluded.kind, state = excluded.state",
                (teleconference_id, participant_id, kind, state),
            )
        self.cur.execute(
            "UPDATE teleconference_view SET version = %s WHERE teleconference_id = %s",
            (version, teleconference_id),
        )

    def get(self, teleconference_id: UUID) -> TeleconferenceRow | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {', '.join(_FIELDS)} FROM teleconference_view "
                "WHERE teleconference_id = %s",
                (teleconference_id,),
            )
            r = cur.fetchone()
            if r is None:
                return None
            cur.execute(
                "SELECT participant_id, kind, state FROM teleconference_participants "
                "WHERE teleconference_id = %s ORDER BY kind, participant_id",
                (teleconference_id,),
            )
            people = cur.fetchall()
        return TeleconferenceRow(
            teleconference_id=as_uuid(r[0]),
            version=int(r[1]),
            organiser_id=as_uuid(r[2]),
            organisation_id=as_uuid(r[3]),
            start_at=as_datetime(r[4]),
            end_at=as_datetime(r[5]),
            status=str(r[6]),
            started_at=as_datetime(r[7]) if r[7] else None,
            ended_at=as_datetime(r[8]) if r[8] else None,
            participants=tuple(ParticipantRow(as_uuid(p[0]), str(p[1]), str(p[2])) for p in people),
        )
