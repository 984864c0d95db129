"""The protocol of a consultation: drafted and revised by its doctor (or an assistant of the
doctor), signed by the doctor after a step-up, corrected by signed addenda; and the
organisation's jurisdiction rules, checked whenever a protocol records a diagnosis and at
signing, each decision recorded with the rule set's version.

The facts the rules need (the patient's completed in-person consultations with the
organisation) come from the write side: the consultations index written with each booking, and
the Consultation aggregates themselves; never from a read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from commands.ports import Ports, UnitOfWork
from commands.results import Saved, StaleVersion
from domain.actor import Actor
from domain.clinical_protocol import (
    ClinicalProtocol,
    addendum_document,
    has_primary_diagnosis,
)
from domain.consultation import Consultation, Kind, NotNow, Status
from domain.jurisdiction import (
    REMOTE_PRIMARY_DIAGNOSIS,
    Decision,
    Facts,
    RuleDecisions,
    RuleSet,
    RuleViolation,
    decide,
)
from domain.prescription import Prescription, new_code
from domain.signing_keys import PractitionerKeys

#: a protocol is written once the call started (or the question was taken), and after it
DOCUMENTED = frozenset(
    {Status.IN_PROGRESS, Status.COMPLETED, Status.TAKEN, Status.ANSWERED, Status.CLOSED}
)


@dataclass(frozen=True)
class DraftProtocol:
    """Start the consultation's protocol (sections as ``domain.clinical_protocol.validated``
    reads them)."""

    actor: Actor
    consultation_id: UUID
    content: dict[str, Any]


@dataclass(frozen=True)
class ReviseProtocol:
    actor: Actor
    protocol_id: UUID
    content: dict[str, Any]
    expected_version: int | None = None


@dataclass(frozen=True)
class SignProtocol:
    """The doctor signs (the route required a step-up)."""

    actor: Actor
    protocol_id: UUID


@dataclass(frozen=True)
class AddAddendum:
    actor: Actor
    protocol_id: UUID
    text: str


@dataclass(frozen=True)
class PublishRuleSet:
    actor: Actor
    organisation_id: UUID
    rules: dict[str, Any]


def draft_protocol(cmd: DraftProtocol, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    _require_documentable(consultation)
    existing = uow.find(ClinicalProtocol, ClinicalProtocol.create_id(consultation.id))
    if existing is not None:
        raise NotNow(consultation.status.value, "the protocol exists: change it with PUT")
    protocol = ClinicalProtocol.draft(
        consultation_id=consultation.id,
        patient_id=consultation.patient_id,
        doctor_id=consultation.doctor_id,
        organisation_id=consultation.organisation_id,
        content=cmd.content,
        by=cmd.actor,
    )
    decisions = _apply_rules(uow, ports, consultation, protocol.content, "protocol-draft", cmd)
    return uow.save(protocol, *decisions)


def revise_protocol(cmd: ReviseProtocol, uow: UnitOfWork, ports: Ports) -> Saved:
    protocol = uow.get(ClinicalProtocol, cmd.protocol_id)
    if cmd.expected_version is not None and cmd.expected_version != protocol.version:
        raise StaleVersion(cmd.expected_version, protocol.version)
    consultation = uow.get(Consultation, protocol.consultation_id)
    protocol.revise(cmd.content, by=cmd.actor)
    decisions = _apply_rules(uow, ports, consultation, protocol.content, "protocol-revise", cmd)
    return uow.save(protocol, *decisions)


def sign_protocol(cmd: SignProtocol, uow: UnitOfWork, ports: Ports) -> Saved:
    """Check the rules and the required sections, then sign the canonical document with the
    doctor's current key (made and published at the first signature)."""
    protocol = uow.get(ClinicalProtocol, cmd.protocol_id)
    consultation = uow.get(Consultation, protocol.consultation_id)
    _require_documentable(consultation)
    decisions = _apply_rules(uow, ports, consultation, protocol.content, "protocol-sign", cmd)
    allowed = _diagnosis_allowed(uow, ports, consultation)
    signer_id, now = cmd.actor.actor_id, ports.clock()
    protocol.check_signable(signer_id, diagnosis_allowed=allowed)
    keys, key_id = _signing_key(uow, ports, signer_id, now, cmd.actor)
    signature = ports.signer.sign(signer_id, key_id, protocol.document(signer_id, now, key_id))
    protocol.sign(
        signer_id=signer_id,
        signed_at=now,
        key_id=key_id,
        algorithm=ports.signer.algorithm,
        signature=signature,
        diagnosis_allowed=allowed,
        by=cmd.actor,
    )
    prescriptions = _prescriptions(protocol, signer_id, now, cmd.actor)
    return uow.save(protocol, *decisions, keys, *prescriptions)


def _prescriptions(
    protocol: ClinicalProtocol, doctor_id: UUID, signed_at: datetime, actor: Actor
) -> list[Prescription]:
    """One prescription per medication line of the signed protocol, saved with the signature
    (a signature without its prescriptions never exists), each with a fresh code."""
    return [
        Prescription.issue(
            code=new_code(),
            patient_id=protocol.patient_id,
            consultation_id=protocol.consultation_id,
            protocol_id=protocol.id,
            line=line,
            doctor_id=doctor_id,
            organisation_id=protocol.organisation_id,
            medication=dict(medication),
            issued_at=signed_at,
            by=actor,
        )
        for line, medication in enumerate(protocol.content.get("prescriptions") or [])
    ]


