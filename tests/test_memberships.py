"""A practitioner works for several organisations; an assistant acts for the doctors named."""

from __future__ import annotations

import re
import uuid

from adapters.composition import Services
from domain.actor import Role
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import set_up_schedule
from tests.test_accounts import next_code
from tests.test_mail import Inbox, inbox  # noqa: F401  (the SMTP fixture)


def found(clinic: Clinic, admin: Person, name: str) -> None:
    done = clinic.client.put(
        f"/v1/organisations/{admin.actor.organisation_id}",
        headers=admin.headers,
        json={"name": name},
    )
    assert done.status_code == 200, done.text


def test_a_doctor_joins_a_second_organisation_and_acts_for_either_then_leaves_one(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    admin_a: Person,
    inbox: Inbox,  # noqa: F811
) -> None:
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    found(clinic, admin_b, "Cabinet du Nord")
    nurse_b = clinic.person("Nurse B", Role.NURSE, clinic.org_b)
    patient_b = clinic.register(nurse_b, given_name="Berta")["id"]
    in_b = {**dr_weber.headers, "X-Organisation-Id": str(clinic.org_b)}
    base = f"/v1/doctors/{dr_weber.actor.actor_id}"
    practice = {"practice_id": str(uuid.uuid4()), "organisation_id": str(clinic.org_b)}

    # not yet a member of B: no practice there, no acting for B
    early = clinic.client.post(f"{base}/practices", headers=dr_weber.headers, json=practice)
    assert early.status_code == 422 and early.json()["type"].endswith("not-a-member")
    refused = clinic.client.get(f"/v1/patients/{patient_b}", headers=in_b)
    assert refused.status_code == 403 and refused.json()["type"].endswith("not-a-member")

    # B invites the doctor's existing address; the doctor joins with password and code
    invited = clinic.client.post(
        f"/v1/organisations/{clinic.org_b}/invitations",
        headers=admin_b.headers,
        json={"email": dr_weber.email, "role": "doctor"},
    )
    assert invited.status_code == 201, invited.text
    services.outbox.deliver_due()
    inbox.wait_for(1)
    match = re.search(r"#token=(\S+)", inbox.body())
    assert match is not None
    token = match.group(1)
    no_code = clinic.client.post(
        "/v1/invitations/accept", json={"token": token, "password": dr_weber.password}
    )
    assert no_code.status_code == 401 and no_code.json()["type"].endswith("second-factor-required")
    assert dr_weber.totp is not None
    joined = clinic.client.post(
        "/v1/invitations/accept",
        json={"token": token, "password": dr_weber.password, "code": next_code(dr_weber.totp)},
    )
    assert joined.status_code == 201, joined.text
    assert joined.json()["account_id"] == str(dr_weber.actor.actor_id)  # one account
    me = clinic.client.get("/v1/accounts/me", headers=dr_weber.headers).json()
    assert set(me["organisations"]) == {str(clinic.org_a), str(clinic.org_b)}

    # acting for B is explicit; by default the doctor acts for the first organisation
    assert (
        clinic.client.get(f"/v1/patients/{patient_b}", headers=dr_weber.headers).status_code == 403
    )
    assert clinic.client.get(f"/v1/patients/{patient_b}", headers=in_b).status_code == 200
    set_up_schedule(clinic, dr_weber)  # practices in A
    added = clinic.client.post(f"{base}/practices", headers=dr_weber.headers, json=practice)
    assert added.status_code == 200, added.text
    agenda = clinic.client.get(f"{base}/agenda", headers=admin_b.headers)
    assert agenda.status_code == 200  # B's admin now sees the agenda of a doctor of B
    elsewhere = clinic.client.post(
        f"/v1/organisations/{clinic.org_b}/staff/{dr_weber.actor.actor_id}/deactivate",
        headers=admin_b.headers,
    )
    assert elsewhere.status_code == 409 and elsewhere.json()["type"].endswith("works-elsewhere")

    # B lets the doctor go: B's records and agenda close at once; A's stay open
    removed = clinic.client.delete(
        f"/v1/organisations/{clinic.org_b}/staff/{dr_weber.actor.actor_id}",
        headers=admin_b.headers,
    )
    assert removed.status_code == 200 and removed.json()["sessions_ended"] == 0
    assert clinic.client.get(f"/v1/patients/{patient_b}", headers=in_b).status_code == 403
    assert clinic.client.get(f"{base}/agenda", headers=admin_b.headers).status_code == 403
    assert clinic.client.get(f"{base}/agenda", headers=admin_a.headers).status_code == 200
    assert clinic.client.get("/v1/patients", headers=dr_weber.headers).status_code == 200


