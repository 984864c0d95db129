"""Delegation: a nurse or caregiver represents a patient under an explicit, scoped grant that
starts, may end, and can be revoked."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent


class Scope(StrEnum):
    BOOK = "book"
    ATTEND = "attend"
    READ_RECORDS = "read-records"
    UPLOAD = "upload"


class GrantRevoked(DomainError):
    """The grant was revoked already."""


class Grant(Aggregate):
    class Given(RecordedCreation):
        patient_id: UUID
        grantee_id: UUID
        scopes: list[Scope]
        starts_at: datetime
        ends_at: datetime | None

    class Revoked(RecordedEvent):
        pass

    @event(Given)
    def __init__(
        self,
        *,
        patient_id: UUID,
        grantee_id: UUID,
        scopes: list[Scope],
        starts_at: datetime,
        ends_at: datetime | None,
        by: Actor,
    ) -> None:
        self.patient_id, self.grantee_id = patient_id, grantee_id
        self.scopes = frozenset(Scope(s) for s in scopes)
        self.starts_at, self.ends_at = starts_at, ends_at
        self.revoked = False

    @classmethod
    def give(
        cls,
        patient_id: UUID,
        grantee_id: UUID,
        scopes: list[str],
        starts_at: datetime,
        ends_at: datetime | None,
        *,
        by: Actor,
    ) -> Grant:
        if not scopes:
            raise InvalidValue("a grant needs at least one scope")
        try:
            parsed = sorted({Scope(s) for s in scopes})
        except ValueError:
            raise InvalidValue(f"scopes are among {[s.value for s in Scope]}") from None
        if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
            raise InvalidValue("times need a UTC offset")
        if ends_at is not None and ends_at <= starts_at:
            raise InvalidValue("a grant ends after it starts")
        if grantee_id == patient_id:
            raise InvalidValue("a patient does not delegate to themself")
        return cls(
            patient_id=patient_id,
            grantee_id=grantee_id,
            scopes=parsed,
            starts_at=starts_at,
            ends_at=ends_at,
            by=by,
        )

    def revoke(self, *, by: Actor) -> None:
        if self.revoked:
            raise GrantRevoked(str(self.id))
        self._revoked(by=by)

    @event(Revoked)
    def _revoked(self, *, by: Actor) -> None:
        self.revoked = True

    def allows(self, scope: Scope, now: datetime) -> bool:
        in_force = self.starts_at <= now and (self.ends_at is None or now < self.ends_at)
        return not self.revoked and in_force and scope in self.scopes
