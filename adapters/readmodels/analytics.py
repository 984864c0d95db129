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


class SqlAnalytics(SqlView):
    tables = ("analytics_daily", "analytics_subjects")

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
