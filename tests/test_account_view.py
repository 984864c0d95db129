"""``GET /v1/accounts/me`` reads the account view, which says what the account's events say
(role, second factor, doctors assisted in assignment order), live or rebuilt."""

from __future__ import annotations

from typing import Any

from adapters.composition import Services
from domain.account import Account
from domain.actor import Role
from tests.conftest import Clinic, Person


def test_me_says_what_the_account_says_live_or_rebuilt(
    clinic: Clinic, services: Services, dr_weber: Person
) -> None:
    ada = clinic.person("Ada assistant", Role.ASSISTANT, clinic.org_a)
    dr_roth = clinic.person("Dr Roth", Role.DOCTOR, clinic.org_a)
    weber, roth = f"/v1/doctors/{dr_weber.actor.actor_id}", f"/v1/doctors/{dr_roth.actor.actor_id}"
    for doctor, url in ((dr_roth, roth), (dr_weber, weber)):
        named = clinic.client.put(
            f"{url}/assistants/{ada.actor.actor_id}", headers=doctor.headers, json={}
        )
        assert named.status_code == 200, named.text

    def me() -> dict[str, Any]:
        answer = clinic.client.get("/v1/accounts/me", headers=ada.headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    shown = me()  # read right after the write
    account = services.bus_uow().get(Account, ada.actor.actor_id)
    assert shown["account_id"] == str(account.id)
    assert shown["role"] == account.role.value == "assistant"
    assert shown["second_factor"] is account.totp_confirmed
    assert shown["assists"] == [
        {"doctor_id": str(d), "organisation_id": str(o)} for d, o in account.assists.items()
    ]
    assert [a["doctor_id"] for a in shown["assists"]] == [
        str(dr_roth.actor.actor_id),
        str(dr_weber.actor.actor_id),
    ]

    runner = services.runners["account_view"]
    runner.reset()
    runner.run_until_caught_up()
    assert me() == shown

    gone = clinic.client.delete(f"{roth}/assistants/{ada.actor.actor_id}", headers=dr_roth.headers)
    assert gone.status_code == 200, gone.text
    assert me()["assists"] == [
        {"doctor_id": str(dr_weber.actor.actor_id), "organisation_id": str(clinic.org_a)}
    ]
