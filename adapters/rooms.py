"""Rooms' identifiers on the write side: which room an address opens, and every combination of
address, guest PIN and host PIN ever issued (as keyed digests, never deleted). Row writers are
attached to the command that opens a room or rotates its PINs, so they commit with its events;
a combination (or an address) issued before is refused by the unique indexes, and the command
is retried with fresh random identifiers (``IdentifiersTaken`` is a ``ConcurrencyConflict``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from adapters.db import Cursor, Database, as_uuid
from commands.results import ConcurrencyConflict

RowWriter = Callable[[Cursor], None]


class IdentifiersTaken(ConcurrencyConflict):
    """The random address or PIN combination was issued before: draw new ones."""


class RoomIndex:
    def __init__(self, db: Database, key: bytes) -> None:
        self.db, self._key = db, key

    def _digest(self, address: str, kind: str, pin: str) -> bytes:
        message = f"room-pin\x00{address}\x00{kind}\x00{pin}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def claim(
        self,
        room_id: UUID,
        consultation_id: UUID,
        address: str,
        guest_pin: str,
        host_pin: str,
        at: datetime,
    ) -> RowWriter:
        """A new room's address and first PINs."""
        issue = self.issue(address, guest_pin, host_pin, at)

        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO room_addresses (address, room_id, consultation_id) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (address, room_id, consultation_id),
            )
            if cur.rowcount != 1:
                raise IdentifiersTaken("a room has that address (or that consultation a room)")
            issue(cur)

        return write

    def issue(self, address: str, guest_pin: str, host_pin: str, at: datetime) -> RowWriter:
        """A combination of PINs for the address (a new room's, or a rotation's)."""
        guest = self._digest(address, "guest", guest_pin)
        host = self._digest(address, "host", host_pin)

        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO room_pins (address, guest_digest, host_digest, issued_at) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (address, guest, host, at),
            )
            if cur.rowcount != 1:
                raise IdentifiersTaken("that combination of address and PINs was issued before")

        return write

    def at(self, address: str) -> tuple[UUID, UUID] | None:
        """The room an address opens and its consultation (None: no room has it)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(
                "SELECT room_id, consultation_id FROM room_addresses WHERE address = %s",
                (address,),
            )
            row = cur.fetchone()
        return (as_uuid(row[0]), as_uuid(row[1])) if row else None
