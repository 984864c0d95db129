"""Machine clients: an org admin creates one for the organisation (its secret is shown once)
and revokes it; the client exchanges its credentials for a short-lived bearer token (OAuth 2.0
client credentials, RFC 6749 section 4.4) and then acts as a system actor of the organisation."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, unquote
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints

from api.auth import CurrentActor, authorize_organisation, client_address
from api.policy import Action
from api.problems import PROBLEM_RESPONSES, Problem
from api.reads import accepted
from api.schemas import Accepted, Body
from api.state import services_of
from commands import labs as cmd
from commands.accounts import InvalidCredentials

router = APIRouter(prefix="/v1", tags=["machine clients"], responses=PROBLEM_RESPONSES)


class ClientBody(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    purpose: Literal["lab", "pharmacy"] = Field(
        default="lab",
        description="a partner lab's client reports results; a pharmacy's verifies and "
        "dispenses prescriptions by their code",
    )


class ClientOut(BaseModel):
    id: UUID
    version: int
    position: int | None
    client_id: UUID
    client_secret: str


class TokenRequest(BaseModel):
    grant_type: str
    client_id: str | None = None
    client_secret: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


@router.post(
    "/organisations/{organisation_id}/machine-clients",
    status_code=status.HTTP_201_CREATED,
    response_model=ClientOut,
)
def create(
    organisation_id: UUID,
    body: ClientBody,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """The organisation's admin creates a client (a ``lab``'s, the default, or a
    ``pharmacy``'s); ``client_secret`` is shown in this answer only (kept as an Argon2id hash,
    like a password)."""
    authorize_organisation(request, actor, Action.MANAGE_MACHINE_CLIENTS, organisation_id)
    made = services_of(request).bus.answer(
        cmd.CreateMachineClient(actor, organisation_id, body.name, body.purpose),
        cmd.MachineClientCreated,
    )
    response.headers["Cache-Control"] = "no-store"
    return {
        **accepted(response, made),
        "client_id": made.aggregate_id,
        "client_secret": made.secret,
    }


@router.delete(
    "/organisations/{organisation_id}/machine-clients/{client_id}", response_model=Accepted
)
def revoke(
    organisation_id: UUID,
    client_id: UUID,
    request: Request,
    response: Response,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Revoke a client: its tokens are refused from the next request on, and it gets no more."""
    authorize_organisation(request, actor, Action.MANAGE_MACHINE_CLIENTS, organisation_id)
    saved = services_of(request).bus.handle(
        cmd.RevokeMachineClient(actor, organisation_id, client_id)
    )
    return accepted(response, saved)


def _oauth_error(status_code: int, error: str, detail: str) -> Problem:
    """A problem document that also carries RFC 6749's ``error`` code."""
    return Problem(status_code, f"oauth-{error.replace('_', '-')}", detail, error=error)


async def token_request(request: Request) -> TokenRequest:
    """The request as a form (``application/x-www-form-urlencoded``, as RFC 6749 has it) or as
    JSON; the credentials in the body or in HTTP Basic (``client_secret_basic``)."""
    raw = await request.body()
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    fields: dict[str, Any]
    try:
        if media == "application/x-www-form-urlencoded":
            parsed = parse_qs(raw.decode(), strict_parsing=bool(raw))
            fields = {k: v[0] for k, v in parsed.items() if len(v) == 1}
        elif media == "application/json" or media.endswith("+json"):
            fields = orjson.loads(raw) if raw else {}
        else:
            raise Problem(415, "unsupported-media-type", "Send a form or JSON body")
    except (ValueError, UnicodeDecodeError):
        raise _oauth_error(400, "invalid_request", "The body is not a form or JSON") from None
    if not isinstance(fields, dict):
        raise _oauth_error(400, "invalid_request", "The body is not an object")
    basic = request.headers.get("authorization", "")
    if basic[:6].lower() == "basic ":
        try:
            user, _, secret = base64.b64decode(basic[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _oauth_error(401, "invalid_client", "Malformed Basic credentials") from None
        fields = {**fields, "client_id": unquote(user), "client_secret": unquote(secret)}
    try:
        return TokenRequest.model_validate(
            {k: v for k, v in fields.items() if k in TokenRequest.model_fields}
        )
    except ValueError:
        raise _oauth_error(400, "invalid_request", "grant_type, client_id, client_secret") from None


_TOKEN_BODY = {
    "required": True,
    "content": {
        media: {"schema": TokenRequest.model_json_schema()}
        for media in ("application/x-www-form-urlencoded", "application/json")
    },
}


@router.post(
    "/oauth/token",
    response_model=TokenOut,
    openapi_extra={"requestBody": _TOKEN_BODY},
    tags=["machine clients"],
)
def token(
    request: Request,
    response: Response,
    body: Annotated[TokenRequest, Depends(token_request)],
) -> dict[str, Any]:
    """``grant_type=client_credentials`` with ``client_id`` and ``client_secret`` (in the body,
    or as HTTP Basic): a bearer token for 15 minutes (``expires_in``), no refresh token; ask
    again when it ends. Wrong credentials: 401 with ``error: invalid_client``."""
    services, address = services_of(request), client_address(request)
    if body.grant_type != "client_credentials":
        raise _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported")
    until = services.throttle.locked_until(address)
    if until is not None:
        raise Problem(429, "too-many-attempts", "Too many failed attempts from here")
    client_id = _uuid(body.client_id)
    if client_id is None or not body.client_secret or len(body.client_secret) > 200:
        services.throttle.failed(address)
        raise _oauth_error(401, "invalid_client", "Unknown client or wrong secret")
    try:
        issued = services.bus.answer(
            cmd.IssueClientToken(client_id, body.client_secret), cmd.ClientToken
        )
    except InvalidCredentials:
        services.throttle.failed(address)
        raise _oauth_error(401, "invalid_client", "Unknown client or wrong secret") from None
    response.headers["Cache-Control"] = "no-store"
    return {"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in}


def _uuid(value: str | None) -> UUID | None:
    try:
        return UUID(value) if value else None
    except ValueError:
        return None
