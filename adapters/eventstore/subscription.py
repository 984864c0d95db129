"""A subscription to the notification log that polls, and is woken in-process by each write."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from eventsourcing.persistence import ApplicationRecorder, Notification, Subscription

if TYPE_CHECKING:
    from adapters.eventstore.recorder import EventRecorder


class PollingSubscription(Subscription[ApplicationRecorder]):
    """Yields notifications after ``gt``, then waits for new ones (woken in-process)."""

    def __init__(self, recorder: EventRecorder, gt: int | None, topics: Sequence[str]) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._buffer: list[Notification] = []
        self._event = threading.Event()
        recorder.add_listener(lambda _last: self._event.set())

    def __next__(self) -> Notification:
        while not self._buffer:
            if self._has_been_stopped:
                raise StopIteration
            self._buffer = list(
                self._recorder.select_notifications(
                    self._last_notification_id, 500, topics=self._topics, inclusive_of_start=False
                )
            )
            if not self._buffer:
                self._event.wait(0.2)
                self._event.clear()
        notification = self._buffer.pop(0)
        self._last_notification_id = notification.id
        return notification
