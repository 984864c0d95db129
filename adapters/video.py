"""What the video infrastructure gets from us (BRIEF D2, D3, D4): join tokens, TURN REST
credentials and LiveKit access tokens, all bounded by the room's window and naming a
participant only by a per-room pseudonym (a keyed HMAC of room and person: the same person is
someone else in every room; no name, no email).

- Join token: a JWT (HS256, PyJWT) with ``iss``/``aud``, ``sub`` = the pseudonym, ``room`` =
  the room's address, ``role`` and its ``grants``, ``nbf`` = now and ``exp`` = the earlier of
  now + ``token_minutes`` and the room's close (end + grace): never beyond it.
- TURN (coturn ``use-auth-secret``, the TURN REST API draft): username ``expiry:pseudonym``,
  password base64(HMAC-SHA1(secret, username)), expiring after ``turn_minutes`` (or the room's
  close, if earlier).
- LiveKit: an ``AccessToken`` of ``livekit-api`` with identity = the pseudonym, room = the
  room's address, grants by role, TTL up to the room's close.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import jwt
from livekit.api import AccessToken, VideoGrants

ISSUER = "telemed"
AUDIENCE = "telemed-room"
ALGORITHM = "HS256"


class Role(StrEnum):
    HOST = "host"  # the clinician: publishes, subscribes, may remove others
    GUEST = "guest"  # the patient's side: publishes and subscribes
    OBSERVER = "observer"  # staff who watch: subscribe only


GRANTS: dict[Role, dict[str, bool]] = {
    Role.HOST: {"publish": True, "subscribe": True, "moderate": True},
    Role.GUEST: {"publish": True, "subscribe": True, "moderate": False},
    Role.OBSERVER: {"publish": False, "subscribe": True, "moderate": False},
}


@dataclass(frozen=True)
class JoinClaims:
    pseudonym: str
    address: str
    role: Role
    not_before: datetime
    expires: datetime


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    password: str
    ttl_seconds: int
    uris: tuple[str, ...]


class InvalidJoinToken(Exception):
    """A join token that is forged, expired, not yet valid or for another room."""


class VideoCredentials:
    def __init__(
        self,
        *,
        token_key: bytes,
        pseudonym_key: bytes,
        turn_secret: str,
        turn_uris: tuple[str, ...],
        turn_minutes: int,
        token_minutes: int,
        livekit_url: str,
        livekit_api_key: str,
        livekit_api_secret: str,
    ) -> None:
        self._token_key, self._pseudonym_key = token_key, pseudonym_key
        self._turn_secret = turn_secret.encode()
        self.turn_uris, self.turn_minutes = turn_uris, turn_minutes
        self.token_minutes = token_minutes
        self.livekit_url = livekit_url
        self._livekit_key, self._livekit_secret = livekit_api_key, livekit_api_secret

    def pseudonym(self, room_id: UUID, person_id: UUID) -> str:
        """The person's id in this room only (keyed: nobody without the key links two)."""
        message = f"room-participant\x00{room_id}\x00{person_id}".encode()
        return "p" + hmac.new(self._pseudonym_key, message, hashlib.sha256).hexdigest()[:32]

    def _until(self, now: datetime, closes: datetime, minutes: int) -> datetime:
        return min(now + timedelta(minutes=minutes), closes)

    # -- our join token ------------------------------------------------------------------------
    def join_token(
        self, *, address: str, pseudonym: str, role: Role, now: datetime, closes: datetime
    ) -> tuple[str, datetime]:
        expires = self._until(now, closes, self.token_minutes)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": pseudonym,
            "room": address,
            "role": role.value,
            "grants": GRANTS[role],
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        return jwt.encode(claims, self._token_key, algorithm=ALGORITHM), expires

    def verify_join_token(self, token: str, address: str, now: datetime) -> JoinClaims:
        """The token's claims if we signed it for ``address`` and it is valid at ``now`` (no
        leeway)."""
        try:
            claims = jwt.decode(
                token,
                self._token_key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # the times are checked below against ``now`` (the clock commands act at)
                options={
                    "require": ["exp", "nbf", "sub", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidJoinToken(str(exc)) from None
        stamp = now.timestamp()
        if claims.get("room") != address:
            raise InvalidJoinToken("the token is for another room")
        if not int(claims["nbf"]) <= stamp < int(claims["exp"]):
            raise InvalidJoinToken("the token is expired or not valid yet")
        try:
            role = Role(claims["role"])
        except (KeyError, ValueError):
            raise InvalidJoinToken("the token has no valid role") from None
        return JoinClaims(
            pseudonym=str(claims["sub"]),
            address=address,
            role=role,
            not_before=datetime.fromtimestamp(int(claims["nbf"]), now.tzinfo),
            expires=datetime.fromtimestamp(int(claims["exp"]), now.tzinfo),
        )

    # -- TURN REST credentials -----------------------------------------------------------------
    def turn_credentials(self, pseudonym: str, now: datetime, closes: datetime) -> TurnCredentials:
        expires = self._until(now, closes, self.turn_minutes)
        username = f"{int(expires.timestamp())}:{pseudonym}"
        return TurnCredentials(
            username=username,
            password=turn_password(self._turn_secret, username),
            ttl_seconds=max(0, int((expires - now).total_seconds())),
            uris=self.turn_uris,
        )

    # -- LiveKit -------------------------------------------------------------------------------
    def livekit_token(
        self, *, address: str, pseudonym: str, role: Role, now: datetime, closes: datetime
    ) -> tuple[str, int]:
        """A LiveKit access token and its TTL in seconds (up to the room's close)."""
        ttl = self._until(now, closes, self.token_minutes) - now
        grants = VideoGrants(
            room_join=True,
            room=address,
            can_publish=GRANTS[role]["publish"],
            can_publish_data=GRANTS[role]["publish"],
            can_subscribe=GRANTS[role]["subscribe"],
            room_admin=GRANTS[role]["moderate"],
        )
        token = (
            AccessToken(self._livekit_key, self._livekit_secret)
            .with_identity(pseudonym)
            .with_grants(grants)
            .with_ttl(ttl)
            .to_jwt()
        )
        return token, int(ttl.total_seconds())


def turn_password(secret: bytes, username: str) -> str:
    """coturn's ``use-auth-secret``: base64(HMAC-SHA1(secret, username))."""
    return base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()
