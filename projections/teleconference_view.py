"""Teleconferences as their organiser and participants read them (``GET
/v1/teleconferences/{id}``): the call's state and each participant's invitation state, from the
teleconference's events. Routes also authorize from it (who organises, who is invited)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.teleconference import ConferenceStatus, Invitation, Teleconference
from projections.base import Projection


@dataclass(frozen=True)
class ParticipantRow:
    participant_id: UUID
    kind: str
    invitation: str


@dataclass(frozen=True)
class TeleconferenceRow:
    teleconference_id: UUID
    version: int
    organiser_id: UUID
    organisation_id: UUID
    start_at: datetime
    end_at: datetime
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    participants: tuple[ParticipantRow, ...] = ()


class TeleconferenceViewWriter(Protocol):
    def scheduled(self, row: TeleconferenceRow) -> None: ...

    def changed(self, teleconference_id: UUID, version: int, **fields: Any) -> None: ...

    def invitation(
        self,
        teleconference_id: UUID,
        version: int,
        participant_id: UUID,
        kind: str | None,
        state: str,
    ) -> None:
        """Set a participant's invitation state (``kind``: None keeps the one recorded)."""


class Teleconferences(Protocol):
    """What routes ask of the view."""

    def get(self, teleconference_id: UUID) -> TeleconferenceRow | None: ...


class TeleconferenceViewProjection(Projection[TeleconferenceViewWriter]):
    name = "teleconference_view"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Teleconference.Scheduled,
            Teleconference.Invited,
            Teleconference.Removed,
            Teleconference.Responded,
            Teleconference.Started,
            Teleconference.Ended,
            Teleconference.Cancelled,
        )
    )

    @singledispatchmethod
    def process_event(self, event: object, tracking: Tracking) -> None:
        """Other events do not change a teleconference."""

    @process_event.register
    def _(self, event: Teleconference.Scheduled, tracking: Tracking) -> None:
        self.view.scheduled(
            TeleconferenceRow(
                teleconference_id=event.originator_id,
                version=event.originator_version,
                organiser_id=event.organiser_id,
                organisation_id=event.organisation_id,
                start_at=event.start,
                end_at=event.end,
                status=ConferenceStatus.SCHEDULED.value,
                started_at=None,
                ended_at=None,
            )
        )

    @process_event.register
    def _(self, event: Teleconference.Invited, tracking: Tracking) -> None:
        self.view.invitation(
            event.originator_id,
            event.originator_version,
            event.participant_id,
            str(event.kind),
            Invitation.INVITED.value,
        )

    @process_event.register
    def _(self, event: Teleconference.Removed, tracking: Tracking) -> None:
        self.view.invitation(
            event.originator_id,
            event.originator_version,
            event.participant_id,
            None,
            Invitation.REMOVED.value,
        )

    @process_event.register
    def _(self, event: Teleconference.Responded, tracking: Tracking) -> None:
        state = Invitation.ACCEPTED if event.accepted else Invitation.DECLINED
        self.view.invitation(
            event.originator_id, event.originator_version, event.participant_id, None, state.value
        )

    @process_event.register
    def _(self, event: Teleconference.Started, tracking: Tracking) -> None:
        self.view.changed(
            event.originator_id,
            event.originator_version,
            status=ConferenceStatus.STARTED.value,
            started_at=event.at,
        )

    @process_event.register
    def _(self, event: Teleconference.Ended, tracking: Tracking) -> None:
        self.view.changed(
            event.originator_id,
            event.originator_version,
            status=ConferenceStatus.ENDED.value,
            ended_at=event.at,
        )

    @process_event.register
    def _(self, event: Teleconference.Cancelled, tracking: Tracking) -> None:
        self.view.changed(
            event.originator_id,
            event.originator_version,
            status=ConferenceStatus.CANCELLED.value,
            ended_at=event.at,
        )
