"""The waiting room in SQL (SQLite and PostgreSQL): one row per synchronous consultation, each
doctor's pace, and the samples the estimate learns from (the last ``KEEP_SAMPLES`` per doctor,
measure and type, as JSON)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from adapters.db import Cursor, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from projections.wait_estimate import History
from projections.waiting_room import (
    KEEP_SAMPLES,
    DoctorPace,
    Entry,
    Measure,
    Queue,
    Spot,
    WaitingSpot,
    compute_queue,
    spot_in,
)

_FIELDS = (
    "consultation_id",
    "version",
    "queue_key",
    "doctor_id",
    "patient_id",
    "organisation_id",
    "type_code",
    "urgent",
    "scheduled_at",
    "slot_minutes",
    "spot",
    "arrived_at",
    "admitted_at",
    "intake_at",
)
_CHANGEABLE = frozenset(
    {
        "queue_key",
        "doctor_id",
        "spot",
        "scheduled_at",
        "slot_minutes",
        "arrived_at",
        "admitted_at",
        "intake_at",
    }
)
#: booked consultations that may still come ahead of those waiting
_EXPECTED_FROM, _EXPECTED_UNTIL = timedelta(minutes=30), timedelta(hours=12)


class SqlWaitingRoom(SqlView):
    tables = ("waiting_room", "waiting_room_pace", "waiting_room_history")

    # -- the projection's writes (and reads of its own rows) -----------------------------------

    def entered(self, entry: Entry) -> None:
        values = {k: _db(v) for k, v in asdict(entry).items()}
        self.cur.execute(
            f"INSERT INTO waiting_room ({', '.join(_FIELDS)}) "
            f"VALUES ({', '.join('%s' for _ in _FIELDS)}) ON CONFLICT (consultation_id) DO NOTHING",
            [values[f] for f in _FIELDS],
        )

    def changed(self, consultation_id: UUID, version: int, **fields: Any) -> None:
        assert set(fields) <= _CHANGEABLE
        sets = ", ".join(f"{name} = %s" for name in fields)
        self.cur.execute(
            f"UPDATE waiting_room SET {sets}, version = %s WHERE consultation_id = %s",
            [*(_db(v) for v in fields.values()), version, consultation_id],
        )

    def entry(self, consultation_id: UUID) -> Entry | None:
        return _one(self.cur, consultation_id)

    def pace(self, doctor_id: UUID) -> DoctorPace:
        return _pace(self.cur, doctor_id)

    def paced(self, pace: DoctorPace) -> None:
        self.cur.execute(
            "INSERT INTO waiting_room_pace (doctor_id, free_since, last_admitted_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (doctor_id) DO UPDATE SET "
            "free_since = excluded.free_since, last_admitted_at = excluded.last_admitted_at",
            (pace.doctor_id, _db(pace.free_since), _db(pace.last_admitted_at)),
        )

    def sample(self, doctor_id: UUID, measure: Measure, type_code: str, value: float) -> None:
        self.cur.execute(
            "SELECT samples FROM waiting_room_history "
            "WHERE doctor_id = %s AND measure = %s AND type_code = %s",
            (doctor_id, measure.value, type_code),
        )
        row = self.cur.fetchone()
        samples = [*(orjson.loads(row[0]) if row else []), round(value, 3)][-KEEP_SAMPLES:]
        self.cur.execute(
            "INSERT INTO waiting_room_history (doctor_id, measure, type_code, samples) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (doctor_id, measure, type_code) "
            "DO UPDATE SET samples = excluded.samples",
            (doctor_id, measure.value, type_code, orjson.dumps(samples).decode()),
        )

    # -- the queries ---------------------------------------------------------------------------

    def queue(self, queue_key: str, now: datetime) -> Queue:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {', '.join(_FIELDS)} FROM waiting_room WHERE queue_key = %s AND "
                "(spot IN (%s, %s) OR (spot = %s AND scheduled_at > %s AND scheduled_at < %s))",
                (
                    queue_key,
                    Spot.WAITING.value,
                    Spot.IN_PROGRESS.value,
                    Spot.BOOKED.value,
                    _db(now - _EXPECTED_FROM),
                    _db(now + _EXPECTED_UNTIL),
                ),
            )
            entries = [_entry(r) for r in cur.fetchall()]
            doctor = _doctor_of(queue_key)
            pace = _pace(cur, doctor) if doctor else None
            history = _history(cur, doctor) if doctor else History()
        return compute_queue(queue_key, now, entries, pace, history)

    def of_consultation(self, consultation_id: UUID, now: datetime) -> WaitingSpot | None:
        with self.db.transaction(write=False) as cur:
            entry = _one(cur, consultation_id)
        if entry is None:
            return None
        return spot_in(self.queue(entry.queue_key, now), entry)


def _one(cur: Cursor, consultation_id: UUID) -> Entry | None:
    cur.execute(
        f"SELECT {', '.join(_FIELDS)} FROM waiting_room WHERE consultation_id = %s",
        (consultation_id,),
    )
    row = cur.fetchone()
    return _entry(row) if row else None


def _pace(cur: Cursor, doctor_id: UUID) -> DoctorPace:
    cur.execute(
        "SELECT free_since, last_admitted_at FROM waiting_room_pace WHERE doctor_id = %s",
        (doctor_id,),
    )
    row = cur.fetchone()
    if row is None:
        return DoctorPace(doctor_id, None, None)
    return DoctorPace(doctor_id, _time(row[0]), _time(row[1]))


def _history(cur: Cursor, doctor_id: UUID) -> History:
    cur.execute(
        "SELECT measure, type_code, samples FROM waiting_room_history WHERE doctor_id = %s",
        (doctor_id,),
    )
    durations: dict[str, list[float]] = {}
    other: dict[str, list[float]] = {}
    for measure, type_code, samples in cur.fetchall():
        values = [float(v) for v in orjson.loads(samples)]
        if measure == Measure.DURATION.value:
            durations[str(type_code)] = values
        else:
            other[str(measure)] = values
    return History(
        durations=durations,
        lags=other.get(Measure.LAG.value, []),
        start_lags=other.get(Measure.START_LAG.value, []),
        turnarounds=other.get(Measure.TURNAROUND.value, []),
        arrivals=other.get(Measure.ARRIVAL.value, []),
        shows=other.get(Measure.SHOW.value, []),
    )


def _doctor_of(queue_key: str) -> UUID | None:
    kind, _, ident = queue_key.partition(":")
    return UUID(ident) if kind == "doctor" else None


def _entry(r: Any) -> Entry:
    return Entry(
        consultation_id=as_uuid(r[0]),
        version=int(r[1]),
        queue_key=str(r[2]),
        doctor_id=as_uuid(r[3]),
        patient_id=as_uuid(r[4]),
        organisation_id=as_uuid(r[5]) if r[5] else None,
        type_code=str(r[6]),
        urgent=bool(r[7]),
        scheduled_at=_time(r[8]),
        slot_minutes=float(r[9]),
        spot=Spot(r[10]),
        arrived_at=_time(r[11]),
        admitted_at=_time(r[12]),
        intake_at=_time(r[13]),
    )


def _db(value: Any) -> Any:
    """Times in UTC (SQLite compares them as text); enums by value."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, Spot):
        return value.value
    return value


def _time(value: Any) -> datetime | None:
    return as_datetime(value) if value is not None else None
