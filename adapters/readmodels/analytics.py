"""Analytics in SQL: counts keyed by metric, organisation, day and one dimension. Patients
appear only as keyed pseudonyms, to find their organisation."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from adapters.db import Database
from adapters.readmodels.runner import SqlView
from adapters.stream.contract import Pseudonyms
from projections.analytics import (
    NO_ORGANISATION,
    CareFigures,
    ConsultationFigures,
    Count,
    Granularity,
    Nps,
    NpsFigure,
    average,
    nps_of,
    p90,
    period_of,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SqlAnalytics(SqlView):
    tables = (
        "analytics_daily",
        "analytics_subjects",
        "analytics_doctors",
        "analytics_consultation_facts",
        "analytics_consultations",
    )

    def __init__(self, db: Database, pseudonyms: Pseudonyms) -> None:
        super().__init__(db)
        self.pseudonyms = pseudonyms

    def joined(self, patient_id: UUID, organisation_id: UUID | None) -> None:
        self.cur.execute(
            "INSERT INTO analytics_subjects (subject, organisation_id) VALUES (%s, %s) "
            "ON CONFLICT (subject) DO NOTHING",
            (
                self.pseudonyms("patient", patient_id),
                str(organisation_id) if organisation_id else NO_ORGANISATION,
            ),
        )

    def count(self, metric: str, patient_id: UUID, day: date, dimension: str) -> None:
        self.cur.execute(
            "INSERT INTO analytics_daily (metric, organisation_id, day, dimension, count) "
            "SELECT %s, coalesce((SELECT organisation_id FROM analytics_subjects "
            "WHERE subject = %s), %s), %s, %s, 1 WHERE true "
            "ON CONFLICT (metric, organisation_id, day, dimension) "
            "DO UPDATE SET count = analytics_daily.count + 1",
            (
                metric,
                self.pseudonyms("patient", patient_id),
                NO_ORGANISATION,
                day.isoformat(),
                dimension,
            ),
        )

    def specialty(self, schedule_id: UUID, specialty: str) -> None:
        self.cur.execute(
            "INSERT INTO analytics_doctors (schedule, specialty) VALUES (%s, %s) "
            "ON CONFLICT (schedule) DO UPDATE SET specialty = excluded.specialty",
            (self.pseudonyms("schedule", schedule_id), specialty),
        )

    def consultation_booked(
        self,
        consultation_id: UUID,
        schedule_id: UUID,
        organisation_id: UUID | None,
        type_code: str,
        day: date,
        lead_minutes: int,
        urgent: bool,
        start: datetime,
        doctor_id: UUID,
        kind: str,
        asynchronous: bool,
    ) -> None:
        self.cur.execute(
            "INSERT INTO analytics_consultation_facts (consultation, organisation_id, specialty, "
            "type_code, due_day, starts_at, doctor, kind, asynchronous, waiting_since) "
            "SELECT %s, %s, coalesce((SELECT specialty FROM analytics_doctors "
            "WHERE schedule = %s), 'unknown'), %s, %s, %s, %s, %s, %s, %s WHERE true "
            "ON CONFLICT (consultation) DO NOTHING",
            (
                self.pseudonyms("consultation", consultation_id),
                str(organisation_id) if organisation_id else NO_ORGANISATION,
                self.pseudonyms("schedule", schedule_id),
                type_code,
                _utc_day(start),
                _micros(start),
                self.pseudonyms("doctor", doctor_id),
                kind,
                int(asynchronous),
                _micros(start) if urgent else None,  # an urgent patient waits from booking
            ),
        )
        self.consultation_counted("bookings", consultation_id, day, lead_minutes)
        if urgent:
            self.consultation_counted("urgent", consultation_id, day)

    def consultation_counted(
        self, metric: str, consultation_id: UUID, day: date, amount: int = 0
    ) -> None:
        self.cur.execute(
            "INSERT INTO analytics_consultations (metric, organisation_id, day, specialty, "
            "type_code, count, amount) SELECT %s, f.organisation_id, %s, f.specialty, "
            "f.type_code, 1, %s FROM analytics_consultation_facts f WHERE f.consultation = %s "
            "ON CONFLICT (metric, organisation_id, day, specialty, type_code) DO UPDATE SET "
            "count = analytics_consultations.count + 1, "
            "amount = analytics_consultations.amount + excluded.amount",
            (metric, day.isoformat(), amount, self.pseudonyms("consultation", consultation_id)),
        )

    def start_of(self, consultation_id: UUID) -> datetime | None:
        self.cur.execute(
            "SELECT starts_at FROM analytics_consultation_facts WHERE consultation = %s",
            (self.pseudonyms("consultation", consultation_id),),
        )
        row = self.cur.fetchone()
        if row is None or row[0] is None:
            return None
        return EPOCH + timedelta(microseconds=int(row[0]))

    def appointment_moved(self, consultation_id: UUID, start: datetime) -> None:
        self._set_fact(
            "due_day = %s, starts_at = %s, waiting_since = NULL",
            consultation_id,
            _utc_day(start),
            _micros(start),
        )

    def appointment_cancelled(self, consultation_id: UUID, before_start: bool) -> None:
        self._set_fact("cancelled_early = %s", consultation_id, int(before_start))

    def appointment_missed(self, consultation_id: UUID) -> None:
        self._set_fact("no_show = %s", consultation_id, 1)

    def checked_in(self, consultation_id: UUID, at: datetime) -> None:
        self._set_fact("waiting_since = coalesce(waiting_since, %s)", consultation_id, _micros(at))

    def admitted(self, consultation_id: UUID, at: datetime) -> None:
        self._set_fact(
            "wait_micros = CASE WHEN waiting_since IS NULL THEN NULL ELSE %s - waiting_since END",
            consultation_id,
            _micros(at),
        )

    def taken(self, consultation_id: UUID, schedule_id: UUID, doctor_id: UUID) -> None:
        self._set_fact(
            "doctor = %s, specialty = coalesce((SELECT specialty FROM analytics_doctors "
            "WHERE schedule = %s), specialty)",
            consultation_id,
            self.pseudonyms("doctor", doctor_id),
            self.pseudonyms("schedule", schedule_id),
        )

    def completed(self, consultation_id: UUID) -> None:
        self._set_fact("completed = 1", consultation_id)

    def answered(self, consultation_id: UUID, at: datetime) -> None:
        self._set_fact(
            "completed = 1, answer_micros = coalesce(answer_micros, %s - starts_at)",
            consultation_id,
            _micros(at),
        )

    def rated(self, consultation_id: UUID, score: int, day: date) -> None:
        self._set_fact("score = %s, rated_day = %s", consultation_id, score, day.isoformat())

    def _set_fact(self, assignments: str, consultation_id: UUID, *values: object) -> None:
        self.cur.execute(
            f"UPDATE analytics_consultation_facts SET {assignments} WHERE consultation = %s",
            (*values, self.pseudonyms("consultation", consultation_id)),
        )

    def consultations(
        self,
        start: date,
        end: date,
        granularity: Granularity = "day",
        organisation_id: UUID | None = None,
        as_of: datetime | None = None,
    ) -> list[ConsultationFigures]:
        """Bookings, urgent, cancellations and reschedules per period (the day each happened),
        organisation, specialty and type, with the average lead time of the bookings; and the
        cohort of appointments due in the period (start in it and come by ``as_of``, default
        now; not cancelled before it, not asynchronous), with its no-shows and no-show rate; and
        the whole cohort (cancelled ones and questions included), its completions and the
        conversion."""
        sql = (
            "SELECT metric, day, organisation_id, specialty, type_code, count, amount "
            "FROM analytics_consultations WHERE day >= %s AND day <= %s"
        )
        cohort_sql = (
            "SELECT due_day, organisation_id, specialty, type_code, "
            "coalesce(sum(CASE WHEN cancelled_early = 0 AND asynchronous = 0 THEN 1 ELSE 0 END)"
            ", 0), coalesce(sum(no_show), 0), count(*), coalesce(sum(completed), 0) "
            "FROM analytics_consultation_facts "
            "WHERE due_day >= %s AND due_day <= %s AND starts_at <= %s"
        )
        params: list[object] = [start.isoformat(), end.isoformat()]
        if organisation_id is not None:
            sql += " AND organisation_id = %s"
            cohort_sql += " AND organisation_id = %s"
            params.append(str(organisation_id))
        cohort_sql += " GROUP BY due_day, organisation_id, specialty, type_code"
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
            cur.execute(cohort_sql, [*params[:2], _micros(as_of or datetime.now(UTC)), *params[2:]])
            for day, org, specialty, type_code, due, no_shows, cohort, done in cur.fetchall():
                rows.append(("due", day, org, specialty, type_code, due, 0))
                rows.append(("no-shows", day, org, specialty, type_code, no_shows, 0))
                rows.append(("cohort", day, org, specialty, type_code, cohort, 0))
                rows.append(("completed", day, org, specialty, type_code, done, 0))
        counts: dict[tuple[date, str, str, str], dict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        for metric, day, org, specialty, type_code, count, amount in rows:
            key = (
                period_of(date.fromisoformat(str(day)), granularity),
                str(org),
                str(specialty),
                str(type_code),
            )
            counts[key][str(metric)] += int(count)
            counts[key][f"{metric}:amount"] += int(amount)
        out = []
        for (period, org, specialty, type_code), c in sorted(counts.items()):
            bookings, due, cohort = c["bookings"], c["due"], c["cohort"]
            out.append(
                ConsultationFigures(
                    period,
                    org,
                    specialty,
                    type_code,
                    bookings,
                    c["urgent"],
                    c["cancellations"],
                    c["reschedules"],
                    due,
                    c["no-shows"],
                    round(c["bookings:amount"] / bookings, 1) if bookings else None,
                    round(c["no-shows"] / due, 4) if due else None,
                    cohort,
                    c["completed"],
                    round(c["completed"] / cohort, 4) if cohort else None,
                )
            )
        return out

    def care(
        self,
        start: date,
        end: date,
        granularity: Granularity = "day",
        organisation_id: UUID | None = None,
        as_of: datetime | None = None,
    ) -> list[CareFigures]:
        """Per cohort (start in the period and come by ``as_of``), organisation, specialty and
        kind: consultations, completions, conversion, waits and answer times in minutes."""
        sql = (
            "SELECT due_day, organisation_id, specialty, coalesce(kind, 'unknown'), completed, "
            "wait_micros, answer_micros FROM analytics_consultation_facts "
            "WHERE due_day >= %s AND due_day <= %s AND starts_at <= %s"
        )
        params: list[object] = [start.isoformat(), end.isoformat()]
        params.append(_micros(as_of or datetime.now(UTC)))
        if organisation_id is not None:
            sql += " AND organisation_id = %s"
            params.append(str(organisation_id))
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        groups: dict[tuple[date, str, str, str], list[tuple[int, int | None, int | None]]] = (
            defaultdict(list)
        )
        for day, org, specialty, kind, done, wait, answer in rows:
            period = period_of(date.fromisoformat(str(day)), granularity)
            groups[(period, str(org), str(specialty), str(kind))].append((int(done), wait, answer))
        out = []
        for (period, org, specialty, kind), facts in sorted(groups.items()):
            done = sum(f[0] for f in facts)
            waits = [_minutes(f[1]) for f in facts if f[1] is not None]
            answers = [_minutes(f[2]) for f in facts if f[2] is not None]
            out.append(
                CareFigures(
                    period,
                    org,
                    specialty,
                    kind,
                    len(facts),
                    done,
                    round(done / len(facts), 4),
                    len(waits),
                    average(waits),
                    p90(waits),
                    len(answers),
                    average(answers),
                    p90(answers),
                )
            )
        return out

    def nps(self, start: date, end: date, organisation_id: UUID | None = None) -> list[NpsFigure]:
        """NPS of the ratings given in the period, per organisation, specialty and doctor."""
        sql = (
            "SELECT organisation_id, specialty, doctor, score FROM analytics_consultation_facts "
            "WHERE rated_day >= %s AND rated_day <= %s AND score IS NOT NULL"
        )
        params: list[object] = [start.isoformat(), end.isoformat()]
        if organisation_id is not None:
            sql += " AND organisation_id = %s"
            params.append(str(organisation_id))
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        scores: dict[tuple[str, str | None, str | None], list[int]] = defaultdict(list)
        for org, specialty, doctor, score in rows:
            for key in (
                (str(org), None, None),
                (str(org), str(specialty), None),
                (str(org), str(specialty), str(doctor)),
            ):
                scores[key].append(int(score))
        return [
            NpsFigure(org, specialty, doctor, nps_of(found))
            for (org, specialty, doctor), found in sorted(
                scores.items(), key=lambda item: tuple(part or "" for part in item[0])
            )
        ]

    def nps_of_doctor(self, doctor_id: UUID, start: date, end: date) -> Nps:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT score FROM analytics_consultation_facts WHERE doctor = %s "
                "AND rated_day >= %s AND rated_day <= %s AND score IS NOT NULL",
                (self.pseudonyms("doctor", doctor_id), start.isoformat(), end.isoformat()),
            )
            return nps_of([int(row[0]) for row in cur.fetchall()])

    def query(
        self,
        metric: str,
        start: date,
        end: date,
        granularity: Granularity = "day",
        organisation_id: UUID | None = None,
    ) -> list[Count]:
        sql = (
            "SELECT day, organisation_id, dimension, count FROM analytics_daily "
            "WHERE metric = %s AND day >= %s AND day <= %s"
        )
        params: list[object] = [metric, start.isoformat(), end.isoformat()]
        if organisation_id is not None:
            sql += " AND organisation_id = %s"
            params.append(str(organisation_id))
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        totals: dict[tuple[date, str, str], int] = defaultdict(int)
        for day, organisation, dimension, count in rows:
            period = period_of(date.fromisoformat(str(day)), granularity)
            totals[(period, str(organisation), str(dimension))] += int(count)
        return [Count(p, o, d, c) for (p, o, d), c in sorted(totals.items())]


def _utc_day(instant: datetime) -> str:
    return instant.astimezone(UTC).date().isoformat()


def _micros(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(microseconds=1)


def _minutes(micros: int) -> float:
    return max(0, int(micros)) / 60_000_000
