"""Availability in SQL: what the read model keeps to compute the free slots (the doctors' rules
with when each one's first free slot starts, bookings and busy periods, and which doctor each
stream belongs to). The queries on the free slots are in ``adapters.readmodels.free_slots``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.free_slots import SqlFreeSlots, taken
from adapters.readmodels.runner import SqlView
from domain.time_rules import Interval
from projections.availability_rules import DoctorRules
from projections.free_slots import FreeSlots, horizon


def _utc(at: Interval) -> tuple[datetime, datetime]:
    return at.start.astimezone(UTC), at.end.astimezone(UTC)


class SqlAvailability(SqlView, SqlFreeSlots):
    tables = (
        "availability_owners",
        "availability_rules",
        "availability_bookings",
        "availability_busy",
    )

    def __init__(self, db: Database, horizon_days: int = 90) -> None:
        super().__init__(db)
        self.horizon_days = horizon_days
        self.slots = FreeSlots(horizon_days)

    # -- the read model's own facts ---------------------------------------------------------
    def own(self, stream_id: UUID, doctor_id: UUID) -> None:
        self.cur.execute(
            "INSERT INTO availability_owners (stream_id, doctor_id) VALUES (%s, %s) "
            "ON CONFLICT (stream_id) DO NOTHING",
            (stream_id, doctor_id),
        )

    def owner(self, stream_id: UUID) -> UUID | None:
        self.cur.execute(
            "SELECT doctor_id FROM availability_owners WHERE stream_id = %s", (stream_id,)
        )
        found = self.cur.fetchone()
        return as_uuid(found[0]) if found else None

    def rules(self, doctor_id: UUID) -> DoctorRules | None:
        self.cur.execute(
            "SELECT document FROM availability_rules WHERE doctor_id = %s", (doctor_id,)
        )
        found = self.cur.fetchone()
        return DoctorRules.from_json(found[0]) if found else None

    def save_rules(self, rules: DoctorRules, version: int, first_free: datetime) -> None:
        self.cur.execute(
            "INSERT INTO availability_rules (doctor_id, document, version, specialty, "
            "languages, first_free) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (doctor_id) "
            "DO UPDATE SET document = excluded.document, version = excluded.version, "
            "specialty = excluded.specialty, languages = excluded.languages, "
            "first_free = excluded.first_free",
            (
                rules.doctor_id,
                rules.to_json(),
                version,
                rules.specialty,
                "," + ",".join(rules.languages) + ",",
                first_free.astimezone(UTC),
            ),
        )

    def freed(self, doctor_id: UUID, at: list[Interval]) -> None:
        earliest = min(i.start for i in at).astimezone(UTC)
        self.cur.execute(
            "UPDATE availability_rules SET first_free = %s "
            "WHERE doctor_id = %s AND first_free > %s",
            (earliest, doctor_id, earliest),
        )

    def booked(self, day_id: UUID, consultation_id: UUID, doctor_id: UUID, at: Interval) -> None:
        self.cur.execute(
            "INSERT INTO availability_bookings (day_id, consultation_id, doctor_id, start_at, "
            "end_at) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (day_id, consultation_id) DO UPDATE "
            "SET start_at = excluded.start_at, end_at = excluded.end_at",
            (day_id, consultation_id, doctor_id, *_utc(at)),
        )

    def released(self, day_id: UUID, consultation_id: UUID) -> list[Interval]:
        self.cur.execute(
            "DELETE FROM availability_bookings WHERE day_id = %s AND consultation_id = %s "
            "RETURNING start_at, end_at",
            (day_id, consultation_id),
        )
        return self._intervals()

    def busy(self, doctor_id: UUID, calendar_id: UUID, uid: str, at: Interval) -> None:
        self.cur.execute(
            "INSERT INTO availability_busy (doctor_id, calendar_id, uid, start_at, end_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (doctor_id, calendar_id, uid, *_utc(at)),
        )

    def not_busy(self, doctor_id: UUID, calendar_id: UUID, uid: str | None) -> list[Interval]:
        sql = "DELETE FROM availability_busy WHERE doctor_id = %s AND calendar_id = %s"
        params: list[Any] = [doctor_id, calendar_id]
        if uid is not None:
            sql += " AND uid = %s"
            params.append(uid)
        self.cur.execute(sql + " RETURNING start_at, end_at", params)
        return self._intervals()

    def taken(self, doctor_id: UUID, within: Interval) -> list[Interval]:
        return taken(self.cur, doctor_id, within)

    def _intervals(self) -> list[Interval]:
        return [Interval(as_datetime(s), as_datetime(e)) for s, e in self.cur.fetchall()]

    def horizon(self, schedule: Any) -> list[date]:
        """The local days offered for a doctor in ``schedule.time_zone``."""
        return horizon(schedule.time_zone, self.horizon_days)
