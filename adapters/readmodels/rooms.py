"""The rooms' view in SQL (SQLite and PostgreSQL). The PINs are sealed with the patient's own
key and opened at query time: a destroyed key answers None."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from adapters.crypto.sealing import field_context, open_sealed, seal
from adapters.crypto.subject_keys import SubjectKeys
from adapters.db import Database, as_datetime, as_uuid
from adapters.readmodels.runner import SqlView
from domain.personal import Erased
from projections.rooms import RoomRow

_COLUMNS = (
    "room_id, consultation_id, patient_id, doctor_id, address, mode, status, opens, closes, "
    "version, pins_rotated, sealed_pins"
)


class SqlRooms(SqlView):
    tables = ("room_view",)

    def __init__(self, db: Database, keys: SubjectKeys) -> None:
        super().__init__(db)
        self.keys = keys

    # -- projection steps ----------------------------------------------------------------------
    def opened(self, row: RoomRow) -> None:
        self.cur.execute(
            f"INSERT INTO room_view ({_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                row.room_id,
                row.consultation_id,
                row.patient_id,
                row.doctor_id,
                row.address,
                row.mode,
                row.status,
                row.opens,
                row.closes,
                row.version,
                row.pins_rotated,
                self._seal(row.patient_id, row.room_id, row.guest_pin, row.host_pin),
            ),
        )

    def moved(self, room_id: UUID, version: int, opens: datetime, closes: datetime) -> None:
        self.cur.execute(
            "UPDATE room_view SET opens = %s, closes = %s, version = %s WHERE room_id = %s",
            (opens, closes, version, room_id),
        )

    def status(self, room_id: UUID, version: int, status: str) -> None:
        self.cur.execute(
            "UPDATE room_view SET status = %s, version = %s WHERE room_id = %s",
            (status, version, room_id),
        )

    def refused(self, room_id: UUID, version: int) -> None:
        self.cur.execute("UPDATE room_view SET version = %s WHERE room_id = %s", (version, room_id))

    def rotated(
        self, room_id: UUID, patient_id: UUID, version: int, guest_pin: str, host_pin: str
    ) -> None:
        self.cur.execute(
            "UPDATE room_view SET sealed_pins = %s, version = %s, "
            "pins_rotated = pins_rotated + 1 WHERE room_id = %s",
            (self._seal(patient_id, room_id, guest_pin, host_pin), version, room_id),
        )

    def _seal(
        self, patient_id: UUID, room_id: UUID, guest: str | None, host: str | None
    ) -> bytes | None:
        if guest is None or host is None or isinstance(guest, Erased) or isinstance(host, Erased):
            return None  # the patient was erased: nothing to keep
        key = self.keys.get(patient_id)
        if key is None:
            return None
        data = orjson.dumps({"guest": guest, "host": host})
        return seal(key, data, _context(patient_id, room_id))

    # -- queries -------------------------------------------------------------------------------
    def of_consultation(self, consultation_id: UUID) -> RoomRow | None:
        with self.db.transaction(write=False) as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM room_view WHERE consultation_id = %s",
                (consultation_id,),
            )
            row = cur.fetchone()
        return self._row(row) if row else None

    def rows(self) -> list[tuple[Any, ...]]:
        """Every row as stored (sealed), in a stable order (tests look for clear text)."""
        with self.db.transaction(write=False) as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM room_view ORDER BY room_id")
            return list(cur.fetchall())

    def _row(self, row: Any) -> RoomRow:
        room_id, patient_id = as_uuid(row[0]), as_uuid(row[2])
        pins: dict[str, str] = {}
        key = self.keys.get(patient_id) if row[11] else None
        if key is not None:
            pins = orjson.loads(open_sealed(key, bytes(row[11]), _context(patient_id, room_id)))
        return RoomRow(
            room_id=room_id,
            consultation_id=as_uuid(row[1]),
            patient_id=patient_id,
            doctor_id=as_uuid(row[3]),
            address=str(row[4]),
            mode=str(row[5]),
            status=str(row[6]),
            opens=as_datetime(row[7]),
            closes=as_datetime(row[8]),
            version=int(row[9]),
            pins_rotated=int(row[10]),
            guest_pin=pins.get("guest"),
            host_pin=pins.get("host"),
        )


def _context(patient_id: UUID, room_id: UUID) -> bytes:
    return field_context(patient_id, f"room.{room_id}.pins")
