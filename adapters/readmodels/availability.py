"""Free slots in SQL, recomputed per doctor and day from the write model's rules.

During a batch the view only notes which doctor-days changed; at the end of the batch it
recomputes them with the domain's own ``offered_slots`` and ``free_slots`` (the functions the
booking command checks against) and replaces their rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.booking import DoctorDay
from domain.calendar_links import ExternalCalendars
from domain.schedule import DoctorSchedule, Slot, free_slots
from domain.time_rules import local_day_bounds, zone

A = TypeVar("A", bound=Aggregate)
Loader = Callable[[type[Any], UUID], Any]
ALL_DAYS = None


@dataclass(frozen=True)
class FreeSlot:
    doctor_id: UUID
    practice_id: UUID
    type_code: str
    start: datetime
    end: datetime
    organisation_id: UUID
    specialty: str
    languages: tuple[str, ...]
    kinds: tuple[str, ...]
    time_zone: str


_COLUMNS = (
    "doctor_id, practice_id, type_code, start_at, end_at, organisation_id, specialty, "
    "languages, kinds, time_zone"
)


def compute_day(
    schedule: DoctorSchedule,
    doctor_days: list[DoctorDay],
    calendars: ExternalCalendars | None,
    day: date,
) -> list[Slot]:
    """The free slots of one local day, from scratch; ``doctor_days`` are the doctor's UTC
    days that the local day touches (``utc_days_of``)."""
    taken = [booked for d in doctor_days for booked in d.bookings.values()]
    if calendars is not None:
        taken += calendars.busy_between(local_day_bounds(day, zone(schedule.time_zone)))
    return free_slots(schedule.offered_slots(day), taken)


def utc_days_of(day: date, time_zone: str) -> list[date]:
    """The UTC dates (the doctor's days' keys) that one local day touches."""
    return DoctorDay.days_of(local_day_bounds(day, zone(time_zone)))


def local_days_of(utc_day: date, time_zone: str) -> set[date]:
    """The local dates that one UTC day touches."""
    tz = zone(time_zone)
    start = datetime.combine(utc_day, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=1) - timedelta(microseconds=1)
    return {start.astimezone(tz).date(), end.astimezone(tz).date()}


class SqlAvailability(SqlView):
    tables = ("availability_slots", "availability_horizon")

    def __init__(self, db: Database, load: Loader, horizon_days: int = 90) -> None:
        super().__init__(db)
        self.load, self.horizon_days = load, horizon_days
        self._dirty: dict[UUID, set[date] | None] = {}

    # -- projection steps: note what changed -----------------------------------------------
    def schedule_changed(self, schedule_id: UUID) -> None:
        schedule = self.load(DoctorSchedule, schedule_id)
        if schedule is not None:
            self._dirty[schedule.doctor_id] = ALL_DAYS

    def day_changed(self, doctor_day_id: UUID) -> None:
        day = self.load(DoctorDay, doctor_day_id)
        if day is None:
            return
        days = self._dirty.setdefault(day.doctor_id, set())
        if days is not None:
            days.add(day.day)

    def calendars_changed(self, calendars_id: UUID) -> None:
        calendars = self.load(ExternalCalendars, calendars_id)
        if calendars is not None:
            self._dirty[calendars.doctor_id] = ALL_DAYS

    def end_batch(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for doctor_id, days in dirty.items():
            self.recompute(doctor_id, days)

    # -- recomputing ------------------------------------------------------------------------
    def horizon(self, schedule: DoctorSchedule) -> list[date]:
        today = datetime.now(UTC).astimezone(zone(schedule.time_zone)).date()
        return [today + timedelta(days=i) for i in range(-1, self.horizon_days + 1)]

    def recompute(self, doctor_id: UUID, days: set[date] | None) -> None:
        schedule = self.load(DoctorSchedule, DoctorSchedule.create_id(doctor_id))
        if schedule is None:
            return
        window = self.horizon(schedule)
        local = (
            set(window)
            if days is None
            else {d for utc_day in days for d in local_days_of(utc_day, schedule.time_zone)}
        )
        wanted = sorted(local & set(window))
        calendars = self.load(ExternalCalendars, ExternalCalendars.create_id(doctor_id))
        rows = []
        for day in wanted:
            doctor_days = [
                found
                for utc_day in utc_days_of(day, schedule.time_zone)
                if (found := self.load(DoctorDay, DoctorDay.create_id(doctor_id, utc_day)))
            ]
            for slot in compute_day(schedule, doctor_days, calendars, day):
                practice = schedule.practices[slot.practice_id]
                kind = schedule.types[(slot.practice_id, slot.type_code)]
                rows.append(
                    (
                        doctor_id,
                        slot.practice_id,
                        slot.type_code,
                        slot.start,
                        slot.end,
                        day.isoformat(),
                        practice.organisation_id,
                        schedule.specialty,
                        "," + ",".join(schedule.languages) + ",",
                        ",".join(kind.kinds),
                        schedule.time_zone,
                    )
                )
        if days is None:
            self.cur.execute("DELETE FROM availability_slots WHERE doctor_id = %s", (doctor_id,))
        else:
            for day in wanted:
                self.cur.execute(
                    "DELETE FROM availability_slots WHERE doctor_id = %s AND day = %s",
                    (doctor_id, day.isoformat()),
                )
        if rows:
            self.cur.executemany(
                "INSERT INTO availability_slots (doctor_id, practice_id, type_code, start_at, "
                "end_at, day, organisation_id, specialty, languages, kinds, time_zone) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        self.cur.execute(
            "INSERT INTO availability_horizon (doctor_id, last_day) VALUES (%s, %s) "
            "ON CONFLICT (doctor_id) DO UPDATE SET last_day = excluded.last_day",
            (doctor_id, window[-1].isoformat()),
        )

    def roll_horizon(self) -> int:
        """Compute the days that came into the horizon since (run by the worker, daily)."""
        soon = (datetime.now(UTC).date() + timedelta(days=self.horizon_days - 1)).isoformat()
        with self.db.transaction(write=False) as cur:
            cur.execute("SELECT doctor_id FROM availability_horizon WHERE last_day < %s", (soon,))
            stale = [as_uuid(r[0]) for r in cur.fetchall()]
        for doctor_id in stale:
            with self.db.transaction() as cur:
                self.bind(cur)
                try:
                    self.recompute(doctor_id, ALL_DAYS)
                finally:
                    self.bind(None)
        return len(stale)

    # -- queries ----------------------------------------------------------------------------
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
            f"SELECT {_COLUMNS} FROM availability_slots WHERE doctor_id = %s "
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
        sql = f"SELECT {_COLUMNS} FROM availability_slots WHERE specialty = %s"
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
