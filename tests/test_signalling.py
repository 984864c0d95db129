"""The signalling socket of video rooms: Dr Weber and Anna, joined to their consultation's room,
exchange an offer, an answer and ICE candidates over ``WS /v1/rooms/{address}/signal``; the
server stamps who sent each message. Nobody outside the room reaches them, bad input closes
only the offending connection (with the documented close code) while the other calls go on,
and tokens that expire (or a room that closes) end the call."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.testclient import WebSocketTestSession

from adapters.settings import Settings
from adapters.signalling import SIGNAL_TYPES, Close, Limits, SignallingHub, Violation, parse
from api.routers.signalling import RedactTokens
from domain.actor import Role
from tests.conftest import Person
from tests.test_rooms import TURN, Setting, at, book, inside, join, pin_of, room
from tests.test_rooms import clock as clock
from tests.test_rooms import rooms as rooms
from tests.test_rooms import services as services

pytestmark = pytest.mark.timeout(120)

SDP = "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 DTLS/SCTP 5000\r\n"
CANDIDATE = "candidate:1 1 UDP 2122252543 192.0.2.1 54321 typ host"
TOKEN_MINUTES = 5


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """As the rooms' tests, with join tokens of a few minutes (shorter than the window)."""
    return Settings(
        database_url=database_url,
        keyring_path=tmp_path / "keys" / "keyring.json",
        mail_dir=tmp_path / "mail",
        projections="inprocess",
        read_wait_seconds=5.0,
        pool_size=24,
        room_token_key=secrets.token_hex(32),
        room_token_minutes=TOKEN_MINUTES,
        turn_secret=TURN.secret if TURN else secrets.token_hex(24),
        turn_uris=(f"{TURN.url}?transport=udp",) if TURN else ("turn:127.0.0.1:3478",),
        livekit_url="wss://livekit.test",
        livekit_api_key="lk-test",
        livekit_api_secret=secrets.token_hex(32),
    )


@pytest.fixture
def hub(rooms: Setting) -> SignallingHub:
    """The app's relay, checking the clock often so that scenarios need not wait."""
    s = rooms
    relay = SignallingHub(s.clinic.services.clock, Limits(tick_seconds=0.02, recheck_seconds=0.05))
    s.clinic.client.app.state.signalling = relay  # type: ignore[attr-defined]
    return relay


@dataclass
class Call:
    """A joined participant's view of a room."""

    address: str
    token: str
    participant: str
    consultation: str


