"""The signalling relay of video rooms (BRIEF D2, issue 13): SDP offers and answers and ICE
candidates between the participants connected to one room, and nothing else. In-process: a
registry of rooms and their connections on the event loop of the one server process (asyncio);
fan-out across processes, presence as events and heartbeats are not here.

Every message a participant sends is checked (``parse``) before it is relayed: one JSON object
of at most ``Limits.max_bytes``, of a known ``type``, with an SDP or an ICE candidate of the
right shape, addressed (``to``) to a participant of this room or to all of them; the server
stamps ``from`` with the sender's pseudonym and relays only the fields it checked. A violation
closes the sender's connection with a close code (``Close``) and a reason; the other
connections never notice more than a ``peer-left``. Each connection has its own outbox, so a
slow reader only ever holds up (and eventually closes) itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

log = logging.getLogger("telemed.signalling")

#: the types a participant may send
SIGNAL_TYPES = frozenset({"offer", "answer", "candidate", "bye"})
_PSEUDONYM = re.compile(r"^p[0-9a-f]{32}$")
#: an SDP line: one lowercase letter, ``=``, a value
_SDP_LINE = re.compile(r"^[a-z]=[^\x00]*$")
#: a close frame's reason: at most 123 bytes of UTF-8
_REASON_BYTES = 123


class Close(IntEnum):
    """The close codes of the signalling socket (README: the table)."""

    NORMAL = 1000  # the server ended the call normally
    UNSUPPORTED = 1003  # a binary frame: messages are JSON text
    POLICY = 1008  # malformed JSON, bad SDP/candidate, unknown type, another room, a stranger
    TOO_BIG = 1009  # a message over the size limit
    TRY_LATER = 1013  # this connection reads too slowly: its outbox overflowed
    REPLACED = 4000  # the same participant connected again: the older connection is closed
    TOKEN = 4401  # no join token, a forged one, another room's, or expired (also mid-call)
    NO_ROOM = 4404  # no room has that address
    FULL = 4409  # the room has as many participants as it takes
    ROOM_CLOSED = 4410  # the room is not open: outside its window, cancelled or ended
    TOO_MANY = 4429  # more messages than the rate limit allows


class Violation(Exception):
    """Bad input: the connection is closed with ``code`` and ``reason``."""

    def __init__(self, code: Close, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class RoomGone(Exception):
    """The room is no longer open (its state was read again): every connection ends."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024
    #: messages per second per connection, and the burst above that rate
    rate: float = 50.0
    burst: int = 20
    #: messages waiting for one connection before it counts as too slow
    outbox: int = 256
    #: how often the clock is compared with the tokens' expiry and the room's close
    tick_seconds: float = 1.0
    #: how often the room's state is read again (a cancellation, a moved window)
    recheck_seconds: float = 5.0
    #: how long a closing connection's outbox may take to drain
    drain_seconds: float = 5.0


@dataclass(frozen=True)
class Signal:
    """A checked message: whom it is for (None: everyone else) and what is relayed."""

    to: str | None
    body: dict[str, Any]


