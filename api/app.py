"""The FastAPI application: routers, problem details, body limits, request logging."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.alarms import Alarms
from adapters.composition import Services
from api import problems
from api.failures import Failures
from api.idempotency import IdempotentRequests, document
from api.methods import MethodCheck
from api.responses import document_problems
from api.routers import (
    accounts,
    agenda,
    analytics,
    assistants,
    beneficiaries,
    calendars,
    care_analytics,
    clinical_record,
    compliance,
    consents,
    consultation_reads,
    consultation_steps,
    consultations,
    delegations,
    intake,
    labs,
    link_pages,
    machine_clients,
    on_call,
    organisations,
    passwords,
    patients,
    prescriptions,
    protocols,
    rooms,
    rule_sets,
    schedules,
    sessions,
    signalling,
    slots,
    system,
    teleconferences,
    two_factor,
    waiting_room,
)

log = logging.getLogger("telemed.http")


class BodyLimit:
    """Refuses bodies over the limit (declared or streamed) with 413, before any parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await problems.problem_response(
                413, "body-too-large", f"The body exceeds {self.max_bytes} bytes"
            )(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await problems.problem_response(
                413, "body-too-large", f"The body exceeds {self.max_bytes} bytes"
            )(scope, receive, send)


class _TooLarge(Exception):
    pass


class RequestLog:
    """One line per request: method, route template, status, time. Never the query string or
    body (they may carry personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "<unmatched>")
            log.info(
                "%s %s %s %.1fms",
                scope["method"],
                path,
                status,
                (time.perf_counter() - started) * 1000,
            )


def create_app(services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        services.start()
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise pause requests for tens of milliseconds.
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(
        title="Telemed backend",
        version="0.1.0",
        description="Event-sourced telemedicine backend. Commands answer the position of their "
        "last event; queries accept it (`after`) to read your own writes.",
        lifespan=lifespan,
    )
    app.state.services = services
    problems.install(app)
    app.include_router(system.router)
    app.include_router(accounts.router)
    app.include_router(sessions.router)
    app.include_router(passwords.router)
    app.include_router(two_factor.router)
    app.include_router(patients.router)
    app.include_router(delegations.router)
    app.include_router(organisations.router)
    app.include_router(compliance.router)
    app.include_router(care_analytics.router)  # before analytics' /{metric}
    app.include_router(analytics.router)
    app.include_router(schedules.router)
    app.include_router(calendars.router)
    app.include_router(slots.router)
    app.include_router(agenda.router)
    app.include_router(consultations.router)
    app.include_router(consultation_steps.router)
    app.include_router(consultation_reads.router)
    app.include_router(consultation_reads.patients_router)
    app.include_router(beneficiaries.router)
    app.include_router(assistants.router)
    app.include_router(link_pages.router)
    app.include_router(care_analytics.doctors_router)
    app.include_router(on_call.router)
    app.include_router(waiting_room.router)
    app.include_router(teleconferences.router)
    app.include_router(protocols.router)
    app.include_router(rule_sets.router)
    app.include_router(machine_clients.router)
    app.include_router(labs.router)
    app.include_router(intake.router)
    app.include_router(consents.router)
    app.include_router(prescriptions.router)
    app.include_router(rooms.router)
    app.include_router(signalling.router)  # WebSocket: not in the OpenAPI
    app.include_router(clinical_record.router)
    # outermost last: the request log sees every answer, the 500 of an escaped exception too
    app.state.alarms = Alarms()
    app.add_middleware(IdempotentRequests, store=services.idempotency, sessions=services.sessions)
    app.add_middleware(MethodCheck, routes=app.router.routes)
    app.add_middleware(BodyLimit, max_bytes=services.settings.max_body_bytes)
    app.add_middleware(Failures, alarms=app.state.alarms)
    app.add_middleware(RequestLog)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
                "type": "object",
                "description": "RFC 9457 problem details",
                "required": ["type", "title", "status"],
                "properties": {
                    "type": {"type": "string", "format": "uri"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "correlation_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "on a 500: quote it when reporting the failure",
                    },
                },
            }
            document_problems(document(schema))  # the key's header can be refused (422)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