def add_addendum(cmd: AddAddendum, uow: UnitOfWork, ports: Ports) -> Saved:
    protocol = uow.get(ClinicalProtocol, cmd.protocol_id)
    signer_id, now = cmd.actor.actor_id, ports.clock()
    text = protocol.addendum_text(signer_id, cmd.text)
    assert protocol.signature is not None
    keys, key_id = _signing_key(uow, ports, signer_id, now, cmd.actor)
    addendum_id = uuid4()
    document = addendum_document(
        protocol_signature=protocol.signature.value,
        addendum_id=addendum_id,
        text=text,
        consultation_id=protocol.consultation_id,
        patient_id=protocol.patient_id,
        signer_id=signer_id,
        signed_at=now,
        key_id=key_id,
    )
    protocol.add_addendum(
        addendum_id=addendum_id,
        text=text,
        signer_id=signer_id,
        signed_at=now,
        key_id=key_id,
        algorithm=ports.signer.algorithm,
        signature=ports.signer.sign(signer_id, key_id, document),
        by=cmd.actor,
    )
    return uow.save(protocol, keys)


def publish_rule_set(cmd: PublishRuleSet, uow: UnitOfWork, ports: Ports) -> Saved:
    rule_set = uow.find(RuleSet, RuleSet.create_id(cmd.organisation_id))
    rule_set = rule_set or RuleSet(organisation_id=cmd.organisation_id, by=cmd.actor)
    rule_set.publish(cmd.rules, ports.clock(), by=cmd.actor)
    return uow.save(rule_set)


def _require_documentable(consultation: Consultation) -> None:
    if consultation.status not in DOCUMENTED:
        raise NotNow(consultation.status.value, "a protocol is written once the call started")


def _signing_key(
    uow: UnitOfWork, ports: Ports, signer_id: UUID, now: datetime, actor: Actor
) -> tuple[PractitionerKeys, str]:
    keys = uow.find(PractitionerKeys, PractitionerKeys.create_id(signer_id))
    keys = keys or PractitionerKeys(practitioner_id=signer_id, by=actor)
    current = keys.current()
    if current is not None:
        return keys, current.key_id
    made = ports.signer.new_key(signer_id)
    keys.publish(made.key_id, made.algorithm, made.public_key, now, by=actor)
    uow.attach(made.keep)
    return keys, made.key_id


def _facts(uow: UnitOfWork, ports: Ports, consultation: Consultation, primary: bool) -> Facts:
    """The patient's completed in-person consultations with the consultation's organisation,
    from the write side (the booking index and the aggregates)."""
    others = ports.appointments.consultations_of(consultation.patient_id)
    visits = tuple(
        c.ended_at
        for c in uow.find_existing(Consultation, [i for i in others if i != consultation.id])
        if c.kind is Kind.IN_PERSON
        and c.status is Status.COMPLETED
        and c.organisation_id == consultation.organisation_id
        and c.ended_at is not None
    )
    return Facts(
        remote=consultation.kind is not Kind.IN_PERSON,
        type_code=consultation.type_code,
        consultation_start=consultation.slot.start,
        primary_diagnosis=primary,
        in_person_visits=visits,
    )


def _rules(uow: UnitOfWork, consultation: Consultation) -> RuleSet | None:
    if consultation.organisation_id is None:
        return None
    return uow.find(RuleSet, RuleSet.create_id(consultation.organisation_id))


def _diagnosis_allowed(uow: UnitOfWork, ports: Ports, consultation: Consultation) -> bool:
    """Whether the rules let this consultation's protocol record a primary diagnosis."""
    rule_set = _rules(uow, consultation)
    if rule_set is None or REMOTE_PRIMARY_DIAGNOSIS not in rule_set.rules:
        return True
    facts = _facts(uow, ports, consultation, primary=True)
    return all(
        d.allowed
        for d in decide(rule_set.rules, rule_set.rule_version, facts)
        if d.rule_id == REMOTE_PRIMARY_DIAGNOSIS
    )


def _apply_rules(
    uow: UnitOfWork,
    ports: Ports,
    consultation: Consultation,
    content: dict[str, Any],
    step: str,
    cmd: Any,
) -> list[RuleDecisions]:
    """Decide the organisation's rules for the protocol's content; the decisions to save with
    the change. A refusal is saved on its own (so a compliance officer sees it) and raised."""
    rule_set = _rules(uow, consultation)
    if rule_set is None or not rule_set.rules or consultation.organisation_id is None:
        return []
    facts = _facts(uow, ports, consultation, has_primary_diagnosis(content))
    decisions: list[Decision] = decide(rule_set.rules, rule_set.rule_version, facts)
    if not decisions:
        return []
    log_id = RuleDecisions.create_id(consultation.id)
    log = uow.find(RuleDecisions, log_id) or RuleDecisions(
        consultation_id=consultation.id, organisation_id=consultation.organisation_id, by=cmd.actor
    )
    now = ports.clock()
    for decision in decisions:
        log.record(decision, step, now, by=cmd.actor)
    refused = next((d for d in decisions if not d.allowed), None)
    if refused is not None:
        uow.save(log)
        raise RuleViolation(refused.rule_id, refused.version, refused.explanation)
    return [log]
