"""Analytics in SQL: counts keyed by metric, organisation, day and one dimension. Patients
appear only as keyed pseudonyms, to find their organisation."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from uuid import UUID

from adapters.db import Database
from adapters.readmodels.runner import SqlView
from adapters.stream.contract import Pseudonyms

METRICS = ("registrations", "consents-given", "consents-withdrawn", "erasures")
Granularity = Literal["day", "week", "month"]
NO_ORGANISATION = "none"


@dataclass(frozen=True)
class Count:
    period: date
    organisation_id: str
    dimension: str
    count: int


@dataclass(frozen=True)
class ConsultationFigures:
    period: date
    organisation_id: str
    specialty: str
    type_code: str
    bookings: int
    urgent: int
    cancellations: int
    reschedules: int
    no_shows: int
    average_lead_minutes: float | None
    no_show_rate: float | None


CONSULTATION_METRICS = ("bookings", "urgent", "cancellations", "reschedules", "no-shows")


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
    ) -> None:
        self.cur.execute(
            "INSERT INTO analytics_consultation_facts (consultation, organisation_id, specialty, "
            "type_code) SELECT %s, %s, coalesce((SELECT specialty FROM analytics_doctors "
            "WHERE schedule = %s), 'unknown'), %s WHERE true ON CONFLICT (consultation) DO NOTHING",
            (
                self.pseudonyms("consultation", consultation_id),
                str(organisation_id) if organisation_id else NO_ORGANISATION,
                self.pseudonyms("schedule", schedule_id),
                type_code,
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

    def consultations(
        self,
        start: date,
        end: date,
        granularity: Granularity = "day",
        organisation_id: UUID | None = None,
    ) -> list[ConsultationFigures]:
        """Bookings, urgent, cancellations, reschedules and no-shows per period, organisation,
        specialty and type; the average lead time and the no-show rate of the bookings."""
        sql = (
            "SELECT metric, day, organisation_id, specialty, type_code, count, amount "
            "FROM analytics_consultations WHERE day >= %s AND day <= %s"
        )
        params: list[object] = [start.isoformat(), end.isoformat()]
        if organisation_id is not None:
            sql += " AND organisation_id = %s"
            params.append(str(organisation_id))
        with self.db.transaction(write=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        counts: dict[tuple[date, str, str, str], dict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        for metric, day, org, specialty, type_code, count, amount in rows:
            key = (
                _period(date.fromisoformat(str(day)), granularity),
                str(org),
                str(specialty),
                str(type_code),
            )
            counts[key][str(metric)] += int(count)
            counts[key][f"{metric}:amount"] += int(amount)
        out = []
        for (period, org, specialty, type_code), c in sorted(counts.items()):
            bookings = c["bookings"]
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
                    c["no-shows"],
                    round(c["bookings:amount"] / bookings, 1) if bookings else None,
                    round(c["no-shows"] / bookings, 4) if bookings else None,
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
            period = _period(date.fromisoformat(str(day)), granularity)
            totals[(period, str(organisation), str(dimension))] += int(count)
        return [Count(p, o, d, c) for (p, o, d), c in sorted(totals.items())]


def _period(day: date, granularity: Granularity) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day
