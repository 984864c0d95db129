"""Personal data in events: which fields are personal, whose they are, and what erasure leaves.

The domain only *declares* personal fields; the event store's mapper encrypts them with the data
subject's own key on the way out and decrypts them (or yields ``ERASED``) on the way back.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.errors import InvalidValue

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Erased(str):
    """The value of a personal field whose subject key was destroyed (crypto-shredded)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ERASED"


ERASED = Erased("")


def normalise_email(email: str) -> str:
    """The form an email address is kept, compared and indexed in."""
    value = email.strip().lower()
    if not _EMAIL.match(value):
        raise InvalidValue("email address is not valid")
    return value


def normalise_name(*parts: str) -> str:
    """The form names are searched by: case-folded, single-spaced."""
    return " ".join(" ".join(parts).casefold().split())


class RecordedEvent(Aggregate.Event):
    """Base of every event: who caused it travels with the fact."""

    by: Actor

    #: names of the attributes that hold personal data (encrypted at rest)
    personal_fields: ClassVar[tuple[str, ...]] = ()
    #: name of the attribute that holds the id of the data subject who owns those fields
    subject_field: ClassVar[str] = "originator_id"

    def subject_id(self) -> UUID:
        value: Any = getattr(self, self.subject_field)
        return value if isinstance(value, UUID) else UUID(str(value))


class RecordedCreation(Aggregate.Created, RecordedEvent):
    """Base of every creation event."""
