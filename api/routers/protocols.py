"""Protocols: the consultation's doctor (or an assistant of the doctor) drafts and revises the
protocol; the doctor signs it and adds signed addenda (both after a step-up); the parties read
it (attributed) and anyone of them, or a compliance officer, verifies its signature; a
practitioner's public signing keys are published. See README, "Protocols"."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response, status

from api.auth import (
    CurrentActor,
    CurrentSession,
    authorize,
    authorize_consultation,
    consultation_scope,
    require_step_up,
)
from api.policy import Action
from api.problems import PROBLEM_RESPONSES
from api.protocol_schemas import (
    AddendumBody,
    ProtocolBody,
    ProtocolOut,
    SigningKeysOut,
    VerificationOut,
)
from api.reads import (
    AfterQuery,
    PurposeHeader,
    accepted,
    await_position,
    etag,
    if_match_version,
    record_access,
)
from api.schemas import Accepted
from api.state import services_of
from commands import protocols as cmd
from commands.results import NotFound
from domain.actor import Actor, Role
from projections.protocol_view import ProtocolRow

router = APIRouter(prefix="/v1", tags=["protocols"], responses=PROBLEM_RESPONSES)


def _protocol(request: Request, protocol_id: UUID, after: int | None = None) -> ProtocolRow:
    """The protocol as its view knows it, caught up with the log (404 if there is none)."""
    services = services_of(request)
    await_position(services, "protocol_view", after, services.recorder.max_notification_id())
    row = services.protocols.get(protocol_id)
    if row is None:
        raise NotFound("Protocol", protocol_id)
    return row


def _authorized(request: Request, actor: Actor, action: Action, row: ProtocolRow) -> Actor:
    return authorize_consultation(
        request, actor, action, consultation_scope(request, row.consultation_id)
    )


@router.post(
    "/consultations/{consultation_id}/protocol",
    status_code=status.HTTP_201_CREATED,
    response_model=Accepted,
)
def draft(
    consultation_id: UUID,
    body: ProtocolBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Start the consultation's protocol, once the call started (409 before): its doctor, or
    an assistant of the doctor. Every section is encrypted with the patient's key. The
    organisation's rules are checked (409 ``rule-violation``)."""
    scope = consultation_scope(request, consultation_id)
    acting = authorize_consultation(request, actor, Action.PREPARE_PROTOCOL, scope)
    saved = services_of(request).bus.handle(
        cmd.DraftProtocol(acting, consultation_id, body.content())
    )
    response.headers["Location"] = f"/v1/protocols/{saved.aggregate_id}"
    return accepted(response, saved)


