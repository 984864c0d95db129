"""Behind a load balancer, guessing is throttled per real client, not per proxy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.composition import Services, build
from adapters.settings import Settings, parse_networks
from api.app import create_app

PROXY = ("10.0.0.7", 40000)  # the load balancer, inside 10.0.0.0/8


@pytest.fixture
def proxied(settings: Settings) -> Iterator[Services]:
    built = build(replace(settings, trusted_proxies=parse_networks("10.0.0.0/8, fd00::/8")))
    yield built
    built.close()


def sign_in(client: TestClient, forwarded_for: str | None) -> tuple[int, dict[str, Any]]:
    headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
    body = {"email": "nobody@example.lu", "password": "not the right one"}
    response = client.post("/v1/sessions", json=body, headers=headers)
    return response.status_code, response.json()


def guess_twenty_times(client: TestClient, forwarded_for: str | None) -> None:
    for _ in range(20):
        assert sign_in(client, forwarded_for)[0] == 401


def test_a_guesser_behind_the_proxy_does_not_lock_out_the_other_patients(
    proxied: Services,
) -> None:
    with TestClient(create_app(proxied), client=PROXY) as client:
        guess_twenty_times(client, "203.0.113.5")
        status, problem = sign_in(client, "203.0.113.5")
        assert status == 429 and str(problem["type"]).endswith("too-many-attempts")
        assert sign_in(client, "198.51.100.7")[0] == 401, "another patient shares the bucket"
        # a forged left part does not escape: the proxy appends the real address
        assert sign_in(client, "192.0.2.1, 203.0.113.5")[0] == 429
        # a second trusted proxy in the chain is skipped
        assert sign_in(client, "203.0.113.5, 10.1.2.3")[0] == 429


def test_an_untrusted_peer_cannot_pick_its_address_with_x_forwarded_for(
    proxied: Services,
) -> None:
    with TestClient(create_app(proxied), client=("192.0.2.44", 50000)) as client:
        for i in range(20):
            assert sign_in(client, f"203.0.113.{i}")[0] == 401
        status, _ = sign_in(client, "203.0.113.200")
        assert status == 429, "a fresh X-Forwarded-For from an untrusted peer escaped the lockout"


def test_without_trusted_proxies_the_header_is_ignored(services: Services) -> None:
    assert services.settings.trusted_proxies == ()
    with TestClient(create_app(services), client=PROXY) as client:
        guess_twenty_times(client, "203.0.113.5")
        assert sign_in(client, "198.51.100.7")[0] == 429


def test_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEMED_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32")
    assert [str(n) for n in Settings().trusted_proxies] == ["10.0.0.0/8", "2001:db8::/32"]
    monkeypatch.setenv("TELEMED_TRUSTED_PROXIES", "not-a-network")
    with pytest.raises(ValueError):
        Settings()
