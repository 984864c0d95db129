"""All configuration, from ``TELEMED_*`` environment variables, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal


def _env(name: str, default: str) -> str:
    return os.environ.get(f"TELEMED_{name}", default)


def _mail_delivery() -> Literal["file", "smtp"]:
    value = _env("MAIL", "file").strip().lower()
    if value == "file":
        return "file"
    if value == "smtp":
        return "smtp"
    raise ValueError(f"TELEMED_MAIL is {value!r}: 'file' (development) or 'smtp'")


Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (``10.0.0.0/8, fd00::/8``); a typo stops the start-up."""
    return tuple(ip_network(part.strip()) for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    #: ``sqlite:///path`` (embedded default) or ``postgresql://...``
    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "sqlite:///var/telemed.db")
    )
    #: the master keyring file (created with mode 0600 on first run)
    keyring_path: Path = field(
        default_factory=lambda: Path(_env("KEYRING", "var/keys/keyring.json"))
    )
    #: ``inprocess``: the API process runs the projections; ``external``: ``telemed project`` does
    projections: Literal["inprocess", "external"] = field(
        default_factory=lambda: (
            "external" if _env("PROJECTIONS", "inprocess") == "external" else "inprocess"
        )
    )
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "8000")))
    #: how long a query that passes a position waits for the read model to catch up
    read_wait_seconds: float = field(default_factory=lambda: float(_env("READ_WAIT_SECONDS", "5")))
    #: the load balancers whose ``X-Forwarded-For`` names the client (comma-separated CIDRs)
    trusted_proxies: tuple[Network, ...] = field(
        default_factory=lambda: parse_networks(_env("TRUSTED_PROXIES", ""))
    )
    max_body_bytes: int = field(default_factory=lambda: int(_env("MAX_BODY_BYTES", "1048576")))
    pool_size: int = field(default_factory=lambda: int(_env("POOL_SIZE", "20")))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO"))
    #: how many days ahead the availability read model holds free slots
    availability_days: int = field(default_factory=lambda: int(_env("AVAILABILITY_DAYS", "90")))
    #: how often the worker re-reads linked calendars and rolls the availability horizon
    calendar_sync_seconds: float = field(
        default_factory=lambda: float(_env("CALENDAR_SYNC_SECONDS", "300"))
    )
    #: outgoing mail (password resets, invitations): ``file`` (the embedded default, for
    #: development only) writes one .eml file per message into ``mail_dir``; ``smtp`` sends
    #: through the relay at ``smtp_host``:``smtp_port``
    mail: Literal["file", "smtp"] = field(default_factory=lambda: _mail_delivery())
    mail_dir: Path = field(default_factory=lambda: Path(_env("MAIL_DIR", "var/mail")))
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", "127.0.0.1"))
    smtp_port: int = field(default_factory=lambda: int(_env("SMTP_PORT", "25")))
    mail_from: str = field(
        default_factory=lambda: _env("MAIL_FROM", "Telemed <no-reply@telemed.local>")
    )
    #: base of the links in mail; empty: ``http://{host}:{port}``, where ``serve`` listens
    public_url: str = field(default_factory=lambda: _env("PUBLIC_URL", ""))
    #: Kafka bootstrap servers for the analysts' stream (``host:port,...``); empty: no stream
    kafka_bootstrap: str = field(default_factory=lambda: _env("KAFKA_BOOTSTRAP", ""))
    kafka_partitions: int = field(default_factory=lambda: int(_env("KAFKA_PARTITIONS", "6")))
    #: check every outgoing message against its JSON Schema (the tests always do)
    stream_validate: bool = field(
        default_factory=lambda: _env("STREAM_VALIDATE", "false").lower() in ("1", "true", "yes")
    )
    #: prepended to every topic name (e.g. ``staging.``), for clusters shared by environments
    kafka_topic_prefix: str = field(default_factory=lambda: _env("KAFKA_TOPIC_PREFIX", ""))

    #: the folder of signed checkpoints of the audit chains (one file each, never overwritten);
    #: empty: ``checkpoints/`` beside the keyring. Keep it out of the database admins' reach:
    #: append-only (``chattr +a``), or storage on another host
    checkpoint_dir: Path | None = field(
        default_factory=lambda: Path(p) if (p := _env("CHECKPOINT_DIR", "")) else None
    )
    #: how often workers sign a checkpoint of the chain heads: the window no checkpoint covers
    checkpoint_seconds: float = field(
        default_factory=lambda: float(_env("CHECKPOINT_SECONDS", "10"))
    )
    #: the Ed25519 checkpoint signing key; empty: ``checkpoint-signing.key`` beside the keyring
    signing_key_path: Path | None = field(
        default_factory=lambda: Path(p) if (p := _env("SIGNING_KEY", "")) else None
    )

    #: video rooms: the key that signs join tokens (empty: derived from the master keyring,
    #: so that every replica sharing the keyring agrees)
    room_token_key: str = field(default_factory=lambda: _env("ROOM_TOKEN_KEY", ""))
    #: how long a join token or a LiveKit token lives at most (and never past the room's close)
    room_token_minutes: int = field(default_factory=lambda: int(_env("ROOM_TOKEN_MINUTES", "60")))
    #: coturn's ``static-auth-secret`` (``use-auth-secret``); empty: derived from the keyring,
    #: for development only (a TURN server must be given the same secret)
    turn_secret: str = field(default_factory=lambda: _env("TURN_SECRET", ""))
    #: the TURN URIs handed to clients (comma-separated, ``turn:host:3478?transport=udp``)
    turn_uris: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            u.strip() for u in _env("TURN_URIS", "").split(",") if u.strip()
        )
    )
    #: how long TURN credentials live (refreshed through the API while the room is open)
    turn_minutes: int = field(default_factory=lambda: int(_env("TURN_MINUTES", "10")))
    #: the LiveKit server for SFU rooms, and its API key and secret (empty secret: derived
    #: from the keyring, for development only)
    livekit_url: str = field(default_factory=lambda: _env("LIVEKIT_URL", ""))
    livekit_api_key: str = field(default_factory=lambda: _env("LIVEKIT_API_KEY", "telemed"))
    livekit_api_secret: str = field(default_factory=lambda: _env("LIVEKIT_API_SECRET", ""))

    @property
    def checkpoint_folder(self) -> Path:
        return self.checkpoint_dir or self.keyring_path.with_name("checkpoints")

    @property
    def signing_key_file(self) -> Path:
        return self.signing_key_path or self.keyring_path.with_name("checkpoint-signing.key")

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))
