"""Read models: read-your-writes, rebuilt equals live, exactly once with several workers."""

from __future__ import annotations

import contextlib
import threading
import uuid
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.composition import Services, build
from adapters.readmodels.runner import ProjectionRunner, SqlView
from adapters.settings import Settings
from commands.patients import (
    ChangeContactDetails,
    ErasePatient,
    RecordConsent,
    RegisterPatient,
    WithdrawConsent,
)
from domain.actor import Actor, Role
from domain.errors import DomainError
from domain.patient import ConsentPurpose
from projections.base import Projection
from tests.conftest import Clinic, Person

DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())

names = st.sampled_from(["Anna", "Ben", "Chloé", "Dmitri", "Eva Maria", "Faith"])
emails = st.one_of(st.none(), st.sampled_from(["a@x.lu", "b@x.lu", "c@y.de", "Mixed@Case.LU"]))
phones = st.one_of(st.none(), st.sampled_from(["+352 1", "+352 22", "+49 333"]))
purposes = st.sampled_from(list(ConsentPurpose))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("register"), names, names, emails),
        st.tuples(st.just("contact"), st.integers(0, 5), emails, phones),
        st.tuples(st.just("consent"), st.integers(0, 5), purposes),
        st.tuples(st.just("withdraw"), st.integers(0, 5), purposes),
        st.tuples(st.just("erase"), st.integers(0, 5)),
        st.tuples(st.just("project")),
    ),
    min_size=1,
    max_size=14,
)


def apply(services: Services, patients: list[uuid.UUID], step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "project":
        services.worker.tick()
        return
    if kind == "register":
        saved = services.bus.handle(RegisterPatient(DR, step[1], step[2], email=step[3]))
        patients.append(saved.aggregate_id)
        return
    if not patients:
        return
    target = patients[step[1] % len(patients)]
    commands: dict[str, Any] = {
        "contact": lambda: ChangeContactDetails(DR, target, step[2], step[3], None),
        "consent": lambda: RecordConsent(DR, target, step[2]),
        "withdraw": lambda: WithdrawConsent(DR, target, step[2]),
        "erase": lambda: ErasePatient(DR, target),
    }
    with contextlib.suppress(DomainError):  # refused commands change nothing
        services.bus.handle(commands[kind]())


def test_a_rebuilt_directory_equals_the_live_one(services: Services) -> None:
    runner = services.runners["patient_directory"]

    @settings(
        max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(steps)
    def scenario(plan: list[tuple[Any, ...]]) -> None:
        patients: list[uuid.UUID] = []
        for step in plan:
            apply(services, patients, step)
        services.worker.tick()
        live = services.directory.rows_for_comparison()
        runner.reset()
        runner.run_until_caught_up()
        assert services.directory.rows_for_comparison() == live

    scenario()


def test_a_client_reads_its_own_write_by_passing_the_position(
    clinic: Clinic, dr_weber: Person, services: Services
) -> None:
    services.worker.stop()  # nobody projects: the read model stays behind
    object.__setattr__(services.settings, "read_wait_seconds", 0.3)
    created = clinic.register(dr_weber, email="late@example.lu")
    query = {"email": "late@example.lu", "after": created["position"]}
    lagging = clinic.client.post("/v1/patients/_search", json=query, headers=dr_weber.headers)
    assert lagging.status_code == 503
    assert lagging.json()["type"].endswith("read-model-lagging")

    catch_up = threading.Timer(0.1, services.worker.tick)
    catch_up.start()
    object.__setattr__(services.settings, "read_wait_seconds", 5.0)
    found = clinic.client.post("/v1/patients/_search", json=query, headers=dr_weber.headers)
    catch_up.join()
    assert found.status_code == 200
    assert [p["id"] for p in found.json()["items"]] == [created["id"]]


class SeenOnce(SqlView):
    """A view that refuses to see any event twice (primary key on the position)."""

    tables = ("test_seen",)

    def saw(self, position: int) -> None:
        self.cur.execute("INSERT INTO test_seen (position) VALUES (%s)", (position,))


class EverythingOnce(Projection[SeenOnce]):
    name = "test_everything_once"

    def process_event(self, event: Any, tracking: Any) -> None:
        self.view.saw(tracking.notification_id)


def test_two_workers_for_one_projection_never_process_an_event_twice(
    services: Services, settings: Settings
) -> None:
    with services.db.transaction() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS test_seen (position bigint PRIMARY KEY)")
        cur.execute("DELETE FROM test_seen")
    second = build(replace(settings))  # another process, as far as the database can tell
    try:
        runners = [
            ProjectionRunner(
                s.db, s.recorder, s.app.mapper, EverythingOnce(view), view, batch_size=7
            )
            for s in (services, second)
            for view in [SeenOnce(s.db)]
        ]
        done = threading.Event()
        errors: list[BaseException] = []

        def work(runner: ProjectionRunner) -> None:
            try:
                while not done.is_set():
                    runner.run_until_caught_up()
                runner.run_until_caught_up()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(r,)) for r in runners]
        for w in workers:
            w.start()
        for i in range(60):
            (services if i % 2 else second).bus.handle(RegisterPatient(DR, "Anna", f"N{i}"))
        done.set()
        for w in workers:
            w.join()
        assert errors == []
        with services.db.transaction() as cur:
            cur.execute("SELECT count(*), min(position), max(position) FROM test_seen")
            assert tuple(cur.fetchone()) == (60, 1, 60)
    finally:
        second.close()
        with services.db.transaction() as cur:
            cur.execute("DROP TABLE test_seen")
