"""Who caused a change: recorded in every event, so the store is the audit trail of writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID, uuid4


class Role(StrEnum):
    PATIENT = "patient"
    DOCTOR = "doctor"
    ASSISTANT = "assistant"
    NURSE = "nurse"
    NURSE_MANAGER = "nurse-manager"
    ORG_ADMIN = "org-admin"
    COMPLIANCE_OFFICER = "compliance-officer"
    ANALYST = "analyst"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """The person (or system) acting, in which role, for which organisation, for whom."""

    actor_id: UUID
    role: Role
    organisation_id: UUID | None = None
    on_behalf_of: UUID | None = None
    correlation_id: UUID = field(default_factory=uuid4)

    def acting_for(self, subject_id: UUID) -> Actor:
        return Actor(
            self.actor_id, self.role, self.organisation_id, subject_id, self.correlation_id
        )

    def as_dict(self) -> dict[str, str | None]:
        return {
            "actor_id": str(self.actor_id),
            "role": self.role.value,
            "organisation_id": str(self.organisation_id) if self.organisation_id else None,
            "on_behalf_of": str(self.on_behalf_of) if self.on_behalf_of else None,
            "correlation_id": str(self.correlation_id),
        }

    @classmethod
    def from_dict(cls, data: dict[str, str | None]) -> Actor:
        def opt(key: str) -> UUID | None:
            value = data.get(key)
            return UUID(value) if value else None

        return cls(
            actor_id=UUID(str(data["actor_id"])),
            role=Role(str(data["role"])),
            organisation_id=opt("organisation_id"),
            on_behalf_of=opt("on_behalf_of"),
            correlation_id=UUID(str(data["correlation_id"])),
        )


SYSTEM_ACTOR_ID = UUID(int=0)


def system_actor() -> Actor:
    return Actor(SYSTEM_ACTOR_ID, Role.SYSTEM)
