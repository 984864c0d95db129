"""A practitioner's published signing keys: the public halves, with their validity, as events.

The private halves never enter the event store: the signer (``commands.ports.ProtocolSigner``)
keeps them wrapped. Publishing the public key as an event puts it under the audit hash chain, and
it outlives the practitioner's erasure or deactivation, so their signatures stay verifiable.
Deactivation and erasure retire the current key (``KeyRetired``: its validity ends, the public
half stays published) while the signer destroys the private half; a later signature by the same
practitioner would need a new key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor
from domain.personal import RecordedCreation, RecordedEvent


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    algorithm: str
    public_key: str
    valid_from: datetime
    valid_until: datetime | None = None

    def valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_until is None or moment < self.valid_until)


class PractitionerKeys(Aggregate):
    """The signing keys of one practitioner (one current key at a time)."""

    class Opened(RecordedCreation):
        practitioner_id: UUID

    class KeyPublished(RecordedEvent):
        key_id: str
        algorithm: str
        public_key: str
        valid_from: datetime

    class KeyRetired(RecordedEvent):
        key_id: str
        valid_until: datetime

    @staticmethod
    def create_id(practitioner_id: UUID) -> UUID:
        return uuid5(NAMESPACE_URL, f"/signing-keys/{practitioner_id}")

    @event(Opened)
    def __init__(self, *, practitioner_id: UUID, by: Actor) -> None:
        self.practitioner_id = practitioner_id
        self.keys: list[PublicKey] = []

    def current(self) -> PublicKey | None:
        """The key to sign with now: the newest, unless it was retired."""
        last = self.keys[-1] if self.keys else None
        return last if last is not None and last.valid_until is None else None

    def key(self, key_id: str) -> PublicKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def publish(
        self, key_id: str, algorithm: str, public_key: str, now: datetime, *, by: Actor
    ) -> None:
        """A new current key; the previous one stays valid for what it signed until now."""
        if self.key(key_id) is None:
            self._published(
                key_id=key_id, algorithm=algorithm, public_key=public_key, valid_from=now, by=by
            )

    @event(KeyPublished)
    def _published(
        self, *, key_id: str, algorithm: str, public_key: str, valid_from: datetime, by: Actor
    ) -> None:
        if self.current() is not None:
            self._close(valid_from)
        self.keys.append(PublicKey(key_id, algorithm, public_key, valid_from))

    def retire(self, now: datetime, *, by: Actor) -> PublicKey | None:
        """End the current key's validity now (the practitioner was deactivated or erased):
        what it signed before stays verifiable, nothing after. The retired key, if any."""
        current = self.current()
        if current is None:
            return None
        self._retired(key_id=current.key_id, valid_until=max(now, current.valid_from), by=by)
        return self.keys[-1]

    @event(KeyRetired)
    def _retired(self, *, key_id: str, valid_until: datetime, by: Actor) -> None:
        self._close(valid_until)

    def _close(self, valid_until: datetime) -> None:
        last = self.keys[-1]
        self.keys[-1] = PublicKey(
            last.key_id, last.algorithm, last.public_key, last.valid_from, valid_until
        )
