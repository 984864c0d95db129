"""The mapper that keeps personal data out of the event store.

On the way out, every field an event declares personal is encrypted with the data subject's own
key (associated data binds subject and field). On the way back it is decrypted, or becomes
``ERASED`` when the key was destroyed. Decryption happens before upcasting, so the library's
upcasters (``class_version`` and ``upcast_vX_vY``) see clear values and keep working.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import resolve_topic

from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.eventstore.transcoder import Sealed
from domain.personal import ERASED, RecordedEvent


class PersonalDataMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, keys: SubjectKeys) -> None:
        super().__init__(transcoder=transcoder)
        self.keys = keys

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if not (isinstance(domain_event, RecordedEvent) and domain_event.personal_fields):
            return super().to_stored_event(domain_event)
        cls = type(domain_event)
        subject_id = domain_event.subject_id()
        key = self.keys.require(subject_id)
        state = dict(vars(domain_event))
        for name in cls.personal_fields:
            plaintext = self.transcoder.encode({"v": state[name]})
            state[name] = Sealed(seal(key, plaintext, field_context(subject_id, name)))
        sealed_event = object.__new__(cls)
        object.__setattr__(sealed_event, "__dict__", state)
        return super().to_stored_event(sealed_event)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Decrypt first, then upcast: upcasters see the clear (or ERASED) values."""
        cls = resolve_topic(stored_event.topic)
        try:
            state: dict[str, Any] = self.transcoder.decode(stored_event.state)
        except Exception as exc:
            raise MapperDeserialisationError(
                f"cannot decode event {stored_event.originator_id}"
                f"@{stored_event.originator_version}: {exc}"
            ) from exc
        state["originator_id"] = UUID(str(stored_event.originator_id))
        state["originator_version"] = stored_event.originator_version
        sealed = [name for name, value in state.items() if isinstance(value, Sealed)]
        if sealed:
            subject_field = getattr(cls, "subject_field", "originator_id")
            subject_id = UUID(str(state[subject_field]))
            key = self.keys.get(subject_id)
            for name in sealed:
                if key is None:
                    state[name] = ERASED
                    continue
                plaintext = open_sealed(
                    key, state[name].ciphertext, field_context(subject_id, name)
                )
                state[name] = self.transcoder.decode(plaintext)["v"]
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return cast(DomainEventProtocol[UUID], domain_event)
