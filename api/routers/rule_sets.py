"""Jurisdiction rules: an organisation's admin publishes a new version of its rule set; its
staff and compliance officers read the versions and the decisions taken under them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from api.auth import CurrentActor, authorize, authorize_organisation
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.protocol_schemas import RuleDecisionOut, RuleSetBody, RuleSetsOut
from api.reads import AfterQuery, accepted, await_position
from api.schemas import Accepted
from api.state import services_of
from commands.protocols import PublishRuleSet
from domain.actor import Actor, Role

router = APIRouter(prefix="/v1/organisations", tags=["rules"], responses=PROBLEM_RESPONSES)


def _may_read(request: Request, actor: Actor, organisation_id: UUID) -> None:
    if actor.role is Role.COMPLIANCE_OFFICER:
        authorize(actor, Action.READ_RULES)
    else:
        authorize_organisation(request, actor, Action.READ_RULES, organisation_id)


@router.post(
    "/{organisation_id}/rule-sets", status_code=status.HTTP_201_CREATED, response_model=Accepted
)
def publish(
    organisation_id: UUID,
    body: RuleSetBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Publish the next version of the organisation's rules (the whole set; 422 for an unknown
    rule or bad parameters). Protocols are checked against the version in force."""
    authorize_organisation(request, actor, Action.PUBLISH_RULES, organisation_id)
    saved = services_of(request).bus.handle(PublishRuleSet(actor, organisation_id, body.rules))
    return accepted(response, saved)


@router.get("/{organisation_id}/rule-sets", response_model=RuleSetsOut)
def versions(
    organisation_id: UUID, request: Request, actor: CurrentActor, after: AfterQuery = None
) -> dict[str, Any]:
    _may_read(request, actor, organisation_id)
    services = services_of(request)
    await_position(services, "rule_sets", after)
    found = [
        {
            "version": v.version,
            "rules": v.rules,
            "published_at": v.published_at,
            "published_by": v.published_by,
        }
        for v in services.rule_sets.versions(organisation_id)
    ]
    return {
        "organisation_id": organisation_id,
        "current": found[-1] if found else None,
        "versions": found,
    }


@router.get("/{organisation_id}/rule-decisions", response_model=list[RuleDecisionOut])
def decisions(
    organisation_id: UUID,
    request: Request,
    actor: CurrentActor,
    after: AfterQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The latest decisions of the organisation's rules, newest first: which rule, which
    version, allowed or refused, at which step of which consultation's protocol, by whom."""
    _may_read(request, actor, organisation_id)
    services = services_of(request)
    await_position(services, "rule_sets", after)
    return [
        {
            "position": d.position,
            "consultation_id": d.consultation_id,
            "rule_id": d.rule_id,
            "version": d.version,
            "allowed": d.allowed,
            "step": d.step,
            "explanation": d.explanation,
            "decided_at": d.decided_at,
            "actor_id": d.actor_id,
        }
        for d in services.rule_sets.decisions(organisation_id, limit)
    ]
