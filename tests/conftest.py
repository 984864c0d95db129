"""Fixtures: every scenario runs on SQLite and on PostgreSQL (a fresh database per test run)."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pyotp
import pytest
from fastapi.testclient import TestClient

from adapters.composition import Services, build
from adapters.settings import Settings
from api.app import create_app
from commands.accounts import OpenAccount
from commands.second_factor import ConfirmTotp, EnrolTotp, TotpConfirmed, TotpEnrolled
from commands.sign_in import SignedIn, SignIn
from domain.actor import Actor, Role

ADMIN_URL = os.environ.get("TELEMED_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_url(dbname: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    query = ""
    if "?" in ADMIN_URL:
        query = "?" + ADMIN_URL.split("?", 1)[1]
    return f"{base}/{dbname}{query}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own for this test run, dropped at the end."""
    name = f"telemed_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _empty_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'schema_migrations'"
        ).fetchall()
        if rows:
            tables = ", ".join(f'"{r[0]}"' for r in rows)
            conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")
        conn.execute("DROP TABLE IF EXISTS test_hold CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'telemed.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture
def postgres_only(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL's concurrency")
    return database_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        keyring_path=tmp_path / "keys" / "keyring.json",
        mail_dir=tmp_path / "mail",
        projections="inprocess",
        read_wait_seconds=5.0,
        pool_size=24,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build(settings)
    yield built
    built.close()


#: the password of every account the tests open (Argon2id, as in production)
PASSWORD = "clinic test passphrase"


@dataclass
class Person:
    """Somebody with a real account and a signed-in session. Staff have two-factor
    authentication (``totp``): the codes of the current time step and earlier are used, so
    ``totp.at(time.time() + totp.interval)`` steps up once."""

    name: str
    actor: Actor
    token: str
    email: str
    password: str
    totp: pyotp.TOTP | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Clinic:
    """The people of two clinics, and a test client to the API."""

    def __init__(self, services: Services, client: TestClient) -> None:
        self.services, self.client = services, client
        self.org_a, self.org_b = uuid.uuid4(), uuid.uuid4()

    def person(self, name: str, role: Role, org: uuid.UUID | None) -> Person:
        """Open an account (staff set up TOTP, as they must), sign in as ``POST /v1/sessions``
        does and keep the session's token."""
        bus = self.services.bus
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "person"
        email = f"{slug}-{uuid.uuid4().hex[:8]}@example.test"
        account_id = bus.handle(OpenAccount(email, PASSWORD, role, org)).aggregate_id
        totp, code = None, None
        if role is not Role.PATIENT:
            totp = self._second_factor(account_id)
            code = totp.now()  # a later step than the confirmation's
        signed = bus.answer(SignIn(email, PASSWORD, code), SignedIn)
        assert not signed.enrolment_only
        return Person(name, Actor(account_id, role, org), signed.token, email, PASSWORD, totp)

    def _second_factor(self, account_id: uuid.UUID) -> pyotp.TOTP:
        """Enrol and confirm TOTP with the previous time step's code (a used step cannot be
        used again; one step of drift is accepted), leaving the current one for signing in."""
        myself = Actor(account_id, Role.PATIENT)  # the account itself (its role is its own)
        enrolled = self.services.bus.answer(EnrolTotp(myself), TotpEnrolled)
        totp = pyotp.TOTP(enrolled.secret)
        left = totp.interval - time.time() % totp.interval
        if left < 1.0:  # so that the previous step is still accepted when it is checked
            time.sleep(left + 0.01)
        codes = self.services.bus.answer(
            ConfirmTotp(myself, totp.at(time.time() - totp.interval)), TotpConfirmed
        ).recovery_codes
        assert codes, "TOTP confirmation refused"
        return totp

    def register(self, by: Person, **fields: Any) -> dict[str, Any]:
        body = {"given_name": "Anna", "family_name": "Muster", **fields}
        response = self.client.post("/v1/patients", json=body, headers=by.headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services)) as test_client:
        yield test_client


@pytest.fixture
def clinic(services: Services, client: TestClient) -> Clinic:
    return Clinic(services, client)


@pytest.fixture
def dr_weber(clinic: Clinic) -> Person:
    return clinic.person("Dr Weber", Role.DOCTOR, clinic.org_a)


@pytest.fixture
def dr_other_clinic(clinic: Clinic) -> Person:
    return clinic.person("Dr Novak", Role.DOCTOR, clinic.org_b)


@pytest.fixture
def admin_a(clinic: Clinic) -> Person:
    return clinic.person("Admin A", Role.ORG_ADMIN, clinic.org_a)


@pytest.fixture
def officer(clinic: Clinic) -> Person:
    return clinic.person("Officer Lenz", Role.COMPLIANCE_OFFICER, None)


@pytest.fixture
def analyst(clinic: Clinic) -> Person:
    return clinic.person("Analyst Kim", Role.ANALYST, clinic.org_a)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The broker ops/test.sh started, or one of our own for this run."""
    from tests.kafka import Broker

    given = os.environ.get("TELEMED_TEST_KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    broker = Broker()
    try:
        yield broker.start()
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """Each test has topics of its own on the shared broker."""
    return f"test{uuid.uuid4().hex[:10]}."
