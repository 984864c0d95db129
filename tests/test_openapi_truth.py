"""The OpenAPI document tells the truth: what it states is what the server enforces, and the
statuses and headers it announces are the ones the server sends."""

from __future__ import annotations

import re
from typing import Any

import pytest

from domain.actor import Role
from tests.conftest import Clinic, Person


def spec(clinic: Clinic) -> dict[str, Any]:
    document: dict[str, Any] = clinic.client.get("/openapi.json").json()
    return document


def test_a_number_is_never_taken_for_a_moment_or_a_day(
    clinic: Clinic, dr_weber: Person, analyst: Person, officer: Person
) -> None:
    anna = clinic.person("Anna", Role.PATIENT, None)
    ada = clinic.person("Nurse Ada", Role.NURSE, clinic.org_a)
    record = clinic.register(anna)["id"]
    expired = clinic.client.post(
        f"/v1/patients/{record}/delegations",
        headers=anna.headers,
        json={"grantee_id": str(ada.actor.actor_id), "scopes": ["read-records"], "starts_at": 0},
    )
    assert expired.status_code == 422, "an integer became a delegation starting in 1970"
    born = clinic.client.post(
        "/v1/patients",
        headers=dr_weber.headers,
        json={"given_name": "Ben", "family_name": "Muster", "birth_date": 0},
    )
    assert born.status_code == 422, "an integer became a birth date"
    for url, params, who in (
        ("/v1/analytics/registrations", {"from": "0.5"}, analyst),
        ("/v1/analytics/registrations", {"to": "0"}, analyst),
        (f"/v1/doctors/{dr_weber.actor.actor_id}/slots", {"from": "0.5"}, dr_weber),
        ("/v1/slots", {"specialty": "gp", "from": "1700000000"}, dr_weber),
        (f"/v1/compliance/patients/{record}/state", {"at": "0"}, officer),
    ):
        response = clinic.client.get(url, params=params, headers=who.headers)
        assert response.status_code == 422, (url, params, response.text)
    fine = clinic.client.get(
        "/v1/analytics/registrations",
        params={"from": "2030-01-01", "to": "2030-01-31"},
        headers=analyst.headers,
    )
    assert fine.status_code == 200, fine.text


def test_the_password_rules_are_in_the_document(clinic: Clinic) -> None:
    schemas = spec(clinic)["components"]["schemas"]
    for model, field in (
        ("Registration", "password"),
        ("PasswordChange", "new"),
        ("ResetConfirm", "password"),
        ("InvitationAcceptance", "password"),
    ):
        rules = schemas[model]["properties"][field]
        assert (rules["minLength"], rules["maxLength"]) == (10, 200), (model, rules)
    short = clinic.client.post("/v1/accounts", json={"email": "a@b.lu", "password": "x" * 9})
    assert short.status_code == 422


@pytest.mark.parametrize("kind", ["date-time", "date"])
def test_every_moment_and_day_in_a_request_is_a_string(clinic: Clinic, kind: str) -> None:
    document = spec(clinic)
    found = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("format") == kind:
                found.append(where)
                assert node.get("type") == "string", where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(document, "#")
    assert found


METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def concrete(path: str) -> str:
    """A path of the document with each parameter filled in."""
    return re.sub(r"\{[^}]+\}", "0b1d9f56-2f0a-4c67-9b0d-6f0d1f3e8a11", path)


def test_a_method_a_path_does_not_take_is_405_with_the_methods_it_takes(
    clinic: Clinic, admin_a: Person
) -> None:
    document = spec(clinic)
    wrong: list[tuple[object, ...]] = []
    for path, item in document["paths"].items():
        documented = {m.upper() for m in item} & METHODS
        for method in sorted(METHODS - documented):
            response = clinic.client.request(method, concrete(path), headers=admin_a.headers)
            allow = {m.strip() for m in response.headers.get("Allow", "").split(",") if m}
            if response.status_code != 405 or allow != documented:
                wrong.append((method, path, response.status_code, sorted(allow)))
            elif response.headers["content-type"] != "application/problem+json":
                wrong.append((method, path, "not a problem document"))
    assert not wrong, f"{len(wrong)} wrong:\n" + "\n".join(map(str, wrong))


THROTTLED = [
    ("post", "/v1/sessions"),
    ("post", "/v1/sessions/current/step-up"),
    ("post", "/v1/invitations/accept"),
    ("post", "/v1/record-invitations/accept"),
    ("post", "/v1/record-invitations/decline"),
]


def test_the_document_announces_the_statuses_each_operation_can_answer(clinic: Clinic) -> None:
    paths = spec(clinic)["paths"]
    for method, path in THROTTLED:
        assert "429" in paths[path][method]["responses"], (method, path)
    register = paths["/v1/accounts"]["post"]["responses"]
    assert {"400", "409", "415", "422"} <= set(register)
    assert "412" not in register and "401" not in register, "announced but never answered"
    contact = paths["/v1/patients/{patient_id}/contact-details"]["patch"]["responses"]
    assert {"400", "401", "403", "404", "412", "422"} <= set(contact)
    for item in paths.values():
        for op in item.values():
            for code, answer in op["responses"].items():
                if code.startswith(("4", "5")):
                    schema = answer["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}


def test_a_body_that_is_not_json_is_415(clinic: Clinic) -> None:
    response = clinic.client.post(
        "/v1/accounts",
        content=b"email=anna@example.lu&password=long+enough+secret",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415, response.text
    assert response.json()["type"].endswith("unsupported-media-type")
