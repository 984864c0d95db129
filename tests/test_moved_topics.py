"""Events stored before a class moved to another module keep loading under their old topics."""

from __future__ import annotations

from eventsourcing.utils import resolve_topic

from domain.record_invitation import InvitationPurpose
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
