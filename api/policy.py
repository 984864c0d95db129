"""Who may do what: one table of actions, decided from (actor, role, organisation, subject)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.actor import Actor, Role
from domain.patient import record_of


class Action(StrEnum):
    REGISTER_PATIENT = "patient:register"
    READ_PATIENT = "patient:read"
    SEARCH_PATIENTS = "patient:search"
    CHANGE_PATIENT = "patient:change"
    ERASE_PATIENT = "patient:erase"
    COMPLIANCE_READ = "compliance:read"
    AUDIT_VERIFY = "audit:verify"
    READ_ANALYTICS = "analytics:read"
    MANAGE_DELEGATION = "delegation:manage"
    MANAGE_SCHEDULE = "schedule:manage"
    READ_SLOTS = "slots:read"
    READ_AGENDA = "agenda:read"
    BOOK = "consultation:book"
    READ_CONSULTATION = "consultation:read"
    CHANGE_CONSULTATION = "consultation:change"


CARE_TEAM = frozenset({Role.DOCTOR, Role.ASSISTANT, Role.NURSE, Role.NURSE_MANAGER})

#: action -> roles that may take it; "self" rules (a patient on their own record) are below
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.REGISTER_PATIENT: CARE_TEAM | {Role.ORG_ADMIN, Role.PATIENT},
    Action.READ_PATIENT: CARE_TEAM | {Role.PATIENT},
    Action.SEARCH_PATIENTS: CARE_TEAM,
    Action.CHANGE_PATIENT: CARE_TEAM | {Role.PATIENT},
    Action.ERASE_PATIENT: frozenset({Role.ORG_ADMIN, Role.PATIENT}),
    Action.COMPLIANCE_READ: frozenset({Role.COMPLIANCE_OFFICER}),
    Action.AUDIT_VERIFY: frozenset({Role.COMPLIANCE_OFFICER}),
    Action.READ_ANALYTICS: frozenset({Role.ANALYST, Role.ORG_ADMIN}),
    Action.MANAGE_DELEGATION: frozenset({Role.PATIENT, Role.NURSE_MANAGER}),
    Action.MANAGE_SCHEDULE: frozenset({Role.DOCTOR, Role.ASSISTANT, Role.ORG_ADMIN}),
    Action.READ_SLOTS: CARE_TEAM | {Role.PATIENT, Role.ORG_ADMIN},
    Action.READ_AGENDA: frozenset(
        {Role.DOCTOR, Role.ASSISTANT, Role.ORG_ADMIN, Role.NURSE_MANAGER}
    ),
    Action.BOOK: CARE_TEAM | {Role.PATIENT, Role.ORG_ADMIN},
    Action.READ_CONSULTATION: CARE_TEAM | {Role.PATIENT, Role.ORG_ADMIN},
    Action.CHANGE_CONSULTATION: CARE_TEAM | {Role.PATIENT, Role.ORG_ADMIN},
}


@dataclass(frozen=True)
class DoctorScope:
    """A doctor's schedule or agenda: the doctor, and staff of the doctor's organisations."""

    doctor_id: UUID
    organisation_ids: frozenset[UUID]


def decide_for_doctor(actor: Actor, action: Action, scope: DoctorScope) -> bool:
    if actor.role not in ALLOWED[action]:
        return False
    if actor.role is Role.DOCTOR and actor.actor_id == scope.doctor_id:
        return True
    if actor.role is Role.DOCTOR:
        return False  # a doctor manages and reads only their own schedule and agenda
    return actor.organisation_id is not None and actor.organisation_id in scope.organisation_ids


@dataclass(frozen=True)
class ConsultationScope:
    patient_id: UUID
    doctor_id: UUID
    organisation_id: UUID | None


def decide_for_consultation(actor: Actor, action: Action, scope: ConsultationScope) -> bool:
    if actor.role not in ALLOWED[action]:
        return False
    if actor.role is Role.PATIENT:
        return record_of(actor.actor_id) == scope.patient_id
    if actor.actor_id == scope.doctor_id:
        return True
    return actor.organisation_id is not None and actor.organisation_id == scope.organisation_id


@dataclass(frozen=True)
class Subject:
    """The record an action touches: whose it is and which organisation holds it."""

    subject_id: UUID
    organisation_id: UUID | None


def decide(actor: Actor, action: Action, subject: Subject | None = None) -> bool:
    if actor.role not in ALLOWED[action]:
        return False
    if subject is None:
        return True
    if actor.role is Role.PATIENT:
        return subject.subject_id == record_of(actor.actor_id)
    if actor.role is Role.COMPLIANCE_OFFICER:
        return True
    return subject.organisation_id is not None and subject.organisation_id == actor.organisation_id
