"""Organisations' rule sets, every version as published, and the decisions taken under them
(``GET /v1/organisations/{id}/rule-sets`` and ``.../rule-decisions``): which rules applied when,
for a compliance officer. Nothing personal: ids, rule ids, versions, generic explanations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.jurisdiction import RuleDecisions, RuleSet
from projections.base import Projection


@dataclass(frozen=True)
class RuleSetVersion:
    organisation_id: UUID
    version: int
    rules: dict[str, Any]
    published_at: datetime
    published_by: UUID


@dataclass(frozen=True)
class RuleDecisionRow:
    position: int
    organisation_id: UUID
    consultation_id: UUID
    rule_id: str
    version: int
    allowed: bool
    step: str
    explanation: str
    decided_at: datetime
    actor_id: UUID


class RuleSetsWriter(Protocol):
    def published(self, row: RuleSetVersion) -> None: ...

    def decided(self, row: RuleDecisionRow) -> None: ...


class RuleSets(Protocol):
    """What routes ask of the view."""

    def versions(self, organisation_id: UUID) -> list[RuleSetVersion]: ...

    def decisions(self, organisation_id: UUID, limit: int) -> list[RuleDecisionRow]: ...


class RuleSetsProjection(Projection[RuleSetsWriter]):
    name = "rule_sets"
    topics = (get_topic(RuleSet.Published), get_topic(RuleDecisions.Decided))

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events are not about rules."""

    @process_event.register
    def _(self, event: RuleSet.Published, tracking: Tracking) -> None:
        self.view.published(
            RuleSetVersion(
                event.organisation_id, event.version, event.rules, event.at, event.by.actor_id
            )
        )

    @process_event.register
    def _(self, event: RuleDecisions.Decided, tracking: Tracking) -> None:
        self.view.decided(
            RuleDecisionRow(
                position=tracking.notification_id,
                organisation_id=event.organisation_id,
                consultation_id=event.consultation_id,
                rule_id=event.rule_id,
                version=event.version,
                allowed=event.allowed,
                step=event.step,
                explanation=event.explanation,
                decided_at=event.at,
                actor_id=event.by.actor_id,
            )
        )
