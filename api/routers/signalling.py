"""The signalling socket of video rooms: ``WS /v1/rooms/{address}/signal?token=<join token>``.
The join token (from ``POST /v1/rooms/{address}/join``) is the only credential: its signature,
its room and its ``nbf``/``exp`` (no leeway, at the clock commands act at) are checked before
the connection joins its room; the relay itself is ``adapters.signalling``. Refusals accept the
handshake and then close with the code and reason (``Close``), so that browsers see why.
WebSocket routes are not in the OpenAPI document."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from adapters.composition import Services
from adapters.signalling import Close, RoomGone, SignallingHub, Violation
from adapters.video import InvalidJoinToken
from commands.results import NotFound
from commands.rooms import CheckRoomOpen, RoomEntry
from domain.actor import system_actor
from domain.room import Mode, RoomClosed
from domain.teleconference import MAX_PARTICIPANTS

router = APIRouter(tags=["rooms"])

_TOKEN_QUERY = re.compile(r"token=[^&\s\"]*")


class RedactTokens(logging.Filter):
    """uvicorn logs a WebSocket's path with its query string ("WebSocket /v1/...?token=..."
    [accepted]): the join token is a credential, so it is cut out of those lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_QUERY.sub("token=<redacted>", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = _TOKEN_QUERY.sub("token=<redacted>", record.msg)
        return True


logging.getLogger("uvicorn.error").addFilter(RedactTokens())

_ADDRESS = re.compile(r"^[a-z2-7]{24}$")
#: participants a room takes: two peers, or the teleconference limit behind an SFU
CAPACITY = {Mode.P2P: 2, Mode.SFU: MAX_PARTICIPANTS}
_CLOSED = {"over": "the room's time is over", "not-yet-open": "the room is not open yet"}


def hub_of(websocket: WebSocket) -> SignallingHub:
    state = websocket.app.state
    hub: SignallingHub | None = getattr(state, "signalling", None)
    if hub is None:
        services: Services = state.services
        hub = state.signalling = SignallingHub(services.clock)
    return hub


def _open_room(services: Services, room_id: UUID) -> RoomEntry:
    """The room as the write side has it now; ``RoomGone`` once it is not open."""
    try:
        return services.bus.answer(CheckRoomOpen(system_actor(), room_id), RoomEntry)
    except RoomClosed as closed:
        raise RoomGone(_CLOSED.get(closed.status, f"the room is {closed.status}")) from None
    except NotFound:
        raise RoomGone("the room is gone") from None


@router.websocket("/v1/rooms/{address}/signal")
async def signal(websocket: WebSocket, address: str) -> None:
    """Relay SDP offers/answers and ICE candidates between the participants of this room."""
    services: Services = websocket.app.state.services
    hub = hub_of(websocket)
    await websocket.accept()

    async def refuse(code: Close, reason: str) -> None:
        if websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(int(code), reason)

    if not _ADDRESS.match(address):
        await refuse(Close.NO_ROOM, "no room has that address")
        return
    token = websocket.query_params.get("token")
    if not token or len(token) > 4000:
        await refuse(Close.TOKEN, "a join token is required (?token=)")
        return
    try:
        claims = services.video.verify_join_token(token, address, services.clock())
    except InvalidJoinToken as exc:
        await refuse(Close.TOKEN, f"invalid join token: {exc}")
        return
    found = await run_in_threadpool(services.room_index.at, address)
    if found is None:
        await refuse(Close.NO_ROOM, "no room has that address")
        return
    room_id = found[0]
    try:
        entry = await run_in_threadpool(_open_room, services, room_id)
    except RoomGone as gone:
        await refuse(Close.ROOM_CLOSED, str(gone))
        return

    async def recheck() -> datetime:
        return (await run_in_threadpool(_open_room, services, room_id)).closes

    peer = hub.peer(claims.pseudonym, claims.role.value, claims.expires)
    try:
        hub.join(address, peer, capacity=CAPACITY[entry.mode], closes=entry.closes, recheck=recheck)
    except Violation as full:
        await refuse(full.code, full.reason)
        return
    await hub.serve(address, peer, websocket.receive, websocket.send_text, websocket.close)
