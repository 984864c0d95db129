"""Jurisdiction rules (BRIEF C7): an organisation publishes versioned rule sets; protocols are
checked against the version in force, and every decision is recorded with that version.

Rules (id -> parameters):
- ``ru-remote-primary-diagnosis`` {}: a remote consultation (video, chat) may not record a primary
  diagnosis unless the patient completed an in-person consultation with the organisation before.
- ``remote-follow-up-window`` {"months": N, "type_codes": [...]}: a remote consultation of one of
  those types (follow-ups) only within N months of the patient's last completed in-person visit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

REMOTE_PRIMARY_DIAGNOSIS = "ru-remote-primary-diagnosis"
REMOTE_FOLLOW_UP_WINDOW = "remote-follow-up-window"
RULES = (REMOTE_PRIMARY_DIAGNOSIS, REMOTE_FOLLOW_UP_WINDOW)
_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
#: a month, for the follow-up window
MONTH = timedelta(days=30)


class RuleViolation(DomainError):
    """Refused by a rule of the organisation (409 ``rule-violation``); recorded before raised."""

    def __init__(self, rule_id: str, version: int, explanation: str) -> None:
        super().__init__(explanation)
        self.rule_id, self.version, self.explanation = rule_id, version, explanation


def _checked_rules(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if not isinstance(rules, dict):
        raise InvalidValue("rules is an object of rule id -> parameters")
    checked: dict[str, dict[str, Any]] = {}
    for rule_id, params in rules.items():
        if rule_id not in RULES:
            raise InvalidValue(f"unknown rule {rule_id!r}: one of {', '.join(RULES)}")
        if not isinstance(params, dict):
            raise InvalidValue(f"rules.{rule_id} is an object of parameters")
        if rule_id == REMOTE_PRIMARY_DIAGNOSIS:
            if params:
                raise InvalidValue(f"rules.{rule_id} takes no parameters")
            checked[rule_id] = {}
        else:
            months = params.get("months")
            if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 60:
                raise InvalidValue(f"rules.{rule_id}.months is a whole number from 1 to 60")
            codes = params.get("type_codes")
            if (
                not isinstance(codes, list)
                or not codes
                or not all(isinstance(c, str) and _TYPE.match(c) for c in codes)
            ):
                raise InvalidValue(f"rules.{rule_id}.type_codes lists consultation type codes")
            checked[rule_id] = {"months": months, "type_codes": sorted(set(codes))}
    return checked


class RuleSet(Aggregate):
    """An organisation's rules; each publication is a new version."""

    class Opened(RecordedCreation):
        organisation_id: UUID

    class Published(RecordedEvent):
        organisation_id: UUID
        version: int
        rules: dict[str, dict[str, Any]]
        at: datetime

    @staticmethod
    def create_id(organisation_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/rule-sets/{organisation_id}")

    @event(Opened)
    def __init__(self, *, organisation_id: UUID, by: Actor) -> None:
        self.organisation_id = organisation_id
        self.rule_version = 0
        self.rules: dict[str, dict[str, Any]] = {}

    def publish(self, rules: dict[str, Any], now: datetime, *, by: Actor) -> None:
        self._published(
            organisation_id=self.organisation_id,
            version=self.rule_version + 1,
            rules=_checked_rules(rules),
            at=now,
            by=by,
        )

    @event(Published)
    def _published(
        self,
        *,
        organisation_id: UUID,
        version: int,
        rules: dict[str, dict[str, Any]],
        at: datetime,
        by: Actor,
    ) -> None:
        self.rule_version, self.rules = version, rules


@dataclass(frozen=True)
class Facts:
    """What the rules look at, from the write side: the consultation, whether the protocol
    records a primary diagnosis, and when the patient's completed in-person consultations with
    the organisation ended (this one excluded)."""

    remote: bool
    type_code: str
    consultation_start: datetime
    primary_diagnosis: bool
    in_person_visits: tuple[datetime, ...]


@dataclass(frozen=True)
class Decision:
    rule_id: str
    version: int
    allowed: bool
    explanation: str


def decide(rules: dict[str, dict[str, Any]], version: int, facts: Facts) -> list[Decision]:
    """The decisions of the rules that apply to these facts (none: no rule applies)."""
    decisions = []
    before = [v for v in facts.in_person_visits if v <= facts.consultation_start]
    if REMOTE_PRIMARY_DIAGNOSIS in rules and facts.remote and facts.primary_diagnosis:
        allowed = bool(before)
        decisions.append(
            Decision(
                REMOTE_PRIMARY_DIAGNOSIS,
                version,
                allowed,
                "the patient had a completed in-person consultation with the organisation"
                if allowed
                else "a remote consultation may not record a primary diagnosis before the "
                "patient had an in-person consultation with the organisation",
            )
        )
    window = rules.get(REMOTE_FOLLOW_UP_WINDOW)
    if window and facts.remote and facts.type_code in window["type_codes"]:
        months = int(window["months"])
        last = max(before, default=None)
        allowed = last is not None and facts.consultation_start - last <= months * MONTH
        decisions.append(
            Decision(
                REMOTE_FOLLOW_UP_WINDOW,
                version,
                allowed,
                f"a remote follow-up within {months} months of an in-person visit"
                if allowed
                else f"a remote follow-up is only possible within {months} months of the "
                "patient's last in-person visit to the organisation",
            )
        )
    return decisions


class RuleDecisions(Aggregate):
    """Which rules applied to one consultation's protocol, when, and what they decided."""

    class Opened(RecordedCreation):
        consultation_id: UUID
        organisation_id: UUID

    class Decided(RecordedEvent):
        consultation_id: UUID
        organisation_id: UUID
        rule_id: str
        version: int
        allowed: bool
        explanation: str
        step: str
        at: datetime

    @staticmethod
    def create_id(consultation_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/rule-decisions/{consultation_id}")

    @event(Opened)
    def __init__(self, *, consultation_id: UUID, organisation_id: UUID, by: Actor) -> None:
        self.consultation_id, self.organisation_id = consultation_id, organisation_id
        self.count = 0

    def record(self, decision: Decision, step: str, now: datetime, *, by: Actor) -> None:
        self._decided(
            consultation_id=self.consultation_id,
            organisation_id=self.organisation_id,
            rule_id=decision.rule_id,
            version=decision.version,
            allowed=decision.allowed,
            explanation=decision.explanation,
            step=step,
            at=now,
            by=by,
        )

    @event(Decided)
    def _decided(
        self,
        *,
        consultation_id: UUID,
        organisation_id: UUID,
        rule_id: str,
        version: int,
        allowed: bool,
        explanation: str,
        step: str,
        at: datetime,
        by: Actor,
    ) -> None:
        self.count += 1
