"""Who may do what: one module decides every request from (actor, role, organisation, subject,
ties, action). Ties are what links the actor to the record at hand: their own record, a
beneficiary they hold, a consultation relationship of their organisation, a delegation grant in
force, or the doctors an assistant acts for. They are looked up per request (``api.auth``), so a
revoked grant or a completed transfer counts at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.actor import Actor, Role
from domain.delegation import Scope
from domain.patient import record_of


class Action(StrEnum):
    REGISTER_PATIENT = "patient:register"
    READ_PATIENT = "patient:read"
    SEARCH_PATIENTS = "patient:search"
    CHANGE_PATIENT = "patient:change"
    ERASE_PATIENT = "patient:erase"
    INVITE_PATIENT = "patient:invite"
    ADD_BENEFICIARY = "beneficiary:add"
    TRANSFER_BENEFICIARY = "beneficiary:transfer"
    COMPLIANCE_READ = "compliance:read"
    AUDIT_VERIFY = "audit:verify"
    READ_ANALYTICS = "analytics:read"
    MANAGE_DELEGATION = "delegation:manage"
    MANAGE_SCHEDULE = "schedule:manage"
    MANAGE_ASSISTANTS = "assistants:manage"
    READ_SLOTS = "slots:read"
    READ_AGENDA = "agenda:read"
    BOOK = "consultation:book"
    READ_CONSULTATION = "consultation:read"
    CHANGE_CONSULTATION = "consultation:change"
    RECORD_NO_SHOW = "consultation:no-show"
    MANAGE_ORGANISATION = "organisation:manage"
    READ_ORGANISATION = "organisation:read"
    MANAGE_STAFF = "staff:manage"
    READ_OWN_NPS = "nps:read-own"
    ON_CALL_DUTY = "on-call:duty"
    REQUEST_ON_CALL = "on-call:request"
    READ_ON_CALL_REQUEST = "on-call:read-request"
    READ_ON_CALL_OFFERS = "on-call:offers"
    ACCEPT_ON_CALL = "on-call:accept"
    READ_WAITING_ROOM = "waiting-room:read"
    ASK = "consultation:ask"
    ATTEND = "consultation:attend"
    TREAT = "consultation:treat"
    CLOSE = "consultation:close"
    REOPEN = "consultation:reopen"
    RATE = "consultation:rate"
    ORGANISE_TELECONFERENCE = "teleconference:organise"
    JOIN_TELECONFERENCE = "teleconference:join"
    PREPARE_PROTOCOL = "protocol:prepare"
    SIGN_PROTOCOL = "protocol:sign"
    READ_PROTOCOL = "protocol:read"
    VERIFY_PROTOCOL = "protocol:verify"
    READ_SIGNING_KEYS = "signing-keys:read"
    PUBLISH_RULES = "rules:publish"
    READ_RULES = "rules:read"
    MANAGE_MACHINE_CLIENTS = "machine-clients:manage"
    MANAGE_PARTNER_LABS = "partner-labs:manage"
    READ_PARTNER_LABS = "partner-labs:read"
    ORDER_LAB_TESTS = "lab:order"
    REPORT_LAB_RESULTS = "lab:report"
    READ_LAB_RESULTS = "lab:read-results"
    READ_CLINICAL_RECORD = "patient:read-clinical-record"
    READ_ABNORMAL_RESULTS = "lab:abnormal-results"
    FILL_INTAKE = "intake:fill"
    READ_INTAKE = "intake:read"
    READ_INTAKE_FORM = "intake-form:read"
    READ_CONSENT_TEXT = "consent-text:read"
    SIGN_CONSENT = "consent:sign"
    READ_PRESCRIPTIONS = "prescription:read"
    CHANGE_PRESCRIPTION = "prescription:change"
    DISPENSE_PRESCRIPTION = "prescription:dispense"


CARE_TEAM = frozenset({Role.DOCTOR, Role.ASSISTANT, Role.NURSE, Role.NURSE_MANAGER})
STAFF = CARE_TEAM | {Role.ORG_ADMIN}

#: action -> roles that may take it (on what, is decided below)
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.REGISTER_PATIENT: STAFF | {Role.PATIENT},
    Action.READ_PATIENT: CARE_TEAM | {Role.PATIENT},
    Action.SEARCH_PATIENTS: CARE_TEAM,
    Action.CHANGE_PATIENT: CARE_TEAM | {Role.PATIENT},
    Action.ERASE_PATIENT: frozenset({Role.ORG_ADMIN, Role.PATIENT}),
    Action.INVITE_PATIENT: frozenset({Role.DOCTOR, Role.ASSISTANT}),
    Action.ADD_BENEFICIARY: frozenset({Role.PATIENT}),
    Action.TRANSFER_BENEFICIARY: frozenset({Role.PATIENT}),
    Action.COMPLIANCE_READ: frozenset({Role.COMPLIANCE_OFFICER}),
    Action.AUDIT_VERIFY: frozenset({Role.COMPLIANCE_OFFICER}),
    Action.READ_ANALYTICS: frozenset({Role.ANALYST, Role.ORG_ADMIN}),
    Action.MANAGE_DELEGATION: frozenset({Role.PATIENT, Role.NURSE_MANAGER}),
    Action.MANAGE_SCHEDULE: frozenset({Role.DOCTOR, Role.ASSISTANT, Role.ORG_ADMIN}),
    Action.MANAGE_ASSISTANTS: frozenset({Role.DOCTOR, Role.ORG_ADMIN}),
    Action.READ_SLOTS: STAFF | {Role.PATIENT},
    Action.READ_AGENDA: frozenset(
        {Role.DOCTOR, Role.ASSISTANT, Role.ORG_ADMIN, Role.NURSE_MANAGER}
    ),
    Action.BOOK: STAFF | {Role.PATIENT},
    Action.READ_CONSULTATION: STAFF | {Role.PATIENT},
    Action.CHANGE_CONSULTATION: STAFF | {Role.PATIENT},
    Action.RECORD_NO_SHOW: STAFF,
    Action.MANAGE_ORGANISATION: frozenset({Role.ORG_ADMIN}),
    Action.READ_ORGANISATION: STAFF,
    Action.MANAGE_STAFF: frozenset({Role.ORG_ADMIN}),
    Action.READ_OWN_NPS: frozenset({Role.DOCTOR}),  # analysts read them pseudonymously
    # the pool's doctors go on duty, see its open requests and accept them (on duty only)
    Action.ON_CALL_DUTY: frozenset({Role.DOCTOR}),
    Action.READ_ON_CALL_OFFERS: frozenset({Role.DOCTOR}),
    Action.ACCEPT_ON_CALL: frozenset({Role.DOCTOR}),
    # the patient's side: their own record (a holder for a beneficiary, a grantee by scope)
    Action.REQUEST_ON_CALL: frozenset({Role.PATIENT}),
    Action.READ_ON_CALL_REQUEST: frozenset({Role.PATIENT}),
    Action.READ_WAITING_ROOM: STAFF,
    Action.ASK: STAFF | {Role.PATIENT},
    Action.ATTEND: STAFF | {Role.PATIENT},
    Action.TREAT: frozenset({Role.DOCTOR}),
    Action.CLOSE: frozenset({Role.DOCTOR, Role.PATIENT}),
    Action.REOPEN: frozenset({Role.PATIENT}),
    Action.RATE: frozenset({Role.PATIENT}),
    Action.ORGANISE_TELECONFERENCE: STAFF,
    Action.JOIN_TELECONFERENCE: STAFF | {Role.PATIENT},
    # the consultation's doctor writes and signs; an assistant of that doctor prepares
    Action.PREPARE_PROTOCOL: frozenset({Role.DOCTOR, Role.ASSISTANT}),
    Action.SIGN_PROTOCOL: frozenset({Role.DOCTOR}),
    Action.READ_PROTOCOL: CARE_TEAM | {Role.PATIENT},
    # the parties, and compliance officers (who see no content, only who signed and whether
    # it verifies)
    Action.VERIFY_PROTOCOL: CARE_TEAM | {Role.PATIENT, Role.COMPLIANCE_OFFICER},
    # public keys are public: anyone signed in
    Action.READ_SIGNING_KEYS: frozenset(Role),
    Action.PUBLISH_RULES: frozenset({Role.ORG_ADMIN}),
    Action.READ_RULES: STAFF | {Role.COMPLIANCE_OFFICER},
    Action.MANAGE_MACHINE_CLIENTS: frozenset({Role.ORG_ADMIN}),
    Action.MANAGE_PARTNER_LABS: frozenset({Role.ORG_ADMIN}),
    Action.READ_PARTNER_LABS: STAFF,
    Action.ORDER_LAB_TESTS: frozenset({Role.DOCTOR}),  # the consultation's own doctor
    # a machine client of the organisation (which lab, the order itself decides: 403 if not it)
    Action.REPORT_LAB_RESULTS: frozenset({Role.SYSTEM}),
    Action.READ_LAB_RESULTS: CARE_TEAM | {Role.PATIENT},
    Action.READ_ABNORMAL_RESULTS: frozenset({Role.DOCTOR}),  # their own orders
    # the patient's side fills the intake; the consultation's doctor and the organisation's
    # care team read it (never an org admin: it is clinical)
    Action.FILL_INTAKE: frozenset({Role.PATIENT}),
    Action.READ_INTAKE: CARE_TEAM | {Role.PATIENT},
    Action.READ_INTAKE_FORM: STAFF | {Role.PATIENT},
    Action.READ_CONSENT_TEXT: STAFF | {Role.PATIENT},
    Action.SIGN_CONSENT: frozenset({Role.PATIENT}),
    # the patient's side and the care team read them; the prescriber (the aggregate checks
    # which doctor) cancels or completes; a pharmacy's machine client (which purpose, the
    # prescriptions' view and the command check) verifies and dispenses by code
    Action.READ_PRESCRIPTIONS: CARE_TEAM | {Role.PATIENT},
    Action.CHANGE_PRESCRIPTION: frozenset({Role.DOCTOR}),
    Action.DISPENSE_PRESCRIPTION: frozenset({Role.SYSTEM}),
    # the card's clinical part: whoever reads the record's results
    Action.READ_CLINICAL_RECORD: CARE_TEAM | {Role.PATIENT},
}

#: what a holder may do for a beneficiary (on the beneficiary's behalf)
HOLDER_ACTIONS = frozenset(
    {
        Action.READ_PATIENT,
        Action.CHANGE_PATIENT,
        Action.ERASE_PATIENT,
        Action.MANAGE_DELEGATION,
        Action.TRANSFER_BENEFICIARY,
        Action.BOOK,
        Action.READ_CONSULTATION,
        Action.CHANGE_CONSULTATION,
        Action.REQUEST_ON_CALL,
        Action.READ_ON_CALL_REQUEST,
        Action.ASK,
        Action.ATTEND,
        Action.CLOSE,
        Action.REOPEN,
        Action.RATE,
        Action.JOIN_TELECONFERENCE,
        Action.READ_PROTOCOL,
        Action.VERIFY_PROTOCOL,
        Action.READ_LAB_RESULTS,
        Action.FILL_INTAKE,
        Action.READ_INTAKE,
        Action.SIGN_CONSENT,
        Action.READ_PRESCRIPTIONS,
        Action.READ_CLINICAL_RECORD,
    }
)

#: steps only the consultation's own doctor takes among staff (never a colleague or assistant)
DOCTOR_ACTIONS = frozenset({Action.TREAT, Action.CLOSE, Action.SIGN_PROTOCOL})

#: steps the consultation's doctor takes, or an assistant of that doctor prepares
PREPARED_ACTIONS = frozenset({Action.PREPARE_PROTOCOL})
DOCTOR_ACTIONS = frozenset({Action.TREAT, Action.CLOSE, Action.ORDER_LAB_TESTS})

#: what a consultation relationship lets the care team of that organisation do with a record
#: that another organisation (or nobody: a self-registered patient, a beneficiary) holds
CARE_ACTIONS = frozenset(
    {Action.READ_PATIENT, Action.BOOK, Action.ASK, Action.INVITE_PATIENT, Action.READ_LAB_RESULTS}
    | {Action.READ_PRESCRIPTIONS}
    | {Action.READ_CLINICAL_RECORD}
)

#: which delegation scope lets a grantee take an action (on the patient's behalf)
GRANT_SCOPES: dict[Action, frozenset[Scope]] = {
    Action.READ_PATIENT: frozenset({Scope.READ_RECORDS}),
    Action.BOOK: frozenset({Scope.BOOK}),
    Action.CHANGE_CONSULTATION: frozenset({Scope.BOOK}),
    Action.READ_CONSULTATION: frozenset({Scope.BOOK, Scope.ATTEND, Scope.READ_RECORDS}),
    Action.REQUEST_ON_CALL: frozenset({Scope.BOOK}),
    Action.READ_ON_CALL_REQUEST: frozenset({Scope.BOOK, Scope.ATTEND, Scope.READ_RECORDS}),
    Action.ASK: frozenset({Scope.BOOK}),
    Action.ATTEND: frozenset({Scope.ATTEND}),
    Action.CLOSE: frozenset({Scope.ATTEND}),
    Action.REOPEN: frozenset({Scope.ATTEND}),
    Action.JOIN_TELECONFERENCE: frozenset({Scope.ATTEND}),
    Action.READ_PROTOCOL: frozenset({Scope.READ_RECORDS}),
    Action.VERIFY_PROTOCOL: frozenset({Scope.READ_RECORDS}),
    Action.READ_LAB_RESULTS: frozenset({Scope.READ_RECORDS}),
    # the caregiver who brings the patient to the visit prepares it (and reads what they gave)
    Action.FILL_INTAKE: frozenset({Scope.ATTEND}),
    Action.READ_INTAKE: frozenset({Scope.ATTEND, Scope.READ_RECORDS}),
    # consenting for the patient goes with arranging their care
    Action.SIGN_CONSENT: frozenset({Scope.BOOK}),
    Action.READ_PRESCRIPTIONS: frozenset({Scope.READ_RECORDS}),
    Action.READ_CLINICAL_RECORD: frozenset({Scope.READ_RECORDS}),
}


@dataclass(frozen=True)
class Ties:
    """What links the actor to the record or doctor at hand, right now."""

    own: bool = False
    holder: bool = False
    care_organisations: frozenset[UUID] = frozenset()
    grant_scopes: frozenset[str] = frozenset()
    assisted_doctors: frozenset[UUID] = frozenset()


NO_TIES = Ties()


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    on_behalf: bool = False  # the actor acts for the record's subject (holder, grantee)

    def __bool__(self) -> bool:
        return self.allowed


DENY, ALLOW, ON_BEHALF = Verdict(False), Verdict(True), Verdict(True, on_behalf=True)


@dataclass(frozen=True)
class Subject:
    """The record an action touches: whose it is and which organisation holds it."""

    subject_id: UUID
    organisation_id: UUID | None


def _by_grant(action: Action, ties: Ties) -> Verdict:
    scopes = GRANT_SCOPES.get(action, frozenset())
    return ON_BEHALF if any(s.value in ties.grant_scopes for s in scopes) else DENY


def _patient(actor: Actor, action: Action, subject_id: UUID, ties: Ties) -> Verdict:
    if action is Action.TRANSFER_BENEFICIARY:
        return ON_BEHALF if ties.holder else DENY  # only a beneficiary is transferred
    if ties.own or subject_id == record_of(actor.actor_id):
        return ALLOW
    if ties.holder and action in HOLDER_ACTIONS:
        return ON_BEHALF
    return DENY


def decide(
    actor: Actor, action: Action, subject: Subject | None = None, ties: Ties = NO_TIES
) -> Verdict:
    if subject is None:
        return ALLOW if actor.role in ALLOWED[action] else DENY
    if actor.role in ALLOWED[action]:
        if actor.role is Role.PATIENT:
            verdict = _patient(actor, action, subject.subject_id, ties)
        elif actor.role is Role.COMPLIANCE_OFFICER:
            verdict = ALLOW
        elif actor.organisation_id is None:
            verdict = DENY
        elif subject.organisation_id == actor.organisation_id or (
            actor.role in CARE_TEAM
            and action in CARE_ACTIONS
            and actor.organisation_id in ties.care_organisations
        ):
            verdict = ALLOW
        else:
            verdict = DENY
        if verdict:
            return verdict
    return _by_grant(action, ties)


@dataclass(frozen=True)
class DoctorScope:
    """A doctor's schedule or agenda: the doctor, and staff of the doctor's organisations."""

    doctor_id: UUID
    organisation_ids: frozenset[UUID]


def decide_for_doctor(
    actor: Actor, action: Action, scope: DoctorScope, ties: Ties = NO_TIES
) -> Verdict:
    if actor.role not in ALLOWED[action]:
        return DENY
    if actor.role is Role.DOCTOR:
        # a doctor manages and reads only their own schedule and agenda
        return ALLOW if actor.actor_id == scope.doctor_id else DENY
    if actor.organisation_id is None or actor.organisation_id not in scope.organisation_ids:
        return DENY
    if actor.role is Role.ASSISTANT and scope.doctor_id not in ties.assisted_doctors:
        return DENY  # an assistant acts for the doctors named, not the whole organisation
    return ALLOW


@dataclass(frozen=True)
class ConsultationScope:
    patient_id: UUID
    doctor_id: UUID
    organisation_id: UUID | None


def decide_for_consultation(
    actor: Actor, action: Action, scope: ConsultationScope, ties: Ties = NO_TIES
) -> Verdict:
    verdict = DENY
    if actor.role in ALLOWED[action]:
        if actor.role is Role.PATIENT:
            verdict = _patient(actor, action, scope.patient_id, ties)
        elif actor.actor_id == scope.doctor_id:
            verdict = ALLOW
        elif (
            action in DOCTOR_ACTIONS
            or actor.organisation_id is None
            or actor.organisation_id != scope.organisation_id
        ):
            verdict = DENY
        elif actor.role is Role.ASSISTANT:
            verdict = ALLOW if scope.doctor_id in ties.assisted_doctors else DENY
        elif action in PREPARED_ACTIONS:
            verdict = DENY  # a colleague does not write another doctor's protocol
        else:
            verdict = ALLOW
    return verdict or _by_grant(action, ties)


@dataclass(frozen=True)
class OrganisationScope:
    """An organisation and the chain of organisations above it (its own id first)."""

    chain: tuple[UUID, ...]


def decide_for_organisation(actor: Actor, action: Action, scope: OrganisationScope) -> Verdict:
    """Admins administer their organisation and every sub-organisation below it (never one
    above or beside it); staff read the organisations they work in, and those below."""
    if actor.role not in ALLOWED[action] or actor.organisation_id is None:
        return DENY
    return ALLOW if actor.organisation_id in scope.chain else DENY


@dataclass(frozen=True)
class TeleconferenceScope:
    """Who is in a teleconference: its organiser, and the participants not removed (staff by
    account, patients by record)."""

    organiser_id: UUID
    staff: frozenset[UUID]
    patients: frozenset[UUID]


def decide_for_teleconference(
    actor: Actor,
    action: Action,
    scope: TeleconferenceScope,
    patient_id: UUID | None = None,
    ties: Ties = NO_TIES,
) -> Verdict:
    """The organiser organises; the organiser and the participants join (a patient's holder,
    or a caregiver with the attend scope, for the patient). ``patient_id``: the participant a
    patient-side actor acts as."""
    if actor.role not in ALLOWED[action]:
        return DENY
    if action is Action.ORGANISE_TELECONFERENCE:
        return ALLOW if actor.actor_id == scope.organiser_id else DENY
    if actor.role is Role.PATIENT:
        if patient_id is None or patient_id not in scope.patients:
            return DENY
        return _patient(actor, action, patient_id, ties) or _by_grant(action, ties)
    return ALLOW if actor.actor_id in scope.staff | {scope.organiser_id} else DENY