def joined(s: Setting, who: Person, consultation: str) -> Call:
    found = room(s, who, consultation)
    answer = join(s, who, found["address"], pin_of(found["link"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return Call(found["address"], body["token"], body["participant"], consultation)


def url(address: str, token: str | None) -> str:
    query = "" if token is None else f"?token={token}"
    return f"/v1/rooms/{address}/signal{query}"


@contextmanager
def connected(s: Setting, call: Call) -> Iterator[WebSocketTestSession]:
    with s.clinic.client.websocket_connect(url(call.address, call.token)) as ws:
        welcome = ws.receive_json()
        assert welcome["type"] == "welcome" and welcome["you"] == call.participant, welcome
        yield ws


def refused(s: Setting, address: str, token: str | None) -> tuple[int, str]:
    """Connect, and expect the server to close at once: its code and reason."""
    with s.clinic.client.websocket_connect(url(address, token)) as ws:
        return closed(ws)


def closed(ws: WebSocketTestSession) -> tuple[int, str]:
    """Read until the server closes this connection: its code and reason."""
    while True:
        message = ws.receive()
        if message["type"] == "websocket.close":
            return int(message.get("code", 1000)), str(message.get("reason", ""))


def next_signal(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    """The next message of that type (skipping others, e.g. a burst's candidates)."""
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message


@dataclass
class TwoRooms:
    """Dr Weber and Anna in two consecutive consultations: room A and room B, both open."""

    a_weber: Call
    a_anna: Call
    b_weber: Call
    b_anna: Call


@pytest.fixture
def two_rooms(rooms: Setting, hub: SignallingHub) -> TwoRooms:
    s = rooms
    first, slot_a = book(s)
    second, slot_b = book(s)
    assert at(slot_b["start"]) >= at(slot_a["start"])
    inside(s, slot_b)  # within A's grace and B's lead-in at least
    calls = [joined(s, who, c) for c in (first, second) for who in (s.weber, s.anna)]
    return TwoRooms(*calls)


def talk(
    a: WebSocketTestSession, a_call: Call, b: WebSocketTestSession, b_call: Call, note: str
) -> None:
    """``a`` sends ``b`` a candidate, and it is the next thing ``b`` receives: the pair still
    talks, and nothing else reached ``b`` meanwhile."""
    line = f"{CANDIDATE} generation 0 ufrag {note}"
    a.send_json({"type": "candidate", "to": b_call.participant, "candidate": line})
    assert b.receive_json() == {
        "type": "candidate",
        "candidate": line,
        "sdpMid": None,
        "sdpMLineIndex": None,
        "usernameFragment": None,
        "from": a_call.participant,
    }


# -- a call ------------------------------------------------------------------------------------


def test_doctor_and_patient_exchange_an_offer_an_answer_and_candidates(
    rooms: Setting,
    two_rooms: TwoRooms,
) -> None:
    s, weber, anna = rooms, two_rooms.a_weber, two_rooms.a_anna
    assert weber.participant != anna.participant
    with connected(s, weber) as doctor:
        with s.clinic.client.websocket_connect(url(anna.address, anna.token)) as patient:
            welcome = patient.receive_json()
            assert welcome["peers"] == [{"peer": weber.participant, "role": "host"}]
            assert welcome["role"] == "guest" and welcome["room"] == anna.address
            arrived = doctor.receive_json()
            assert arrived == {"type": "peer-joined", "peer": anna.participant, "role": "guest"}

            # the client's own "from" is never believed
            doctor.send_json(
                {"type": "offer", "to": anna.participant, "sdp": SDP, "from": "p" + "0" * 32}
            )
            offer = patient.receive_json()
            assert offer == {"type": "offer", "sdp": SDP, "from": weber.participant}
            patient.send_json({"type": "answer", "sdp": SDP, "room": anna.address})
            assert doctor.receive_json() == {"type": "answer", "sdp": SDP, "from": anna.participant}
            for line in (CANDIDATE, "", None):  # None / "": the end of the candidates
                patient.send_json(
                    {"type": "candidate", "candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}
                )
                candidate = doctor.receive_json()
                assert candidate["candidate"] == line and candidate["from"] == anna.participant
                assert (candidate["sdpMid"], candidate["sdpMLineIndex"]) == ("0", 0)
            doctor.send_json({"type": "bye", "reason": "see you"})
            assert patient.receive_json()["type"] == "bye"
        assert doctor.receive_json() == {"type": "peer-left", "peer": anna.participant}
        # a message for someone who just left: an error frame, the connection stays
        doctor.send_json({"type": "bye", "to": anna.participant})
        assert doctor.receive_json() == {
            "type": "error",
            "error": "peer-gone",
            "peer": anna.participant,
        }
        # the same participant connecting again replaces the older connection
        with connected(s, weber):
            code, reason = closed(doctor)
            assert code == Close.REPLACED and "newer connection" in reason


def test_a_participant_of_another_room_cannot_reach_them(
    rooms: Setting,
    two_rooms: TwoRooms,
) -> None:
    s, r = rooms, two_rooms
    with connected(s, r.a_weber) as doctor, connected(s, r.a_anna) as patient:
        assert doctor.receive_json()["type"] == "peer-joined"
        # room B's token does not open room A's socket
        assert refused(s, r.a_weber.address, r.b_anna.token)[0] == Close.TOKEN
        with connected(s, r.b_anna) as stranger:
            # a message naming room A's participant from room B's socket: closed
            stranger.send_json({"type": "offer", "to": r.a_anna.participant, "sdp": SDP})
            assert closed(stranger) == (Close.POLICY, "no such participant in this room")
        with connected(s, r.b_anna) as stranger:
            stranger.send_json({"type": "offer", "room": r.a_weber.address, "sdp": SDP})
            assert closed(stranger) == (Close.POLICY, "a message for another room")
        with connected(s, r.b_anna) as stranger:  # to everyone: everyone in room B only
            stranger.send_json({"type": "offer", "sdp": SDP})
            talk(doctor, r.a_weber, patient, r.a_anna, "a-only")  # nothing of B's arrived first
        talk(patient, r.a_anna, doctor, r.a_weber, "still-here")


def test_the_room_takes_two_peers(rooms: Setting, two_rooms: TwoRooms) -> None:
    s, r = rooms, two_rooms
    nurse = s.clinic.person("Nurse Kim", Role.NURSE, s.clinic.org_a)
    observer = joined(s, nurse, r.a_anna.consultation)
    with connected(s, r.a_weber), connected(s, r.a_anna):
        assert refused(s, observer.address, observer.token) == (
            Close.FULL,
            "the room takes 2 participants",
        )


# -- bad input ---------------------------------------------------------------------------------

BAD: list[tuple[str, Any, Close]] = [
    ("malformed JSON", "{not json", Close.POLICY),
    ("not an object", "[1, 2]", Close.POLICY),
    ("unknown type", {"type": "hello"}, Close.POLICY),
    ("no SDP", {"type": "offer"}, Close.POLICY),
    ("bad SDP", {"type": "answer", "sdp": "hello"}, Close.POLICY),
    ("SDP with a bad line", {"type": "offer", "sdp": "v=0\r\nnonsense\r\n"}, Close.POLICY),
    ("bad candidate", {"type": "candidate", "candidate": 42}, Close.POLICY),
    (
        "bad sdpMLineIndex",
        {"type": "candidate", "candidate": None, "sdpMLineIndex": -1},
        Close.POLICY,
    ),
    ("bad recipient", {"type": "bye", "to": "someone"}, Close.POLICY),
    ("a stranger", {"type": "bye", "to": "p" + "a" * 32}, Close.POLICY),
    ("oversized", {"type": "offer", "sdp": "v=0\r\na=" + "x" * 70_000}, Close.TOO_BIG),
    ("binary", b"\x00\x01", Close.UNSUPPORTED),
]


def test_bad_input_closes_only_the_offending_connection(
    rooms: Setting,
    two_rooms: TwoRooms,
) -> None:
    s, r = rooms, two_rooms
    with connected(s, r.a_weber) as doctor, connected(s, r.a_anna) as patient:
        assert doctor.receive_json()["type"] == "peer-joined"
        with connected(s, r.b_weber) as b_doctor:
            for name, message, code in BAD:
                with connected(s, r.b_anna) as offender:
                    assert b_doctor.receive_json()["type"] == "peer-joined"
                    if isinstance(message, bytes):
                        offender.send_bytes(message)
                    else:
                        text = message if isinstance(message, str) else json.dumps(message)
                        offender.send_text(text)
                    got, reason = closed(offender)
                    assert got == code, (name, got, reason)
                    assert reason, name
                left = b_doctor.receive_json()
                assert left == {"type": "peer-left", "peer": r.b_anna.participant}, name
                talk(doctor, r.a_weber, patient, r.a_anna, name.replace(" ", "-"))
            # too many messages: a burst is fine, a flood is closed
            with connected(s, r.b_anna) as offender:
                assert b_doctor.receive_json()["type"] == "peer-joined"
                for _ in range(300):
                    offender.send_json({"type": "candidate", "candidate": CANDIDATE})
                assert closed(offender)[0] == Close.TOO_MANY
            assert next_signal(b_doctor, "peer-left")["peer"] == r.b_anna.participant
            talk(patient, r.a_anna, doctor, r.a_weber, "after-the-flood")


# -- tokens and the room's time ----------------------------------------------------------------


def test_missing_forged_and_expired_tokens_are_refused_at_connect(
    rooms: Setting,
    two_rooms: TwoRooms,
) -> None:
    s, call = rooms, two_rooms.a_anna
    assert refused(s, call.address, None)[0] == Close.TOKEN
    assert refused(s, call.address, call.token + "x")[0] == Close.TOKEN
    claims = jwt.decode(call.token, options={"verify_signature": False})
    forged = jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256")
    assert refused(s, call.address, forged)[0] == Close.TOKEN
    assert refused(s, "a" * 24, call.token)[0] == Close.TOKEN  # the token names its room
    assert refused(s, "not-an-address", call.token)[0] == Close.NO_ROOM
    plain = s.clinic.client.get(url(call.address, call.token))  # not a WebSocket: a problem
    assert plain.status_code == 404 and plain.headers["content-type"].startswith(
        "application/problem+json"
    )
    s.clock.at(s.clock() + timedelta(minutes=TOKEN_MINUTES, seconds=1))
    code, reason = refused(s, call.address, call.token)
    assert code == Close.TOKEN and "expired" in reason


def test_a_token_expiring_mid_call_ends_that_connection_and_the_window_end_ends_all(
    rooms: Setting,
    two_rooms: TwoRooms,
) -> None:
    s, weber = rooms, two_rooms.a_weber
    joined_at = s.clock()
    s.clock.at(joined_at + timedelta(minutes=3))
    anna = joined(s, s.anna, weber.consultation)  # her token expires 3 minutes after his
    with connected(s, weber) as doctor, connected(s, anna) as patient:
        assert doctor.receive_json()["type"] == "peer-joined"
        s.clock.at(joined_at + timedelta(minutes=TOKEN_MINUTES, seconds=1))
        code, reason = closed(doctor)
        assert (code, reason) == (Close.TOKEN, "the join token expired")
        assert patient.receive_json() == {"type": "peer-left", "peer": weber.participant}
        closes = at(room(s, s.weber, weber.consultation)["closes"])
        s.clock.at(closes)
        assert closed(patient) == (Close.ROOM_CLOSED, "the room's time is over")


def test_cancelling_the_consultation_ends_the_call(
    rooms: Setting,
    two_rooms: TwoRooms,
) -> None:
    s, r = rooms, two_rooms
    with connected(s, r.b_weber) as doctor, connected(s, r.b_anna) as patient:
        assert doctor.receive_json()["type"] == "peer-joined"
        cancelled = s.clinic.client.post(
            f"/v1/consultations/{r.b_anna.consultation}/cancel",
            headers=s.anna.headers,
            json={"reason": "patient-request"},
        )
        assert cancelled.status_code == 200, cancelled.text
        for ws in (doctor, patient):
            assert closed(ws) == (Close.ROOM_CLOSED, "the room is closed")
    assert refused(s, r.b_anna.address, r.b_anna.token)[0] == Close.ROOM_CLOSED


# -- the checks themselves ---------------------------------------------------------------------

ADDRESS = "a" * 24
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {"type": st.sampled_from([*sorted(SIGNAL_TYPES), "hello", ""])},
    optional={
        "sdp": st.sampled_from([SDP, "v=0", "v=1\r\n", "x"]) | JSON,
        "candidate": st.sampled_from([CANDIDATE, "", None, "host 1"]) | JSON,
        "to": st.sampled_from(["p" + "b" * 32, "P" + "b" * 32, "me"]) | JSON,
        "from": st.text(max_size=33),
        "room": st.sampled_from([ADDRESS, "b" * 24]) | JSON,
        "sdpMid": JSON,
        "sdpMLineIndex": JSON,
        "reason": JSON,
        "extra": JSON,
    },
)


@hsettings(max_examples=300, deadline=None)
@given(message=FIELDS | JSON, raw=st.booleans(), garbage=st.text(max_size=40))
def test_any_message_is_either_relayed_in_shape_or_a_violation(
    message: Any, raw: bool, garbage: str
) -> None:
    """Whatever arrives, the check answers a message of the known shape (the server's own
    ``from`` added later, nothing else passed on) or a close code; never another error."""
    text = garbage if raw else json.dumps(message)
    try:
        signal = parse(text, ADDRESS, Limits())
    except Violation as bad:
        assert bad.code in (Close.POLICY, Close.TOO_BIG) and bad.reason
        return
    body = signal.body
    assert body["type"] in SIGNAL_TYPES and "from" not in body and "room" not in body
    allowed = {
        "offer": {"sdp"},
        "answer": {"sdp"},
        "candidate": {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"},
        "bye": {"reason"},
    }[body["type"]]
    assert set(body) - {"type"} <= allowed
    if body["type"] in ("offer", "answer"):
        assert body["sdp"].startswith("v=0")
    assert signal.to is None or (signal.to.startswith("p") and len(signal.to) == 33)


def test_the_token_in_the_socket_s_path_is_kept_out_of_the_server_log() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/v1/rooms/abc/signal?token=eyJ.secret.sig&x=1"),
        None,
    )
    assert RedactTokens().filter(record)
    assert "eyJ" not in record.getMessage() and "token=<redacted>&x=1" in record.getMessage()


def test_a_burst_is_allowed_and_then_the_rate_holds() -> None:
    hub = SignallingHub(lambda: datetime.now(UTC), Limits(rate=50.0, burst=20))
    peer = hub.peer("p" + "c" * 32, "guest", datetime.now(UTC))
    assert all(peer.take() for _ in range(20))
    assert not peer.take()


# -- over a real socket ------------------------------------------------------------------------


@contextmanager
def served(s: Setting) -> Iterator[int]:
    """The app on uvicorn (port answered), beside the test client, on the same services."""
    import socket
    import threading

    import uvicorn

    from api.app import create_app

    app = create_app(s.clinic.services)
    app.state.signalling = SignallingHub(
        s.clinic.services.clock, Limits(tick_seconds=0.02, recheck_seconds=0.05)
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="info")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            time.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def test_over_a_real_socket_codes_and_reasons_arrive_and_the_token_is_not_logged(
    rooms: Setting, two_rooms: TwoRooms
) -> None:
    """uvicorn with ``websockets`` (what ``telemed serve`` runs): the close codes and reasons
    reach a real client, and uvicorn's "WebSocket ... [accepted]" lines hide the token."""
    client: Any = pytest.importorskip("websockets.sync.client")
    errors: Any = pytest.importorskip("websockets.exceptions")
    s, weber, anna = rooms, two_rooms.a_weber, two_rooms.a_anna
    lines: list[str] = []
    seen = logging.Handler()
    seen.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    uvicorn_log = logging.getLogger("uvicorn.error")
    with contextlib.ExitStack() as cleanup:
        port = cleanup.enter_context(served(s))
        uvicorn_log.addHandler(seen)  # after uvicorn configured its logging (it drops handlers)
        cleanup.callback(uvicorn_log.removeHandler, seen)
        base = f"ws://127.0.0.1:{port}"

        def closed_by_server(ws: Any) -> tuple[int, str]:
            with pytest.raises(errors.ConnectionClosed) as ended:
                while True:
                    ws.recv(timeout=5)
            return int(ended.value.rcvd.code), str(ended.value.rcvd.reason)

        with client.connect(base + url(anna.address, None), open_timeout=5) as nobody:
            assert closed_by_server(nobody) == (Close.TOKEN, "a join token is required (?token=)")
        # the handshake is accepted before the token is checked: wait for the welcome before
        # the second connects, so that the doctor is the one told of a peer joining
        with client.connect(base + url(weber.address, weber.token), open_timeout=5) as doctor:
            assert json.loads(doctor.recv(timeout=5))["type"] == "welcome"
            patient = cleanup.enter_context(
                client.connect(base + url(anna.address, anna.token), open_timeout=5)
            )
            assert json.loads(patient.recv(timeout=5))["type"] == "welcome"
            assert json.loads(doctor.recv(timeout=5))["type"] == "peer-joined"
            doctor.send(json.dumps({"type": "offer", "to": anna.participant, "sdp": SDP}))
            offer = json.loads(patient.recv(timeout=5))
            assert offer == {"type": "offer", "sdp": SDP, "from": weber.participant}
            patient.send(json.dumps({"type": "answer", "sdp": "v=0\r\na=" + "x" * 70_000}))
            code, reason = closed_by_server(patient)
            assert code == Close.TOO_BIG and reason == "a message is at most 65536 bytes"
            left = json.loads(doctor.recv(timeout=5))
            assert left == {"type": "peer-left", "peer": anna.participant}
    assert any("token=<redacted>" in line for line in lines), lines
    assert not any(anna.token in line or weber.token in line for line in lines)
