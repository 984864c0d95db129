"""An organisation always keeps at least one active admin: whoever would be the last one
cannot be deactivated or leave, by any path (else only the command line could recover it)."""

from __future__ import annotations

import threading

from adapters.composition import Services
from commands.memberships import DeactivateAccount
from commands.results import ConcurrencyConflict
from domain.account import Account
from domain.actor import Role
from domain.admin_roster import LastAdmin  # the invariant under test
from tests.conftest import Clinic, Person


def deactivate(clinic: Clinic, by: Person, target: Person) -> tuple[int, str]:
    org = by.actor.organisation_id
    response = clinic.client.post(
        f"/v1/organisations/{org}/staff/{target.actor.actor_id}/deactivate", headers=by.headers
    )
    return response.status_code, str(response.json().get("type", ""))


def remove(clinic: Clinic, by: Person, target: Person) -> tuple[int, str]:
    org = by.actor.organisation_id
    response = clinic.client.delete(
        f"/v1/organisations/{org}/staff/{target.actor.actor_id}", headers=by.headers
    )
    return response.status_code, str(response.json().get("type", ""))


def test_the_only_admin_cannot_deactivate_their_own_account_or_leave(
    clinic: Clinic, admin_a: Person
) -> None:
    status, kind = deactivate(clinic, admin_a, admin_a)
    assert status == 409 and kind.endswith("last-admin"), "the clinic would have no admin left"
    status, kind = remove(clinic, admin_a, admin_a)
    assert status == 409 and kind.endswith("last-admin")
    still = clinic.client.get("/v1/accounts/me", headers=admin_a.headers)
    assert still.status_code == 200


def test_with_a_second_admin_one_may_go_but_not_both(
    clinic: Clinic, admin_a: Person, dr_weber: Person
) -> None:
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_a)
    assert deactivate(clinic, admin_a, dr_weber)[0] == 200  # not an admin: no limit
    assert deactivate(clinic, admin_a, admin_b)[0] == 200
    status, kind = deactivate(clinic, admin_a, admin_a)
    assert status == 409 and kind.endswith("last-admin")
    admin_c = clinic.person("Admin C", Role.ORG_ADMIN, clinic.org_a)
    assert remove(clinic, admin_c, admin_a)[0] == 200  # admin A leaves; C stays
    status, kind = remove(clinic, admin_c, admin_c)
    assert status == 409 and kind.endswith("last-admin")


def test_two_admins_deactivating_each_other_at_once_leave_one(
    clinic: Clinic, services: Services, admin_a: Person
) -> None:
    admin_b = clinic.person("Admin B", Role.ORG_ADMIN, clinic.org_a)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def deactivate_other(by: Person, target: Person) -> None:
        start.wait()
        try:
            services.bus.handle(DeactivateAccount(by.actor, target.actor.actor_id, clinic.org_a))
            outcomes.append("done")
        except (LastAdmin, ConcurrencyConflict) as refused:
            outcomes.append(type(refused).__name__)

    threads = [
        threading.Thread(target=deactivate_other, args=(admin_a, admin_b)),
        threading.Thread(target=deactivate_other, args=(admin_b, admin_a)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes).count("done") <= 1, outcomes
    active = [services.bus_uow().get(Account, p.actor.actor_id).active for p in (admin_a, admin_b)]
    assert any(active), "both admins were deactivated"
