"""Urgent bookings of a doctor who works for two organisations: the organisation that books
is the one recorded, and only where the doctor practises."""

from __future__ import annotations

import re
import uuid

from adapters.composition import Services
from domain.actor import Role
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import set_up_schedule
from tests.test_accounts import next_code
from tests.test_mail import Inbox, inbox  # noqa: F401  (the SMTP fixture)
from tests.test_memberships import found


def joins(clinic: Clinic, services: Services, inbox: Inbox, doctor: Person, admin: Person) -> None:  # noqa: F811
    """The doctor accepts the organisation's invitation with their own password and code."""
    invited = clinic.client.post(
        f"/v1/organisations/{admin.actor.organisation_id}/invitations",
        headers=admin.headers,
        json={"email": doctor.email, "role": "doctor"},
    )
    assert invited.status_code == 201, invited.text
    services.outbox.deliver_due()
    inbox.wait_for(1)
    token = re.search(r"#token=(\S+)", inbox.body())
    assert token is not None and doctor.totp is not None
    joined = clinic.client.post(
        "/v1/invitations/accept",
        json={"token": token.group(1), "password": doctor.password, "code": next_code(doctor.totp)},
    )
    assert joined.status_code == 201, joined.text


def test_an_urgent_booking_is_recorded_for_the_organisation_that_makes_it(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    inbox: Inbox,  # noqa: F811
) -> None:
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    found(clinic, admin_b, "Cabinet du Nord")
    joins(clinic, services, inbox, dr_weber, admin_b)
    set_up_schedule(clinic, dr_weber)  # practices in A
    nurse_b = clinic.person("Nurse B", Role.NURSE, clinic.org_b)
    berta = clinic.register(nurse_b, given_name="Berta")["id"]
    doctor_id = dr_weber.actor.actor_id
    urgently = {"patient_id": berta, "doctor_id": str(doctor_id), "reason": "sudden chest pain"}

    # the doctor has no practice in B: B cannot book the doctor urgently
    refused = clinic.client.post("/v1/consultations/urgent", headers=nurse_b.headers, json=urgently)
    assert refused.status_code == 403, refused.text

    in_b = {**dr_weber.headers, "X-Organisation-Id": str(clinic.org_b)}
    practice = {"practice_id": str(uuid.uuid4()), "organisation_id": str(clinic.org_b)}
    added = clinic.client.post(f"/v1/doctors/{doctor_id}/practices", headers=in_b, json=practice)
    assert added.status_code == 200, added.text
    for who in (nurse_b.headers, in_b):  # B's nurse, and the doctor acting for B
        booked = clinic.client.post("/v1/consultations/urgent", headers=who, json=urgently)
        assert booked.status_code == 201, booked.text
        read = clinic.client.get(f"/v1/consultations/{booked.json()['id']}", headers=who)
        assert read.json()["organisation_id"] == str(clinic.org_b)
