"""The last line behind every route: an exception no handler mapped is answered once, as a
problem document, and never re-raised (no dropped connection, no traceback in the log).

- an outage (the database unreachable, busy or timing out) is 503 with ``Retry-After``;
- data that fails its integrity check (tampered or undecryptable) is 500
  ``integrity-check-failed`` and raises an alarm: never "retry later";
- anything else is 500 ``internal-error`` naming a correlation id, logged by type, place and
  that id only: an exception's message may quote personal data.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback
from uuid import UUID, uuid4

import psycopg
import psycopg_pool
from eventsourcing.persistence import (
    InterfaceError,
    MapperDeserialisationError,
    OperationalError,
)
from nacl.exceptions import CryptoError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.alarms import Alarms
from adapters.crypto.sealing import SealError
from api import problems

log = logging.getLogger("telemed.api")

OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    sqlite3.OperationalError,
    TimeoutError,
)
INTEGRITY_FAILURES: tuple[type[BaseException], ...] = (
    SealError,
    CryptoError,
    MapperDeserialisationError,
)
HEADER = "X-Correlation-Id"


def correlation_id(scope: Scope) -> str:
    """The client's ``X-Correlation-Id`` when it is a UUID (as the actor's), else a new one."""
    given = dict(scope.get("headers", ())).get(HEADER.lower().encode(), b"")
    try:
        return str(UUID(given.decode("latin-1")))
    except ValueError:
        return str(uuid4())


def _where(exc: BaseException) -> str:
    """The innermost frame of our own code: file, line and function, never values."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f[0]]
    frame = frames[-1] if frames else None
    return f"{frame.filename}:{frame.lineno} in {frame.name}" if frame else "?"


def answer(exc: Exception, scope: Scope, alarms: Alarms) -> Response:
    correlation = correlation_id(scope)
    route = getattr(scope.get("route"), "path", "<unmatched>")
    name = type(exc).__name__
    headers = {HEADER: correlation}
    if isinstance(exc, INTEGRITY_FAILURES):
        alarms.integrity_failure(name, correlation, route)
        return problems.problem_response(
            500,
            "integrity-check-failed",
            "Stored data failed its integrity check; operators have been alerted",
            headers=headers,
            correlation_id=correlation,
        )
    if isinstance(exc, OUTAGES):
        log.warning("outage %s correlation=%s on %s", name, correlation, route)
        return problems.problem_response(
            503,
            "temporarily-unavailable",
            "The service is briefly unavailable; retry in a moment",
            headers={**headers, "Retry-After": "1"},
            correlation_id=correlation,
        )
    log.error(
        "unexpected %s correlation=%s on %s %s at %s",
        name,
        correlation,
        scope.get("method"),
        route,
        _where(exc),
    )
    return problems.problem_response(
        500,
        "internal-error",
        "The request failed on our side; quote the correlation id when you report it",
        headers=headers,
        correlation_id=correlation,
    )


class Failures:
    """ASGI middleware: turns an escaped exception into one answer (see the module)."""

    def __init__(self, app: ASGIApp, alarms: Alarms) -> None:
        self.app, self.alarms = app, alarms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            response = answer(exc, scope, self.alarms)
            if not started:  # else the answer is under way: the client sees it cut short
                await response(scope, receive, send)
