"""orjson transcoding of event state, with tagged values for the types JSON does not have."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Transcoder
from eventsourcing.utils import get_topic, resolve_topic

from domain.actor import Actor


@dataclass(frozen=True)
class Sealed:
    """An encrypted personal field as it sits in the stored event."""

    ciphertext: bytes


def _encode(value: Any) -> Any:
    # order matters: bool/int/str are JSON-native, but StrEnum is a str and datetime a date
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, Enum):
        return {"_type_": "enum", "_data_": [get_topic(type(value)), value.value]}
    if isinstance(value, UUID):
        return {"_type_": "uuid", "_data_": value.hex}
    if isinstance(value, datetime):
        return {"_type_": "datetime", "_data_": value.isoformat()}
    if isinstance(value, date):
        return {"_type_": "date", "_data_": value.isoformat()}
    if isinstance(value, Decimal):
        return {"_type_": "decimal", "_data_": str(value)}
    if isinstance(value, Actor):
        return {"_type_": "actor", "_data_": value.as_dict()}
    if isinstance(value, Sealed):
        return {"_type_": "sealed", "_data_": base64.b64encode(value.ciphertext).decode()}
    if isinstance(value, set | frozenset):
        return {"_type_": "set", "_data_": [_encode(v) for v in sorted(value, key=str)]}
    if isinstance(value, str):  # other str subclasses (e.g. Erased) are stored as plain text
        return str(value)
    raise TypeError(f"cannot transcode {type(value).__name__}")


_DECODERS: dict[str, Any] = {
    "uuid": lambda d: UUID(hex=d),
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "decimal": Decimal,
    "actor": Actor.from_dict,
    "sealed": lambda d: Sealed(base64.b64decode(d)),
    "enum": lambda d: resolve_topic(d[0])(d[1]),
}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("_type_")
        if kind is not None and len(value) == 2 and "_data_" in value:
            if kind == "set":
                return {_decode(v) for v in value["_data_"]}
            return _DECODERS[kind](value["_data_"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class OrjsonTranscoder(Transcoder):
    """Fast JSON via orjson; round-trips UUID, datetime, date, Decimal, Enum, Actor, Sealed."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(_encode(obj))

    def decode(self, data: bytes) -> Any:
        return _decode(orjson.loads(data))
