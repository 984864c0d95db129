"""Video rooms: a video consultation gets a room when it is booked (its address and two PINs
never issued before), open only in its window, following the consultation; joining with the
PIN of one's link answers a join token, TURN credentials that a real coturn accepts (p2p) or a
LiveKit token that the library's verifier accepts with zero leeway (sfu); wrong PINs rotate the
PINs. Clock-dependent scenarios move the clock commands act at (``build(clock=...)``).

The coturn tests need the TURN server ops/test.sh starts (TELEMED_TEST_TURN_URL and
TELEMED_TEST_TURN_SECRET); run alone, they skip."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from livekit.api import TokenVerifier

import domain.room
from adapters.composition import Services, build
from adapters.rooms import IdentifiersTaken, RoomIndex
from adapters.settings import Settings
from adapters.video import InvalidJoinToken, VideoCredentials
from adapters.video import Role as VideoRole
from commands.rooms import JoinRoom, RoomEntry
from domain.actor import Role
from domain.room import MAX_WRONG_PINS, Room
from tests.conftest import Clinic, Person
from tests.scheduling_fixtures import Practices, book_video, set_up_schedule, tomorrow_at
from tests.test_privacy import raw_database_bytes

LIVEKIT_KEY = "lk-test"


@dataclass(frozen=True)
class Turn:
    host: str
    port: int
    secret: str

    @property
    def url(self) -> str:
        return f"turn:{self.host}:{self.port}"


def _turn_from_env() -> Turn | None:
    url, secret = (
        os.environ.get("TELEMED_TEST_TURN_URL"),
        os.environ.get("TELEMED_TEST_TURN_SECRET"),
    )
    if not url or not secret:
        return None
    host, _, port = url.removeprefix("turn:").partition(":")
    return Turn(host, int(port.split("?")[0]), secret)


TURN = _turn_from_env()
needs_coturn = pytest.mark.skipif(
    TURN is None,
    reason="no TURN server: TELEMED_TEST_TURN_URL/TELEMED_TEST_TURN_SECRET unset "
    "(ops/test.sh starts coturn and sets them)",
)


class Clock:
    """The time commands act at: the real clock, shifted to a chosen moment."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift

    def at(self, moment: datetime) -> None:
        self.shift = moment - datetime.now(UTC)

    def real(self) -> None:
        self.shift = timedelta(0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Secrets made for this run: coturn's when ops/test.sh started one."""
    return Settings(
        database_url=database_url,
        keyring_path=tmp_path / "keys" / "keyring.json",
        mail_dir=tmp_path / "mail",
        projections="inprocess",
        read_wait_seconds=5.0,
        pool_size=24,
        room_token_key=secrets.token_hex(32),
        turn_secret=TURN.secret if TURN else secrets.token_hex(24),
        turn_uris=(f"{TURN.url}?transport=udp",) if TURN else ("turn:127.0.0.1:3478",),
        livekit_url="wss://livekit.test",
        livekit_api_key=LIVEKIT_KEY,
        livekit_api_secret=secrets.token_hex(32),
    )


@pytest.fixture
def services(settings: Settings, clock: Clock) -> Iterator[Services]:
    built = build(settings, clock=clock)
    yield built
    built.close()


@dataclass
class Setting:
    clinic: Clinic
    weber: Person
    anna: Person
    annas: str  # Anna's record
    practices: Practices
    clock: Clock


@pytest.fixture
def rooms(clinic: Clinic, dr_weber: Person, clock: Clock) -> Setting:
    anna = clinic.person("Anna", Role.PATIENT, None)
    annas = str(clinic.register(anna)["id"])
    return Setting(clinic, dr_weber, anna, annas, set_up_schedule(clinic, dr_weber), clock)


def book(s: Setting, index: int = 0) -> tuple[str, dict[str, Any]]:
    slot = tomorrow_at(s.clinic, s.anna, s.practices, s.practices.city, "video-15", index)
    booked = book_video(s.clinic, s.anna, s.practices, slot, s.annas)
    assert booked.status_code == 201, booked.text
    return str(booked.json()["id"]), slot


def room(s: Setting, who: Person, consultation: str) -> dict[str, Any]:
    read = s.clinic.client.get(f"/v1/consultations/{consultation}/room", headers=who.headers)
    assert read.status_code == 200, read.text
    found: dict[str, Any] = read.json()
    return found


def pin_of(link: str) -> str:
    return link.rsplit("#pin=", 1)[1]


def join(s: Setting, who: Person, address: str, pin: str) -> httpx.Response:
    response: httpx.Response = s.clinic.client.post(
        f"/v1/rooms/{address}/join", headers=who.headers, json={"pin": pin}
    )
    return response


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def inside(s: Setting, slot: dict[str, Any]) -> None:
    s.clock.at(at(slot["start"]))


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


# -- a room per video consultation ------------------------------------------------------------


def test_booking_a_video_consultation_gives_it_a_room_with_a_link_for_each_side(
    rooms: Setting,
) -> None:
    consultation, slot = book(rooms)
    doctors, patients = (
        room(rooms, rooms.weber, consultation),
        room(rooms, rooms.anna, consultation),
    )
    assert doctors["address"] == patients["address"] and doctors["mode"] == "p2p"
    assert (doctors["pin_kind"], patients["pin_kind"]) == ("host", "guest")
    assert doctors["link"] != patients["link"]
    host, guest = pin_of(doctors["link"]), pin_of(patients["link"])
    assert host != guest and host.isdigit() and guest.isdigit() and len(host) == 8
    assert at(doctors["opens"]) == at(slot["start"]) - timedelta(minutes=10)
    assert at(doctors["closes"]) == at(slot["end"]) + timedelta(minutes=15)
    assert doctors["status"] == "open"


def test_an_in_person_visit_has_no_room(rooms: Setting) -> None:
    s = rooms
    slot = tomorrow_at(s.clinic, s.anna, s.practices, s.practices.city, "visit-30", 0)
    booked = s.clinic.client.post(
        "/v1/consultations",
        headers=s.anna.headers,
        json={
            "patient_id": s.annas,
            "doctor_id": str(s.practices.doctor_id),
            "practice_id": str(s.practices.city),
            "type_code": "visit-30",
            "start": slot["start"],
            "kind": "in-person",
        },
    )
    assert booked.status_code == 201, booked.text
    read = s.clinic.client.get(
        f"/v1/consultations/{booked.json()['id']}/room", headers=s.anna.headers
    )
    assert read.status_code == 404


def test_addresses_and_pin_combinations_never_repeat(rooms: Setting) -> None:
    seen = [room(rooms, rooms.weber, book(rooms, index)[0]) for index in range(4)]
    addresses = {r["address"] for r in seen}
    pins = {pin_of(r["link"]) for r in seen} | {
        pin_of(room(rooms, rooms.anna, r["consultation_id"])["link"]) for r in seen
    }
    assert len(addresses) == 4 and len(pins) == 8


def test_an_address_drawn_twice_is_refused_by_the_index_and_drawn_again(
    rooms: Setting, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not luck: the second room draws the first one's address, the unique index refuses it
    and the booking is retried with a fresh draw."""
    fixed = "a" * 24
    draws: list[str] = []
    real = domain.room.new_address

    def drawn() -> str:
        address = fixed if len(draws) < 2 else real()
        draws.append(address)
        return address

    monkeypatch.setattr(domain.room, "new_address", drawn)
    first = room(rooms, rooms.weber, book(rooms, 0)[0])
    second = room(rooms, rooms.weber, book(rooms, 1)[0])
    assert first["address"] == fixed
    assert second["address"] != fixed and draws[:2] == [fixed, fixed] and len(draws) == 3


def test_a_pin_combination_issued_before_is_refused(services: Services) -> None:
    index = RoomIndex(services.db, secrets.token_bytes(32))
    now = datetime.now(UTC)
    with services.db.transaction() as cur:
        index.issue("b" * 24, "12345678", "87654321", now)(cur)
    with pytest.raises(IdentifiersTaken), services.db.transaction() as cur:
        index.issue("b" * 24, "12345678", "87654321", now)(cur)
    with services.db.transaction() as cur:  # a new pair under the address is fine
        index.issue("b" * 24, "12345678", "87654322", now)(cur)


# -- the window --------------------------------------------------------------------------------


def test_joining_before_the_lead_in_or_after_the_grace_is_refused(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s)
    found = room(s, s.anna, consultation)
    start, end = at(slot["start"]), at(slot["end"])
    for moment, status in (
        (start - timedelta(minutes=10, seconds=1), 409),
        (start - timedelta(minutes=9), 200),
        (end + timedelta(minutes=14), 200),
        (end + timedelta(minutes=15), 409),
    ):
        s.clock.at(moment)
        joined = join(s, s.anna, found["address"], pin_of(found["link"]))
        assert joined.status_code == status, (moment, joined.text)
        if status == 409:
            problem = joined.json()
            assert problem["type"].endswith("room-closed")
            assert at(problem["opens"]) == at(found["opens"])
            assert at(problem["closes"]) == at(found["closes"])


def test_rescheduling_moves_the_window(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s, 0)
    later = tomorrow_at(s.clinic, s.anna, s.practices, s.practices.city, "video-15", 6)
    moved = s.clinic.client.post(
        f"/v1/consultations/{consultation}/reschedule",
        headers=s.anna.headers,
        json={"start": later["start"]},
    )
    assert moved.status_code == 200, moved.text
    found = room(s, s.anna, consultation)
    assert at(found["opens"]) == at(later["start"]) - timedelta(minutes=10)
    assert at(found["closes"]) == at(later["end"]) + timedelta(minutes=15)
    inside(s, slot)
    assert join(s, s.anna, found["address"], pin_of(found["link"])).status_code == 409
    inside(s, later)
    assert join(s, s.anna, found["address"], pin_of(found["link"])).status_code == 200


def test_cancelling_closes_the_room(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s)
    cancelled = s.clinic.client.post(
        f"/v1/consultations/{consultation}/cancel",
        headers=s.anna.headers,
        json={"reason": "patient-request"},
    )
    assert cancelled.status_code == 200, cancelled.text
    found = room(s, s.anna, consultation)
    assert found["status"] == "closed"
    inside(s, slot)
    refused = join(s, s.anna, found["address"], pin_of(found["link"]))
    assert refused.status_code == 409 and refused.json()["state"] == "closed"


def test_completing_the_consultation_ends_the_room(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s)
    inside(s, slot)
    for who, step in ((s.anna, "check-in"), (s.weber, "admit"), (s.weber, "complete")):
        done = s.clinic.client.post(f"/v1/consultations/{consultation}/{step}", headers=who.headers)
        assert done.status_code == 200, (step, done.text)
    found = room(s, s.weber, consultation)
    assert found["status"] == "ended"
    refused = join(s, s.weber, found["address"], pin_of(found["link"]))
    assert refused.status_code == 409 and refused.json()["state"] == "ended"


# -- PINs --------------------------------------------------------------------------------------


def _wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 10**8:08d}"


def test_wrong_pins_rotate_the_pins_and_the_rotation_is_audited(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s)
    before = room(s, s.anna, consultation)
    address, old = before["address"], pin_of(before["link"])
    old_host = pin_of(room(s, s.weber, consultation)["link"])
    inside(s, slot)
    wrong = _wrong(old) if _wrong(old) != old_host else _wrong(_wrong(old))
    answers = [join(s, s.anna, address, wrong) for _ in range(MAX_WRONG_PINS)]
    assert [a.status_code for a in answers] == [422] * (MAX_WRONG_PINS - 1) + [429]
    assert answers[-1].json()["type"].endswith("pins-rotated")
    assert join(s, s.anna, address, old).status_code == 422  # the old link is dead
    after = room(s, s.anna, consultation)
    assert after["address"] == address and after["pins_rotated"] == 1
    new = pin_of(after["link"])
    assert new != old and pin_of(room(s, s.weber, consultation)["link"]) != old_host
    assert join(s, s.anna, address, new).status_code == 200
    room_id = Room.create_id(uuid.UUID(consultation))
    stored = s.clinic.services.recorder.select_events(room_id)
    topics = [e.topic.rsplit(".", 1)[-1] for e in stored]
    assert topics.count("PinRefused") == MAX_WRONG_PINS + 1  # the old PIN, tried once more
    assert topics.count("PinsRotated") == 1
    mapper = s.clinic.services.app.mapper
    rotated = next(mapper.to_domain_event(e) for e in stored if e.topic.endswith("PinsRotated"))
    assert isinstance(rotated, Room.PinsRotated)
    assert rotated.by.actor_id == s.anna.actor.actor_id  # who caused it, in the event


def test_a_client_address_that_keeps_guessing_is_locked_out(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s)
    found = room(s, s.anna, consultation)
    inside(s, slot)
    statuses = {join(s, s.anna, found["address"], "00000000").status_code for _ in range(20)}
    assert statuses <= {422, 429}
    fresh = pin_of(room(s, s.anna, consultation)["link"])
    locked = join(s, s.anna, found["address"], fresh)
    assert locked.status_code == 429 and locked.json()["type"].endswith("too-many-attempts")


def test_strangers_cannot_join_even_with_the_pin(rooms: Setting, dr_other_clinic: Person) -> None:
    s = rooms
    consultation, slot = book(s)
    found = room(s, s.anna, consultation)
    inside(s, slot)
    stranger = s.clinic.person("Ben", Role.PATIENT, None)
    for who in (stranger, dr_other_clinic):
        assert join(s, who, found["address"], pin_of(found["link"])).status_code == 403
    host = pin_of(room(s, s.weber, consultation)["link"])
    assert join(s, s.anna, found["address"], host).status_code == 403  # the doctor's PIN


# -- tokens ------------------------------------------------------------------------------------


def test_the_join_token_names_a_pseudonym_and_never_outlives_the_room(rooms: Setting) -> None:
    s = rooms
    consultation, _ = book(s)
    found = room(s, s.anna, consultation)
    s.clock.at(at(found["closes"]) - timedelta(minutes=5))
    joined = join(s, s.anna, found["address"], pin_of(found["link"]))
    assert joined.status_code == 200, joined.text
    body = joined.json()
    token = claims(body["token"])
    assert token["exp"] == int(at(found["closes"]).timestamp())  # 5 minutes, not an hour
    assert token["sub"] == body["participant"] and token["role"] == "guest"
    assert set(token) == {"iss", "aud", "sub", "room", "role", "grants", "iat", "nbf", "exp"}
    personal = {s.anna.email, s.anna.name, s.annas, str(s.anna.actor.actor_id), "Muster"}
    text = base64.urlsafe_b64decode(body["token"].split(".")[1] + "==").decode()
    assert not [p for p in personal if p in text]
    verified = s.clinic.services.video.verify_join_token(body["token"], found["address"], s.clock())
    assert verified.role is VideoRole.GUEST
    with pytest.raises(InvalidJoinToken):
        s.clinic.services.video.verify_join_token(
            body["token"], found["address"], at(found["closes"])
        )


def test_pseudonyms_differ_across_rooms_and_people(rooms: Setting) -> None:
    s = rooms
    made = [book(s, index) for index in (0, 1)]
    participants = []
    for consultation, slot in made:
        inside(s, slot)
        for who in (s.anna, s.weber):
            found = room(s, who, consultation)
            joined = join(s, who, found["address"], pin_of(found["link"]))
            assert joined.status_code == 200, joined.text
            participants.append(joined.json()["participant"])
    assert len(set(participants)) == 4
    assert not any(str(s.anna.actor.actor_id.hex) in p for p in participants)


@hsettings(max_examples=60, deadline=None)
@given(
    minutes_left=st.integers(min_value=0, max_value=24 * 60),
    seconds=st.integers(min_value=1, max_value=59),
    token_minutes=st.integers(min_value=1, max_value=24 * 60),
)
def test_a_join_token_never_expires_after_the_room_closes(
    minutes_left: int, seconds: int, token_minutes: int
) -> None:
    video = _credentials(token_minutes)
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    closes = now + timedelta(minutes=minutes_left, seconds=seconds)
    token, expires = video.join_token(
        address="c" * 24, pseudonym="p1", role=VideoRole.HOST, now=now, closes=closes
    )
    assert expires <= closes and claims(token)["exp"] <= closes.timestamp()
    video.verify_join_token(token, "c" * 24, now)
    with pytest.raises(InvalidJoinToken):
        video.verify_join_token(token, "c" * 24, closes)
    with pytest.raises(InvalidJoinToken):
        video.verify_join_token(token, "d" * 24, now)
    credentials = video.turn_credentials("p1", now, closes)
    assert int(credentials.username.split(":")[0]) <= closes.timestamp()


def _credentials(token_minutes: int = 60, secret: str = "s3cret") -> VideoCredentials:
    return VideoCredentials(
        token_key=b"k" * 32,
        pseudonym_key=b"p" * 32,
        turn_secret=secret,
        turn_uris=(),
        turn_minutes=10,
        token_minutes=token_minutes,
        livekit_url="",
        livekit_api_key=LIVEKIT_KEY,
        livekit_api_secret="x" * 64,
    )


def _sfu(s: Setting, admin: Person) -> None:
    org = s.weber.actor.organisation_id
    founded = s.clinic.client.put(
        f"/v1/organisations/{org}", headers=admin.headers, json={"name": "Clinic A"}
    )
    assert founded.status_code == 200, founded.text
    templated = s.clinic.client.put(
        f"/v1/organisations/{org}/booking-templates/video-15",
        headers=admin.headers,
        json={"room": "sfu", "room_lead_in_minutes": 5, "room_grace_minutes": 20},
    )
    assert templated.status_code == 200, templated.text


def test_an_sfu_room_answers_livekit_tokens_valid_with_zero_leeway(
    rooms: Setting, admin_a: Person
) -> None:
    s = rooms
    _sfu(s, admin_a)
    consultation, slot = book(s)
    found = room(s, s.weber, consultation)
    assert found["mode"] == "sfu"
    assert at(found["opens"]) == at(slot["start"]) - timedelta(minutes=5)
    assert at(found["closes"]) == at(slot["end"]) + timedelta(minutes=20)
    inside(s, slot)
    nurse = s.clinic.person("Nurse Nora", Role.NURSE, admin_a.actor.organisation_id)
    guest_pin = pin_of(room(s, s.anna, consultation)["link"])
    settings = s.clinic.services.settings
    verifier = TokenVerifier(LIVEKIT_KEY, settings.livekit_api_secret, leeway=timedelta(0))
    for who, pin, role, publishes in (
        (s.weber, pin_of(found["link"]), "host", True),
        (s.anna, guest_pin, "guest", True),
        (nurse, guest_pin, "observer", False),
    ):
        joined = join(s, who, found["address"], pin)
        assert joined.status_code == 200, joined.text
        body = joined.json()
        assert body["turn"] is None and body["role"] == role
        lk = verifier.verify(body["livekit"]["token"])
        assert lk.identity == body["participant"] and lk.name in (None, "")
        assert lk.video is not None and lk.video.room == found["address"]
        assert lk.video.room_join and bool(lk.video.can_publish) is publishes
        assert lk.video.can_subscribe
        assert body["livekit"]["ttl"] <= 60 * 60


def test_livekit_refuses_a_token_expired_by_a_second_with_zero_leeway() -> None:
    """LiveKit's default leeway (a minute) would accept it: too loose for a 15 minute slot."""
    video = _credentials()
    now = datetime.now(UTC)
    token, ttl = video.livekit_token(
        address="e" * 24,
        pseudonym="p1",
        role=VideoRole.GUEST,
        now=now,
        closes=now + timedelta(seconds=1),
    )
    assert ttl <= 1
    strict = TokenVerifier(LIVEKIT_KEY, "x" * 64, leeway=timedelta(0))
    expires = claims(token)["exp"]
    time.sleep(max(0.0, expires + 1.05 - time.time()))
    with pytest.raises(jwt.ExpiredSignatureError):
        strict.verify(token)
    TokenVerifier(LIVEKIT_KEY, "x" * 64).verify(token)  # the default minute still lets it in


# -- TURN --------------------------------------------------------------------------------------


async def _allocate(turn: Turn, username: str, password: str) -> bool:
    """A TURN Allocate (RFC 5766, long-term credentials) over UDP: True if coturn grants it."""
    try:
        transport, _ = await asyncio.wait_for(
            create_turn_endpoint(
                asyncio.DatagramProtocol, (turn.host, turn.port), username, password, lifetime=60
            ),
            10,
        )
    except TransactionFailed:
        return False
    transport.close()
    return True


def allocate(username: str, password: str) -> bool:
    assert TURN is not None
    return asyncio.run(_allocate(TURN, username, password))


@needs_coturn
def test_coturn_accepts_fresh_credentials_and_refuses_expired_or_forged_ones(
    rooms: Setting,
) -> None:
    s = rooms
    consultation, slot = book(s)
    found = room(s, s.anna, consultation)
    inside(s, slot)  # tomorrow: credentials until then + 10 minutes, in coturn's future
    joined = join(s, s.anna, found["address"], pin_of(found["link"]))
    assert joined.status_code == 200, joined.text
    turn = joined.json()["turn"]
    assert turn["uris"] and 0 < turn["ttl"] <= 600
    assert allocate(turn["username"], turn["password"])
    video, now = s.clinic.services.video, datetime.now(UTC)
    participant = joined.json()["participant"]
    expired = video.turn_credentials(
        participant, now - timedelta(hours=1), now - timedelta(seconds=5)
    )
    assert not allocate(expired.username, expired.password)
    forged = _credentials(secret="not the secret").turn_credentials(
        participant, now, now + timedelta(minutes=5)
    )
    assert not allocate(forged.username, forged.password)
    assert not allocate(turn["username"], forged.password)
    stretched = f"{int((now + timedelta(days=2)).timestamp())}:{participant}"
    assert not allocate(stretched, turn["password"])  # the expiry is signed too


@needs_coturn
def test_turn_credentials_are_refreshed_while_the_room_is_open(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s)
    found = room(s, s.anna, consultation)
    inside(s, slot)
    joined = join(s, s.anna, found["address"], pin_of(found["link"]))
    assert joined.status_code == 200, joined.text
    url = f"/v1/rooms/{found['address']}/turn-credentials"
    token = joined.json()["token"]
    s.clock.at(at(slot["start"]) + timedelta(minutes=12))
    fresh = s.clinic.client.post(url, headers=s.anna.headers, json={"token": token})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["username"] != joined.json()["turn"]["username"]
    assert allocate(fresh.json()["username"], fresh.json()["password"])
    someone_elses = s.clinic.client.post(url, headers=s.weber.headers, json={"token": token})
    assert someone_elses.status_code == 422
    forged = s.clinic.client.post(url, headers=s.anna.headers, json={"token": token + "x"})
    assert forged.status_code == 422
    cancelled = s.clinic.client.post(
        f"/v1/consultations/{consultation}/cancel",
        headers=s.anna.headers,
        json={"reason": "patient-request"},
    )
    assert cancelled.status_code == 200, cancelled.text
    closed = s.clinic.client.post(url, headers=s.anna.headers, json={"token": token})
    assert closed.status_code == 409 and closed.json()["type"].endswith("room-closed")


def test_turn_refresh_without_coturn_still_checks_the_window(rooms: Setting) -> None:
    s = rooms
    consultation, slot = book(s)
    found = room(s, s.anna, consultation)
    inside(s, slot)
    joined = join(s, s.anna, found["address"], pin_of(found["link"]))
    token = joined.json()["token"]
    s.clock.at(at(found["closes"]) + timedelta(seconds=1))
    late = s.clinic.client.post(
        f"/v1/rooms/{found['address']}/turn-credentials",
        headers=s.anna.headers,
        json={"token": token},
    )
    assert late.status_code == 409


def test_the_pins_are_nowhere_in_clear(rooms: Setting) -> None:
    """Events (personal fields: the patient's key), the rooms' view (sealed), the write-side
    index (keyed digests): no PIN in any table, before or after a rotation."""
    s = rooms
    consultation, slot = book(s)
    pins = {pin_of(room(s, who, consultation)["link"]) for who in (s.anna, s.weber)}
    inside(s, slot)
    address = room(s, s.anna, consultation)["address"]
    wrong = next(f"{n:08d}" for n in range(100) if f"{n:08d}" not in pins)
    for _ in range(MAX_WRONG_PINS):
        join(s, s.anna, address, wrong)
    pins |= {pin_of(room(s, who, consultation)["link"]) for who in (s.anna, s.weber)}
    assert len(pins) == 4
    blob = raw_database_bytes(s.clinic.services)
    assert address.encode() in blob  # the address is not a secret of the patient's
    assert not [pin for pin in pins if pin.encode() in blob]


def test_racing_wrong_pins_are_each_counted_and_rotate_the_pins_exactly_once(
    rooms: Setting, postgres_only: str
) -> None:
    """Seven wrong PINs at once, from seven threads: optimistic concurrency serialises them on
    the room's stream, so each is counted once and the PINs rotate exactly once."""
    s = rooms
    consultation, slot = book(s)
    found = room(s, s.anna, consultation)
    inside(s, slot)
    room_id = Room.create_id(uuid.UUID(consultation))
    pins = {pin_of(found["link"]), pin_of(room(s, s.weber, consultation)["link"])}
    wrong = next(f"{n:08d}" for n in range(100) if f"{n:08d}" not in pins)
    bus, barrier = s.clinic.services.bus, threading.Barrier(7)
    answers: list[RoomEntry] = []

    def guess() -> None:
        barrier.wait()
        answers.append(bus.answer(JoinRoom(s.anna.actor, room_id, wrong), RoomEntry))

    threads = [threading.Thread(target=guess) for _ in range(7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 7 and all(a.pin is None for a in answers)
    assert sum(a.rotated for a in answers) == 1
    topics = [e.topic for e in s.clinic.services.recorder.select_events(room_id)]
    assert sum(t.endswith("PinRefused") for t in topics) == 7
    assert sum(t.endswith("PinsRotated") for t in topics) == 1
