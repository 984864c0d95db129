"""Events stored before a class moved to another module keep loading under their old topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from eventsourcing.utils import get_topic, resolve_topic

from domain import record_invitation
from domain.actor import Actor, Role
from domain.patient import Patient
from domain.record_invitation import InvitationNotValid, InvitationPurpose
from domain.staff_invitation import Invitation


def test_a_staff_invitation_stored_in_domain_account_still_loads() -> None:
    assert resolve_topic("domain.account:Invitation") is Invitation
    assert resolve_topic("domain.account:Invitation.Issued") is Invitation.Issued
    assert resolve_topic("domain.account:Invitation.Accepted") is Invitation.Accepted


def test_an_invitation_purpose_stored_in_domain_patient_still_loads() -> None:
    assert resolve_topic("domain.patient:InvitationPurpose") is InvitationPurpose


def test_a_consultation_stored_in_domain_booking_still_loads() -> None:
    from domain.consultation import Consultation, Kind, Status

    assert resolve_topic("domain.booking:Consultation") is Consultation
    assert resolve_topic("domain.booking:Consultation.Booked") is Consultation.Booked
    assert resolve_topic("domain.booking:Kind") is Kind
    assert resolve_topic("domain.booking:Status") is Status


def test_the_invitation_flow_s_facts_keep_their_topics_after_leaving_domain_patient() -> None:
    """Their fields and steps moved to domain.record_invitation; the Patient aggregate still
    records them, so new events are stored under the same topics as the old ones."""
    by = Actor(uuid4(), Role.PATIENT)
    holder = Actor(uuid4(), Role.PATIENT)
    record = Patient.register(by=holder, given_name="Ben", family_name="K")
    record.become_beneficiary_of(holder_id=holder.actor_id, by=holder)
    now = datetime.now(UTC)
    for issued in range(3):
        record.invite(
            purpose=InvitationPurpose.TRANSFER,
            email=" Ben@Example.org ",
            token_hash=f"hash-{issued}",
            expires_at=now + timedelta(days=7),
            by=holder,
        )
    assert record.invitation is not None and record.invitation.email == "ben@example.org"
    record.decline_invitation("hash-2", now, by=by)
    with pytest.raises(InvitationNotValid):
        record.withdraw_invitation(by=holder)
    record.invite(
        purpose=InvitationPurpose.TRANSFER,
        email="ben@example.org",
        token_hash="hash-3",
        expires_at=now + timedelta(days=7),
        by=holder,
    )
    record.withdraw_invitation(by=holder)
    record.invite(
        purpose=InvitationPurpose.TRANSFER,
        email="ben@example.org",
        token_hash="hash-4",
        expires_at=now + timedelta(days=7),
        by=holder,
    )
    record.accept_invitation("hash-4", by.actor_id, now, by=by)
    topics = {get_topic(type(e)) for e in record.collect_events()}
    moved = {
        "BecameBeneficiary",
        "InvitationIssued",
        "InvitationDeclined",
        "InvitationWithdrawn",
        "AccountLinked",
    }
    assert {f"domain.patient:Patient.{name}" for name in moved} <= topics
    for name in moved:
        stored = resolve_topic(f"domain.patient:Patient.{name}")
        assert stored is getattr(Patient, name)
        assert issubclass(stored, getattr(record_invitation, name))
    assert record.account_id == by.actor_id and record.holder_id is None
