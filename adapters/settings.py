"""All configuration, from ``TELEMED_*`` environment variables, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal


def _env(name: str, default: str) -> str:
    return os.environ.get(f"TELEMED_{name}", default)


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
    #: outgoing mail (password resets, invitations); links point at ``public_url``
    smtp_host: str = field(default_factory=lambda: _env("SMTP_HOST", "127.0.0.1"))
    smtp_port: int = field(default_factory=lambda: int(_env("SMTP_PORT", "25")))
    mail_from: str = field(
        default_factory=lambda: _env("MAIL_FROM", "Telemed <no-reply@telemed.local>")
    )
    public_url: str = field(default_factory=lambda: _env("PUBLIC_URL", "http://127.0.0.1:8000"))
    #: Kafka bootstrap servers for the analysts' stream (``host:port,...``); empty: no stream
    kafka_bootstrap: str = field(default_factory=lambda: _env("KAFKA_BOOTSTRAP", ""))
    kafka_partitions: int = field(default_factory=lambda: int(_env("KAFKA_PARTITIONS", "6")))
    #: check every outgoing message against its JSON Schema (the tests always do)
    stream_validate: bool = field(
        default_factory=lambda: _env("STREAM_VALIDATE", "false").lower() in ("1", "true", "yes")
    )
    #: prepended to every topic name (e.g. ``staging.``), for clusters shared by environments
    kafka_topic_prefix: str = field(default_factory=lambda: _env("KAFKA_TOPIC_PREFIX", ""))

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))
