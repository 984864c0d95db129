"""Rule set versions and rule decisions in SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

from uuid import UUID

import orjson

from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from projections.rule_sets import RuleDecisionRow, RuleSetVersion

_DECISION = (
    "position, organisation_id, consultation_id, rule_id, version, allowed, step, explanation, "
    "decided_at, actor_id"
)


class SqlRuleSets(SqlView):
    tables = ("rule_set_versions", "rule_decisions")

    def __init__(self, db: Database) -> None:
        super().__init__(db)

    def published(self, row: RuleSetVersion) -> None:
        self.cur.execute(
            "INSERT INTO rule_set_versions (organisation_id, version, rules, published_at, "
            "published_by) VALUES (%s, %s, %s, %s, %s)",
            (
                row.organisation_id,
                row.version,
                orjson.dumps(row.rules).decode(),
                row.published_at,
                row.published_by,
            ),
        )

    def decided(self, row: RuleDecisionRow) -> None:
        self.cur.execute(
            f"INSERT INTO rule_decisions ({_DECISION}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                row.position,
                row.organisation_id,
                row.consultation_id,
                row.rule_id,
                row.version,
                row.allowed,
                row.step,
                row.explanation,
                row.decided_at,
                row.actor_id,
            ),
        )

    def versions(self, organisation_id: UUID) -> list[RuleSetVersion]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT organisation_id, version, rules, published_at, published_by "
                "FROM rule_set_versions WHERE organisation_id = %s ORDER BY version",
                (organisation_id,),
            )
            rows = cur.fetchall()
        return [
            RuleSetVersion(
                as_uuid(r[0]), int(r[1]), orjson.loads(r[2]), as_datetime(r[3]), as_uuid(r[4])
            )
            for r in rows
        ]

    def decisions(self, organisation_id: UUID, limit: int) -> list[RuleDecisionRow]:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_DECISION} FROM rule_decisions WHERE organisation_id = %s "
                "ORDER BY position DESC LIMIT %s",
                (organisation_id, limit),
            )
            rows = cur.fetchall()
        return [
            RuleDecisionRow(
                position=int(r[0]),
                organisation_id=as_uuid(r[1]),
                consultation_id=as_uuid(r[2]),
                rule_id=str(r[3]),
                version=int(r[4]),
                allowed=bool(r[5]),
                step=str(r[6]),
                explanation=str(r[7]),
                decided_at=as_datetime(r[8]),
                actor_id=as_uuid(r[9]),
            )
            for r in rows
        ]
