"""What a command answers, and the ways it can be refused outside the domain's own rules."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Saved:
    """The aggregate a command changed, its new version, and the position of its last event
    in the notification log (None when the command changed nothing)."""

    aggregate_id: UUID
    version: int
    position: int | None


class NotFound(Exception):
    def __init__(self, kind: str, ident: UUID) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind, self.ident = kind, ident


class StaleVersion(Exception):
    """The client changed an older version than the current one (If-Match failed)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, current version is {actual}")
        self.expected, self.actual = expected, actual


class ConcurrencyConflict(Exception):
    """Another command changed the same record at the same moment; retrying may succeed."""


class IdempotencyConflict(Exception):
    """The idempotency key was already used for a different request."""


class IdempotentReplay(Exception):
    """The command was already applied under this idempotency key; here is its first result."""

    def __init__(self, saved: Saved) -> None:
        super().__init__("replayed")
        self.saved = saved