@router.put("/protocols/{protocol_id}", response_model=Accepted)
def revise(
    protocol_id: UUID,
    body: ProtocolBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> dict[str, Any]:
    """Replace the draft's sections (412 when ``If-Match`` is stale; 409 once signed)."""
    row = _protocol(request, protocol_id)
    acting = _authorized(request, actor, Action.PREPARE_PROTOCOL, row)
    saved = services_of(request).bus.handle(
        cmd.ReviseProtocol(acting, protocol_id, body.content(), if_match_version(if_match))
    )
    return accepted(response, saved)


@router.post("/protocols/{protocol_id}/sign", response_model=Accepted)
def sign(
    protocol_id: UUID,
    request: Request,
    response: Response,
    actor: CurrentActor,
    current: CurrentSession,
) -> dict[str, Any]:
    """The consultation's doctor signs, after a step-up (401 ``step-up-required``); 409
    ``missing-sections`` names what is missing, 409 ``rule-violation`` a rule that refuses."""
    row = _protocol(request, protocol_id)
    acting = _authorized(request, actor, Action.SIGN_PROTOCOL, row)
    require_step_up(current[0])
    return accepted(
        response, services_of(request).bus.handle(cmd.SignProtocol(acting, protocol_id))
    )


@router.post(
    "/protocols/{protocol_id}/addenda", status_code=status.HTTP_201_CREATED, response_model=Accepted
)
def add_addendum(
    protocol_id: UUID,
    body: AddendumBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
    current: CurrentSession,
) -> dict[str, Any]:
    """A signed correction of a signed protocol (409 on a draft), after a step-up."""
    row = _protocol(request, protocol_id)
    acting = _authorized(request, actor, Action.SIGN_PROTOCOL, row)
    require_step_up(current[0])
    saved = services_of(request).bus.handle(cmd.AddAddendum(acting, protocol_id, body.text))
    return accepted(response, saved)


@router.get("/protocols/{protocol_id}", response_model=ProtocolOut)
def read(
    protocol_id: UUID,
    request: Request,
    response: Response,
    actor: CurrentActor,
    after: AfterQuery = None,
    purpose: PurposeHeader = None,
) -> dict[str, Any]:
    """The protocol for the consultation's parties (the patient's side, its doctor, staff of
    its organisation); on the patient's access log."""
    row = _protocol(request, protocol_id, after)
    acting = _authorized(request, actor, Action.READ_PROTOCOL, row)
    record_access(services_of(request), acting, [row.patient_id], "protocol.read", purpose)
    response.headers["ETag"] = etag(row.version)
    signature = None
    if row.signer_id is not None and row.signed_at is not None:
        signature = {"signer_id": row.signer_id, "signed_at": row.signed_at, "key_id": row.key_id}
    return {
        "id": row.protocol_id,
        "consultation_id": row.consultation_id,
        "patient_id": row.patient_id,
        "doctor_id": row.doctor_id,
        "organisation_id": row.organisation_id,
        "version": row.version,
        "status": row.status,
        "content": row.content,
        "signature": signature,
        "addenda": [
            {
                "addendum_id": a.addendum_id,
                "signer_id": a.signer_id,
                "signed_at": a.signed_at,
                "key_id": a.key_id,
                "text": a.text,
            }
            for a in row.addenda
        ],
    }


@router.get("/protocols/{protocol_id}/verification", response_model=VerificationOut)
def verification(
    protocol_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> dict[str, Any]:
    """Who signed, when, with which key, and whether the signature and the content still
    match: the canonical document is derived again from the stored events and checked with
    the signer's published key. For the parties and compliance officers (no content shown)."""
    row = _protocol(request, protocol_id)
    acting = actor
    if actor.role is Role.COMPLIANCE_OFFICER:
        authorize(actor, Action.VERIFY_PROTOCOL)
    else:
        acting = _authorized(request, actor, Action.VERIFY_PROTOCOL, row)
    services = services_of(request)
    try:
        found = services.signatures.verify(protocol_id)
    except LookupError:
        raise NotFound("Protocol", protocol_id) from None
    record_access(services, acting, [row.patient_id], "protocol.verification", purpose)

    def check(c: Any) -> dict[str, Any]:
        return {
            "signer_id": c.signer_id,
            "signed_at": c.signed_at,
            "key_id": c.key_id,
            "algorithm": c.algorithm,
            "public_key": c.public_key,
            "key_valid_then": c.key_valid_then,
            "key_valid_from": c.key_valid_from,
            "key_valid_until": c.key_valid_until,
            "signature_matches": c.signature_matches,
            "valid": c.valid,
        }

    return {
        "protocol_id": protocol_id,
        "patient_id": row.patient_id,
        "signed": found.signed,
        "valid": found.valid,
        "problem": found.problem,
        "signature": check(found.signature) if found.signature else None,
        "addenda": [{"addendum_id": i, **check(c)} for i, c in found.addenda],
    }


@router.get("/practitioners/{practitioner_id}/signing-keys", response_model=SigningKeysOut)
def signing_keys(practitioner_id: UUID, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """A practitioner's public signing keys with their validity, oldest first; kept after the
    practitioner's erasure or deactivation, so their signatures stay verifiable."""
    authorize(actor, Action.READ_SIGNING_KEYS)
    keys = services_of(request).signatures.public_keys(practitioner_id)
    return {
        "practitioner_id": practitioner_id,
        "keys": [
            {
                "key_id": k.key_id,
                "algorithm": k.algorithm,
                "public_key": k.public_key,
                "valid_from": k.valid_from,
                "valid_until": k.valid_until,
            }
            for k in keys
        ],
    }
