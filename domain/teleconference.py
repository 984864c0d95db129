"""A teleconference: an organiser (staff) and up to 20 invited participants, staff and/or
patients, each with their own invitation state; scheduled -> started -> ended, or cancelled.

No single patient owns it, so its events carry ids only, no personal field. Presence in the
room comes with the room; here who is invited and whether the call is on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.consultation import NotNow
from domain.errors import DomainError, InvalidValue
from domain.personal import RecordedCreation, RecordedEvent

MAX_PARTICIPANTS = 20
LONGEST = timedelta(hours=12)


class ParticipantKind(StrEnum):
    STAFF = "staff"  # by account id
    PATIENT = "patient"  # by patient record id


class Invitation(StrEnum):
    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REMOVED = "removed"


class ConferenceStatus(StrEnum):
    SCHEDULED = "scheduled"
    STARTED = "started"
    ENDED = "ended"
    CANCELLED = "cancelled"


class TeleconferenceFull(DomainError):
    """Twenty participants are invited already."""


class NotInvited(DomainError):
    """That person is not (or no longer) a participant."""


class ConferenceNotNow(NotNow):
    """A step the teleconference's state does not allow (409 with the state)."""


#: where invitations and responses may still change
_OPEN = frozenset({ConferenceStatus.SCHEDULED, ConferenceStatus.STARTED})


class Teleconference(Aggregate):
    """One call of many: who organises it, who is invited, and whether it is on."""

    class Scheduled(RecordedCreation):
        organiser_id: UUID
        organisation_id: UUID
        start: datetime
        end: datetime

    class Invited(RecordedEvent):
        participant_id: UUID
        kind: ParticipantKind

    class Removed(RecordedEvent):
        participant_id: UUID

    class Responded(RecordedEvent):
        participant_id: UUID
        accepted: bool

    class Started(RecordedEvent):
        at: datetime

    class Ended(RecordedEvent):
        at: datetime

    class Cancelled(RecordedEvent):
        at: datetime

    @classmethod
    def schedule(
        cls,
        *,
        organiser_id: UUID,
        organisation_id: UUID,
        start: datetime,
        end: datetime,
        participants: dict[UUID, ParticipantKind],
        by: Actor,
    ) -> Teleconference:
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidValue("times need a UTC offset")
        if not (start < end and end - start <= LONGEST):
            raise InvalidValue("a teleconference ends after it starts, within 12 hours")
        conference = cls(
            organiser_id=organiser_id,
            organisation_id=organisation_id,
            start=start,
            end=end,
            by=by,
        )
        for participant_id, kind in participants.items():
            conference.invite(participant_id, kind, by=by)
        return conference

    @event(Scheduled)
    def __init__(
        self,
        *,
        organiser_id: UUID,
        organisation_id: UUID,
        start: datetime,
        end: datetime,
        by: Actor,
    ) -> None:
        self.organiser_id, self.organisation_id = organiser_id, organisation_id
        self.start, self.end = start, end
        self.status = ConferenceStatus.SCHEDULED
        self.kinds: dict[UUID, ParticipantKind] = {}
        self.invitations: dict[UUID, Invitation] = {}
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None

    # -- what it is ----------------------------------------------------------------------------

    def participants(self) -> list[UUID]:
        """Those invited and not removed (whether they answered or not)."""
        return [p for p, state in self.invitations.items() if state is not Invitation.REMOVED]

    # -- invitations ---------------------------------------------------------------------------

    def invite(self, participant_id: UUID, kind: ParticipantKind, *, by: Actor) -> None:
        """Invite someone (again, after a removal); inviting a participant again changes
        nothing. The organiser is not a participant."""
        self._require_open()
        if participant_id == self.organiser_id:
            raise InvalidValue("the organiser is in the teleconference already")
        if participant_id in self.participants():
            return
        if len(self.participants()) >= MAX_PARTICIPANTS:
            raise TeleconferenceFull(f"at most {MAX_PARTICIPANTS} participants")
        self._invited(participant_id=participant_id, kind=ParticipantKind(kind), by=by)

    @event(Invited)
    def _invited(self, *, participant_id: UUID, kind: ParticipantKind, by: Actor) -> None:
        self.kinds[participant_id] = kind
        self.invitations[participant_id] = Invitation.INVITED

    def remove(self, participant_id: UUID, *, by: Actor) -> None:
        self._require_open()
        if participant_id not in self.participants():
            raise NotInvited(str(participant_id))
        self._removed(participant_id=participant_id, by=by)

    @event(Removed)
    def _removed(self, *, participant_id: UUID, by: Actor) -> None:
        self.invitations[participant_id] = Invitation.REMOVED

    def respond(self, participant_id: UUID, accepted: bool, *, by: Actor) -> None:
        """The participant accepts or declines (and may change their mind while it is on)."""
        self._require_open()
        if participant_id not in self.participants():
            raise NotInvited(str(participant_id))
        wanted = Invitation.ACCEPTED if accepted else Invitation.DECLINED
        if self.invitations[participant_id] is not wanted:
            self._responded(participant_id=participant_id, accepted=accepted, by=by)

    @event(Responded)
    def _responded(self, *, participant_id: UUID, accepted: bool, by: Actor) -> None:
        self.invitations[participant_id] = Invitation.ACCEPTED if accepted else Invitation.DECLINED

    # -- the call ------------------------------------------------------------------------------

    def begin(self, now: datetime, *, by: Actor) -> None:
        if self.status is ConferenceStatus.STARTED:
            return
        if self.status is not ConferenceStatus.SCHEDULED:
            raise ConferenceNotNow(self.status.value, "only a scheduled teleconference starts")
        self._started(at=now, by=by)

    @event(Started)
    def _started(self, *, at: datetime, by: Actor) -> None:
        self.status, self.started_at = ConferenceStatus.STARTED, at

    def finish(self, now: datetime, *, by: Actor) -> None:
        if self.status is ConferenceStatus.ENDED:
            return
        if self.status is not ConferenceStatus.STARTED:
            raise ConferenceNotNow(self.status.value, "only a teleconference on the air ends")
        self._ended(at=now, by=by)

    @event(Ended)
    def _ended(self, *, at: datetime, by: Actor) -> None:
        self.status, self.ended_at = ConferenceStatus.ENDED, at

    def cancel(self, now: datetime, *, by: Actor) -> None:
        if self.status is ConferenceStatus.CANCELLED:
            return
        if self.status is not ConferenceStatus.SCHEDULED:
            raise ConferenceNotNow(
                self.status.value, "only a teleconference not begun is cancelled"
            )
        self._cancelled(at=now, by=by)

    @event(Cancelled)
    def _cancelled(self, *, at: datetime, by: Actor) -> None:
        self.status, self.ended_at = ConferenceStatus.CANCELLED, at

    def _require_open(self) -> None:
        if self.status not in _OPEN:
            raise ConferenceNotNow(self.status.value, "the teleconference is over")
