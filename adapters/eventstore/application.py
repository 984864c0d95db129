"""The eventsourcing ``Application`` wired to our recorder and mapper, and its unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    Mapper,
    Transcoder,
)
from eventsourcing.utils import Environment

from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Cursor, IntegrityConflict, as_uuid
from adapters.eventstore.mapper import PersonalDataMapper
from adapters.eventstore.recorder import EventRecorder, RowWriter
from adapters.eventstore.transcoder import OrjsonTranscoder
from commands.bus import REQUEST_CLAIM, IdempotencyClaim
from commands.results import (
    ConcurrencyConflict,
    IdempotencyConflict,
    IdempotentReplay,
    NotFound,
    Saved,
)

A = TypeVar("A", bound=Aggregate)


class EventStoreApplication(Application[UUID]):
    """The library's application object, over our recorder (SQLite or PostgreSQL) and mapper."""

    name = "telemed"

    def __init__(self, recorder: EventRecorder, keys: SubjectKeys) -> None:
        self._our_recorder = recorder
        self._keys = keys
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.popo",
                # loaded aggregates are cached and fast-forwarded from the store on every get, so a
                # command never acts on a stale copy and rarely replays a whole history
                "AGGREGATE_CACHE_MAXSIZE": "20000",
                "AGGREGATE_CACHE_FASTFORWARD": "y",
            }
        )

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        return InfrastructureFactory.construct(env)

    def construct_transcoder(self) -> Transcoder:
        return OrjsonTranscoder()

    def construct_mapper(self) -> Mapper[UUID]:
        return PersonalDataMapper(self.construct_transcoder(), self._keys)

    def construct_recorder(self) -> ApplicationRecorder:
        return self._our_recorder


class UnitOfWork:
    """One command: loads through the repository, saves once, with keys and idempotency."""

    def __init__(self, app: EventStoreApplication, keys: SubjectKeys) -> None:
        self._app, self._keys = app, keys
        self._before: list[RowWriter] = []
        self._after: list[RowWriter] = []
        self._new_subjects: list[UUID] = []
        self._erased_subjects: list[UUID] = []
        self._claim: IdempotencyClaim | None = None
        self._loaded: dict[UUID, Aggregate] = {}
        self._reserved = False  # the claim's row exists already (reserved by the HTTP edge)

    def get(self, cls: type[A], aggregate_id: UUID) -> A:
        """Load once per unit of work: a second get answers the same object, so one command
        that reaches an aggregate twice (two bookings on one doctor's day) changes one copy."""
        aggregate = self._loaded.get(aggregate_id)
        if aggregate is None:
            try:
                aggregate = self._app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                raise NotFound(cls.__name__, aggregate_id) from None
            self._loaded[aggregate_id] = aggregate
        if not isinstance(aggregate, cls):
            raise NotFound(cls.__name__, aggregate_id)
        return aggregate

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self.get(cls, aggregate_id)
        except NotFound:
            return None

    def ensure_subject(self, subject_id: UUID) -> None:
        if subject_id not in self._new_subjects and not self._keys.exists(subject_id):
            self.add_subject(subject_id)

    def find_existing(self, cls: type[A], aggregate_ids: Sequence[UUID]) -> list[A]:
        """The aggregates among ``aggregate_ids`` that exist, in that order; one query learns
        which do, so asking for many absent ones is cheap."""
        if not aggregate_ids:
            return []
        marks = ", ".join(["%s"] * len(aggregate_ids))
        with self._app.recorder.db.transaction(write=False) as cur:  # type: ignore[attr-defined]
            cur.execute(
                "SELECT DISTINCT originator_id FROM stored_events "
                f"WHERE originator_id IN ({marks})",
                list(aggregate_ids),
            )
            present = {as_uuid(r[0]) for r in cur.fetchall()}
        return [
            found
            for aggregate_id in aggregate_ids
            if aggregate_id in present and (found := self.find(cls, aggregate_id)) is not None
        ]

    def attach(self, effect: object) -> None:
        assert callable(effect)
        self._after.append(effect)

    def add_subject(self, subject_id: UUID) -> None:
        self._after.append(self._keys.new_key(subject_id))
        self._new_subjects.append(subject_id)

    def erase_subject(self, subject_id: UUID) -> None:
        self._after.append(self._keys.destroy(subject_id))
        self._erased_subjects.append(subject_id)

    def claim(self, claim: IdempotencyClaim) -> None:
        existing = find_idempotent(self._app.recorder, claim)
        if isinstance(existing, Saved):
            raise IdempotentReplay(existing)
        self._claim, self._reserved = claim, existing is RESERVED

    def save(self, *aggregates: Aggregate) -> Saved:
        first = aggregates[0]
        pending = [e for a in aggregates for e in a.collect_events()]
        version = first.version
        before = list(self._before)
        request = REQUEST_CLAIM.get()
        if self._claim is None and request is not None and not request.bound:
            self._claim, self._reserved = request.claim, True  # a commit outside the bus
        if self._claim is not None:
            record = _bind_claim if self._reserved else _record_claim
            before.insert(0, record(self._claim, first.id, version))
        after = [*self._after, *(_forget_claims(s, self._claim) for s in self._erased_subjects)]
        try:
            stored = [self._app.mapper.to_stored_event(e) for e in pending]
            positions = self._app.recorder.insert_events(stored, before=before, after=after) or []
        except IntegrityError as exc:
            self._forget_new_subjects()
            raise ConcurrencyConflict(str(exc)) from exc
        except IntegrityConflict as exc:
            self._forget_new_subjects()
            raise IdempotencyConflict("race on idempotency key") from exc
        except BaseException:
            self._forget_new_subjects()
            raise
        for subject_id in self._erased_subjects:
            self._keys.destroyed(subject_id)
        if request is not None and self._claim == request.claim:
            request.bound = True
        last_of_first = [
            p for e, p in zip(pending, positions, strict=True) if e.originator_id == first.id
        ]
        return Saved(first.id, version, last_of_first[-1] if last_of_first else None)

    def _forget_new_subjects(self) -> None:
        for subject_id in self._new_subjects:
            self._keys.forget_pending(subject_id)


