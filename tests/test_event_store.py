"""The event store: orjson round trips, upcasting old events, key rotation, concurrent writers."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, event

from adapters.composition import Services
from adapters.eventstore.transcoder import OrjsonTranscoder
from api.audit import verify_all
from commands.patients import ChangeContactDetails, RegisterPatient
from commands.results import ConcurrencyConflict, StaleVersion
from domain.actor import Actor, Role
from domain.patient import ConsentPurpose, Patient
from domain.personal import RecordedCreation, RecordedEvent

DR = Actor(uuid.uuid4(), Role.DOCTOR, uuid.uuid4())


class Memo(Aggregate):
    """A small aggregate of the tests' own, with one personal field."""

    class Written(RecordedCreation):
        personal_fields = ("text",)
        text: str

    class Tagged(RecordedEvent):
        tag: str

    @event(Written)
    def __init__(self, *, text: str, by: Actor) -> None:
        self.text = text
        self.tags: list[str] = []
        self.mood: str | None = None

    @event(Tagged)
    def tag(self, *, tag: str, by: Actor) -> None:
        self.tags.append(tag)


def test_orjson_transcoding_keeps_the_types_events_use() -> None:
    transcoder = OrjsonTranscoder()
    state = {
        "id": uuid.uuid4(),
        "at": datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        "born": date(1980, 2, 29),
        "fee": Decimal("12.50"),
        "by": DR,
        "purpose": ConsentPurpose.RECORDING,
        "tags": ["a", "b"],
        "nested": {"n": 1, "x": None},
    }
    assert transcoder.decode(transcoder.encode(state)) == state
    assert isinstance(transcoder.decode(transcoder.encode(state))["purpose"], ConsentPurpose)


@contextmanager
def written_is_now_version_2() -> Iterator[None]:
    """The code moved on: Written is now version 2 and gained a mood, derived from the text."""

    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["mood"] = "loud" if str(state["text"]).isupper() else "calm"

    Memo.Written.class_version = 2  # type: ignore[attr-defined]
    Memo.Written.upcast_v1_v2 = staticmethod(upcast_v1_v2)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        del Memo.Written.class_version  # type: ignore[attr-defined]
        del Memo.Written.upcast_v1_v2  # type: ignore[attr-defined]


def test_an_old_event_is_read_back_upgraded_by_its_upcaster(services: Services) -> None:
    memo = Memo(text="HELLO", by=DR)
    uow = services.bus_uow()
    uow.add_subject(memo.id)
    uow.save(memo)
    stored = services.recorder.select_events(memo.id)
    assert b"HELLO" not in stored[0].state and b"class_version" not in stored[0].state

    with written_is_now_version_2():
        upgraded = services.bus_uow().get(Memo, memo.id)
        first = next(iter(services.app.events.get(memo.id)))
    assert upgraded.text == "HELLO"
    assert vars(first)["mood"] == "loud"  # the upcaster saw the decrypted text


def test_rotating_the_master_key_rewraps_data_keys_and_leaves_events_untouched(
    services: Services,
) -> None:
    saved = services.bus.handle(RegisterPatient(DR, "Rita", "Rotation", email="r@x.lu"))
    before = services.recorder.select_events(saved.aggregate_id)
    old_master = services.keyring.active_master
    new_master, count = services.keys.rotate_master(retire_old=True)
    assert count == 1 and new_master != old_master
    assert set(services.keyring.masters) == {new_master}
    assert services.recorder.select_events(saved.aggregate_id) == before
    with services.db.transaction(write=False) as cur:
        cur.execute("SELECT master_key_id FROM subject_keys")
        assert [r[0] for r in cur.fetchall()] == [new_master]
    services.keys._cache.clear()  # a fresh process: unwrap under the new master
    patient = services.bus_uow().get(Patient, saved.aggregate_id)
    assert (patient.given_name, patient.email) == ("Rita", "r@x.lu")
    assert stat.S_IMODE(services.settings.keyring_path.stat().st_mode) == 0o600
    assert verify_all(services)["ok"]


def test_a_stale_change_is_refused_and_a_lost_race_is_retried(services: Services) -> None:
    saved = services.bus.handle(RegisterPatient(DR, "Anna", "Muster"))
    with pytest.raises(StaleVersion):
        services.bus.handle(ChangeContactDetails(DR, saved.aggregate_id, None, "+1", None, 5))

    def change(i: int) -> int:
        return services.bus.handle(
            ChangeContactDetails(DR, saved.aggregate_id, None, f"+352 {i}", None)
        ).version

    with ThreadPoolExecutor(4) as pool:
        versions = sorted(pool.map(change, range(4)))
    assert versions == [2, 3, 4, 5]  # last writer wins, none lost, each a new version


def test_two_changes_from_the_same_version_cannot_both_win(services: Services) -> None:
    saved = services.bus.handle(RegisterPatient(DR, "Anna", "Muster"))
    outcomes: list[str] = []

    def change(i: int) -> None:
        try:
            services.bus.handle(
                ChangeContactDetails(DR, saved.aggregate_id, None, f"+352 {i}", None, 1)
            )
            outcomes.append("ok")
        except (StaleVersion, ConcurrencyConflict):
            outcomes.append("refused")

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(change, range(6)))
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5


def test_concurrent_writers_get_gapless_unique_positions(
    postgres_only: str, services: Services
) -> None:
    def register(i: int) -> list[int]:
        return [
            services.bus.handle(RegisterPatient(DR, "Anna", f"Writer{i}-{j}")).position or 0
            for j in range(15)
        ]

    with ThreadPoolExecutor(16) as pool:
        positions = sorted(p for batch in pool.map(register, range(16)) for p in batch)
    assert positions == list(range(1, 16 * 15 + 1))
    notifications = services.recorder.select_notifications(1, 1000)
    assert [n.id for n in notifications] == positions
    assert verify_all(services)["ok"]
