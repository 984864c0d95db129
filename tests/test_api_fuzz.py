"""Whatever a client sends, the answer is a response of ours, never a server error."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Clinic, Person

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.one_of(
    json_values,
    st.sampled_from(
        ["", " ", "a@b.lu", "2000-02-30", "1990-01-01", "+352 1", "treatment", "x" * 600]
    ),
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            name: field_values
            for name in (
                "given_name",
                "family_name",
                "birth_date",
                "email",
                "phone",
                "address",
                "notes",
                "purpose",
                "name",
                "cursor",
                "limit",
                "after",
            )
        },
    ),
)


def test_random_bodies_on_every_command_route_never_cause_a_server_error(
    clinic: Clinic, dr_weber: Person
) -> None:
    patient = clinic.register(dr_weber)["id"]
    routes = [
        ("POST", "/v1/patients"),
        ("POST", "/v1/patients/_search"),
        ("PATCH", f"/v1/patients/{patient}/contact-details"),
        ("POST", f"/v1/patients/{patient}/consents"),
        ("PATCH", f"/v1/patients/{uuid.uuid4()}/contact-details"),
    ]

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.sampled_from(routes), bodies, st.sampled_from([None, 'W/"1"', "*", "x"]))
    def send(route: tuple[str, str], body: Any, if_match: str | None) -> None:
        headers = dict(dr_weber.headers)
        if if_match is not None:
            headers["If-Match"] = if_match
        response = clinic.client.request(route[0], route[1], json=body, headers=headers)
        assert response.status_code < 500, (route, body, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"

    send()
