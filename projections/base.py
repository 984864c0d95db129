"""Projections: one small step per event type, applied to a view inside the runner's batch."""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from eventsourcing.persistence import Tracking

V = TypeVar("V")


class Projection(Generic[V]):
    """Maps events to view changes. ``name`` keys its tracking position; ``topics`` (optional)
    lets the runner skip the rest of the log cheaply."""

    name: ClassVar[str]
    topics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, view: V) -> None:
        self.view = view

    def start_batch(self) -> None:
        """Called by the runner before a batch's first event."""

    def end_batch(self) -> None:
        """Called by the runner after a batch's last event, in the batch's transaction."""

    def process_event(self, event: Any, tracking: Tracking) -> None:
        """Subclasses define this as a ``singledispatchmethod`` with one step per event type."""
        raise NotImplementedError
