"""What compliance officers replay: a record's timeline, and its state as of any moment; for a
patient's whole record, every stream of it (the record, its consultations, protocols,
prescriptions, lab orders, ...) merged in log order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from adapters.db import as_datetime
from adapters.eventstore.application import EventStoreApplication
from adapters.eventstore.recorder import EventRecorder
from domain.actor import Actor
from domain.personal import Erased
from projections.clinical_record import StreamRef


@dataclass(frozen=True)
class TimelineEntry:
    position: int
    version: int
    event_type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor | None
    data: dict[str, Any]
    aggregate_id: UUID | None = None
    aggregate_type: str | None = None


def plain(value: Any) -> Any:
    """A JSON-friendly rendering; erased personal fields become the marker ``"<erased>"``."""
    if isinstance(value, Erased):
        return "<erased>"
    if isinstance(value, UUID | datetime | date):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, set | frozenset | list | tuple):
        return sorted((plain(v) for v in value), key=str)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Actor):
        return value.as_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in asdict(value).items()}
    return value


class Replay:
    def __init__(self, app: EventStoreApplication, recorder: EventRecorder) -> None:
        self.app, self.recorder = app, recorder

    def timeline(self, aggregate_id: UUID) -> list[TimelineEntry]:
        """One stream's events, oldest first, each naming its aggregate and type."""
        entries = []
        for stored, position, recorded_at in self.recorder.select_events_with_time(aggregate_id):
            event = self.app.mapper.to_domain_event(stored)
            state = dict(vars(event))
            for key in ("originator_id", "originator_version", "timestamp", "originator_topic"):
                state.pop(key, None)
            actor = state.pop("by", None)
            entries.append(
                TimelineEntry(
                    position=position,
                    version=stored.originator_version,
                    event_type=type(event).__qualname__,
                    occurred_at=event.timestamp,  # type: ignore[attr-defined]
                    recorded_at=as_datetime(recorded_at),
                    actor=actor if isinstance(actor, Actor) else None,
                    data={k: plain(v) for k, v in state.items()},
                    aggregate_id=aggregate_id,
                    aggregate_type=type(event).__qualname__.split(".")[0],
                )
            )
        return entries

    def record_timeline(self, streams: Iterable[StreamRef]) -> list[TimelineEntry]:
        """The events of every stream of a record, merged in log position order."""
        merged = [e for ref in streams for e in self.timeline(ref.aggregate_id)]
        return sorted(merged, key=lambda e: e.position)

    def record_as_of(
        self, streams: Iterable[StreamRef], moment: datetime
    ) -> list[tuple[StreamRef, Aggregate | None]]:
        """Each stream's aggregate as it was at ``moment`` (None: not yet there)."""
        return [(ref, self.as_of(ref.aggregate_id, moment)) for ref in streams]

    def as_of(self, aggregate_id: UUID, moment: datetime) -> Aggregate | None:
        """The aggregate as it was at ``moment`` (None if it did not exist yet)."""
        version = None
        for stored in self.recorder.select_events(aggregate_id):
            event = self.app.mapper.to_domain_event(stored)
            if event.timestamp > moment:  # type: ignore[attr-defined]
                break
            version = stored.originator_version
        if version is None:
            return None
        aggregate: Aggregate = self.app.repository.get(aggregate_id, version=version)
        return aggregate
