"""The free slots in SQL: the rows of ``availability_slots`` and the queries routers make on
them (``projections.free_slots.Availability``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from adapters.db import Database, as_datetime, as_uuid
from projections.free_slots import FreeSlot

SLOT_COLUMNS = (
    "doctor_id, practice_id, type_code, start_at, end_at, organisation_id, specialty, "
    "languages, kinds, time_zone"
)


def slot_values(day: date, s: FreeSlot) -> tuple[Any, ...]:
    return (
        s.doctor_id,
        s.practice_id,
        s.type_code,
        s.start.astimezone(UTC),
        s.end.astimezone(UTC),
        s.organisation_id,
        s.specialty,
        "," + ",".join(s.languages) + ",",
        ",".join(s.kinds),
        s.time_zone,
        day.isoformat(),
    )


class SqlFreeSlots:
    """Queries on the free slots; ``SqlAvailability`` writes them."""

    db: Database

    def of_doctor(
        self,
        doctor_id: UUID,
        start: datetime,
        end: datetime,
        type_code: str | None = None,
        practice_id: UUID | None = None,
        limit: int = 2000,
    ) -> list[FreeSlot]:
        sql = (
            f"SELECT {SLOT_COLUMNS} FROM availability_slots WHERE doctor_id = %s "
            "AND start_at >= %s AND start_at < %s"
        )
        params: list[Any] = [doctor_id, start.astimezone(UTC), end.astimezone(UTC)]
        if type_code:
            sql += " AND type_code = %s"
            params.append(type_code)
        if practice_id:
            sql += " AND practice_id = %s"
            params.append(practice_id)
        sql += " ORDER BY start_at, practice_id, type_code LIMIT %s"
        params.append(limit)
        return self._query(sql, params)

    def earliest(
        self,
        *,
        specialty: str,
        type_code: str | None,
        after: datetime,
        organisation_id: UUID | None = None,
        language: str | None = None,
        limit: int = 10,
    ) -> list[FreeSlot]:
        sql = f"SELECT {SLOT_COLUMNS} FROM availability_slots WHERE specialty = %s"
        params: list[Any] = [specialty.strip().lower()]
        if type_code:
            sql += " AND type_code = %s"
            params.append(type_code)
        sql += " AND start_at >= %s"
        params.append(after.astimezone(UTC))
        if organisation_id:
            sql += " AND organisation_id = %s"
            params.append(organisation_id)
        if language:
            sql += " AND languages LIKE %s"
            params.append(f"%,{language.strip().lower()},%")
        sql += " ORDER BY start_at, doctor_id LIMIT %s"
        params.append(limit)
        return self._query(sql, params)

    def all_rows(self) -> dict[UUID, list[tuple[str, str, str, str]]]:
        """Every slot per doctor, for comparisons with a from-scratch computation."""
        out: dict[UUID, list[tuple[str, str, str, str]]] = defaultdict(list)
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT doctor_id, practice_id, type_code, start_at, end_at "
                "FROM availability_slots ORDER BY doctor_id, start_at, practice_id, "
                "type_code"
            )
            for d, p, t, s, e in cur.fetchall():
                out[as_uuid(d)].append(
                    (
                        str(as_uuid(p)),
                        str(t),
                        as_datetime(s).isoformat(),
                        as_datetime(e).isoformat(),
                    )
                )
        return dict(out)

    def _query(self, sql: str, params: list[Any]) -> list[FreeSlot]:
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        return [
            FreeSlot(
                as_uuid(r[0]),
                as_uuid(r[1]),
                str(r[2]),
                as_datetime(r[3]),
                as_datetime(r[4]),
                as_uuid(r[5]),
                str(r[6]),
                tuple(x for x in str(r[7]).split(",") if x),
                tuple(x for x in str(r[8]).split(",") if x),
                str(r[9]),
            )
            for r in rows
        ]
