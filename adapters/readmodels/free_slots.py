"""The free slots in SQL: the queries routers make (``projections.free_slots.Availability``),
answered from the doctors' rules, bookings and busy times the read model keeps, computed by
``projections.free_slots.FreeSlots``."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from adapters.db import Cursor, Database, as_datetime, as_uuid
from domain.time_rules import Interval, local_day_bounds, zone
from projections.free_slots import FreeSlot, FreeSlots, Loaded


def taken(cur: Cursor, doctor_id: UUID, within: Interval) -> list[Interval]:
    """The doctor's bookings and busy times that overlap ``within``."""
    span = (doctor_id, within.end.astimezone(UTC), within.start.astimezone(UTC))
    cur.execute(
        "SELECT start_at, end_at FROM availability_bookings "
        "WHERE doctor_id = %s AND start_at < %s AND end_at > %s "
        "UNION ALL SELECT start_at, end_at FROM availability_busy "
        "WHERE doctor_id = %s AND start_at < %s AND end_at > %s",
        (*span, *span),
    )
    return [Interval(as_datetime(s), as_datetime(e)) for s, e in cur.fetchall()]


class SqlFreeSlots:
    """Queries on the free slots; ``SqlAvailability`` writes what they are computed from."""

    db: Database
    slots: FreeSlots

    def of_doctor(
        self,
        doctor_id: UUID,
        start: datetime,
        end: datetime,
        type_code: str | None = None,
        practice_id: UUID | None = None,
        limit: int = 2000,
    ) -> list[FreeSlot]:
        def want(s: FreeSlot) -> bool:
            return (not type_code or s.type_code == type_code) and (
                not practice_id or s.practice_id == practice_id
            )

        with self.db.transaction(write=False) as cur:
            loaded = self._load(cur, doctor_id, start, end)
        if loaded is None:
            return []
        found: list[FreeSlot] = []
        for s in self.slots.between(loaded, start, end, want):
            if len(found) >= limit:
                break
            found.append(s)
        return found

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
        def want(s: FreeSlot) -> bool:
            return (not type_code or s.type_code == type_code) and (
                not organisation_id or s.organisation_id == organisation_id
            )

        sql = "SELECT doctor_id, first_free FROM availability_rules WHERE specialty = %s"
        params: list[Any] = [specialty.strip().lower()]
        if language:
            sql += " AND languages LIKE %s"
            params.append(f"%,{language.strip().lower()},%")
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            candidates = [
                (as_uuid(d), as_datetime(f) if f is not None else None) for d, f in cur.fetchall()
            ]

            def load(doctor_id: UUID, begin: datetime) -> Loaded | None:
                return self._load(cur, doctor_id, begin, None)

            return self.slots.earliest(candidates, load, after, want, limit)

    def all_rows(self) -> dict[UUID, list[tuple[str, str, str, str]]]:
        """Every free slot of the horizon per doctor, for comparisons with a from-scratch
        computation."""
        out: dict[UUID, list[tuple[str, str, str, str]]] = defaultdict(list)
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT doctor_id FROM availability_rules")
            for (doctor_id,) in cur.fetchall():
                loaded = self._load(cur, as_uuid(doctor_id), None, None)
                if loaded is None:
                    continue
                rules = loaded[0]
                first = local_day_bounds(self.slots.days_held(rules)[0], zone(rules.time_zone))
                for s in self.slots.between(
                    loaded, first.start, self.slots.horizon_end(rules), lambda _: True
                ):
                    out[s.doctor_id].append(
                        (str(s.practice_id), s.type_code, s.start.isoformat(), s.end.isoformat())
                    )
        return dict(out)

    def _load(
        self, cur: Cursor, doctor_id: UUID, start: datetime | None, end: datetime | None
    ) -> Loaded | None:
        """The doctor's rules (parsed once per version) and what is taken from the start of
        the local day of ``start`` to the end of that of ``end`` (None: the horizon's)."""
        cur.execute("SELECT version FROM availability_rules WHERE doctor_id = %s", (doctor_id,))
        found = cur.fetchone()
        if found is None:
            return None

        def document() -> str:
            cur.execute(
                "SELECT document FROM availability_rules WHERE doctor_id = %s", (doctor_id,)
            )
            return str(cur.fetchone()[0])

        version = int(found[0])
        rules = self.slots.rules(doctor_id, version, document)
        held = self.slots.days_held(rules)
        tz = zone(rules.time_zone)
        first = held[0] if start is None else max(held[0], start.astimezone(tz).date())
        last = held[-1] if end is None else min(held[-1], end.astimezone(tz).date())
        if last < first:
            return rules, version, []
        within = Interval(local_day_bounds(first, tz).start, local_day_bounds(last, tz).end)
        return rules, version, taken(cur, doctor_id, within)
