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
    ConsultationFigures,
    Count,
    Granularity,
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
    ) -> None:
        self.cur.execute(
            "INSERT INTO analytics_consultation_facts (consultation, organisation_id, specialty, "
            "type_code, due_day, starts_at) SELECT %s, %s, coalesce((SELECT specialty FROM "
            "analytics_doctors WHERE schedule = %s), 'unknown'), %s, %s, %s WHERE true "
            "ON CONFLICT (consultation) DO NOTHING",
            (
                self.pseudonyms("consultation", consultation_id),
                str(organisation_id) if organisation_id else NO_ORGANISATION,
                self.pseudonyms("schedule", schedule_id),
                type_code,
                _utc_day(start),
                _micros(start),
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
            "due_day = %s, starts_at = %s", consultation_id, _utc_day(start), _micros(start)
        )

    def appointment_cancelled(self, consultation_id: UUID, before_start: bool) -> None:
        self._set_fact("cancelled_early = %s", consultation_id, int(before_start))

    def appointment_missed(self, consultation_id: UUID) -> None:
        self._set_fact("no_show = %s", consultation_id, 1)

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
        now; not cancelled before it), with its no-shows and no-show rate."""
        sql = (
            "SELECT metric, day, organisation_id, specialty, type_code, count, amount "
            "FROM analytics_consultations WHERE day >= %s AND day <= %s"
        )
        cohort_sql = (
            "SELECT due_day, organisation_id, specialty, type_code, count(*), "
            "coalesce(sum(no_show), 0) FROM analytics_consultation_facts "
            "WHERE due_day >= %s AND due_day <= %s AND cancelled_early = 0 AND starts_at <= %s"
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
            for day, org, specialty, type_code, due, no_shows in cur.fetchall():
                rows.append(("due", day, org, specialty, type_code, due, 0))
                rows.append(("no-shows", day, org, specialty, type_code, no_shows, 0))
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
            bookings, due = c["bookings"], c["due"]
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
                )
            )
        return out

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
