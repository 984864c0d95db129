"""Every state-changing request can be retried safely: the HTTP edge honours Idempotency-Key.

One mechanism for every POST, PUT, PATCH and DELETE, whether the route goes through the command
bus or not (accounts, sessions, second factors, invitations):

- the key is reserved for (who, key, request) before the route runs; a twin sent meanwhile
  waits for the first one's answer;
- the route's first commit records itself under the key in its own transaction (see
  ``commands.bus.REQUEST_CLAIM``), so a commit is never applied twice, not even when the
  process dies before answering;
- a success, or a refusal that committed something (a failed sign-in is counted), is kept
  sealed and replayed to every retry: same status, body, Location, ETag; a refusal that changed
  nothing frees the key, so the client may retry after fixing the cause;
- the same key with another request is a 409 ``idempotency-key-reused``.

"Who" is the account of the bearer token (live or not, so signing out or changing the password
can be retried too), else everyone unauthenticated together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.idempotency import (
    Answer,
    Busy,
    Conflict,
    IdempotencyStore,
    KeyedRequest,
    Outcome,
    Replay,
)
from adapters.sessions import SessionStore
from api.problems import problem_response
from commands.bus import REQUEST_CLAIM, RequestClaim

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}
#: POST routes that change nothing (a query in a body, to keep it out of URLs): no key needed
QUERIES = {"/v1/patients/_search", "/v1/pharmacy/prescriptions/verify"}
#: request headers that change what a request does, besides method, path and body
_MEANINGFUL = (b"content-type", b"if-match", b"x-organisation-id")
#: answer headers replayed with the body
_REPLAYED = {b"content-type", b"location", b"etag", b"x-position"}
_TWIN_WAIT_SECONDS = 10.0


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Makes a retry safe: a retry with the same key and request answers the first "
    "result (header `Idempotent-Replayed: true`) without applying it again; the same key with "
    "another request is a 409 `idempotency-key-reused`.",
}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the header on every state-changing operation of the OpenAPI document."""
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method.upper() not in CHANGES or path in QUERIES:
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                parameters.append(dict(IDEMPOTENCY_KEY_PARAMETER))
    return schema


class IdempotentRequests:
    def __init__(self, app: ASGIApp, store: IdempotencyStore, sessions: SessionStore) -> None:
        self.app, self.store, self.sessions = app, store, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ()))
        key = headers.get(b"idempotency-key")
        if (
            scope["type"] != "http"
            or scope["method"] not in CHANGES
            or key is None
            or scope["path"] in QUERIES
        ):
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= 200:
            await problem_response(422, "validation", "Idempotency-Key has 1 to 200 characters")(
                scope, receive, send
            )
            return
        body = await _read_body(receive)
        who = await self._who(headers)
        keyed = self.store.keyed(who, key.decode("latin-1"), _request(scope, body))
        outcome = await self._reserve(keyed)
        if isinstance(outcome, Replay):
            await _send(send, outcome.answer, replayed=True)
        elif isinstance(outcome, Conflict):
            await problem_response(
                409,
                "idempotency-key-reused",
                "This Idempotency-Key was used for a different request",
            )(scope, receive, send)
        elif isinstance(outcome, Busy):
            await problem_response(
                409,
                "idempotency-key-in-use",
                "A request with this Idempotency-Key is still running; retry",
                headers={"Retry-After": "1"},
            )(scope, receive, send)
        else:
            await self._run(scope, _replaying(body, receive), send, keyed)

    async def _who(self, headers: dict[bytes, bytes]) -> str:
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "public"
        owner = await anyio.to_thread.run_sync(self.sessions.owner, token.strip())
        return str(owner) if owner else "public"

    async def _reserve(self, keyed: KeyedRequest) -> Outcome:
        with anyio.move_on_after(_TWIN_WAIT_SECONDS):
            while True:
                outcome = await anyio.to_thread.run_sync(self.store.reserve, keyed)
                if not isinstance(outcome, Busy):
                    return outcome
                await anyio.sleep(0.05)
        return Busy()

    async def _run(self, scope: Scope, receive: Receive, send: Send, keyed: KeyedRequest) -> None:
        request = RequestClaim(keyed.claim)
        answer = _Capture()
        token = REQUEST_CLAIM.set(request)
        try:
            await self.app(scope, receive, answer.send)
        except BaseException:
            with anyio.CancelScope(shield=True):  # also when the client went away
                await anyio.to_thread.run_sync(self._end, keyed, request, None)
            raise
        finally:
            REQUEST_CLAIM.reset(token)
        await anyio.to_thread.run_sync(self._end, keyed, request, answer.result())
        await answer.flush(send)

    def _end(self, keyed: KeyedRequest, request: RequestClaim, answer: Answer | None) -> None:
        if answer is not None and (answer.status < 400 or (request.bound and answer.status < 500)):
            self.store.answer(keyed, answer)
        elif request.bound:
            self.store.abandon(keyed)
        else:
            self.store.release(keyed)


def _request(scope: Scope, body: bytes) -> bytes:
    headers = dict(scope.get("headers", ()))
    parts = [
        scope["method"].encode(),
        scope["path"].encode(),
        scope.get("query_string", b""),
        *(headers.get(name, b"") for name in _MEANINGFUL),
        body,
    ]
    return b"\x00".join(len(p).to_bytes(8, "big") + p for p in parts)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Callable[[], Awaitable[Message]]:
    """The body read already, then the client's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _Capture:
    """The route's answer, held back until it is stored."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def send(self, message: Message) -> None:
        self.messages.append(message)

    def result(self) -> Answer:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in start.get("headers", ())
            if k.lower() in _REPLAYED
        ]
        body = b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )
        return Answer(int(start["status"]), headers, body)

    async def flush(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def _send(send: Send, answer: Answer, *, replayed: bool) -> None:
    headers: list[tuple[bytes, Any]] = [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in answer.headers
        if k.encode("latin-1") != b"content-length"
    ]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