def _bounded_str(value: object, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


def _valid_sdp(sdp: object) -> bool:
    if not isinstance(sdp, str) or not sdp.startswith("v=0"):
        return False
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    return all(_SDP_LINE.match(line) for line in lines)


def _optional_int(value: object, high: int) -> bool:
    if value is None:
        return True
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high


def parse(text: str, address: str, limits: Limits) -> Signal:
    """The message ``text`` checked, or ``Violation``."""
    if len(text) > limits.max_bytes or len(text.encode()) > limits.max_bytes:
        raise Violation(Close.TOO_BIG, f"a message is at most {limits.max_bytes} bytes")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise Violation(Close.POLICY, "malformed JSON") from None
    if not isinstance(message, dict):
        raise Violation(Close.POLICY, "a message is a JSON object")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in SIGNAL_TYPES:
        raise Violation(Close.POLICY, "unknown message type")
    if "room" in message and message["room"] != address:
        raise Violation(Close.POLICY, "a message for another room")
    to = message.get("to")
    if to is not None and not (isinstance(to, str) and _PSEUDONYM.match(to)):
        raise Violation(Close.POLICY, "'to' is not a participant's pseudonym")
    body: dict[str, Any] = {"type": kind}
    if kind in ("offer", "answer"):
        if not _valid_sdp(message.get("sdp")):
            raise Violation(Close.POLICY, "bad SDP: an 'sdp' string starting with v=0")
        body["sdp"] = message["sdp"]
    elif kind == "candidate":
        candidate = message.get("candidate")
        if candidate is not None and not (
            _bounded_str(candidate, 2048)
            and (candidate == "" or candidate.startswith("candidate:"))
        ):
            raise Violation(Close.POLICY, "bad candidate: a 'candidate:' string or null")
        mid, index = message.get("sdpMid"), message.get("sdpMLineIndex")
        fragment = message.get("usernameFragment")
        if not (mid is None or _bounded_str(mid, 64)) or not _optional_int(index, 65535):
            raise Violation(Close.POLICY, "bad candidate: sdpMid or sdpMLineIndex")
        if not (fragment is None or _bounded_str(fragment, 256)):
            raise Violation(Close.POLICY, "bad candidate: usernameFragment")
        body.update(candidate=candidate, sdpMid=mid, sdpMLineIndex=index, usernameFragment=fragment)
    else:  # bye
        reason = message.get("reason")
        if not (reason is None or _bounded_str(reason, 200)):
            raise Violation(Close.POLICY, "bad bye: 'reason' is a short string")
        body["reason"] = reason
    return Signal(to, body)


def _reason(text: str) -> str:
    return text.encode()[:_REASON_BYTES].decode(errors="ignore")


@dataclass(frozen=True)
class Closing:
    code: int
    reason: str


class Peer:
    """One connection: its participant, its outbox and its rate."""

    def __init__(self, pseudonym: str, role: str, expires: datetime, limits: Limits) -> None:
        self.pseudonym, self.role, self.expires = pseudonym, role, expires
        self.limits = limits
        self.outbox: asyncio.Queue[str | Closing] = asyncio.Queue()
        self.closing = asyncio.Event()
        self._tokens, self._at = float(limits.burst), time.monotonic()

    def push(self, message: dict[str, Any]) -> None:
        if self.closing.is_set():
            return
        if self.outbox.qsize() >= self.limits.outbox:
            self.close(Close.TRY_LATER, "too slow: messages for this connection piled up")
            return
        self.outbox.put_nowait(json.dumps(message, separators=(",", ":")))

    def close(self, code: int, reason: str) -> None:
        """Close after what is already in the outbox (once)."""
        if not self.closing.is_set():
            self.closing.set()
            self.outbox.put_nowait(Closing(code, _reason(reason)))

    def take(self) -> bool:
        """One message's worth of the rate (a token bucket); False: over the limit."""
        now = time.monotonic()
        self._tokens = min(
            float(self.limits.burst), self._tokens + (now - self._at) * self.limits.rate
        )
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


#: reads the room's state again: its close (the window may have moved), or ``RoomGone``
Recheck = Callable[[], Awaitable[datetime]]


@dataclass
class Channel:
    address: str
    capacity: int
    closes: datetime
    recheck: Recheck
    peers: dict[str, Peer] = field(default_factory=dict)
    #: everyone connected to this room since it was first joined here (a recipient who left)
    seen: set[str] = field(default_factory=set)
    watcher: asyncio.Task[None] | None = None


class SignallingHub:
    """The rooms with connections in this process, on its event loop."""

    def __init__(self, clock: Callable[[], datetime], limits: Limits | None = None) -> None:
        self.clock, self.limits = clock, limits or Limits()
        self.channels: dict[str, Channel] = {}

    def peer(self, pseudonym: str, role: str, expires: datetime) -> Peer:
        return Peer(pseudonym, role, expires, self.limits)

    def join(
        self, address: str, peer: Peer, *, capacity: int, closes: datetime, recheck: Recheck
    ) -> None:
        """Add the connection to its room (``Violation`` when full): a welcome to it, a
        ``peer-joined`` to the others. The same participant again replaces their older
        connection."""
        channel = self.channels.get(address)
        if channel is None:
            channel = Channel(address, capacity, closes, recheck)
            self.channels[address] = channel
        others = {p: c for p, c in channel.peers.items() if p != peer.pseudonym}
        if len(others) >= channel.capacity:
            if not channel.peers:
                self.channels.pop(address, None)
            raise Violation(Close.FULL, f"the room takes {channel.capacity} participants")
        older = channel.peers.get(peer.pseudonym)
        if older is not None:
            older.close(Close.REPLACED, "replaced by a newer connection of the participant")
        channel.peers[peer.pseudonym] = peer
        channel.seen.add(peer.pseudonym)
        peer.push(
            {
                "type": "welcome",
                "room": address,
                "you": peer.pseudonym,
                "role": peer.role,
                "peers": [{"peer": p, "role": c.role} for p, c in others.items()],
                "expires_at": peer.expires.isoformat(),
                "closes_at": channel.closes.isoformat(),
            }
        )
        for other in others.values():
            other.push({"type": "peer-joined", "peer": peer.pseudonym, "role": peer.role})
        if channel.watcher is None or channel.watcher.done():
            channel.watcher = asyncio.create_task(self._watch(channel))

    def leave(self, address: str, peer: Peer) -> None:
        channel = self.channels.get(address)
        if channel is None or channel.peers.get(peer.pseudonym) is not peer:
            return  # replaced by a newer connection: the others did not see it leave
        del channel.peers[peer.pseudonym]
        for other in channel.peers.values():
            other.push({"type": "peer-left", "peer": peer.pseudonym})
        if not channel.peers:
            self.channels.pop(address, None)
            if channel.watcher is not None:
                channel.watcher.cancel()

    def relay(self, address: str, sender: Peer, text: str) -> None:
        """Check one message and pass it on (``Violation``: close the sender)."""
        channel = self.channels.get(address)
        if (
            sender.closing.is_set()
            or channel is None
            or channel.peers.get(sender.pseudonym) is not sender
        ):
            return  # a connection on its way out (closed, or replaced) relays nothing more
        if not sender.take():
            raise Violation(Close.TOO_MANY, f"more than {self.limits.rate:g} messages a second")
        signal = parse(text, address, self.limits)
        now = self.clock()
        if now >= channel.closes:
            raise Violation(Close.ROOM_CLOSED, "the room's time is over")
        if now >= sender.expires:
            raise Violation(Close.TOKEN, "the join token expired")
        body = {**signal.body, "from": sender.pseudonym}
        if signal.to is None:
            for pseudonym, other in channel.peers.items():
                if pseudonym != sender.pseudonym:
                    other.push(body)
        elif signal.to == sender.pseudonym:
            sender.push({"type": "error", "error": "to-yourself", "peer": signal.to})
        elif signal.to in channel.peers:
            channel.peers[signal.to].push(body)
        elif signal.to in channel.seen:  # left a moment ago: not an attack, nothing to relay
            sender.push({"type": "error", "error": "peer-gone", "peer": signal.to})
        else:
            raise Violation(Close.POLICY, "no such participant in this room")

    def end_room(self, channel: Channel, code: Close, reason: str) -> None:
        for peer in list(channel.peers.values()):
            peer.close(code, reason)

    async def _watch(self, channel: Channel) -> None:
        """Ends connections whose token expired, and all of them when the room closes."""
        checked = time.monotonic()
        while channel.peers:
            await asyncio.sleep(self.limits.tick_seconds)
            now = self.clock()
            if now >= channel.closes:
                self.end_room(channel, Close.ROOM_CLOSED, "the room's time is over")
                return
            if time.monotonic() - checked >= self.limits.recheck_seconds:
                checked = time.monotonic()
                try:
                    channel.closes = await channel.recheck()
                except RoomGone as gone:
                    self.end_room(channel, Close.ROOM_CLOSED, str(gone) or "the room closed")
                    return
                except Exception:  # a database hiccup: keep the call, check again later
                    log.exception("re-reading room %s failed", channel.address[:6])
            for peer in list(channel.peers.values()):
                if now >= peer.expires:
                    peer.close(Close.TOKEN, "the join token expired")

    async def serve(
        self,
        address: str,
        peer: Peer,
        receive: Callable[[], Awaitable[Mapping[str, Any]]],
        send_text: Callable[[str], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
    ) -> None:
        """Run a joined connection until either side ends it; then it leaves the room."""

        async def read() -> None:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    peer.close(Close.UNSUPPORTED, "messages are JSON text frames")
                    return
                try:
                    self.relay(address, peer, text)
                except Violation as bad:
                    peer.close(bad.code, bad.reason)
                    return

        async def write() -> None:
            while True:
                item = await peer.outbox.get()
                if isinstance(item, Closing):
                    with contextlib.suppress(Exception):
                        await close(item.code, item.reason)
                    return
                try:
                    await send_text(item)
                except Exception:  # the client is gone
                    peer.closing.set()
                    return

        reader, writer = asyncio.create_task(read()), asyncio.create_task(write())
        closing = asyncio.create_task(peer.closing.wait())
        try:
            await asyncio.wait({reader, writer, closing}, return_when=asyncio.FIRST_COMPLETED)
            self.leave(address, peer)
            if peer.closing.is_set():  # our close frame goes out after the outbox drains
                await asyncio.wait({writer}, timeout=self.limits.drain_seconds)
        finally:
            for task in (reader, writer, closing):
                task.cancel()
            self.leave(address, peer)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(reader, writer, closing, return_exceptions=True)