def test_an_invitation_in_another_role_is_refused_for_an_existing_account(
    clinic: Clinic,
    services: Services,
    dr_weber: Person,
    inbox: Inbox,  # noqa: F811
) -> None:
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    clinic.client.post(
        f"/v1/organisations/{clinic.org_b}/invitations",
        headers=admin_b.headers,
        json={"email": dr_weber.email, "role": "nurse"},
    )
    services.outbox.deliver_due()
    inbox.wait_for(1)
    match = re.search(r"#token=(\S+)", inbox.body())
    assert match is not None and dr_weber.totp is not None
    mismatch = clinic.client.post(
        "/v1/invitations/accept",
        json={
            "token": match.group(1),
            "password": dr_weber.password,
            "code": next_code(dr_weber.totp),
        },
    )
    assert mismatch.status_code == 409 and mismatch.json()["type"].endswith("role-mismatch")
    me = clinic.client.get("/v1/accounts/me", headers=dr_weber.headers).json()
    assert me["organisations"] == [str(clinic.org_a)]


def test_an_assistant_acts_for_the_doctors_named_and_no_others(
    clinic: Clinic, dr_weber: Person, admin_a: Person
) -> None:
    ada = clinic.person("Ada assistant", Role.ASSISTANT, clinic.org_a)
    dr_roth = clinic.person("Dr Roth", Role.DOCTOR, clinic.org_a)
    city = set_up_schedule(clinic, dr_weber).city
    weber, roth = f"/v1/doctors/{dr_weber.actor.actor_id}", f"/v1/doctors/{dr_roth.actor.actor_id}"
    hours = f"{weber}/practices/{city}/weekly-hours/2"
    schedule = clinic.client.get(f"{weber}/agenda", headers=ada.headers)
    assert schedule.status_code == 403  # of the same organisation, but not named yet

    named = clinic.client.put(
        f"{weber}/assistants/{ada.actor.actor_id}", headers=dr_weber.headers, json={}
    )
    assert named.status_code == 200, named.text
    assert clinic.client.get(f"{weber}/agenda", headers=ada.headers).status_code == 200
    changed = clinic.client.put(hours, headers=ada.headers, json={"spans": ["09:00-12:00"]})
    assert changed.status_code == 200, changed.text
    listed = clinic.client.get(f"{weber}/assistants", headers=admin_a.headers).json()
    assert listed == [
        {"assistant_id": str(ada.actor.actor_id), "organisation_id": str(clinic.org_a)}
    ]
    opened = clinic.client.put(
        f"{roth}/schedule",
        headers=ada.headers,
        json={"time_zone": "Europe/Luxembourg", "specialty": "dermatology", "languages": ["de"]},
    )
    assert opened.status_code == 403  # Dr Roth did not name her
    me = clinic.client.get("/v1/accounts/me", headers=ada.headers).json()
    assert me["assists"] == [
        {"doctor_id": str(dr_weber.actor.actor_id), "organisation_id": str(clinic.org_a)}
    ]

    # only the doctor (or an admin of the doctor's organisation) names assistants
    nurse = clinic.person("Nurse", Role.NURSE, clinic.org_a)
    assert (
        clinic.client.put(
            f"{roth}/assistants/{ada.actor.actor_id}", headers=dr_weber.headers, json={}
        ).status_code
        == 403
    )
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    assert (
        clinic.client.put(
            f"{weber}/assistants/{ada.actor.actor_id}", headers=admin_b.headers, json={}
        ).status_code
        == 403
    )
    not_assistant = clinic.client.put(
        f"{weber}/assistants/{nurse.actor.actor_id}", headers=dr_weber.headers, json={}
    )
    assert not_assistant.status_code == 422 and not_assistant.json()["type"].endswith(
        "not-an-assistant"
    )

    # unnamed: it stops at once
    gone = clinic.client.delete(f"{weber}/assistants/{ada.actor.actor_id}", headers=admin_a.headers)
    assert gone.status_code == 200 and gone.json()["removed"] is True
    assert clinic.client.get(f"{weber}/agenda", headers=ada.headers).status_code == 403
    assert clinic.client.put(hours, headers=ada.headers, json={"spans": []}).status_code == 403
