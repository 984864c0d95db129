"""Staff join by invitation and leave by deactivation, within their admin's organisation tree."""

from __future__ import annotations

import os
import re
import uuid

from typer.testing import CliRunner, Result

from adapters.composition import Services
from api.cli import cli
from commands.sign_in import SignedIn, SignIn
from domain.actor import Role
from tests.conftest import Clinic, Person
from tests.test_accounts import PASSWORD, bearer, enrol, sign_in
from tests.test_mail import Inbox, inbox  # noqa: F401  (the SMTP fixture)
from tests.test_mail_folder import folder_mail, link_in


def test_an_admin_invites_a_nurse_who_joins_and_is_later_deactivated(
    clinic: Clinic,
    admin_a: Person,
    services: Services,
    inbox: Inbox,  # noqa: F811
) -> None:
    clinic.client.put(
        f"/v1/organisations/{clinic.org_a}",
        headers=admin_a.headers,
        json={"name": "Clinique du Parc"},
    )
    invited = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/invitations",
        headers=admin_a.headers,
        json={"email": "nora@clinic.lu", "role": "nurse"},
    )
    assert invited.status_code == 201, invited.text
    services.outbox.deliver_due()
    inbox.wait_for(1)
    match = re.search(r"#token=(\S+)", inbox.body())
    assert match is not None and inbox.messages[0]["To"] == "nora@clinic.lu"
    token = match.group(1)
    joined = clinic.client.post(
        "/v1/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert joined.status_code == 201
    again = clinic.client.post(
        "/v1/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert again.status_code == 400  # single use
    status, session = sign_in(clinic, "nora@clinic.lu")
    assert status == 201 and session["role"] == "nurse" and session["enrolment_only"] is True

    account_id = joined.json()["account_id"]
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_b)
    foreign = clinic.client.post(
        f"/v1/organisations/{clinic.org_b}/staff/{account_id}/deactivate", headers=admin_b.headers
    )
    assert foreign.status_code == 404  # not in that admin's organisation
    gone = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/staff/{account_id}/deactivate", headers=admin_a.headers
    )
    assert gone.status_code == 200 and gone.json()["sessions_ended"] == 1
    assert (
        clinic.client.post("/v1/accounts/me/totp", headers=bearer(session["token"])).status_code
        == 401
    )
    status, problem = sign_in(clinic, "nora@clinic.lu")
    assert status == 403 and str(problem["type"]).endswith("account-deactivated")


def test_organisations_invite_staff_not_patients_and_links_do_not_travel(
    clinic: Clinic, admin_a: Person
) -> None:
    clinic.client.put(
        f"/v1/organisations/{clinic.org_a}",
        headers=admin_a.headers,
        json={"name": "Clinique du Parc"},
    )
    patient = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/invitations",
        headers=admin_a.headers,
        json={"email": "pat@example.lu", "role": "patient"},
    )
    assert patient.status_code == 422
    forged = clinic.client.post(
        "/v1/invitations/accept",
        json={"token": f"{uuid.uuid4().hex}.forged-token-value", "password": PASSWORD},
    )
    assert forged.status_code == 400


def test_an_admin_invites_an_analyst_who_reads_the_organisations_figures(
    clinic: Clinic, admin_a: Person, services: Services
) -> None:
    services.worker.stop()  # this test plays the only mail sender
    clinic.client.put(
        f"/v1/organisations/{clinic.org_a}", headers=admin_a.headers, json={"name": "Parc"}
    )
    invited = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/invitations",
        headers=admin_a.headers,
        json={"email": "kim@clinic.lu", "role": "analyst"},
    )
    assert invited.status_code == 201, invited.text
    assert services.outbox.deliver_due() == 1
    (mail,) = folder_mail(services.settings.mail_dir)
    token = link_in(mail).split("#token=", 1)[1]
    joined = clinic.client.post(
        "/v1/invitations/accept", json={"token": token, "password": PASSWORD}
    )
    assert joined.status_code == 201, joined.text
    _, session = sign_in(clinic, "kim@clinic.lu")
    enrol(clinic, session["token"])  # analysts set up two-factor like all staff
    figures = clinic.client.get("/v1/analytics/registrations", headers=bearer(session["token"]))
    assert figures.status_code == 200, figures.text


def test_compliance_officers_are_created_by_the_operator_not_invited(
    clinic: Clinic, admin_a: Person
) -> None:
    clinic.client.put(
        f"/v1/organisations/{clinic.org_a}", headers=admin_a.headers, json={"name": "Parc"}
    )
    refused = clinic.client.post(
        f"/v1/organisations/{clinic.org_a}/invitations",
        headers=admin_a.headers,
        json={"email": "lenz@authority.lu", "role": "compliance-officer"},
    )
    assert refused.status_code == 422
    assert "telemed account create --role compliance-officer" in refused.json()["detail"]


def test_the_operator_creates_compliance_officers_outside_any_organisation(
    services: Services,
) -> None:
    env = {
        **os.environ,
        "TELEMED_DATABASE_URL": services.settings.database_url,
        "TELEMED_KEYRING": str(services.settings.keyring_path),
    }

    def create(*options: str) -> Result:
        return CliRunner().invoke(
            cli,
            ["account", "create", "--email", "lenz@authority.lu", *options],
            input=f"{PASSWORD}\n{PASSWORD}\n",
            env=env,
        )

    inside = create("--role", "compliance-officer", "--organisation", str(uuid.uuid4()))
    assert inside.exit_code == 2, inside.output  # compliance officers belong to no organisation
    nowhere = create("--role", "org-admin")
    assert nowhere.exit_code == 2, nowhere.output  # staff work for an organisation
    created = create("--role", "compliance-officer")
    assert created.exit_code == 0, created.output
    signed = services.bus.answer(SignIn("lenz@authority.lu", PASSWORD, None), SignedIn)
    assert (signed.role, signed.organisation_id) == (Role.COMPLIANCE_OFFICER, None)
