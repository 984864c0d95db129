"""The stream contract's adapters: keyed pseudonyms and the JSON Schemas of the messages."""

from __future__ import annotations

import hashlib
import hmac
from functools import cache
from importlib import resources
from typing import Any
from uuid import UUID

import orjson
from jsonschema import Draft202012Validator, FormatChecker

from projections.stream_contract import IntegrationEvent


class Pseudonyms:
    """``kind_<32 hex>``: a keyed HMAC of an internal id, stable, not reversible without the
    analytics key (which never leaves the service)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[tuple[str, UUID], str] = {}

    def __call__(self, kind: str, ident: UUID) -> str:
        found = self._cache.get((kind, ident))
        if found is None:
            digest = hmac.new(self._key, f"{kind}:{ident}".encode(), hashlib.sha256).hexdigest()
            found = f"{kind}_{digest[:32]}"
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[(kind, ident)] = found
        return found


SCHEMA_FOLDER = resources.files("adapters.stream").joinpath("schemas")


@cache
def validator(event_type: str, version: int) -> Draft202012Validator:
    schema = orjson.loads(SCHEMA_FOLDER.joinpath(f"{event_type}.v{version}.json").read_bytes())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def schema_files() -> list[str]:
    return sorted(f.name for f in SCHEMA_FOLDER.iterdir() if f.name.endswith(".json"))


class ContractViolation(Exception):
    """A message that does not match its published schema (a bug: it is never sent)."""


def validate(event_type: str, version: int, body: dict[str, Any]) -> None:
    errors = sorted(validator(event_type, version).iter_errors(body), key=str)
    if errors:
        raise ContractViolation(f"{event_type} v{version}: {errors[0].message}")


def encode(event: IntegrationEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of the Kafka message."""
    headers = [
        ("event_id", str(event.event_id).encode()),
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("content_type", b"application/json"),
    ]
    return event.key.encode(), orjson.dumps(event.body), headers