def _record_claim(claim: IdempotencyClaim, aggregate_id: UUID, version: int) -> RowWriter:
    def write(cur: Cursor) -> None:
        cur.execute(
            "INSERT INTO idempotency_keys (scope, key, request_hash, response, originator_id, "
            "originator_version) VALUES (%s, %s, %s, %s, %s, %s)",
            (claim.scope, claim.key, claim.request_hash, b"{}", aggregate_id, version),
        )

    return write


def _forget_claims(subject_id: UUID, keep: IdempotencyClaim | None) -> RowWriter:
    """An erased subject's idempotency records go: their request hashes are unkeyed hashes of
    the commands, personal fields included (all but the erasure's own, kept for its replay)."""

    def write(cur: Cursor) -> None:
        scope, key = (keep.scope, keep.key) if keep is not None else ("", "")
        cur.execute(
            "DELETE FROM idempotency_keys WHERE (scope = %s OR originator_id = %s) "
            "AND NOT (scope = %s AND key = %s)",
            (str(subject_id), subject_id, scope, key),
        )

    return write


def _bind_claim(claim: IdempotencyClaim, aggregate_id: UUID, version: int) -> RowWriter:
    """Record the commit under a key the HTTP edge reserved; if a commit is recorded under it
    already (a retry after a lost answer), refuse this one."""

    def write(cur: Cursor) -> None:
        cur.execute(
            "UPDATE idempotency_keys SET originator_id = %s, originator_version = %s "
            "WHERE scope = %s AND key = %s AND request_hash = %s AND originator_id IS NULL",
            (aggregate_id, version, claim.scope, claim.key, claim.request_hash),
        )
        if cur.rowcount != 1:
            raise IntegrityConflict("race on idempotency key: a commit is recorded under it")

    return write


class Reserved:
    """A key the HTTP edge reserved for the request, not yet bound to a commit."""


RESERVED = Reserved()


def find_idempotent(recorder: Any, claim: IdempotencyClaim) -> Saved | Reserved | None:
    """The first result recorded under this key, ``RESERVED``, or None; a different request
    is a conflict."""
    with recorder.db.transaction(write=False) as cur:
        cur.execute(
            "SELECT k.request_hash, k.originator_id, k.originator_version, e.notification_id "
            "FROM idempotency_keys k LEFT JOIN stored_events e "
            "ON e.originator_id = k.originator_id AND e.originator_version = k.originator_version "
            "WHERE k.scope = %s AND k.key = %s",
            (claim.scope, claim.key),
        )
        row = cur.fetchone()
    if row is None:
        return None
    if bytes(row[0]) != claim.request_hash:
        raise IdempotencyConflict("this idempotency key was used for a different request")
    if row[1] is None:
        return RESERVED
    position = int(row[3]) if row[3] is not None else None
    return Saved(as_uuid(row[1]), int(row[2]), position)
