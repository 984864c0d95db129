"""Machine clients (OAuth 2.0 client credentials for systems), an organisation's partner labs,
lab orders and their results. Every clinical fact has an author and a consultation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from commands.accounts import InvalidCredentials
from commands.ports import Ports, UnitOfWork
from commands.results import NotFound, Saved
from domain.actor import Actor, Role
from domain.consultation import Consultation
from domain.lab_order import LabOrder
from domain.machine_client import ClientPurpose, MachineClient
from domain.partner_labs import NotAPartnerLab, PartnerLabs

TOKEN_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True)
class CreateMachineClient:
    actor: Actor
    organisation_id: UUID
    name: str
    purpose: str = ClientPurpose.LAB


@dataclass(frozen=True)
class MachineClientCreated(Saved):
    """The client's id (``aggregate_id``) and its secret, shown this once."""

    secret: str


def create_machine_client(
    cmd: CreateMachineClient, uow: UnitOfWork, ports: Ports
) -> MachineClientCreated:
    secret = "tmcs_" + secrets.token_urlsafe(32)
    client = MachineClient.create(
        cmd.organisation_id,
        cmd.name,
        ports.credentials.hash_password(secret),
        purpose=cmd.purpose,
        by=cmd.actor,
    )
    saved = uow.save(client)
    return MachineClientCreated(saved.aggregate_id, saved.version, saved.position, secret)


@dataclass(frozen=True)
class RevokeMachineClient:
    actor: Actor
    organisation_id: UUID
    client_id: UUID


def revoke_machine_client(cmd: RevokeMachineClient, uow: UnitOfWork, ports: Ports) -> Saved:
    """Its tokens end in the same transaction: refused from the next request on."""
    client = _client_of(uow, cmd.client_id, cmd.organisation_id)
    client.revoke(by=cmd.actor)
    uow.attach(ports.sessions.end_all(client.id))
    return uow.save(client)


@dataclass(frozen=True)
class IssueClientToken:
    """``grant_type=client_credentials``: the client's id and secret for a bearer token."""

    client_id: UUID | None
    secret: str


@dataclass(frozen=True)
class ClientToken(Saved):
    token: str
    expires_in: int


def issue_client_token(cmd: IssueClientToken, uow: UnitOfWork, ports: Ports) -> ClientToken:
    client = uow.find(MachineClient, cmd.client_id) if cmd.client_id else None
    if client is None:
        ports.credentials.verify_password(None, cmd.secret)  # the same work as a real check
        raise InvalidCredentials("unknown client or wrong secret")
    if not ports.credentials.verify_password(client.secret_hash, cmd.secret):
        raise InvalidCredentials("unknown client or wrong secret")
    if client.revoked:
        raise InvalidCredentials("unknown client or wrong secret")
    itself = Actor(client.id, Role.SYSTEM, client.organisation_id)
    client.issue_token(ports.clock() + TOKEN_LIFETIME, by=itself)
    token, opens = ports.sessions.opener(
        client.id,
        Role.SYSTEM,
        client.organisation_id,
        stepped_up=False,
        enrolment_only=False,
        lifetime=TOKEN_LIFETIME,
    )
    uow.attach(opens)
    saved = uow.save(client)
    lifetime = int(TOKEN_LIFETIME.total_seconds())
    return ClientToken(saved.aggregate_id, saved.version, saved.position, token, lifetime)


@dataclass(frozen=True)
class AddPartnerLab:
    actor: Actor
    organisation_id: UUID
    name: str
    client_id: UUID


def add_partner_lab(cmd: AddPartnerLab, uow: UnitOfWork) -> Saved:
    """A lab reports with one of the organisation's own active machine clients (a lab's)."""
    client = _client_of(uow, cmd.client_id, cmd.organisation_id)
    client.check_purpose(ClientPurpose.LAB)
    labs = uow.find(PartnerLabs, PartnerLabs.create_id(cmd.organisation_id))
    if labs is None:
        labs = PartnerLabs(organisation_id=cmd.organisation_id, by=cmd.actor)
    lab_id = uuid4()
    labs.add(lab_id, cmd.name, client.id, by=cmd.actor)
    saved = uow.save(labs)
    return Saved(lab_id, saved.version, saved.position)


@dataclass(frozen=True)
class RemovePartnerLab:
    actor: Actor
    organisation_id: UUID
    lab_id: UUID


def remove_partner_lab(cmd: RemovePartnerLab, uow: UnitOfWork) -> Saved:
    """Orders already sent stay with the lab (it may still report them)."""
    labs = uow.find(PartnerLabs, PartnerLabs.create_id(cmd.organisation_id))
    if labs is None:
        raise NotAPartnerLab(str(cmd.lab_id))
    labs.remove(cmd.lab_id, by=cmd.actor)
    return uow.save(labs)


@dataclass(frozen=True)
class OrderLabTests:
    actor: Actor
    consultation_id: UUID
    lab_id: UUID
    tests: tuple[dict[str, str], ...]
    note: str | None = None


def order_lab_tests(cmd: OrderLabTests, uow: UnitOfWork, ports: Ports) -> Saved:
    consultation = uow.get(Consultation, cmd.consultation_id)
    organisation = consultation.organisation_id
    labs = uow.find(PartnerLabs, PartnerLabs.create_id(organisation)) if organisation else None
    if labs is None:
        raise NotAPartnerLab(str(cmd.lab_id))
    order = LabOrder.order(
        consultation,
        lab_id=cmd.lab_id,
        lab_client_id=labs.client_of(cmd.lab_id),
        tests=[dict(t) for t in cmd.tests],
        note=cmd.note,
        at=ports.clock(),
        by=cmd.actor,
    )
    return uow.save(order)


@dataclass(frozen=True)
class CancelLabOrder:
    actor: Actor
    consultation_id: UUID
    order_id: UUID
    reason: str


def cancel_lab_order(cmd: CancelLabOrder, uow: UnitOfWork, ports: Ports) -> Saved:
    order = _order_of(uow, cmd.order_id, cmd.consultation_id)
    order.cancel(cmd.reason, at=ports.clock(), by=cmd.actor)
    return uow.save(order)


@dataclass(frozen=True)
class ReportLabResults:
    """The lab's machine client (the actor) reports results for an order sent to it."""

    actor: Actor
    order_id: UUID
    results: tuple[dict[str, Any], ...]


def report_lab_results(cmd: ReportLabResults, uow: UnitOfWork, ports: Ports) -> Saved:
    order = uow.get(LabOrder, cmd.order_id)
    order.report([dict(r) for r in cmd.results], at=ports.clock(), by=cmd.actor)
    return uow.save(order)


def _client_of(uow: UnitOfWork, client_id: UUID, organisation_id: UUID) -> MachineClient:
    """The organisation's machine client (``NotFound`` for another organisation's)."""
    client = uow.get(MachineClient, client_id)
    if client.organisation_id != organisation_id:
        raise NotFound("Machine client", client_id)
    return client


def _order_of(uow: UnitOfWork, order_id: UUID, consultation_id: UUID) -> LabOrder:
    order = uow.get(LabOrder, order_id)
    if order.consultation_id != consultation_id:
        raise NotFound("Lab order", order_id)
    return order
