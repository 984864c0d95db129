"""Video rooms (BRIEF D1-D4, F6): a party reads their consultation's room and link, joins it
with the PIN of the link (and their session) while it is open, and refreshes TURN credentials
with the join token. The backend never carries media: it answers tokens and credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, StringConstraints

from adapters.composition import Services
from adapters.video import InvalidJoinToken, Role
from api.auth import CurrentActor, authorize_consultation, client_address, consultation_scope
from api.policy import Action, ConsultationScope
from api.problems import MEDIA_TYPE, PROBLEM_RESPONSES, Problem
from api.reads import PurposeHeader, await_position, record_access
from api.schemas import Body
from api.state import services_of
from commands import rooms as cmd
from commands.results import NotFound
from domain.actor import Actor
from domain.actor import Role as AccountRole
from domain.room import Mode, PinKind

router = APIRouter(
    tags=["rooms"],
    responses={
        **PROBLEM_RESPONSES,
        429: {
            "description": "Too many wrong PINs",
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        },
    },
)

Address = Annotated[str, StringConstraints(pattern="^[a-z2-7]{24}$")]


class JoinBody(Body):
    pin: Annotated[str, StringConstraints(pattern="^[0-9]{8}$")]


class RefreshBody(Body):
    token: Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class RoomOut(BaseModel):
    room_id: UUID
    consultation_id: UUID
    patient_id: UUID
    address: str
    mode: str
    status: str
    opens: datetime
    closes: datetime
    #: the caller's link: the host's for the consultation's doctor, the guest's for others
    link: str | None
    pin_kind: str
    pins_rotated: int


class TurnOut(BaseModel):
    username: str
    password: str
    ttl: int
    uris: list[str]


class LiveKitOut(BaseModel):
    url: str
    token: str
    ttl: int


class JoinOut(BaseModel):
    room: str
    consultation_id: UUID
    mode: str
    role: str
    participant: str
    opens: datetime
    closes: datetime
    token: str
    expires_at: datetime
    turn: TurnOut | None
    livekit: LiveKitOut | None


@router.get("/v1/consultations/{consultation_id}/room", response_model=RoomOut)
def read_room(
    consultation_id: UUID, request: Request, actor: CurrentActor, purpose: PurposeHeader = None
) -> dict[str, Any]:
    """The consultation's video room: its address, window and state, and the caller's own
    link (``#pin=`` in the fragment, so it stays out of server logs): the host link for the
    consultation's doctor, the guest link for the patient's side and the care team. After the
    PINs rotated, this is where the new link is read. Every read is on the patient's access
    log."""
    services = services_of(request)
    scope = consultation_scope(request, consultation_id)
    actor = authorize_consultation(request, actor, Action.READ_CONSULTATION, scope)
    await_position(services, "rooms", services.recorder.max_notification_id())
    room = services.rooms.of_consultation(consultation_id)
    if room is None:
        raise NotFound("Room", consultation_id)
    record_access(services, actor, [scope.patient_id], "consultation.room", purpose)
    host = actor.actor_id == scope.doctor_id
    pin = room.host_pin if host else room.guest_pin
    base = services.settings.public_url.rstrip("/")
    return {
        "room_id": room.room_id,
        "consultation_id": room.consultation_id,
        "patient_id": room.patient_id,
        "address": room.address,
        "mode": room.mode,
        "status": room.status,
        "opens": room.opens,
        "closes": room.closes,
        "link": f"{base}/rooms/{room.address}#pin={pin}" if pin else None,
        "pin_kind": (PinKind.HOST if host else PinKind.GUEST).value,
        "pins_rotated": room.pins_rotated,
    }


def _room(request: Request, address: str) -> tuple[UUID, ConsultationScope]:
    found = services_of(request).room_index.at(address)
    if found is None:
        raise Problem(404, "not-found", "No room has that address")
    room_id, consultation_id = found
    return room_id, consultation_scope(request, consultation_id)


def _role(pin: PinKind, actor: Actor, scope: ConsultationScope) -> Role:
    """The host PIN is the consultation's doctor's; the guest PIN makes the patient's side
    guests and staff observers."""
    if pin is PinKind.HOST:
        if actor.actor_id != scope.doctor_id:
            raise Problem(403, "forbidden", "The host PIN is the consultation's doctor's")
        return Role.HOST
    return Role.GUEST if actor.role is AccountRole.PATIENT else Role.OBSERVER


@router.post("/v1/rooms/{address}/join", response_model=JoinOut)
def join(address: Address, body: JoinBody, request: Request, actor: CurrentActor) -> dict[str, Any]:
    """Join with the PIN of one's link, signed in as a party of the consultation (the doctor
    with the host PIN; the patient, their holder or a caregiver with the attend scope, or the
    care team as observers, with the guest PIN). Outside the window, or once the consultation
    was cancelled or completed: 409 ``room-closed`` with the window. A wrong PIN: 422
    ``wrong-pin``; the fifth since the last rotation rotates the room's PINs (audited) and
    answers 429 ``pins-rotated`` (the parties read the new link); 20 wrong PINs from one
    client address lock it out for 15 minutes (429 ``too-many-attempts``).

    The answer: a join token (JWT, ``exp`` never past the room's close), and for a p2p room
    TURN credentials, for an sfu room a LiveKit access token; all name the participant by a
    pseudonym of this room only."""
    # counted apart from sign-in failures of the same address
    services, client = services_of(request), f"room-pin\x00{client_address(request)}"
    if services.throttle.locked_until(client) is not None:
        raise Problem(429, "too-many-attempts", "Too many wrong PINs from here")
    room_id, scope = _room(request, address)
    acting = authorize_consultation(request, actor, Action.ATTEND, scope)
    entry = services.bus.answer(cmd.JoinRoom(acting, room_id, body.pin), cmd.RoomEntry)
    if entry.pin is None:
        services.throttle.failed(client)
        if entry.rotated:
            raise Problem(
                429,
                "pins-rotated",
                "Too many wrong PINs: the room's PINs were changed",
                "Read the new link of the consultation's room",
            )
        raise Problem(422, "wrong-pin", "That PIN does not open this room")
    role = _role(entry.pin, actor, scope)
    return _credentials(services, entry, actor, role)


def _credentials(
    services: Services, entry: cmd.RoomEntry, actor: Actor, role: Role
) -> dict[str, Any]:
    video, now = services.video, services.clock()
    participant = video.pseudonym(entry.aggregate_id, actor.actor_id)
    token, expires = video.join_token(
        address=entry.address, pseudonym=participant, role=role, now=now, closes=entry.closes
    )
    turn, livekit = None, None
    if entry.mode is Mode.P2P:
        turn = _turn(services, participant, now, entry.closes)
    else:
        lk_token, ttl = video.livekit_token(
            address=entry.address, pseudonym=participant, role=role, now=now, closes=entry.closes
        )
        livekit = {"url": video.livekit_url, "token": lk_token, "ttl": ttl}
    return {
        "room": entry.address,
        "consultation_id": entry.consultation_id,
        "mode": entry.mode.value,
        "role": role.value,
        "participant": participant,
        "opens": entry.opens,
        "closes": entry.closes,
        "token": token,
        "expires_at": expires,
        "turn": turn,
        "livekit": livekit,
    }


def _turn(services: Services, participant: str, now: datetime, closes: datetime) -> dict[str, Any]:
    credentials = services.video.turn_credentials(participant, now, closes)
    return {
        "username": credentials.username,
        "password": credentials.password,
        "ttl": credentials.ttl_seconds,
        "uris": list(credentials.uris),
    }


@router.post("/v1/rooms/{address}/turn-credentials", response_model=TurnOut)
def turn_credentials(
    address: Address, body: RefreshBody, request: Request, actor: CurrentActor
) -> dict[str, Any]:
    """Fresh TURN credentials while the room is open, for the party its join token (from
    ``join``) names: 409 ``room-closed`` once it is not; a token that is forged, expired,
    for another room or another person: 422 ``invalid-join-token``."""
    services = services_of(request)
    room_id, scope = _room(request, address)
    acting = authorize_consultation(request, actor, Action.ATTEND, scope)
    entry = services.bus.answer(cmd.CheckRoomOpen(acting, room_id), cmd.RoomEntry)
    now = services.clock()
    try:
        claims = services.video.verify_join_token(body.token, address, now)
    except InvalidJoinToken as exc:
        raise Problem(422, "invalid-join-token", "That join token is not valid", str(exc)) from None
    if claims.pseudonym != services.video.pseudonym(room_id, actor.actor_id):
        raise Problem(422, "invalid-join-token", "That join token is someone else's")
    return _turn(services, claims.pseudonym, now, entry.closes)
